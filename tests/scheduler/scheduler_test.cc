// The scheduler over a real store: lease order, leases expiring on a fake clock,
// fencing of stale attempts, retries, dedupe across grids, cancel, recovery.
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "absl/strings/str_cat.h"
#include "client/grid/grid_file.h"
#include "server/scheduler/clock.h"
#include "server/scheduler/scheduler.h"
#include "common/spec/engine_version.h"
#include "common/spec/names.h"
#include "server/store/store.h"
#include "common/spec/summary.h"
#include "worker/engine/trainer.h"
#include "common/spec/validate.h"

namespace actgrid::scheduler {
namespace {

v1::SubmitGridRequest Request(const std::string& name, const std::string& grid_yaml, int seeds = 2,
                              int epochs = 2) {
  const std::string text = "name: " + name + "\ndataset: {name: circle, samples: 100}\ntrain: {epochs: " +
                           std::to_string(epochs) + "}\nseeds: " + std::to_string(seeds) + "\n" + grid_yaml;
  auto grid = grid::ParseGridText(text);
  EXPECT_TRUE(grid.ok()) << grid.status();
  return grid::ToSubmitRequest(*grid, false);
}

v1::TrialSummary Summary(int epochs_run, double acc = 0.9) {
  v1::TrialSummary s;
  s.set_outcome(v1::TRIAL_OUTCOME_SUCCEEDED);
  s.set_epochs_run(epochs_run);
  s.set_final_test_acc(acc);
  s.set_diverged_epoch(-1);
  return s;
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(":memory:"); }

  void Open(const std::string& path) {
    scheduler_.reset();
    store_.reset();
    store::StoreOptions o;
    o.path = path;
    auto s = store::Store::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
    SchedulerOptions options;
    options.lease_ms = 1000;
    options.max_attempts = 3;
    options.max_trials_per_grid = 100;
    scheduler_ = std::make_unique<Scheduler>(store_.get(), &clock_, options);
    ASSERT_TRUE(scheduler_->Recover().ok());
  }

  std::vector<v1::Lease> Lease(const std::string& worker, int n) {
    v1::LeaseTrialsRequest r;
    r.set_worker_id(worker);
    r.set_max_trials(n);
    r.set_engine_version(spec::kEngineVersion);
    auto response = scheduler_->Lease(r);
    EXPECT_TRUE(response.ok()) << response.status();
    for (const v1::Lease& lease : response->leases()) {
      EXPECT_EQ(lease.lease_secret().size(), 32u);
      holder_[{lease.trial_id(), lease.attempt()}] = worker;
    }
    return {response->leases().begin(), response->leases().end()};
  }

  // The worker that took the lease.
  std::string Holder(const v1::Lease& lease) { return holder_[{lease.trial_id(), lease.attempt()}]; }

  // Reports epochs [from, to] of the lease (as its holder unless `worker` is given);
  // returns the verdict of its trial.
  v1::ReportVerdict Report(const v1::Lease& lease, int from, int to, const std::string& worker = "") {
    v1::ReportBatch batch;
    batch.set_worker_id(worker.empty() ? Holder(lease) : worker);
    batch.set_sequence(7);
    for (int e = from; e <= to; ++e) {
      auto* r = batch.add_epochs();
      r->set_trial_id(lease.trial_id());
      r->set_attempt(lease.attempt());
      r->set_lease_secret(lease.lease_secret());
      r->mutable_metrics()->set_epoch(e);
      r->mutable_metrics()->set_test_acc(0.5 + 0.1 * e);
      r->mutable_metrics()->set_seconds(lease.attempt());  // tells attempts apart
    }
    auto ack = scheduler_->Report(batch);
    EXPECT_TRUE(ack.ok()) << ack.status();
    EXPECT_EQ(ack->sequence(), 7);
    EXPECT_EQ(ack->verdicts_size(), 1);
    return ack->verdicts(0).verdict();
  }

  // What a worker would send: the summary of the epochs 0..epochs_run stored for it.
  v1::CompleteTrialRequest Completion(const v1::Lease& lease, int epochs_run = 2) {
    v1::CompleteTrialRequest r;
    r.set_trial_id(lease.trial_id());
    r.set_attempt(lease.attempt());
    r.set_worker_id(Holder(lease));
    r.set_lease_secret(lease.lease_secret());
    r.set_build("engine test build");
    std::vector<v1::EpochMetrics> epochs;
    if (auto stored = store_->LoadEpochs(lease.trial_id()); stored.ok())
      for (const auto& m : *stored)
        if (m.epoch() <= epochs_run) epochs.push_back(m);
    *r.mutable_summary() = epochs.empty() ? Summary(epochs_run) : spec::Summarize(lease.spec(), epochs);
    r.mutable_summary()->set_epochs_run(epochs_run);
    r.mutable_summary()->set_seconds(1.5);
    r.mutable_summary()->set_parameters(42);
    return r;
  }

  absl::Status Complete(const v1::Lease& lease, int epochs_run = 2) {
    return scheduler_->Complete(Completion(lease, epochs_run));
  }

  absl::Status Fail(const v1::Lease& lease, bool permanent = false, bool release = false) {
    v1::FailTrialRequest r;
    r.set_trial_id(lease.trial_id());
    r.set_attempt(lease.attempt());
    r.set_worker_id(Holder(lease));
    r.set_lease_secret(lease.lease_secret());
    r.set_error("boom");
    r.set_permanent(permanent);
    r.set_release(release);
    return scheduler_->Fail(r);
  }

  v1::TrialState StateOf(int64_t trial_id) { return store_->GetTrial(trial_id)->state; }

  FakeClock clock_;
  std::map<std::pair<int64_t, int>, std::string> holder_;  // (trial, attempt) -> worker
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerTest, LeasesSeedMajorInterleavedAcrossGrids) {
  auto a = scheduler_->Submit(Request("a", "grid: {activation: [relu, tanh]}"));
  auto b = scheduler_->Submit(Request("b", "grid: {activation: [elu, selu]}"));
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<std::string> order;
  for (const auto& l : Lease("w", 8))
    order.push_back(std::to_string(l.spec().activation().kind()) + "/" + std::to_string(l.spec().seed()));
  // Seed 0 of every cell of both grids first, cells interleaved: relu, elu, tanh, selu.
  const std::vector<std::string> expected = {"4/0", "7/0", "3/0", "8/0", "4/1", "7/1", "3/1", "8/1"};
  EXPECT_EQ(order, expected);
  EXPECT_TRUE(Lease("w", 4).empty());
}

// A worker that trains packs leases whole pack groups: trials that can share a pack
// (spec::PackKey) come together, past other groups' pending trials; a trial that cannot
// pack (maxout) is a group of its own.
TEST_F(SchedulerTest, MaxGroupsLeasesWholePackGroups) {
  ASSERT_TRUE(scheduler_->Submit(Request("a", "grid: {activation: [relu, tanh]}", 3)).ok());
  ASSERT_TRUE(scheduler_->Submit(Request("b", "grid: {activation: [maxout]}", 2)).ok());
  auto lease = [&](int max_trials, int max_groups) {
    v1::LeaseTrialsRequest r;
    r.set_worker_id("w");
    r.set_max_trials(max_trials);
    r.set_max_groups(max_groups);
    r.set_engine_version(spec::kEngineVersion);
    return scheduler_->Lease(r);
  };
  auto labels = [](const v1::LeaseTrialsResponse& response) {
    std::vector<std::string> out;
    for (const auto& l : response.leases())
      out.push_back(std::to_string(l.spec().activation().kind()) + "/" + std::to_string(l.spec().seed()));
    return out;
  };
  auto first = lease(16, 1);  // every relu seed, though tanh and maxout come between
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(labels(*first), (std::vector<std::string>{"4/0", "4/1", "4/2"}));
  auto second = lease(16, 2);  // the tanh group and one maxout trial
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(labels(*second), (std::vector<std::string>{"14/0", "3/0", "3/1", "3/2"}));
  auto third = lease(16, 1);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(labels(*third), (std::vector<std::string>{"14/1"}));
  EXPECT_EQ(lease(16, -1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(lease(16, 1025).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SchedulerTest, CompletedGridIsDoneAndEveryEpochStoredOnce) {
  auto g = scheduler_->Submit(Request("g", "grid: {depth: [1, 2]}"));
  ASSERT_TRUE(g.ok());
  for (const auto& l : Lease("w", 10)) {
    EXPECT_EQ(Report(l, 0, 1), v1::REPORT_VERDICT_ACCEPTED);
    EXPECT_EQ(Report(l, 1, 2), v1::REPORT_VERDICT_ACCEPTED);  // a repeated epoch replaces, never duplicates
    EXPECT_TRUE(Complete(l).ok());
    EXPECT_EQ(store_->LoadEpochs(l.trial_id())->size(), 3u);
  }
  auto grid = scheduler_->GetGrid(std::to_string(g->grid_id()));
  ASSERT_TRUE(grid.ok());
  EXPECT_EQ(grid->state(), v1::GRID_STATE_DONE);
  EXPECT_EQ(grid->counts().succeeded(), 4);
  EXPECT_EQ(grid->epochs_done(), grid->epochs_total());
  EXPECT_EQ(scheduler_->GetGrid("g")->id(), g->grid_id());  // by name too
}

TEST_F(SchedulerTest, ExpiredLeaseGoesBackToPendingWithTheNextAttempt) {
  ASSERT_TRUE(scheduler_->Submit(Request("g", "", 1)).ok());
  auto first = Lease("a", 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].attempt(), 1);
  clock_.Advance(999);
  EXPECT_EQ(scheduler_->ExpireLeases(), 0);
  EXPECT_EQ(Report(first[0], 0, 0, "a"), v1::REPORT_VERDICT_ACCEPTED);  // renews the deadline
  clock_.Advance(999);
  EXPECT_EQ(scheduler_->ExpireLeases(), 0);
  clock_.Advance(2);
  EXPECT_EQ(scheduler_->ExpireLeases(), 1);
  EXPECT_EQ(StateOf(first[0].trial_id()), v1::TRIAL_STATE_PENDING);
  EXPECT_NE(store_->GetTrial(first[0].trial_id())->last_error.find("lease expired"), std::string::npos);
  auto second = Lease("b", 1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].trial_id(), first[0].trial_id());
  EXPECT_EQ(second[0].attempt(), 2);
}

TEST_F(SchedulerTest, StaleAttemptIsRefusedAndChangesNothing) {
  ASSERT_TRUE(scheduler_->Submit(Request("g", "", 1)).ok());
  const v1::Lease old = Lease("a", 1).at(0);
  EXPECT_EQ(Report(old, 0, 0, "a"), v1::REPORT_VERDICT_ACCEPTED);
  clock_.Advance(1001);
  const v1::Lease current = Lease("b", 1).at(0);  // expires a's lease on the way
  ASSERT_EQ(current.attempt(), 2);
  EXPECT_TRUE(store_->LoadEpochs(old.trial_id())->empty());  // the new attempt starts clean
  EXPECT_EQ(Report(current, 0, 1, "b"), v1::REPORT_VERDICT_ACCEPTED);
  // The old holder wakes up: its reports and its completion are refused.
  EXPECT_EQ(Report(old, 0, 2, "a"), v1::REPORT_VERDICT_STALE);
  EXPECT_TRUE(absl::IsFailedPrecondition(Complete(old)));
  EXPECT_TRUE(absl::IsFailedPrecondition(Fail(old)));
  auto epochs = store_->LoadEpochs(current.trial_id());
  ASSERT_EQ(epochs->size(), 2u);
  for (const auto& e : *epochs) EXPECT_EQ(e.seconds(), 2);  // only attempt 2's rows
  EXPECT_EQ(StateOf(current.trial_id()), v1::TRIAL_STATE_LEASED);
  EXPECT_EQ(Report(current, 2, 2, "b"), v1::REPORT_VERDICT_ACCEPTED);
  EXPECT_TRUE(Complete(current).ok());
  EXPECT_EQ(StateOf(current.trial_id()), v1::TRIAL_STATE_SUCCEEDED);
  EXPECT_TRUE(absl::IsFailedPrecondition(Complete(current)));  // finished trials are immutable
}

TEST_F(SchedulerTest, CompletionNeedsEveryEpoch) {
  ASSERT_TRUE(scheduler_->Submit(Request("g", "", 1)).ok());
  const v1::Lease l = Lease("a", 1).at(0);
  Report(l, 0, 0);
  Report(l, 2, 2);
  EXPECT_TRUE(absl::IsInvalidArgument(Complete(l)));
  EXPECT_EQ(StateOf(l.trial_id()), v1::TRIAL_STATE_LEASED);
  Report(l, 1, 1);
  EXPECT_TRUE(Complete(l).ok());
}

TEST_F(SchedulerTest, ExpiryAfterMaxAttemptsFailsTheTrialWithTheLastError) {
  ASSERT_TRUE(scheduler_->Submit(Request("g", "", 1)).ok());
  int64_t id = 0;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto leases = Lease("w", 1);
    ASSERT_EQ(leases.size(), 1u) << "attempt " << attempt;
    EXPECT_EQ(leases[0].attempt(), attempt);
    id = leases[0].trial_id();
    clock_.Advance(1001);
    EXPECT_EQ(scheduler_->ExpireLeases(), 1);
  }
  EXPECT_EQ(StateOf(id), v1::TRIAL_STATE_FAILED);
  EXPECT_NE(store_->GetTrial(id)->last_error.find("gave up after 3 attempts"), std::string::npos);
  EXPECT_TRUE(Lease("w", 1).empty());
  EXPECT_EQ(scheduler_->GetGrid("g")->state(), v1::GRID_STATE_DONE);
}

TEST_F(SchedulerTest, FailRetriesReleaseDoesNotCountPermanentFailsAtOnce) {
  ASSERT_TRUE(scheduler_->Submit(Request("g", "grid: {depth: [1, 2]}", 1)).ok());
  auto leases = Lease("w", 2);
  ASSERT_EQ(leases.size(), 2u);
  EXPECT_TRUE(Fail(leases[0], /*permanent=*/true).ok());
  EXPECT_EQ(StateOf(leases[0].trial_id()), v1::TRIAL_STATE_FAILED);
  EXPECT_EQ(store_->GetTrial(leases[0].trial_id())->last_error, "boom");
  // Releases never use up attempts; failures do.
  v1::Lease l = leases[1];
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(Fail(l, false, /*release=*/true).ok());
    l = Lease("w", 1).at(0);
  }
  EXPECT_EQ(store_->GetTrial(l.trial_id())->failures, 0);
  EXPECT_TRUE(Fail(l).ok());
  l = Lease("w", 1).at(0);
  EXPECT_TRUE(Fail(l).ok());
  l = Lease("w", 1).at(0);
  EXPECT_TRUE(Fail(l).ok());
  EXPECT_EQ(StateOf(l.trial_id()), v1::TRIAL_STATE_FAILED);
  EXPECT_NE(store_->GetTrial(l.trial_id())->last_error.find("after 3 attempts"), std::string::npos);
}

TEST_F(SchedulerTest, IdenticalTrialsAreReusedAcrossGrids) {
  auto first = scheduler_->Submit(Request("first", "grid: {activation: [relu]}", 1));
  ASSERT_TRUE(first.ok());
  const v1::Lease l = Lease("w", 1).at(0);
  Report(l, 0, 2);
  ASSERT_TRUE(Complete(l).ok());
  // Same relu trial plus a new tanh one: relu is reused, only tanh runs.
  auto second = scheduler_->Submit(Request("second", "grid: {activation: [relu, tanh]}", 1));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->trials(), 2);
  EXPECT_EQ(second->reused(), 1);
  auto leases = Lease("w", 5);
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].spec().activation().kind(), v1::ACTIVATION_KIND_TANH);
  // A queued trial submitted again is shared, not duplicated.
  auto third = scheduler_->Submit(Request("third", "grid: {activation: [tanh]}", 1));
  EXPECT_EQ(third->shared(), 1);
  Report(leases[0], 0, 2);
  ASSERT_TRUE(Complete(leases[0]).ok());
  EXPECT_EQ(scheduler_->GetGrid("third")->state(), v1::GRID_STATE_DONE);
  EXPECT_EQ(scheduler_->GetGrid("second")->counts().succeeded(), 2);
}

TEST_F(SchedulerTest, CancelStopsPendingAndLeasedTrialsButNotSharedOnes) {
  auto a = scheduler_->Submit(Request("a", "grid: {activation: [relu, tanh]}", 1));
  auto b = scheduler_->Submit(Request("b", "grid: {activation: [tanh]}", 1));
  ASSERT_TRUE(a.ok() && b.ok());
  const v1::Lease relu = Lease("w", 1).at(0);  // relu of a
  ASSERT_EQ(relu.spec().activation().kind(), v1::ACTIVATION_KIND_RELU);
  auto cancelled = scheduler_->CancelGrid("a");
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->state(), v1::GRID_STATE_CANCELLED);
  EXPECT_EQ(StateOf(relu.trial_id()), v1::TRIAL_STATE_CANCELLED);
  EXPECT_EQ(Report(relu, 0, 0), v1::REPORT_VERDICT_CANCELLED);
  // tanh is still wanted by grid b.
  auto leases = Lease("w", 5);
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].spec().activation().kind(), v1::ACTIVATION_KIND_TANH);
  EXPECT_TRUE(absl::IsNotFound(scheduler_->CancelGrid("nope").status()));
}

TEST_F(SchedulerTest, InvalidGridsAreRefusedWithEveryProblem) {
  auto request = Request("g", "grid: {depth: [1, 2]}", 1);
  request.set_name("Bad Name");
  request.mutable_trials(0)->mutable_spec()->mutable_train()->set_lr(-1);
  request.mutable_trials(1)->set_cell(9);
  auto refused = scheduler_->Submit(request);
  ASSERT_TRUE(absl::IsInvalidArgument(refused.status()));
  const std::string message(refused.status().message());
  EXPECT_NE(message.find("name: must match"), std::string::npos) << message;
  EXPECT_NE(message.find("trials[0].spec.train.lr"), std::string::npos) << message;
  EXPECT_NE(message.find("trials[1].cell"), std::string::npos) << message;
  EXPECT_TRUE(scheduler_->ListGrids(0)->empty());  // nothing queued
  request.set_dry_run(true);
  auto dry = scheduler_->Submit(request);
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(dry->trials(), 2);
  EXPECT_EQ(dry->errors_size(), 3);
  auto big = Request("big", "grid: {depth: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}", 11);
  EXPECT_TRUE(absl::IsResourceExhausted(scheduler_->Submit(big).status()));  // 110 > 100
}

// A depth in the billions is refused by its bound before anything is sized by it: the
// layer list of such a spec is empty, not billions of entries (a fuzzer found the
// coordinator allocating them before any check).
TEST_F(SchedulerTest, HugeDepthIsRefusedBeforeAnythingIsAllocatedForIt) {
  auto request = Request("g", "", 1);
  v1::TrialSpec* spec = request.mutable_trials(0)->mutable_spec();
  spec->set_depth(257);
  spec->mutable_model()->set_width(1);
  EXPECT_TRUE(spec::HiddenSizes(*spec).empty());
  spec->set_depth(2000000000);
  EXPECT_TRUE(spec::HiddenSizes(*spec).empty());
  request.set_dry_run(true);
  auto dry = scheduler_->Submit(request);
  ASSERT_TRUE(dry.ok()) << dry.status();
  ASSERT_EQ(dry->errors_size(), 1);
  EXPECT_EQ(dry->errors(0), "trials[0].spec.model.depth: must be in 1..256, got 2000000000");
  spec->set_depth(0);
  for (int i = 0; i < 100000; ++i) spec->mutable_model()->add_hidden(0);  // one line, not 100,000
  dry = scheduler_->Submit(request);
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_EQ(dry->errors(0), "trials[0].spec.model.hidden: at most 256 hidden layers, got 100000");
}

// What a submitter controls is bounded and checked before it is stored: factor names
// and labels (cut in errors), labels against the specs they describe, one trial per
// spec, and a cell count the trials fill.
TEST_F(SchedulerTest, SubmissionsAreBoundedAndTheirLabelsMustDescribeTheirSpecs) {
  auto errors_of = [&](v1::SubmitGridRequest request) {
    request.set_dry_run(true);
    auto dry = scheduler_->Submit(request);
    EXPECT_TRUE(dry.ok()) << dry.status();
    std::string all;
    for (const auto& e : dry->errors()) {
      EXPECT_LE(e.size(), 300u) << e.substr(0, 300);
      absl::StrAppend(&all, e, "\n");
    }
    return all;
  };
  const v1::SubmitGridRequest good = Request("g", "grid: {activation: [relu, tanh]}", 1);
  EXPECT_EQ(errors_of(good), "");

  v1::SubmitGridRequest r = good;
  r.set_name(std::string(100000, 'x') + "Y");
  EXPECT_NE(errors_of(r).find("(cut; 100001 bytes)"), std::string::npos);
  r = good;
  r.set_factors(0, std::string(1 << 20, 'a'));
  EXPECT_NE(errors_of(r).find("factors[0]: unknown factor"), std::string::npos);
  r = good;
  r.mutable_trials(0)->set_values(0, std::string(1 << 20, 'a'));
  EXPECT_NE(errors_of(r).find("trials[0].values[0]: at most 256 bytes"), std::string::npos);
  r = good;
  r.mutable_trials(0)->set_values(0, "tanh");  // the spec says relu
  EXPECT_NE(errors_of(r).find("trials[0].values[0]: \"tanh\" is not the spec's activation"), std::string::npos)
      << errors_of(r);
  r = good;
  *r.mutable_trials(1)->mutable_spec() = r.trials(0).spec();
  r.mutable_trials(1)->set_values(0, "relu");
  EXPECT_NE(errors_of(r).find("trials[1].spec: the same trial as trials[0]"), std::string::npos) << errors_of(r);
  r = good;
  r.set_cells(2147483647);
  EXPECT_NE(errors_of(r).find("cells: must be in 1..2"), std::string::npos) << errors_of(r);
  r = good;
  r.mutable_trials(1)->set_cell(0);
  EXPECT_NE(errors_of(r).find("differ from another trial of cell 0"), std::string::npos) << errors_of(r);
  r = good;
  for (int i = 0; i < 40; ++i) r.add_factors("depth");
  EXPECT_TRUE(absl::IsResourceExhausted(scheduler_->Submit(r).status()));
}

// The grid files people start from pass the coordinator's checks as the CLI expands
// them: every label describes its spec.
TEST(SchedulerExamples, EveryExampleGridIsAccepted) {
  auto store = store::Store::Open({":memory:", false});
  ASSERT_TRUE(store.ok());
  FakeClock clock;
  SchedulerOptions options;
  options.max_trials_per_grid = 200000;
  Scheduler scheduler(store->get(), &clock, options);
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(ACTGRID_SOURCE_DIR) + "/examples")) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    auto grid = grid::ParseGridFile(entry.path().string());
    ASSERT_TRUE(grid.ok()) << entry.path() << ": " << grid.status();
    auto dry = scheduler.Submit(grid::ToSubmitRequest(*grid, true));
    ASSERT_TRUE(dry.ok()) << entry.path() << ": " << dry.status();
    EXPECT_EQ(dry->errors_size(), 0) << entry.path() << ": " << (dry->errors_size() ? dry->errors(0) : "");
  }
  EXPECT_GE(files, 11);
}

TEST_F(SchedulerTest, RecoveryKeepsLeasesAndQueuesTheRest) {
  const std::string path = ::testing::TempDir() + "/scheduler_recovery.db";
  for (const char* s : {"", "-wal", "-shm"}) std::remove((path + s).c_str());
  Open(path);
  ASSERT_TRUE(scheduler_->Submit(Request("g", "grid: {depth: [1, 2]}", 1)).ok());
  const v1::Lease held = Lease("a", 1).at(0);
  Report(held, 0, 1, "a");
  Open(path);  // the coordinator restarts on the same database
  // The holder carries on with the same attempt; the other trial is leased again.
  EXPECT_EQ(Report(held, 2, 2, "a"), v1::REPORT_VERDICT_ACCEPTED);
  auto rest = Lease("b", 5);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_NE(rest[0].trial_id(), held.trial_id());
  EXPECT_TRUE(Complete(held).ok());
  Report(rest[0], 0, 2, "b");
  EXPECT_TRUE(Complete(rest[0]).ok());
  EXPECT_EQ(scheduler_->GetGrid("g")->state(), v1::GRID_STATE_DONE);
}

TEST_F(SchedulerTest, RecoveryReleasesTheLeasesOfInProcessWorkers) {
  const std::string path = ::testing::TempDir() + "/scheduler_in_process.db";
  for (const char* s : {"", "-wal", "-shm"}) std::remove((path + s).c_str());
  Open(path);
  ASSERT_TRUE(scheduler_->Submit(Request("g", "grid: {depth: [1, 2]}", 1)).ok());
  const v1::Lease mine = Lease(kInProcessWorkerId, 1).at(0);
  const v1::Lease remote = Lease("remote", 1).at(0);
  Open(path);  // the in-process worker died with its coordinator; the remote one lives on
  auto released = store_->GetTrial(mine.trial_id());
  EXPECT_EQ(released->state, v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(released->failures, 0);
  EXPECT_EQ(StateOf(remote.trial_id()), v1::TRIAL_STATE_LEASED);
  auto again = Lease("w", 5);  // at once, not after the lease time
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].trial_id(), mine.trial_id());
  EXPECT_EQ(again[0].attempt(), 2);
}

TEST_F(SchedulerTest, WorkerRequestsAreBoundedAndNamedPrecisely) {
  v1::LeaseTrialsRequest lease;
  lease.set_worker_id(std::string(300, 'w'));
  lease.set_max_trials(1);
  lease.set_engine_version(spec::kEngineVersion);
  auto refused = scheduler_->Lease(lease);
  ASSERT_TRUE(absl::IsInvalidArgument(refused.status()));
  EXPECT_NE(refused.status().message().find("worker_id: at most 256 bytes"), std::string::npos);
  lease.set_worker_id("w");
  lease.set_hostname(std::string(300, 'h'));
  EXPECT_TRUE(absl::IsInvalidArgument(scheduler_->Lease(lease).status()));
  lease.set_hostname("h");
  lease.set_threads(-1);
  EXPECT_TRUE(absl::IsInvalidArgument(scheduler_->Lease(lease).status()));
  lease.set_threads(1);
  lease.set_max_trials(0);
  EXPECT_TRUE(absl::IsInvalidArgument(scheduler_->Lease(lease).status()));

  v1::ReportBatch batch;
  batch.set_worker_id("w");
  auto* e = batch.add_epochs();
  e->set_trial_id(1);
  e->set_attempt(1);
  for (int l = 0; l < 5000; ++l) e->mutable_metrics()->add_layers()->set_layer(l);
  auto report = scheduler_->Report(batch);
  ASSERT_TRUE(absl::IsInvalidArgument(report.status()));
  EXPECT_NE(report.status().message().find("epochs[0].metrics.layers"), std::string::npos);

  // A failed trial's error text is kept, cut to a bounded length.
  ASSERT_TRUE(scheduler_->Submit(Request("g", "", 1)).ok());
  const v1::Lease l = Lease("w", 1).at(0);
  v1::FailTrialRequest fail;
  fail.set_trial_id(l.trial_id());
  fail.set_attempt(l.attempt());
  fail.set_worker_id("w");
  fail.set_lease_secret(l.lease_secret());
  fail.set_error(std::string(100000, 'x'));
  fail.set_permanent(true);
  ASSERT_TRUE(scheduler_->Fail(fail).ok());
  const std::string kept = store_->GetTrial(l.trial_id())->last_error;
  EXPECT_LT(kept.size(), 17000u);
  EXPECT_NE(kept.find("(cut)"), std::string::npos);
}

TEST_F(SchedulerTest, LeasesGoOnlyToWorkersOfThisEngineVersion) {
  ASSERT_TRUE(scheduler_->Submit(Request("g", "", 1)).ok());
  v1::LeaseTrialsRequest r;
  r.set_worker_id("old");
  r.set_max_trials(1);
  for (int version : {0, spec::kEngineVersion - 1, spec::kEngineVersion + 1}) {
    r.set_engine_version(version);
    auto refused = scheduler_->Lease(r);
    ASSERT_TRUE(absl::IsFailedPrecondition(refused.status())) << version;
    EXPECT_NE(refused.status().message().find("engine version"), std::string::npos) << refused.status();
  }
  EXPECT_EQ(Lease("w", 1).size(), 1u);
}

TEST_F(SchedulerTest, OnlyTheHolderQuotingItsSecretMayReportCompleteOrFail) {
  ASSERT_TRUE(scheduler_->Submit(Request("g", "", 1)).ok());
  const v1::Lease mine = Lease("a", 1).at(0);
  ASSERT_EQ(Report(mine, 0, 0), v1::REPORT_VERDICT_ACCEPTED);
  v1::Lease forged = mine;  // the attempt number alone: what another worker can guess
  forged.set_lease_secret("");
  v1::Lease guessed = mine;
  guessed.set_lease_secret(std::string(32, '0'));
  // Another worker id with the right secret, the right worker id with a wrong one, or none.
  EXPECT_EQ(Report(mine, 1, 1, "b"), v1::REPORT_VERDICT_STALE);
  holder_[{mine.trial_id(), mine.attempt()}] = "a";
  EXPECT_EQ(Report(forged, 1, 1), v1::REPORT_VERDICT_STALE);
  EXPECT_EQ(Report(guessed, 1, 1), v1::REPORT_VERDICT_STALE);
  EXPECT_EQ(store_->GetTrial(mine.trial_id())->epochs_done, 1);  // nothing of theirs stored
  for (const v1::Lease& bad : {forged, guessed}) {
    EXPECT_TRUE(absl::IsFailedPrecondition(Complete(bad, 0)));
    EXPECT_TRUE(absl::IsFailedPrecondition(Fail(bad)));
  }
  v1::CompleteTrialRequest other = Completion(mine);
  other.set_worker_id("b");
  EXPECT_TRUE(absl::IsFailedPrecondition(scheduler_->Complete(other)));
  auto row = store_->GetTrial(mine.trial_id());
  EXPECT_EQ(row->state, v1::TRIAL_STATE_LEASED);
  EXPECT_EQ(row->failures, 0);
  // Heartbeats too: a forged one does not keep the lease alive.
  v1::ReportBatch beat;
  beat.set_worker_id("a");
  auto* h = beat.add_heartbeats();
  h->set_trial_id(mine.trial_id());
  h->set_attempt(mine.attempt());
  auto ack = scheduler_->Report(beat);
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ(ack->verdicts(0).verdict(), v1::REPORT_VERDICT_STALE);
  // The holder goes on undisturbed.
  EXPECT_EQ(Report(mine, 1, 2), v1::REPORT_VERDICT_ACCEPTED);
  EXPECT_TRUE(Complete(mine).ok());
  EXPECT_EQ(StateOf(mine.trial_id()), v1::TRIAL_STATE_SUCCEEDED);
}

TEST_F(SchedulerTest, EpochsOutsideTheSpecAreRefused) {
  ASSERT_TRUE(scheduler_->Submit(Request("g", "", 1, /*epochs=*/5)).ok());
  const v1::Lease l = Lease("w", 1).at(0);
  v1::ReportBatch batch;
  batch.set_worker_id("w");
  auto* e = batch.add_epochs();
  e->set_trial_id(l.trial_id());
  e->set_attempt(l.attempt());
  e->set_lease_secret(l.lease_secret());
  e->mutable_metrics()->set_epoch(500000);
  auto refused = scheduler_->Report(batch);
  ASSERT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("epoch 500000 is outside its epochs 0..5"), std::string::npos)
      << refused.status();
  EXPECT_EQ(store_->GetTrial(l.trial_id())->epochs_done, 0);
}

TEST_F(SchedulerTest, ACompletionMustCoverTheSpecsEpochs) {
  ASSERT_TRUE(scheduler_->Submit(Request("g", "", 1, /*epochs=*/5)).ok());
  const v1::Lease l = Lease("w", 1).at(0);
  ASSERT_EQ(Report(l, 0, 0), v1::REPORT_VERDICT_ACCEPTED);
  const absl::Status short_run = Complete(l, 0);  // SUCCEEDED after epoch 0 of 0..5
  ASSERT_TRUE(absl::IsFailedPrecondition(short_run)) << short_run;
  EXPECT_NE(short_run.message().find("without diverging"), std::string::npos) << short_run;
  auto row = store_->GetTrial(l.trial_id());
  EXPECT_EQ(row->state, v1::TRIAL_STATE_PENDING);  // a failed attempt, tried again
  EXPECT_EQ(row->failures, 1);
  EXPECT_NE(row->last_error.find("refused"), std::string::npos) << row->last_error;

  // A later grid of the same spec finds nothing to reuse.
  auto again = scheduler_->Submit(Request("h", "", 1, 5));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->reused(), 0);
  EXPECT_EQ(again->shared(), 1);

  // Completions past the spec's last epoch are refused as well.
  const v1::Lease next = Lease("w", 1).at(0);
  ASSERT_EQ(Report(next, 0, 5), v1::REPORT_VERDICT_ACCEPTED);
  EXPECT_TRUE(absl::IsFailedPrecondition(Complete(next, 6)));
}

TEST_F(SchedulerTest, TheStoredSummaryIsTheOneTheStoredCurveImplies) {
  ASSERT_TRUE(scheduler_->Submit(Request("g", "", 1)).ok());
  const v1::Lease l = Lease("w", 1).at(0);
  ASSERT_EQ(Report(l, 0, 2), v1::REPORT_VERDICT_ACCEPTED);
  // A summary that flatters the curve: best_test_acc 0.99 where the curve peaks at 0.7.
  v1::CompleteTrialRequest forged = Completion(l);
  forged.mutable_summary()->set_best_test_acc(0.99);
  std::vector<std::string> logged;
  const absl::Status refused = scheduler_->Complete(forged);
  ASSERT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_NE(refused.message().find("best_test_acc 0.99, the stored curve says 0.7"), std::string::npos) << refused;
  auto row = store_->GetTrial(l.trial_id());
  EXPECT_EQ(row->state, v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(row->failures, 1);

  // The honest completion of the next attempt is stored with this coordinator's
  // provenance and the worker's build.
  const v1::Lease next = Lease("w", 1).at(0);
  ASSERT_EQ(Report(next, 0, 2), v1::REPORT_VERDICT_ACCEPTED);
  v1::CompleteTrialRequest honest = Completion(next);
  honest.mutable_summary()->set_engine_version(99);  // not the worker's to say
  ASSERT_TRUE(scheduler_->Complete(honest).ok());
  auto trials = store_->ListGridTrials(scheduler_->GetGrid("g")->id());
  ASSERT_TRUE(trials.ok());
  ASSERT_TRUE(trials->at(0).summary.has_value());
  const v1::TrialSummary& stored = *trials->at(0).summary;
  EXPECT_EQ(stored.engine_version(), spec::kEngineVersion);
  EXPECT_EQ(stored.build(), "engine test build");
  EXPECT_DOUBLE_EQ(stored.best_test_acc(), 0.7);
  EXPECT_EQ(stored.parameters(), 42);
  EXPECT_DOUBLE_EQ(stored.seconds(), 1.5);
}

TEST_F(SchedulerTest, PathDatasetsNeedTheirContentDigest) {
  v1::SubmitGridRequest request = Request("g", "", 1);
  for (auto& t : *request.mutable_trials()) {
    t.mutable_spec()->mutable_dataset()->set_kind(v1::DATASET_KIND_CSV);
    t.mutable_spec()->mutable_dataset()->set_path("/data/points.csv");
  }
  auto refused = scheduler_->Submit(request);
  ASSERT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("trials[0].spec.dataset.digest"), std::string::npos);
  for (auto& t : *request.mutable_trials()) t.mutable_spec()->mutable_dataset()->set_digest(std::string(64, 'a'));
  auto a = scheduler_->Submit(request);
  ASSERT_TRUE(a.ok()) << a.status();
  // Other file content: other trials, nothing shared or reused.
  request.set_name("h");
  for (auto& t : *request.mutable_trials()) t.mutable_spec()->mutable_dataset()->set_digest(std::string(64, 'b'));
  auto b = scheduler_->Submit(request);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->shared() + b->reused(), 0);
}

TEST_F(SchedulerTest, ResultsOfAnOlderEngineAreCountedNotReused) {
  // A database written before engine versions (schema 4), by the actgrid of that time.
  const std::string path = ::testing::TempDir() + "/scheduler_engine1.db";
  for (const char* s : {"", "-wal", "-shm"}) std::remove((path + s).c_str());
  std::filesystem::copy_file(ACTGRID_SOURCE_DIR "/tests/store/testdata/schema4-engine1.db", path);
  Open(path);
  auto grid = grid::ParseGridFile(ACTGRID_SOURCE_DIR "/tests/store/testdata/schema4-engine1.yaml");
  ASSERT_TRUE(grid.ok()) << grid.status();
  auto submitted = scheduler_->Submit(grid::ToSubmitRequest(*grid, false));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ(submitted->trials(), 8);
  EXPECT_EQ(submitted->reused(), 0);
  EXPECT_EQ(submitted->shared(), 0);
  ASSERT_EQ(submitted->earlier_size(), 1);
  EXPECT_EQ(submitted->earlier(0).engine_version(), spec::kUnversionedEngine);
  EXPECT_EQ(submitted->earlier(0).trials(), 8);
  EXPECT_EQ(Lease("w", 100).size(), 8u);  // every trial measured again
  // The old grid still answers, with its trials marked as engine version 1.
  auto old = store_->ListGridTrials(1);
  ASSERT_TRUE(old.ok()) << old.status();
  ASSERT_EQ(old->size(), 8u);
  for (const auto& t : *old) {
    ASSERT_TRUE(t.summary.has_value());
    EXPECT_EQ(t.summary->engine_version(), spec::kUnversionedEngine);
    EXPECT_EQ(t.summary->build(), "");
  }
}

TEST_F(SchedulerTest, RecoveryKeepsLeaseSecretsAndReleasesLeasesWithout) {
  const std::string path = ::testing::TempDir() + "/scheduler_secrets.db";
  for (const char* s : {"", "-wal", "-shm"}) std::remove((path + s).c_str());
  Open(path);
  ASSERT_TRUE(scheduler_->Submit(Request("g", "grid: {depth: [1, 2]}", 1)).ok());
  const v1::Lease kept = Lease("a", 1).at(0);
  const v1::Lease older = Lease("b", 1).at(0);
  scheduler_.reset();
  store_.reset();
  // As a lease taken before lease secrets were stored looks after migration.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const std::string sql = "UPDATE trials SET lease_secret = '' WHERE id = " + std::to_string(older.trial_id());
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  Open(path);
  EXPECT_EQ(StateOf(older.trial_id()), v1::TRIAL_STATE_PENDING);  // nobody can prove holding it
  EXPECT_EQ(store_->GetTrial(older.trial_id())->failures, 0);
  v1::Lease forged = kept;
  forged.set_lease_secret("");
  EXPECT_EQ(Report(forged, 0, 0), v1::REPORT_VERDICT_STALE);
  EXPECT_EQ(Report(kept, 0, 2), v1::REPORT_VERDICT_ACCEPTED);  // the holder carries on after the restart
  EXPECT_TRUE(Complete(kept).ok());
}

TEST_F(SchedulerTest, TrialsQueuedForAnotherEngineAreCancelledNotMeasured) {
  const std::string path = ::testing::TempDir() + "/scheduler_other_engine.db";
  for (const char* s : {"", "-wal", "-shm"}) std::remove((path + s).c_str());
  Open(path);
  ASSERT_TRUE(scheduler_->Submit(Request("g", "grid: {depth: [1, 2]}", 1)).ok());
  const v1::Lease leased = Lease("w", 1).at(0);
  scheduler_.reset();
  store_.reset();
  // As a database queued by a coordinator of an older engine looks to a newer one.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE trials SET key_engine = 1", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  Open(path);
  auto trials = store_->ListGridTrials(1);
  ASSERT_TRUE(trials.ok());
  ASSERT_EQ(trials->size(), 2u);
  for (const auto& t : *trials) {
    EXPECT_EQ(t.state, v1::TRIAL_STATE_CANCELLED) << t.trial_id;
    EXPECT_NE(t.last_error.find("queued for engine version 1"), std::string::npos) << t.last_error;
  }
  EXPECT_TRUE(Lease("w", 5).empty());  // nothing is measured under the old keys
  EXPECT_EQ(Report(leased, 0, 0), v1::REPORT_VERDICT_CANCELLED);  // its worker stops
  // The same grid again: new keys, measured by this engine.
  auto again = scheduler_->Submit(Request("g", "grid: {depth: [1, 2]}", 1));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->reused() + again->shared(), 0);
  EXPECT_EQ(Lease("w", 5).size(), 2u);
}

// Formula activations: the grid file's labels ("bent", "bent(a=0.5)") describe their
// specs when parsed against each trial's own formula, so such grids are admitted; a label
// that names another value of the formula, another formula or a built-in is not.
constexpr char kFormulaGrid[] = R"yaml(
activations:
  bent:   {f: "max(x, 0) + a * min(x, 0)^2", params: {a: 0.1}}
  swishb: {f: "x * sigmoid(b * x)", params: {b: 1.0}, learnable: [b]}
  reflu2: {f: "where(x < p, h + l*(x - p), h + r*(x - p))",
           params: {l: 0.1, r: 1.0, p: 0.0, h: 0.0}, learnable: [l, r, p, h]}
grid:
  activation: [relu, bent, bent(a=0.5), swishb, "reflu2(r=2, h=0.5)"]
  depth: [1, 2]
)yaml";

TEST_F(SchedulerTest, GridsOfFormulaActivationsAreAdmitted) {
  v1::SubmitGridRequest request = Request("formulas", kFormulaGrid, 2);
  ASSERT_EQ(request.trials_size(), 20);
  EXPECT_EQ(request.trials(2).values(0), "bent");
  EXPECT_EQ(request.trials(4).values(0), "bent(a=0.5)");
  EXPECT_EQ(request.trials(8).values(0), "reflu2(r=2,h=0.5)");
  request.set_dry_run(true);
  auto dry = scheduler_->Submit(request);
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_EQ(dry->errors_size(), 0) << (dry->errors_size() ? dry->errors(0) : "");
  request.set_dry_run(false);
  auto submitted = scheduler_->Submit(request);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ(submitted->trials(), 20);
  // The leased specs carry the formulas, parameter values included.
  std::set<std::string> labels;
  for (const v1::Lease& lease : Lease("w", 20)) labels.insert(spec::ActivationLabel(lease.spec().activation()));
  EXPECT_EQ(labels, (std::set<std::string>{"relu", "bent", "bent(a=0.5)", "swishb", "reflu2(r=2,h=0.5)"}));
}

TEST_F(SchedulerTest, LabelsThatDoNotDescribeAFormulaAreRefused) {
  const v1::SubmitGridRequest good = Request("formulas", kFormulaGrid, 1);
  ASSERT_EQ(good.trials_size(), 10);
  ASSERT_EQ(good.trials(2).values(0), "bent");
  ASSERT_EQ(good.trials(4).values(0), "bent(a=0.5)");
  auto errors_of = [&](v1::SubmitGridRequest request) {
    request.set_dry_run(true);
    auto dry = scheduler_->Submit(request);
    EXPECT_TRUE(dry.ok()) << dry.status();
    std::string all;
    for (const auto& e : dry->errors()) absl::StrAppend(&all, e, "\n");
    return all;
  };
  EXPECT_EQ(errors_of(good), "");
  // One seed: trial i is cell i; cell 2 is (bent, depth 1), cell 4 (bent(a=0.5), depth 1).
  for (const char* label : {"bent(a=0.5)", "bent(a=0.1000001)", "relu", "swishb", "bent2", "bent(b=1)", "?"}) {
    v1::SubmitGridRequest r = good;
    r.mutable_trials(2)->set_values(0, label);
    EXPECT_NE(errors_of(r).find(absl::StrCat("trials[2].values[0]: \"", label, "\" is not the spec's activation")),
              std::string::npos)
        << label << ": " << errors_of(r);
  }
  for (const char* label : {"bent", "bent(a=0.1)", "bent(0.4)"}) {
    v1::SubmitGridRequest r = good;
    r.mutable_trials(4)->set_values(0, label);
    EXPECT_NE(errors_of(r).find(absl::StrCat("trials[4].values[0]: \"", label, "\" is not the spec's activation")),
              std::string::npos)
        << label << ": " << errors_of(r);
  }
  // Another spelling of the same value describes it too.
  v1::SubmitGridRequest same = good;
  same.mutable_trials(4)->set_values(0, "bent(0.5)");
  EXPECT_EQ(errors_of(same), "");
  // The label is read against each trial's own formula: a trial whose formula is renamed
  // is not described by the old name (the label is only parsed once per definition).
  v1::SubmitGridRequest renamed = good;
  renamed.mutable_trials(3)->mutable_spec()->mutable_activation()->mutable_formula()->set_name("bent3");
  EXPECT_NE(errors_of(renamed).find("trials[3].values[0]: \"bent\" is not the spec's activation"), std::string::npos)
      << errors_of(renamed);
  // A built-in label on a formula trial and a formula label on a built-in trial.
  v1::SubmitGridRequest builtin = good;
  builtin.mutable_trials(0)->set_values(0, "bent");
  EXPECT_NE(errors_of(builtin).find("trials[0].values[0]: \"bent\" is not the spec's activation"), std::string::npos)
      << errors_of(builtin);
}

}  // namespace
}  // namespace actgrid::scheduler
