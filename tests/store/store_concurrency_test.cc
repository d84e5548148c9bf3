// Writers on several threads share the store's writer thread (group commit): every
// write commits, conditional writes apply exactly once, and failed writes leave
// nothing behind, while readers run alongside. Asserts outcomes, never timing.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/store/store.h"
#include "tests/store/store_test_util.h"

namespace actgrid::store {
namespace {

using namespace test_util;  // NOLINT: the store test helpers

constexpr int kThreads = 6;
constexpr int kTrialsPerThread = 4;
constexpr int kEpochs = 3;  // epochs 0..3 reported
constexpr uint64_t kSharedSeed = 999999;

class StoreConcurrencyTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.path = GetParam() ? dir_.File("concurrent.db") : ":memory:";
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // Records a failure from any thread; checked on the main thread.
  void Fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    failures_.push_back(what);
  }

  // One worker thread's life: a grid of its own trials plus the shared one, all
  // leased, reported epoch by epoch and completed, with failing writes in between.
  void RunWriter(int t) {
    const std::string worker = absl::StrCat("w", t);
    v1::WorkerInfo info;
    info.set_worker_id(worker);
    info.set_last_seen_ms(t);
    if (!store_->TouchWorker(info).ok()) Fail("touch");
    std::vector<uint64_t> seeds;
    for (int i = 0; i < kTrialsPerThread; ++i) seeds.push_back(1000 * (t + 1) + i);
    seeds.push_back(kSharedSeed);
    const absl::StatusOr<CreatedGrid> created =
        store_->CreateGrid(Grid(absl::StrCat("grid-", t), seeds, kEpochs));
    if (!created.ok()) return Fail(absl::StrCat("create: ", created.status().ToString()));
    {
      std::lock_guard<std::mutex> lock(mu_);
      shared_ids_.push_back(created->trial_ids.back());
      shared_priors_.push_back(created->prior_state.back());
    }
    // Everyone races for the shared trial's first lease.
    const absl::StatusOr<std::vector<bool>> shared =
        store_->Lease({Grant(created->trial_ids.back(), 1, worker)}, 1);
    if (!shared.ok()) return Fail("shared lease");
    if ((*shared)[0]) shared_leases_++;

    const std::vector<int64_t> own(created->trial_ids.begin(),
                                   created->trial_ids.begin() + kTrialsPerThread);
    for (const int64_t id : own) {
      const absl::StatusOr<std::vector<bool>> applied = store_->Lease({Grant(id, 1, worker)}, 1);
      if (!applied.ok() || !(*applied)[0]) return Fail("lease");
    }
    for (int e = 0; e <= kEpochs; ++e) {
      std::vector<EpochRow> rows;
      for (const int64_t id : own) rows.push_back(Row(id, 1, e));
      const absl::StatusOr<std::vector<Verdict>> verdicts = store_->AppendEpochs(rows, {}, 100 + e);
      if (!verdicts.ok() || verdicts->size() != own.size()) return Fail("append");
      for (const Verdict& v : *verdicts) {
        if (v.verdict != v1::REPORT_VERDICT_ACCEPTED) return Fail("verdict");
      }
      if (e == 1) {
        // Failing writes queued among the others: nothing of them may stick.
        AttemptEnd early = End(own[0], 1, v1::TRIAL_STATE_SUCCEEDED);
        early.summary = Summary(kEpochs);
        if (!absl::IsInvalidArgument(store_->EndAttempt(early))) Fail("early end accepted");
        AttemptEnd stale = End(own[1], 2, v1::TRIAL_STATE_FAILED);
        if (!absl::IsFailedPrecondition(store_->EndAttempt(stale))) Fail("stale end accepted");
      }
    }
    for (const int64_t id : own) {
      AttemptEnd end = End(id, 1, v1::TRIAL_STATE_SUCCEEDED);
      end.summary = Summary(kEpochs);
      if (!store_->EndAttempt(end).ok()) return Fail("end");
    }
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::mutex mu_;
  std::vector<std::string> failures_;
  std::vector<int64_t> shared_ids_;
  std::vector<v1::TrialState> shared_priors_;
  std::atomic<int> shared_leases_{0};
};

INSTANTIATE_TEST_SUITE_P(MemoryAndFile, StoreConcurrencyTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("File") : std::string("Memory");
                         });

TEST_P(StoreConcurrencyTest, ConcurrentWritersAllCommit) {
  std::atomic<bool> writing{true};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    // Reads never fail while writes commit, and never see a partial grid.
    while (writing.load()) {
      const absl::StatusOr<std::vector<GridRow>> grids = store_->ListGrids(0);
      if (!grids.ok()) return Fail(absl::StrCat("read: ", grids.status().ToString()));
      for (const GridRow& grid : *grids) {
        const absl::StatusOr<std::vector<GridTrialRow>> rows = store_->ListGridTrials(grid.id);
        if (!rows.ok()) return Fail(absl::StrCat("read: ", rows.status().ToString()));
        if (static_cast<int>(rows->size()) != grid.trials) return Fail("partial grid seen");
        if (!store_->GetProgress(grid.id).ok()) return Fail("progress");
      }
      reads++;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) writers.emplace_back([this, t] { RunWriter(t); });
  for (std::thread& w : writers) w.join();
  writing = false;
  reader.join();
  for (const std::string& failure : failures_) ADD_FAILURE() << failure;

  const std::vector<GridRow> grids = Must(store_->ListGrids(0));
  ASSERT_EQ(grids.size(), static_cast<size_t>(kThreads));
  for (const GridRow& grid : grids) {
    const std::vector<GridTrialRow> rows = Must(store_->ListGridTrials(grid.id));
    ASSERT_EQ(rows.size(), static_cast<size_t>(kTrialsPerThread + 1));
    for (int i = 0; i < kTrialsPerThread; ++i) {
      EXPECT_EQ(rows[i].state, v1::TRIAL_STATE_SUCCEEDED);
      EXPECT_TRUE(rows[i].summary.has_value());
      const std::vector<v1::EpochMetrics> epochs = Must(store_->LoadEpochs(rows[i].trial_id));
      ASSERT_EQ(epochs.size(), static_cast<size_t>(kEpochs + 1));
      for (const v1::EpochMetrics& epoch : epochs) EXPECT_EQ(epoch.layers_size(), 2);
      EXPECT_EQ(Must(store_->GetTrial(rows[i].trial_id)).failures, 0);
    }
  }

  // The shared trial: one row, created by exactly one grid, leased exactly once.
  ASSERT_EQ(shared_ids_.size(), static_cast<size_t>(kThreads));
  for (const int64_t id : shared_ids_) EXPECT_EQ(id, shared_ids_[0]);
  int created_here = 0;
  for (const v1::TrialState prior : shared_priors_) {
    if (prior == v1::TRIAL_STATE_UNSPECIFIED) created_here++;
  }
  EXPECT_EQ(created_here, 1);
  EXPECT_EQ(shared_leases_.load(), 1);
  EXPECT_EQ(Must(store_->GetTrial(shared_ids_[0])).attempt, 1);

  const std::vector<v1::WorkerInfo> workers = Must(store_->ListWorkers());
  ASSERT_EQ(workers.size(), static_cast<size_t>(kThreads));
  int64_t completed = 0;
  int leased = 0;
  for (const v1::WorkerInfo& worker : workers) {
    completed += worker.completed();
    leased += worker.leased();
    EXPECT_EQ(worker.failed(), 0);
  }
  EXPECT_EQ(completed, kThreads * kTrialsPerThread);
  EXPECT_EQ(leased, 1);  // the shared trial
}

TEST_P(StoreConcurrencyTest, ManySmallWritesAllCommitAndPersist) {
  std::vector<std::thread> writers;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        v1::WorkerInfo info;
        info.set_worker_id(absl::StrCat("w", t, "-", i));
        info.set_last_seen_ms(i);
        if (store_->TouchWorker(info).ok()) ok++;
      }
    });
  }
  for (std::thread& w : writers) w.join();
  EXPECT_EQ(ok.load(), kThreads * 10);
  EXPECT_EQ(Must(store_->ListWorkers()).size(), static_cast<size_t>(kThreads * 10));
  if (!GetParam()) return;
  store_.reset();
  absl::StatusOr<std::unique_ptr<Store>> reopened = Store::Open({dir_.File("concurrent.db"), true});
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(Must((*reopened)->ListWorkers()).size(), static_cast<size_t>(kThreads * 10));
}

}  // namespace
}  // namespace actgrid::store
