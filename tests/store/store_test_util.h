// Helpers shared by the store tests: temporary directories, specs, grids, epochs and
// summaries with recognizable values, and status assertions.
#ifndef ACTGRID_TESTS_STORE_STORE_TEST_UTIL_H_
#define ACTGRID_TESTS_STORE_STORE_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "server/store/store.h"

namespace actgrid::store::test_util {

inline absl::Status StatusOf(const absl::Status& status) { return status; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

#define STORE_ASSERT_OK(expr)                                                       \
  do {                                                                              \
    const absl::Status store_status_ = ::actgrid::store::test_util::StatusOf(expr); \
    ASSERT_TRUE(store_status_.ok()) << #expr << ": " << store_status_;              \
  } while (0)
#define STORE_EXPECT_OK(expr)                                                       \
  do {                                                                              \
    const absl::Status store_status_ = ::actgrid::store::test_util::StatusOf(expr); \
    EXPECT_TRUE(store_status_.ok()) << #expr << ": " << store_status_;              \
  } while (0)

// The value of `result`, or (with a test failure recorded) a default value.
template <typename T>
T Must(absl::StatusOr<T> result) {
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return T{};
  return std::move(*result);
}

// A fresh directory under the test temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::path(::testing::TempDir()) /
            absl::StrCat("actgrid-store-", getpid(), "-", counter++);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline v1::TrialSpec Spec(uint64_t seed, int epochs = 3) {
  v1::TrialSpec spec;
  spec.set_depth(2);
  spec.set_seed(seed);
  spec.mutable_model()->set_width(8);
  spec.mutable_train()->set_epochs(epochs);
  spec.mutable_train()->set_lr(0.1);
  spec.mutable_activation()->set_kind(v1::ACTIVATION_KIND_RELU);
  return spec;
}

// Keys are opaque to the store; the tests derive them from the spec's fields.
inline std::string Key(const v1::TrialSpec& spec) {
  return absl::StrCat("key-", spec.seed(), "-", spec.train().epochs());
}

// A grid of one factor ("activation") with one trial per seed, seed-major.
inline NewGrid Grid(const std::string& name, const std::vector<uint64_t>& seeds, int epochs = 3,
                    int64_t created_ms = 1000) {
  NewGrid grid;
  grid.name = name;
  grid.factors = {"activation", "train.lr"};
  grid.cells = 1;
  grid.created_ms = created_ms;
  for (size_t i = 0; i < seeds.size(); ++i) {
    NewGridTrial trial;
    trial.spec = Spec(seeds[i], epochs);
    trial.key = Key(trial.spec);
    trial.cell = 0;
    trial.seed_rank = static_cast<int>(i);
    trial.values = {"relu", "0.1"};
    grid.trials.push_back(std::move(trial));
  }
  return grid;
}

// Epoch `epoch` with `layers` layer rows; values encode (epoch, layer) and `tag`.
inline v1::EpochMetrics Epoch(int epoch, int layers = 2, double tag = 0.0) {
  v1::EpochMetrics m;
  m.set_epoch(epoch);
  m.set_train_loss(1.0 / (epoch + 1) + tag);
  m.set_test_loss(1.5 / (epoch + 1) + tag);
  m.set_train_acc(0.5 + 0.01 * epoch);
  m.set_test_acc(0.45 + 0.01 * epoch);
  m.set_dead_fraction(0.1);
  m.set_sparsity(0.2);
  m.set_grad_norm_first(3.0);
  m.set_grad_norm_last(1.5);
  m.set_seconds(0.25 * epoch);
  for (int l = 0; l < layers; ++l) {
    v1::LayerMetrics* layer = m.add_layers();
    layer->set_layer(l);
    layer->set_dead_fraction(0.01 * l);
    layer->set_sparsity(0.1 * l + tag);
    layer->set_grad_norm(1.0 + l);
    layer->set_act_mean(0.5 * epoch);
    layer->set_act_std(0.25 + l);
  }
  return m;
}

inline EpochRow Row(int64_t trial_id, int attempt, int epoch, int layers = 2, double tag = 0.0) {
  return EpochRow{trial_id, attempt, Epoch(epoch, layers, tag)};
}

inline v1::TrialSummary Summary(int epochs_run, bool diverged = false) {
  v1::TrialSummary s;
  s.set_outcome(diverged ? v1::TRIAL_OUTCOME_DIVERGED : v1::TRIAL_OUTCOME_SUCCEEDED);
  s.set_final_test_acc(0.91);
  s.set_best_test_acc(0.93);
  s.set_best_epoch(epochs_run > 0 ? epochs_run - 1 : 0);
  s.set_final_test_loss(0.2);
  s.set_final_train_loss(0.15);
  s.set_epochs_to_target(-1);
  s.set_auc_test_acc(0.8);
  s.set_init_sparsity(0.1);
  s.set_final_sparsity(0.3);
  s.set_init_dead_fraction(0.0);
  s.set_final_dead_fraction(0.05);
  s.set_max_dead_fraction(0.07);
  s.set_grad_ratio(2.0);
  s.set_diverged(diverged);
  s.set_diverged_epoch(diverged ? epochs_run : -1);
  s.set_seconds(12.5);
  s.set_steps_per_second(1000.0);
  s.set_epochs_run(epochs_run);
  s.set_parameters(1234567890123LL);
  return s;
}

inline AttemptEnd End(int64_t trial_id, int attempt, v1::TrialState to, int64_t now_ms = 5000) {
  AttemptEnd end;
  end.trial_id = trial_id;
  end.attempt = attempt;
  end.to = to;
  end.now_ms = now_ms;
  return end;
}

inline LeaseGrant Grant(int64_t trial_id, int attempt, const std::string& worker = "w1",
                        int64_t deadline_ms = 10000) {
  return LeaseGrant{trial_id, attempt, worker, deadline_ms, "secret-" + std::to_string(trial_id)};
}

}  // namespace actgrid::store::test_util

#endif  // ACTGRID_TESTS_STORE_STORE_TEST_UTIL_H_
