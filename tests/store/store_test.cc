// The Store contract, run against both an in-memory database and a temporary file:
// grids and trial dedupe, conditional leases, epoch verdicts, attempt ends, reads.
#include "server/store/store.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "tests/store/store_test_util.h"

namespace actgrid::store {
namespace {

using namespace test_util;  // NOLINT: the store test helpers

class StoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.path = GetParam() ? dir_.File("store.db") : ":memory:";
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // Creates the grid; returns its trial ids.
  std::vector<int64_t> Create(const NewGrid& grid) {
    absl::StatusOr<CreatedGrid> created = store_->CreateGrid(grid);
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return {};
    last_grid_ = created->grid_id;
    return created->trial_ids;
  }

  void LeaseOk(int64_t trial_id, int attempt, const std::string& worker = "w1") {
    absl::StatusOr<std::vector<bool>> applied =
        store_->Lease({Grant(trial_id, attempt, worker)}, 2000);
    ASSERT_TRUE(applied.ok()) << applied.status();
    ASSERT_EQ(*applied, std::vector<bool>{true});
  }

  void AppendOk(int64_t trial_id, int attempt, int first, int last) {
    std::vector<EpochRow> rows;
    for (int e = first; e <= last; ++e) rows.push_back(Row(trial_id, attempt, e));
    absl::StatusOr<std::vector<Verdict>> verdicts = store_->AppendEpochs(rows, {}, 20000);
    ASSERT_TRUE(verdicts.ok()) << verdicts.status();
    ASSERT_EQ(verdicts->size(), 1u);
    ASSERT_EQ((*verdicts)[0].verdict, v1::REPORT_VERDICT_ACCEPTED);
  }

  // Leases, reports every epoch and succeeds (or fails, when `to` is FAILED).
  void Finish(int64_t trial_id, int attempt, int epochs, v1::TrialState to) {
    LeaseOk(trial_id, attempt);
    AppendOk(trial_id, attempt, 0, epochs);
    AttemptEnd end = End(trial_id, attempt, to);
    if (to == v1::TRIAL_STATE_SUCCEEDED || to == v1::TRIAL_STATE_DIVERGED) {
      end.summary = Summary(epochs, to == v1::TRIAL_STATE_DIVERGED);
    } else {
      end.error = "boom";
    }
    STORE_ASSERT_OK(store_->EndAttempt(end));
  }

  v1::TrialState StateOf(int64_t trial_id) { return Must(store_->GetTrial(trial_id)).state; }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  int64_t last_grid_ = 0;
};

INSTANTIATE_TEST_SUITE_P(MemoryAndFile, StoreTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("File") : std::string("Memory");
                         });

TEST_P(StoreTest, OpensEmpty) {
  EXPECT_TRUE(Must(store_->ListGrids(0)).empty());
  EXPECT_TRUE(Must(store_->LoadUnfinished()).empty());
  EXPECT_TRUE(Must(store_->LoadUnfinishedMembers()).empty());
  EXPECT_TRUE(Must(store_->ListWorkers()).empty());
  EXPECT_TRUE(absl::IsNotFound(store_->GetTrial(1).status()));
  EXPECT_TRUE(absl::IsNotFound(store_->FindGrid("1").status()));
  EXPECT_TRUE(absl::IsNotFound(store_->GetProgress(1).status()));
  EXPECT_TRUE(absl::IsNotFound(store_->ListGridTrials(1).status()));
  EXPECT_TRUE(absl::IsNotFound(store_->LoadEpochs(1).status()));
}

TEST_P(StoreTest, CreateGridStoresGridPositionsAndTrials) {
  NewGrid grid = Grid("g", {7, 8, 9}, 4, 1234);
  grid.trials[2].values = {"a:b,c", "\"q\" 3:x"};  // labels with the list's own characters
  grid.trials[2].cell = 1;
  grid.cells = 2;
  grid.trials[1].spec.set_seed(~uint64_t{0});  // the full uint64 range survives
  grid.trials[1].key = Key(grid.trials[1].spec);
  absl::StatusOr<CreatedGrid> created = store_->CreateGrid(grid);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(created->trial_ids.size(), 3u);
  EXPECT_NE(created->trial_ids[0], created->trial_ids[1]);
  EXPECT_NE(created->trial_ids[1], created->trial_ids[2]);
  EXPECT_EQ(created->prior_state, std::vector<v1::TrialState>(3, v1::TRIAL_STATE_UNSPECIFIED));

  const GridRow row = Must(store_->FindGrid(std::to_string(created->grid_id)));
  EXPECT_EQ(row.id, created->grid_id);
  EXPECT_EQ(row.name, "g");
  EXPECT_EQ(row.factors, grid.factors);
  EXPECT_EQ(row.cells, 2);
  EXPECT_EQ(row.trials, 3);
  EXPECT_EQ(row.created_ms, 1234);
  EXPECT_FALSE(row.cancelled);

  const std::vector<GridTrialRow> members = Must(store_->ListGridTrials(created->grid_id));
  ASSERT_EQ(members.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(members[i].position, i);
    EXPECT_EQ(members[i].trial_id, created->trial_ids[i]);
    EXPECT_EQ(members[i].key, grid.trials[i].key);
    EXPECT_EQ(members[i].seed_rank, i);
    EXPECT_EQ(members[i].seed, grid.trials[i].spec.seed());
    EXPECT_EQ(members[i].values, grid.trials[i].values);
    EXPECT_EQ(members[i].cell, grid.trials[i].cell);
    EXPECT_EQ(members[i].state, v1::TRIAL_STATE_PENDING);
    EXPECT_FALSE(members[i].summary.has_value());
  }

  const TrialRow trial = Must(store_->GetTrial(created->trial_ids[1]));
  EXPECT_EQ(trial.key, grid.trials[1].key);
  EXPECT_EQ(trial.spec.SerializeAsString(), grid.trials[1].spec.SerializeAsString());
  EXPECT_EQ(trial.state, v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(trial.attempt, 0);
  EXPECT_EQ(trial.failures, 0);
  EXPECT_EQ(trial.epochs_done, 0);

  const GridProgress progress = Must(store_->GetProgress(created->grid_id));
  EXPECT_EQ(progress.counts.pending(), 3);
  EXPECT_EQ(progress.epochs_total, 3 * 5);
  EXPECT_EQ(progress.epochs_done, 0);
}

TEST_P(StoreTest, CreateGridReusesTrialsAcrossGrids) {
  const std::vector<int64_t> first = Create(Grid("a", {1, 2, 3, 4, 5}));
  ASSERT_EQ(first.size(), 5u);
  Finish(first[0], 1, 3, v1::TRIAL_STATE_SUCCEEDED);
  Finish(first[1], 1, 3, v1::TRIAL_STATE_FAILED);
  LeaseOk(first[2], 1);
  STORE_ASSERT_OK(store_->CancelPending({first[3]}));
  // first[4] stays PENDING.

  const absl::StatusOr<CreatedGrid> second = store_->CreateGrid(Grid("b", {1, 2, 3, 4, 5, 6}));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->trial_ids.size(), 6u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(second->trial_ids[i], first[i]) << i;
  EXPECT_EQ(second->prior_state,
            (std::vector<v1::TrialState>{v1::TRIAL_STATE_SUCCEEDED, v1::TRIAL_STATE_FAILED,
                                         v1::TRIAL_STATE_LEASED, v1::TRIAL_STATE_CANCELLED,
                                         v1::TRIAL_STATE_PENDING, v1::TRIAL_STATE_UNSPECIFIED}));
  EXPECT_EQ(StateOf(first[0]), v1::TRIAL_STATE_SUCCEEDED);
  const TrialRow failed = Must(store_->GetTrial(first[1]));
  EXPECT_EQ(failed.state, v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(failed.failures, 0);
  EXPECT_EQ(failed.attempt, 1);  // the fencing token keeps counting
  EXPECT_EQ(StateOf(first[2]), v1::TRIAL_STATE_LEASED);
  EXPECT_EQ(StateOf(first[3]), v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(StateOf(first[4]), v1::TRIAL_STATE_PENDING);

  // The reused trial is listed in both grids; the finished one shows its summary in both.
  const std::vector<GridTrialRow> rows = Must(store_->ListGridTrials(second->grid_id));
  ASSERT_EQ(rows.size(), 6u);
  ASSERT_TRUE(rows[0].summary.has_value());
  EXPECT_EQ(rows[0].summary->parameters(), 1234567890123LL);

  // A failed trial resubmitted can be leased again with the next attempt.
  LeaseOk(first[1], 2);
}

TEST_P(StoreTest, CreateGridWithARepeatedKeyReportsThePriorStateForBoth) {
  NewGrid grid = Grid("dup", {1, 1});
  const absl::StatusOr<CreatedGrid> created = store_->CreateGrid(grid);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(created->trial_ids.size(), 2u);
  EXPECT_EQ(created->trial_ids[0], created->trial_ids[1]);
  EXPECT_EQ(created->prior_state[1], v1::TRIAL_STATE_UNSPECIFIED);
  const GridProgress progress = Must(store_->GetProgress(created->grid_id));
  EXPECT_EQ(progress.counts.pending(), 2);  // listed twice, counted twice
}

TEST_P(StoreTest, CreateGridRejectsAnEmptyKey) {
  NewGrid grid = Grid("bad", {1});
  grid.trials[0].key.clear();
  EXPECT_TRUE(absl::IsInvalidArgument(store_->CreateGrid(grid).status()));
  EXPECT_TRUE(Must(store_->ListGrids(0)).empty());
}

TEST_P(StoreTest, LeaseIsConditionalOnStateAndAttempt) {
  const std::vector<int64_t> ids = Create(Grid("g", {1, 2}));
  ASSERT_EQ(ids.size(), 2u);
  const absl::StatusOr<std::vector<bool>> applied = store_->Lease(
      {Grant(ids[0], 1, "w1", 9000), Grant(ids[0], 1, "w2"), Grant(ids[1], 2), Grant(999, 1)},
      2000);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, (std::vector<bool>{true, false, false, false}));

  const TrialRow leased = Must(store_->GetTrial(ids[0]));
  EXPECT_EQ(leased.state, v1::TRIAL_STATE_LEASED);
  EXPECT_EQ(leased.attempt, 1);
  EXPECT_EQ(leased.worker_id, "w1");
  EXPECT_EQ(leased.deadline_ms, 9000);
  const TrialRow untouched = Must(store_->GetTrial(ids[1]));
  EXPECT_EQ(untouched.state, v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(untouched.attempt, 0);

  // Released (not a failure), then leased again: attempt 2, earlier epochs gone.
  AppendOk(ids[0], 1, 0, 1);
  EXPECT_EQ(Must(store_->GetTrial(ids[0])).epochs_done, 2);
  STORE_ASSERT_OK(store_->EndAttempt(End(ids[0], 1, v1::TRIAL_STATE_PENDING)));
  const TrialRow released = Must(store_->GetTrial(ids[0]));
  EXPECT_EQ(released.state, v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(released.failures, 0);
  EXPECT_EQ(Must(store_->Lease({Grant(ids[0], 1)}, 3000)), std::vector<bool>{false});
  LeaseOk(ids[0], 2, "w2");
  const TrialRow again = Must(store_->GetTrial(ids[0]));
  EXPECT_EQ(again.attempt, 2);
  EXPECT_EQ(again.worker_id, "w2");
  EXPECT_EQ(again.epochs_done, 0);
  EXPECT_TRUE(Must(store_->LoadEpochs(ids[0])).empty());
}

TEST_P(StoreTest, AppendEpochsGivesOneVerdictPerTrialAndStoresOnlyAccepted) {
  const std::vector<int64_t> ids = Create(Grid("g", {1, 2, 3, 4}));
  ASSERT_EQ(ids.size(), 4u);
  const int64_t live = ids[0], stale = ids[1], cancelled = ids[2], renewed = ids[3];
  for (const int64_t id : ids) LeaseOk(id, 1);
  // `stale` moves on to attempt 2; `cancelled` is cancelled during attempt 1.
  STORE_ASSERT_OK(store_->EndAttempt(End(stale, 1, v1::TRIAL_STATE_PENDING)));
  LeaseOk(stale, 2);
  STORE_ASSERT_OK(store_->EndAttempt(End(cancelled, 1, v1::TRIAL_STATE_CANCELLED)));

  const absl::StatusOr<std::vector<Verdict>> verdicts =
      store_->AppendEpochs({Row(stale, 1, 0), Row(live, 1, 0), Row(cancelled, 1, 0),
                            Row(live, 1, 1), Row(424242, 1, 0), Row(stale, 1, 1)},
                           {{renewed, 1}, {live, 1}}, 77000);
  ASSERT_TRUE(verdicts.ok()) << verdicts.status();
  ASSERT_EQ(verdicts->size(), 5u);
  const std::vector<std::pair<int64_t, v1::ReportVerdict>> expected = {
      {stale, v1::REPORT_VERDICT_STALE},
      {live, v1::REPORT_VERDICT_ACCEPTED},
      {cancelled, v1::REPORT_VERDICT_CANCELLED},
      {424242, v1::REPORT_VERDICT_STALE},
      {renewed, v1::REPORT_VERDICT_ACCEPTED}};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*verdicts)[i].trial_id, expected[i].first) << i;
    EXPECT_EQ((*verdicts)[i].verdict, expected[i].second) << i;
  }

  EXPECT_EQ(Must(store_->LoadEpochs(live)).size(), 2u);
  EXPECT_TRUE(Must(store_->LoadEpochs(stale)).empty());
  EXPECT_TRUE(Must(store_->LoadEpochs(cancelled)).empty());
  const TrialRow live_row = Must(store_->GetTrial(live));
  EXPECT_EQ(live_row.deadline_ms, 77000);
  EXPECT_EQ(live_row.epochs_done, 2);
  EXPECT_EQ(Must(store_->GetTrial(renewed)).deadline_ms, 77000);
  EXPECT_EQ(Must(store_->GetTrial(renewed)).epochs_done, 0);
  EXPECT_EQ(Must(store_->GetTrial(stale)).deadline_ms, 10000);  // not renewed
  EXPECT_EQ(Must(store_->GetTrial(stale)).epochs_done, 0);
}

TEST_P(StoreTest, AppendEpochsRejectsANegativeEpoch) {
  const std::vector<int64_t> ids = Create(Grid("g", {1}));
  LeaseOk(ids[0], 1);
  EXPECT_TRUE(absl::IsInvalidArgument(store_->AppendEpochs({Row(ids[0], 1, -1)}, {}, 1).status()));
  EXPECT_TRUE(Must(store_->LoadEpochs(ids[0])).empty());
}

TEST_P(StoreTest, RepeatedEpochReplacesTheEarlierRow) {
  const std::vector<int64_t> ids = Create(Grid("g", {1}));
  LeaseOk(ids[0], 1);
  STORE_ASSERT_OK(store_->AppendEpochs({Row(ids[0], 1, 0), Row(ids[0], 1, 1, 3)}, {}, 1));
  // Epoch 1 again (a resent batch), with other values and fewer layers; and twice in one call.
  STORE_ASSERT_OK(store_->AppendEpochs(
      {Row(ids[0], 1, 1, 1, 5.0), Row(ids[0], 1, 2), Row(ids[0], 1, 2, 2, 7.0)}, {}, 1));
  const std::vector<v1::EpochMetrics> epochs = Must(store_->LoadEpochs(ids[0]));
  ASSERT_EQ(epochs.size(), 3u);
  EXPECT_EQ(epochs[1].epoch(), 1);
  EXPECT_DOUBLE_EQ(epochs[1].train_loss(), Epoch(1, 1, 5.0).train_loss());
  ASSERT_EQ(epochs[1].layers_size(), 1);
  EXPECT_DOUBLE_EQ(epochs[1].layers(0).sparsity(), 5.0);
  EXPECT_DOUBLE_EQ(epochs[2].train_loss(), Epoch(2, 2, 7.0).train_loss());
  EXPECT_EQ(epochs[2].layers_size(), 2);
  EXPECT_EQ(Must(store_->GetTrial(ids[0])).epochs_done, 3);
}

TEST_P(StoreTest, AppendEpochsStoresCallsOfManyRowsAndTrials) {
  // More rows than one multi-row statement holds, interleaved across trials, with a
  // repeated epoch whose first copy is still queued when it comes again.
  const std::vector<int64_t> ids = Create(Grid("big", {1, 2, 3}, 60));
  ASSERT_EQ(ids.size(), 3u);
  for (const int64_t id : ids) LeaseOk(id, 1);
  std::vector<EpochRow> rows;
  for (int e = 0; e <= 45; ++e) {
    for (const int64_t id : ids) rows.push_back(Row(id, 1, e, 3));
  }
  rows.push_back(Row(ids[1], 1, 44, 2, 9.0));  // replaces epoch 44 of the middle trial
  const absl::StatusOr<std::vector<Verdict>> verdicts = store_->AppendEpochs(rows, {}, 5);
  ASSERT_TRUE(verdicts.ok()) << verdicts.status();
  ASSERT_EQ(verdicts->size(), 3u);
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::vector<v1::EpochMetrics> epochs = Must(store_->LoadEpochs(ids[i]));
    ASSERT_EQ(epochs.size(), 46u);
    for (int e = 0; e <= 45; ++e) {
      EXPECT_EQ(epochs[e].epoch(), e);
      if (i == 1 && e == 44) {
        EXPECT_EQ(epochs[e].SerializeAsString(), Epoch(44, 2, 9.0).SerializeAsString());
      } else {
        EXPECT_EQ(epochs[e].SerializeAsString(), Epoch(e, 3).SerializeAsString()) << i << " " << e;
      }
    }
    EXPECT_EQ(Must(store_->GetTrial(ids[i])).epochs_done, 46);
  }
  const GridProgress progress = Must(store_->GetProgress(last_grid_));
  EXPECT_EQ(progress.epochs_done, 3 * 46);
  EXPECT_EQ(progress.epochs_total, 3 * 61);
}

TEST_P(StoreTest, LoadEpochsRoundTripsLayersAndNonFiniteValues) {
  const std::vector<int64_t> ids = Create(Grid("g", {1}));
  LeaseOk(ids[0], 1);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EpochRow diverged = Row(ids[0], 1, 1, 3);
  diverged.metrics.set_train_loss(nan);
  diverged.metrics.set_test_loss(inf);
  diverged.metrics.set_grad_norm_first(-inf);
  diverged.metrics.mutable_layers(2)->set_act_std(nan);
  diverged.metrics.mutable_layers(0)->set_grad_norm(0.0);
  STORE_ASSERT_OK(store_->AppendEpochs({Row(ids[0], 1, 0, 3), diverged}, {}, 1));

  const std::vector<v1::EpochMetrics> epochs = Must(store_->LoadEpochs(ids[0]));
  ASSERT_EQ(epochs.size(), 2u);
  EXPECT_EQ(epochs[0].SerializeAsString(), Epoch(0, 3).SerializeAsString());
  const v1::EpochMetrics& got = epochs[1];
  EXPECT_EQ(got.epoch(), 1);
  EXPECT_TRUE(std::isnan(got.train_loss()));
  EXPECT_EQ(got.test_loss(), inf);
  EXPECT_EQ(got.grad_norm_first(), -inf);
  EXPECT_DOUBLE_EQ(got.test_acc(), diverged.metrics.test_acc());
  EXPECT_DOUBLE_EQ(got.seconds(), diverged.metrics.seconds());
  ASSERT_EQ(got.layers_size(), 3);
  for (int l = 0; l < 3; ++l) EXPECT_EQ(got.layers(l).layer(), l);
  EXPECT_TRUE(std::isnan(got.layers(2).act_std()));
  EXPECT_EQ(got.layers(0).grad_norm(), 0.0);
  EXPECT_DOUBLE_EQ(got.layers(1).act_mean(), diverged.metrics.layers(1).act_mean());
}

TEST_P(StoreTest, NonFiniteParameterCountsRoundTripBetweenOrdinaryEpochs) {
  // A record with the count stored is longer than the others: the records after it in
  // the same chunk, and the chunks after, must still read back.
  const std::vector<int64_t> ids = Create(Grid("g", {1}));
  LeaseOk(ids[0], 1);
  std::vector<EpochRow> rows;
  for (int e = 0; e < 4; ++e) rows.push_back(Row(ids[0], 1, e, 2));
  rows[1].metrics.set_nonfinite_params(int64_t{1} << 40);
  STORE_ASSERT_OK(store_->AppendEpochs({rows[0], rows[1], rows[2]}, {}, 1));
  STORE_ASSERT_OK(store_->AppendEpochs({rows[3]}, {}, 1));
  const std::vector<v1::EpochMetrics> epochs = Must(store_->LoadEpochs(ids[0]));
  ASSERT_EQ(epochs.size(), 4u);
  for (int e = 0; e < 4; ++e)
    EXPECT_EQ(epochs[e].SerializeAsString(), rows[e].metrics.SerializeAsString()) << e;
}

TEST_P(StoreTest, OnlyTheLeasesHolderWritesAndOnlyEpochsOfTheSpec) {
  // The scheduler checks holders against its memory first; the store checks again in
  // the transaction that writes, so a memory that is behind the store lets nothing in.
  const std::vector<int64_t> ids = Create(Grid("g", {1}, /*epochs=*/3));
  LeaseOk(ids[0], 1);  // worker w1, secret "secret-<id>"
  const std::string w1 = "w1", w2 = "w2", secret = "secret-" + std::to_string(ids[0]), wrong = "guessed";
  EpochRow row = Row(ids[0], 1, 0);
  for (const LeaseHolder& other : {LeaseHolder{&w2, &secret}, LeaseHolder{&w1, &wrong}, LeaseHolder{&w1, nullptr}}) {
    row.holder = other;
    const std::vector<Verdict> stale = Must(store_->AppendEpochs({row}, {{ids[0], 1, other}}, 5000));
    ASSERT_EQ(stale.size(), 1u);
    EXPECT_EQ(stale[0].verdict, v1::REPORT_VERDICT_STALE);
  }
  EXPECT_TRUE(Must(store_->LoadEpochs(ids[0])).empty());
  row.holder = {&w1, &secret};
  EXPECT_EQ(Must(store_->AppendEpochs({row}, {}, 5000))[0].verdict, v1::REPORT_VERDICT_ACCEPTED);
  EpochRow late = Row(ids[0], 1, 4);  // epochs 0..3 only
  late.holder = {&w1, &secret};
  const absl::StatusOr<std::vector<Verdict>> refused = store_->AppendEpochs({late}, {}, 5000);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_EQ(Must(store_->LoadEpochs(ids[0])).size(), 1u);

  AttemptEnd fail = End(ids[0], 1, v1::TRIAL_STATE_PENDING);
  fail.holder = {&w2, &secret};
  EXPECT_TRUE(absl::IsFailedPrecondition(store_->EndAttempt(fail)));
  EXPECT_EQ(Must(store_->GetTrial(ids[0])).state, v1::TRIAL_STATE_LEASED);
  fail.holder = {&w1, &secret};
  STORE_EXPECT_OK(store_->EndAttempt(fail));
  EXPECT_EQ(Must(store_->GetTrial(ids[0])).state, v1::TRIAL_STATE_PENDING);
}

TEST_P(StoreTest, SucceedingRequiresEveryEpochAndChangesNothingOtherwise) {
  const std::vector<int64_t> ids = Create(Grid("g", {1}, 3));
  const int64_t id = ids[0];
  LeaseOk(id, 1);
  STORE_ASSERT_OK(store_->AppendEpochs({Row(id, 1, 0), Row(id, 1, 1), Row(id, 1, 3)}, {}, 1));
  AttemptEnd end = End(id, 1, v1::TRIAL_STATE_SUCCEEDED);
  end.summary = Summary(3);
  const absl::Status missing = store_->EndAttempt(end);
  EXPECT_TRUE(absl::IsInvalidArgument(missing)) << missing;
  EXPECT_NE(missing.message().find("epoch 2"), std::string::npos) << missing;
  EXPECT_EQ(StateOf(id), v1::TRIAL_STATE_LEASED);
  EXPECT_FALSE(Must(store_->ListGridTrials(last_grid_))[0].summary.has_value());

  // Without a summary: InvalidArgument too.
  EXPECT_TRUE(absl::IsInvalidArgument(store_->EndAttempt(End(id, 1, v1::TRIAL_STATE_SUCCEEDED))));

  STORE_ASSERT_OK(store_->AppendEpochs({Row(id, 1, 2)}, {}, 1));
  STORE_ASSERT_OK(store_->EndAttempt(end));
  EXPECT_EQ(StateOf(id), v1::TRIAL_STATE_SUCCEEDED);
  const std::vector<GridTrialRow> rows = Must(store_->ListGridTrials(last_grid_));
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_TRUE(rows[0].summary.has_value());
  EXPECT_EQ(rows[0].summary->SerializeAsString(), Summary(3).SerializeAsString());
  EXPECT_TRUE(Must(store_->LoadUnfinished()).empty());
}

TEST_P(StoreTest, EndAttemptRefusesStaleAttemptsAndUnknownTrials) {
  const std::vector<int64_t> ids = Create(Grid("g", {1, 2}));
  LeaseOk(ids[0], 1);
  AppendOk(ids[0], 1, 0, 3);
  AttemptEnd stale = End(ids[0], 2, v1::TRIAL_STATE_SUCCEEDED);
  stale.summary = Summary(3);
  EXPECT_TRUE(absl::IsFailedPrecondition(store_->EndAttempt(stale)));
  EXPECT_TRUE(
      absl::IsFailedPrecondition(store_->EndAttempt(End(ids[0], 0, v1::TRIAL_STATE_FAILED))));
  // A PENDING trial cannot fail or succeed; only be cancelled.
  EXPECT_TRUE(
      absl::IsFailedPrecondition(store_->EndAttempt(End(ids[1], 0, v1::TRIAL_STATE_FAILED))));
  EXPECT_TRUE(absl::IsNotFound(store_->EndAttempt(End(999, 1, v1::TRIAL_STATE_FAILED))));
  EXPECT_TRUE(absl::IsInvalidArgument(store_->EndAttempt(End(ids[0], 1, v1::TRIAL_STATE_LEASED))));
  const TrialRow row = Must(store_->GetTrial(ids[0]));
  EXPECT_EQ(row.state, v1::TRIAL_STATE_LEASED);
  EXPECT_EQ(row.attempt, 1);
  EXPECT_EQ(row.failures, 0);

  // Once finished, the attempt cannot end again.
  AttemptEnd current = stale;
  current.attempt = 1;
  STORE_ASSERT_OK(store_->EndAttempt(current));
  EXPECT_TRUE(
      absl::IsFailedPrecondition(store_->EndAttempt(End(ids[0], 1, v1::TRIAL_STATE_CANCELLED))));
}

TEST_P(StoreTest, EndAttemptCountsFailuresAndKeepsTheLastError) {
  const std::vector<int64_t> ids = Create(Grid("g", {1, 2}));
  const int64_t id = ids[0];
  LeaseOk(id, 1);
  AttemptEnd expired = End(id, 1, v1::TRIAL_STATE_PENDING);
  expired.counts_as_failure = true;
  expired.error = "lease expired";
  STORE_ASSERT_OK(store_->EndAttempt(expired));
  TrialRow row = Must(store_->GetTrial(id));
  EXPECT_EQ(row.state, v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(row.failures, 1);
  EXPECT_EQ(row.last_error, "lease expired");

  LeaseOk(id, 2);
  STORE_ASSERT_OK(store_->EndAttempt(End(id, 2, v1::TRIAL_STATE_PENDING)));  // a release
  row = Must(store_->GetTrial(id));
  EXPECT_EQ(row.failures, 1);
  EXPECT_EQ(row.last_error, "lease expired");  // an empty error keeps the last one

  LeaseOk(id, 3);
  AttemptEnd failed = End(id, 3, v1::TRIAL_STATE_FAILED);
  failed.counts_as_failure = true;
  failed.error = "bad data";
  STORE_ASSERT_OK(store_->EndAttempt(failed));
  row = Must(store_->GetTrial(id));
  EXPECT_EQ(row.state, v1::TRIAL_STATE_FAILED);
  EXPECT_EQ(row.failures, 2);
  EXPECT_EQ(row.last_error, "bad data");
  EXPECT_EQ(Must(store_->ListGridTrials(last_grid_))[0].last_error, "bad data");

  // A PENDING trial is cancelled whatever attempt is quoted.
  STORE_ASSERT_OK(store_->EndAttempt(End(ids[1], 17, v1::TRIAL_STATE_CANCELLED)));
  EXPECT_EQ(StateOf(ids[1]), v1::TRIAL_STATE_CANCELLED);
}

TEST_P(StoreTest, GetProgressCountsStatesAndEpochs) {
  // Five trials of 4 epochs + epoch 0 = 5 epochs each.
  const std::vector<int64_t> ids = Create(Grid("g", {1, 2, 3, 4, 5}, 4));
  ASSERT_EQ(ids.size(), 5u);
  Finish(ids[0], 1, 4, v1::TRIAL_STATE_SUCCEEDED);  // 5
  LeaseOk(ids[1], 1);
  AppendOk(ids[1], 1, 0, 2);  // 3
  LeaseOk(ids[2], 1);
  AppendOk(ids[2], 1, 0, 0);
  AttemptEnd diverged = End(ids[2], 1, v1::TRIAL_STATE_DIVERGED);
  diverged.summary = Summary(0, true);
  STORE_ASSERT_OK(store_->EndAttempt(diverged));             // finished: 5
  STORE_ASSERT_OK(store_->CancelPending({ids[3], ids[1]}));  // ids[1] is leased: skipped
  // ids[4] pending: 0

  const GridProgress progress = Must(store_->GetProgress(last_grid_));
  EXPECT_EQ(progress.counts.pending(), 1);
  EXPECT_EQ(progress.counts.leased(), 1);
  EXPECT_EQ(progress.counts.succeeded(), 1);
  EXPECT_EQ(progress.counts.diverged(), 1);
  EXPECT_EQ(progress.counts.failed(), 0);
  EXPECT_EQ(progress.counts.cancelled(), 1);
  EXPECT_EQ(progress.epochs_total, 25);
  EXPECT_EQ(progress.epochs_done, 5 + 3 + 5);
}

TEST_P(StoreTest, ListGridTrialsIsInPositionOrderWithSummariesOfFinishedTrials) {
  const std::vector<int64_t> ids = Create(Grid("g", {5, 4, 3}, 2));
  ASSERT_EQ(ids.size(), 3u);
  Finish(ids[1], 1, 2, v1::TRIAL_STATE_DIVERGED);
  Finish(ids[2], 1, 2, v1::TRIAL_STATE_FAILED);
  const std::vector<GridTrialRow> rows = Must(store_->ListGridTrials(last_grid_));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].seed, 5u);
  EXPECT_EQ(rows[1].seed, 4u);
  EXPECT_EQ(rows[2].seed, 3u);
  EXPECT_EQ(rows[0].state, v1::TRIAL_STATE_PENDING);
  EXPECT_FALSE(rows[0].summary.has_value());
  EXPECT_EQ(rows[1].state, v1::TRIAL_STATE_DIVERGED);
  ASSERT_TRUE(rows[1].summary.has_value());
  EXPECT_EQ(rows[1].summary->outcome(), v1::TRIAL_OUTCOME_DIVERGED);
  EXPECT_TRUE(rows[1].summary->diverged());
  EXPECT_EQ(rows[2].state, v1::TRIAL_STATE_FAILED);
  EXPECT_FALSE(rows[2].summary.has_value());
  EXPECT_EQ(rows[2].last_error, "boom");
}

TEST_P(StoreTest, SummaryKeepsNonFiniteValues) {
  const std::vector<int64_t> ids = Create(Grid("g", {1}, 1));
  LeaseOk(ids[0], 1);
  AppendOk(ids[0], 1, 0, 1);
  AttemptEnd end = End(ids[0], 1, v1::TRIAL_STATE_DIVERGED);
  end.summary = Summary(1, true);
  end.summary->set_grad_ratio(std::numeric_limits<double>::quiet_NaN());
  end.summary->set_final_test_loss(std::numeric_limits<double>::infinity());
  STORE_ASSERT_OK(store_->EndAttempt(end));
  const std::vector<GridTrialRow> rows = Must(store_->ListGridTrials(last_grid_));
  ASSERT_TRUE(rows[0].summary.has_value());
  EXPECT_TRUE(std::isnan(rows[0].summary->grad_ratio()));
  EXPECT_EQ(rows[0].summary->final_test_loss(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(rows[0].summary->diverged_epoch(), 1);
}

TEST_P(StoreTest, FindGridByIdOrNewestByName) {
  const int64_t old_same = Must(store_->CreateGrid(Grid("same", {1}, 3, 100))).grid_id;
  const int64_t other = Must(store_->CreateGrid(Grid("other", {2}, 3, 200))).grid_id;
  const int64_t new_same = Must(store_->CreateGrid(Grid("same", {3}, 3, 300))).grid_id;
  EXPECT_EQ(Must(store_->FindGrid("same")).id, new_same);
  EXPECT_EQ(Must(store_->FindGrid("other")).id, other);
  EXPECT_EQ(Must(store_->FindGrid(std::to_string(old_same))).name, "same");
  EXPECT_TRUE(absl::IsNotFound(store_->FindGrid("nope").status()));
  EXPECT_TRUE(absl::IsNotFound(store_->FindGrid("").status()));
  // A name made of digits that is not an existing id is still found by name.
  const int64_t numeric = Must(store_->CreateGrid(Grid("4711", {4}))).grid_id;
  EXPECT_EQ(Must(store_->FindGrid("4711")).id, numeric);

  const std::vector<GridRow> all = Must(store_->ListGrids(0));
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].id, numeric);
  EXPECT_EQ(all[3].id, old_same);
  const std::vector<GridRow> two = Must(store_->ListGrids(2));
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[1].id, new_same);
}

TEST_P(StoreTest, UnfinishedTrialsAndMembersSkipCancelledGrids) {
  const std::vector<int64_t> a = Create(Grid("a", {1, 2, 3}));
  const int64_t grid_a = last_grid_;
  const std::vector<int64_t> b = Create(Grid("b", {3, 4}));
  const int64_t grid_b = last_grid_;
  Finish(a[0], 1, 3, v1::TRIAL_STATE_SUCCEEDED);
  LeaseOk(a[1], 1, "w9");
  STORE_ASSERT_OK(store_->SetGridCancelled(grid_b));
  EXPECT_TRUE(Must(store_->FindGrid(std::to_string(grid_b))).cancelled);
  EXPECT_TRUE(absl::IsNotFound(store_->SetGridCancelled(grid_b + 100)));

  const std::vector<TrialRow> trials = Must(store_->LoadUnfinished());
  ASSERT_EQ(trials.size(), 3u);  // a[1] leased, a[2] (= b[0]) and b[1] pending
  EXPECT_EQ(trials[0].id, a[1]);
  EXPECT_EQ(trials[0].state, v1::TRIAL_STATE_LEASED);
  EXPECT_EQ(trials[0].worker_id, "w9");
  EXPECT_EQ(trials[1].id, a[2]);
  EXPECT_EQ(trials[2].id, b[1]);

  const std::vector<GridMember> members = Must(store_->LoadUnfinishedMembers());
  ASSERT_EQ(members.size(), 2u);  // grid b is cancelled
  EXPECT_EQ(members[0].grid_id, grid_a);
  EXPECT_EQ(members[0].trial_id, a[1]);
  EXPECT_EQ(members[0].position, 1);
  EXPECT_EQ(members[0].seed_rank, 1);
  EXPECT_EQ(members[1].trial_id, a[2]);
  EXPECT_EQ(members[1].position, 2);
}

TEST_P(StoreTest, ListWorkersCountsAttemptsPerWorker) {
  v1::WorkerInfo w1;
  w1.set_worker_id("w1");
  w1.set_hostname("alpha");
  w1.set_threads(4);
  w1.set_last_seen_ms(100);
  STORE_ASSERT_OK(store_->TouchWorker(w1));
  v1::WorkerInfo w2 = w1;
  w2.set_worker_id("w2");
  w2.set_hostname("beta");
  w2.set_last_seen_ms(150);
  STORE_ASSERT_OK(store_->TouchWorker(w2));
  w1.set_hostname("alpha2");
  w1.set_threads(8);
  w1.set_last_seen_ms(200);
  STORE_ASSERT_OK(store_->TouchWorker(w1));
  EXPECT_TRUE(absl::IsInvalidArgument(store_->TouchWorker(v1::WorkerInfo())));

  const std::vector<int64_t> ids = Create(Grid("g", {1, 2, 3, 4}, 1));
  Finish(ids[0], 1, 1, v1::TRIAL_STATE_SUCCEEDED);  // w1 completed
  LeaseOk(ids[1], 1, "w1");
  AttemptEnd expired = End(ids[1], 1, v1::TRIAL_STATE_PENDING);
  expired.counts_as_failure = true;
  STORE_ASSERT_OK(store_->EndAttempt(expired));  // w1 failed
  LeaseOk(ids[1], 2, "w2");
  STORE_ASSERT_OK(store_->EndAttempt(End(ids[1], 2, v1::TRIAL_STATE_PENDING)));  // release
  LeaseOk(ids[2], 1, "w2");                                                      // w2 leased
  LeaseOk(ids[3], 1, "w1");                                                      // w1 leased

  const std::vector<v1::WorkerInfo> workers = Must(store_->ListWorkers());
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_EQ(workers[0].worker_id(), "w1");  // seen most recently
  EXPECT_EQ(workers[0].hostname(), "alpha2");
  EXPECT_EQ(workers[0].threads(), 8);
  EXPECT_EQ(workers[0].first_seen_ms(), 100);
  EXPECT_EQ(workers[0].last_seen_ms(), 200);
  EXPECT_EQ(workers[0].leased(), 1);
  EXPECT_EQ(workers[0].completed(), 1);
  EXPECT_EQ(workers[0].failed(), 1);
  EXPECT_EQ(workers[1].worker_id(), "w2");
  EXPECT_EQ(workers[1].leased(), 1);
  EXPECT_EQ(workers[1].completed(), 0);
  EXPECT_EQ(workers[1].failed(), 0);
}

}  // namespace
}  // namespace actgrid::store
