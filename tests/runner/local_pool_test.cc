// The local pool: results come back in spec order, equal to a single-threaded run,
// callbacks see every epoch, and a cancel stops the work.
#include <atomic>
#include <mutex>

#include <gtest/gtest.h>

#include "common/spec/names.h"
#include "worker/runner/local_pool.h"

namespace actgrid::runner {
namespace {

v1::TrialSpec SmallSpec(uint64_t seed, v1::ActivationKind act) {
  v1::TrialSpec spec;
  auto* d = spec.mutable_dataset();
  d->set_kind(v1::DATASET_KIND_CIRCLE);
  d->set_samples(200);
  d->set_noise(0.0);
  d->set_test_fraction(0.5);
  d->set_scaling(v1::SCALING_STANDARDIZE);
  spec.mutable_model()->set_width(4);
  auto* t = spec.mutable_train();
  t->set_optimizer(v1::OPTIMIZER_SGD);
  t->set_lr(0.03);
  t->set_batch(10);
  t->set_epochs(5);
  t->set_target_accuracy(0.9);
  t->set_momentum(0.9);
  t->set_beta1(0.9);
  t->set_beta2(0.999);
  t->set_eps(1e-8);
  *spec.mutable_activation() = spec::DefaultActivation(act);
  *spec.mutable_init() = spec::DefaultInit(v1::INIT_KIND_HE_NORMAL);
  spec.set_depth(2);
  spec.set_seed(seed);
  return spec;
}

bool SameCurves(const v1::TrialResult& a, const v1::TrialResult& b) {
  if (a.epochs_size() != b.epochs_size()) return false;
  for (int e = 0; e < a.epochs_size(); ++e) {
    v1::EpochMetrics x = a.epochs(e), y = b.epochs(e);
    x.clear_seconds();
    y.clear_seconds();
    if (x.SerializeAsString() != y.SerializeAsString()) return false;
  }
  return true;
}

TEST(LocalPool, ParallelResultsMatchSequentialInSpecOrder) {
  std::vector<v1::TrialSpec> specs;
  for (uint64_t seed = 0; seed < 3; ++seed)
    for (auto act : {v1::ACTIVATION_KIND_RELU, v1::ACTIVATION_KIND_TANH})
      specs.push_back(SmallSpec(seed, act));
  engine::DatasetCache cache;
  std::mutex mu;
  std::vector<int> epochs_seen(specs.size(), 0), done(specs.size(), 0);
  PoolOptions parallel;
  parallel.threads = 2;
  parallel.on_epoch = [&](size_t i, const v1::EpochMetrics&) {
    std::lock_guard<std::mutex> lock(mu);
    ++epochs_seen[i];
  };
  parallel.on_done = [&](size_t i, const absl::StatusOr<v1::TrialResult>&) {
    std::lock_guard<std::mutex> lock(mu);
    ++done[i];
  };
  const auto a = RunLocally(specs, cache, parallel);
  PoolOptions sequential;
  sequential.threads = 1;
  const auto b = RunLocally(specs, cache, sequential);
  ASSERT_EQ(a.size(), specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    ASSERT_TRUE(a[i].ok()) << a[i].status();
    ASSERT_TRUE(b[i].ok()) << b[i].status();
    EXPECT_EQ(a[i]->spec().SerializeAsString(), specs[i].SerializeAsString());
    EXPECT_TRUE(SameCurves(*a[i], *b[i])) << "trial " << i;
    EXPECT_EQ(epochs_seen[i], 6);  // epochs 0..5
    EXPECT_EQ(done[i], 1);
  }
}

TEST(LocalPool, CancelStopsEveryTrial) {
  std::vector<v1::TrialSpec> specs(4, SmallSpec(0, v1::ACTIVATION_KIND_RELU));
  for (auto& s : specs) s.mutable_train()->set_epochs(100000);
  std::atomic<bool> cancel{false};
  engine::DatasetCache cache;
  PoolOptions options;
  options.threads = 2;
  options.cancel = &cancel;
  options.on_epoch = [&](size_t, const v1::EpochMetrics& m) {
    if (m.epoch() >= 3) cancel = true;
  };
  const auto results = RunLocally(specs, cache, options);
  for (const auto& r : results) EXPECT_TRUE(absl::IsCancelled(r.status())) << r.status();
}

TEST(LocalPool, DatasetErrorsComeBackPerTrial) {
  v1::TrialSpec bad = SmallSpec(0, v1::ACTIVATION_KIND_RELU);
  bad.mutable_dataset()->set_kind(v1::DATASET_KIND_CSV);
  bad.mutable_dataset()->set_path("/nonexistent/actgrid.csv");
  engine::DatasetCache cache;
  const auto results = RunLocally({bad, SmallSpec(1, v1::ACTIVATION_KIND_RELU)}, cache, PoolOptions{});
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(results[1].ok());
}

}  // namespace
}  // namespace actgrid::runner
