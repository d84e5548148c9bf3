// The trainer: metric semantics at initialization, learning sanity on the circle,
// bit-identical reruns, divergence as an outcome, and the trial summary.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "worker/engine/dataset.h"
#include "worker/engine/random.h"
#include "common/spec/names.h"
#include "common/spec/summary.h"
#include "worker/engine/trainer.h"
#include "common/spec/validate.h"

namespace actgrid::engine {
namespace {

v1::TrialSpec CircleSpec(v1::ActivationKind act, int depth, int width, int epochs) {
  v1::TrialSpec spec;
  auto* d = spec.mutable_dataset();
  d->set_kind(v1::DATASET_KIND_CIRCLE);
  d->set_samples(1000);
  d->set_noise(0.0);
  d->set_test_fraction(0.5);
  d->set_seed(7);
  d->set_scaling(v1::SCALING_STANDARDIZE);
  spec.mutable_model()->set_width(width);
  auto* t = spec.mutable_train();
  t->set_optimizer(v1::OPTIMIZER_SGD);
  t->set_lr(0.03);
  t->set_batch(10);
  t->set_epochs(epochs);
  t->set_target_accuracy(0.9);
  t->set_momentum(0.9);
  t->set_beta1(0.9);
  t->set_beta2(0.999);
  t->set_eps(1e-8);
  *spec.mutable_activation() = spec::DefaultActivation(act);
  *spec.mutable_init() = spec::DefaultInit(v1::INIT_KIND_HE_NORMAL);
  spec.set_depth(depth);
  spec.set_seed(1);
  return spec;
}

v1::TrialResult Train(const v1::TrialSpec& spec, const TrialHooks& hooks = {}) {
  auto data = LoadDataset(spec.dataset());
  EXPECT_TRUE(data.ok()) << data.status();
  auto result = RunTrial(spec, **data, hooks);
  EXPECT_TRUE(result.ok()) << result.status();
  return *result;
}

TEST(Metrics, ReluHeZeroBiasIsHalfSparseAtInit) {
  const auto r = Train(CircleSpec(v1::ACTIVATION_KIND_RELU, 3, 64, 0));
  ASSERT_EQ(r.epochs_size(), 1);
  EXPECT_NEAR(r.epochs(0).sparsity(), 0.5, 0.05);
  EXPECT_EQ(r.summary().init_sparsity(), r.epochs(0).sparsity());
  ASSERT_EQ(r.epochs(0).layers_size(), 3);
  for (const auto& layer : r.epochs(0).layers()) EXPECT_GT(layer.act_std(), 0.0);
  EXPECT_FALSE(r.summary().born_dead());  // 64 units a layer: none entirely dead
}

TEST(Metrics, HiddenLayersOfDifferentSizes) {
  auto spec = CircleSpec(v1::ACTIVATION_KIND_TANH, 2, 0, 20);
  spec.mutable_model()->add_hidden(6);
  spec.mutable_model()->add_hidden(3);
  const auto r = Train(spec);
  // (2 inputs x 6 + 6) + (6 x 3 + 3) + (3 x 2 classes + 2)
  EXPECT_EQ(r.summary().parameters(), 18 + 21 + 8);
  ASSERT_EQ(r.epochs(0).layers_size(), 2);
  EXPECT_GT(r.summary().final_test_acc(), 0.8);
  spec.set_bias(-100);  // tanh(-100) saturates: every unit of both layers is dead
  EXPECT_EQ(Train(spec).epochs(0).layers(1).dead_fraction(), 1.0);
}

TEST(Metrics, LayerWithBiasMinus100IsFullyDead) {
  auto spec = CircleSpec(v1::ACTIVATION_KIND_RELU, 2, 8, 3);
  spec.set_bias(-100);
  const auto r = Train(spec);
  for (const auto& e : r.epochs()) {
    EXPECT_EQ(e.dead_fraction(), 1.0);
    EXPECT_EQ(e.sparsity(), 1.0);
    EXPECT_EQ(e.layers(0).dead_fraction(), 1.0);
    EXPECT_EQ(e.grad_norm_first(), 0.0);
  }
  EXPECT_EQ(r.summary().max_dead_fraction(), 1.0);
  EXPECT_TRUE(r.summary().born_dead());
}

TEST(Metrics, TanhIsNeverExactlySparseAndLeakyNeverDead) {
  const auto tanh = Train(CircleSpec(v1::ACTIVATION_KIND_TANH, 2, 8, 2));
  const auto leaky = Train(CircleSpec(v1::ACTIVATION_KIND_LEAKY_RELU, 2, 8, 2));
  for (const auto& e : tanh.epochs()) EXPECT_LT(e.sparsity(), 0.01);
  for (const auto& e : leaky.epochs()) EXPECT_EQ(e.dead_fraction(), 0.0);
}

TEST(Learning, TanhThreeByThreeLearnsTheCircle) {
  auto spec = CircleSpec(v1::ACTIVATION_KIND_TANH, 3, 3, 300);
  spec.mutable_dataset()->set_noise(0.1);
  *spec.mutable_init() = spec::DefaultInit(v1::INIT_KIND_XAVIER_UNIFORM);
  const auto r = Train(spec);
  EXPECT_GE(r.summary().final_test_acc(), 0.9);
  EXPECT_EQ(r.summary().outcome(), v1::TRIAL_OUTCOME_SUCCEEDED);
  EXPECT_GE(r.summary().epochs_to_target(), 1);
}

TEST(Learning, LinearStaysNearChance) {
  auto spec = CircleSpec(v1::ACTIVATION_KIND_LINEAR, 3, 3, 100);
  spec.mutable_dataset()->set_noise(0.1);
  const auto r = Train(spec);
  // A composition of linear maps is linear: no boundary separates a disc from a ring.
  EXPECT_LT(r.summary().final_test_acc(), 0.6);
}

TEST(Learning, AdamAndMomentumLearnToo) {
  for (auto opt : {v1::OPTIMIZER_ADAM, v1::OPTIMIZER_MOMENTUM}) {
    auto spec = CircleSpec(v1::ACTIVATION_KIND_RELU, 2, 8, 40);
    spec.mutable_train()->set_optimizer(opt);
    // Each optimizer at its own rate: Adam at a usual 0.01; momentum (mu 0.9) steps about
    // 1 / (1 - mu) = 10 times its rate, so 0.003 takes plain SGD's steps at CircleSpec's 0.03.
    spec.mutable_train()->set_lr(opt == v1::OPTIMIZER_ADAM ? 0.01 : 0.003);
    EXPECT_GE(Train(spec).summary().final_test_acc(), 0.9) << opt;
  }
}

TEST(Learning, ReluPreluRefluAndMaxoutLearn) {
  for (auto act : {v1::ACTIVATION_KIND_RELU, v1::ACTIVATION_KIND_PRELU, v1::ACTIVATION_KIND_REFLU,
                   v1::ACTIVATION_KIND_MAXOUT}) {
    const auto r = Train(CircleSpec(act, 2, 8, 60));
    EXPECT_GE(r.summary().final_test_acc(), 0.9) << spec::ActivationLabel(spec::DefaultActivation(act));
  }
}

TEST(Determinism, SameSpecGivesBitIdenticalCurves) {
  auto spec = CircleSpec(v1::ACTIVATION_KIND_REFLU, 3, 8, 10);
  spec.mutable_train()->set_optimizer(v1::OPTIMIZER_ADAM);
  spec.mutable_train()->set_l2(1e-3);
  spec.mutable_train()->set_l1_activity(1e-4);
  const auto a = Train(spec), b = Train(spec);
  ASSERT_EQ(a.epochs_size(), 11);
  ASSERT_EQ(a.epochs_size(), b.epochs_size());
  for (int e = 0; e < a.epochs_size(); ++e) {
    v1::EpochMetrics x = a.epochs(e), y = b.epochs(e);
    x.clear_seconds();
    y.clear_seconds();
    EXPECT_EQ(x.SerializeAsString(), y.SerializeAsString()) << "epoch " << e;
  }
  spec.set_seed(2);
  const auto c = Train(spec);
  EXPECT_NE(a.epochs(10).train_loss(), c.epochs(10).train_loss());
}

TEST(Divergence, NonFiniteLossEndsTheTrialAsDiverged) {
  auto spec = CircleSpec(v1::ACTIVATION_KIND_LINEAR, 4, 16, 50);
  spec.mutable_train()->set_lr(50.0);
  const auto r = Train(spec);
  EXPECT_TRUE(r.summary().diverged());
  EXPECT_EQ(r.summary().outcome(), v1::TRIAL_OUTCOME_DIVERGED);
  EXPECT_GE(r.summary().diverged_epoch(), 1);
  EXPECT_LT(r.summary().diverged_epoch(), 50);
  EXPECT_EQ(r.epochs_size(), r.summary().diverged_epoch() + 1);
  EXPECT_FALSE(std::isfinite(r.epochs(r.epochs_size() - 1).train_loss()));
}

// Sets params[0] (the first weight of the first hidden layer) to `value` after `epoch`'s updates.
TrialHooks InjectFirstWeight(int epoch, float value) {
  TrialHooks hooks;
  hooks.on_params = [epoch, value](int e, std::vector<float>& params) {
    if (e == epoch) params[0] = value;
  };
  return hooks;
}

// A NaN weight makes its ReLU unit NaN, not a dead zero: the NaN reaches the loss, and
// neither that unit nor the units it feeds count as dead.
TEST(Divergence, NanWeightDivergesInsteadOfLookingDead) {
  const auto spec = CircleSpec(v1::ACTIVATION_KIND_RELU, 2, 8, 5);
  const auto clean = Train(spec);
  const auto r = Train(spec, InjectFirstWeight(2, std::numeric_limits<float>::quiet_NaN()));
  EXPECT_EQ(r.summary().outcome(), v1::TRIAL_OUTCOME_DIVERGED);
  EXPECT_TRUE(r.summary().diverged());
  EXPECT_EQ(r.summary().diverged_epoch(), 2);
  ASSERT_EQ(r.epochs_size(), 3);
  const v1::EpochMetrics& last = r.epochs(2);
  const v1::EpochMetrics& same = clean.epochs(2);  // the same network but for that weight
  EXPECT_EQ(last.nonfinite_params(), 1);
  EXPECT_EQ(same.nonfinite_params(), 0);
  EXPECT_TRUE(std::isnan(last.train_loss()));
  ASSERT_EQ(last.layers_size(), 2);
  EXPECT_LE(last.layers(0).dead_fraction(), same.layers(0).dead_fraction());
  EXPECT_EQ(last.layers(1).dead_fraction(), 0.0);  // every unit of layer 1 sees the NaN
  EXPECT_LE(last.dead_fraction(), same.dead_fraction());
}

// tanh saturates at an infinite weight, so the losses stay finite; the parameter count
// still ends the trial, at epoch 0 as at any later one.
TEST(Divergence, InfiniteWeightBehindSaturatedTanhDiverges) {
  const auto spec = CircleSpec(v1::ACTIVATION_KIND_TANH, 2, 8, 5);
  for (int epoch : {0, 1}) {
    const auto r = Train(spec, InjectFirstWeight(epoch, std::numeric_limits<float>::infinity()));
    EXPECT_EQ(r.summary().outcome(), v1::TRIAL_OUTCOME_DIVERGED) << epoch;
    EXPECT_EQ(r.summary().diverged_epoch(), epoch);
    ASSERT_EQ(r.epochs_size(), epoch + 1);
    const v1::EpochMetrics& last = r.epochs(epoch);
    EXPECT_EQ(last.nonfinite_params(), 1);
    EXPECT_TRUE(std::isfinite(last.train_loss()));
    EXPECT_TRUE(std::isfinite(last.test_loss()));
  }
  const auto clean = Train(spec);
  EXPECT_EQ(clean.summary().outcome(), v1::TRIAL_OUTCOME_SUCCEEDED);
  for (const auto& e : clean.epochs()) EXPECT_EQ(e.nonfinite_params(), 0);
}

TEST(Summary, NonFiniteParametersWithFiniteLossesMeanDiverged) {
  v1::TrialSpec spec;
  std::vector<v1::EpochMetrics> curve(2);
  for (int e = 0; e < 2; ++e) {
    curve[e].set_epoch(e);
    curve[e].set_train_loss(0.5);
    curve[e].set_test_loss(0.5);
    curve[e].set_test_acc(0.8);
  }
  curve[1].set_nonfinite_params(3);
  const auto s = spec::Summarize(spec, curve);
  EXPECT_TRUE(s.diverged());
  EXPECT_EQ(s.outcome(), v1::TRIAL_OUTCOME_DIVERGED);
  EXPECT_EQ(s.diverged_epoch(), 1);
}

// Unknown activation and init kinds are refused up front, naming the field.
TEST(UnknownKinds, RunTrialAndValidationRefuseThem) {
  const auto base = CircleSpec(v1::ACTIVATION_KIND_RELU, 2, 8, 1);
  auto data = LoadDataset(base.dataset());
  ASSERT_TRUE(data.ok()) << data.status();
  auto bad_activation = base;
  bad_activation.mutable_activation()->set_kind(v1::ActivationKind(999));
  auto bad_init = base;
  bad_init.mutable_init()->set_kind(v1::InitKind(999));
  for (const auto& [spec, expected] : {std::pair{bad_activation, "model.activation: unknown activation kind 999"},
                                       std::pair{bad_init, "model.init: unknown init kind 999"}}) {
    const absl::Status valid = spec::ValidateTrialSpec(spec);
    EXPECT_EQ(valid.code(), absl::StatusCode::kInvalidArgument) << expected;
    EXPECT_NE(std::string(valid.message()).find(expected), std::string::npos) << valid;
    const auto result = RunTrial(spec, **data);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << expected;
    EXPECT_NE(std::string(result.status().message()).find(expected), std::string::npos) << result.status();
  }
}

// Probe statistics against a long double reference over the same float activations:
// a full probe of the widest layer (4096 units), and a layer far from zero with a
// small spread. Summed in float lanes, the running sums would round away digits of
// the mean and the spread (about 7e-7 and 8e-5 of them, relative, in the first).
TEST(Metrics, ActivationStatisticsAreAccumulatedInDouble) {
  struct Case {
    int units;
    double mean, std;
  };
  for (const Case c : {Case{4096, 10.0, 1.0}, Case{64, 3000.0, 0.01}}) {
    const size_t count = size_t(spec::kProbeSamples) * c.units + 5;  // and a remainder past the SIMD blocks
    std::vector<float> a(count);
    Rng rng(3);
    for (float& v : a) v = float(rng.Normal(c.mean, c.std));
    long double sum = 0, sumsq = 0;
    for (float v : a) sum += v;
    const long double mean = sum / count;
    for (float v : a) sumsq += (v - mean) * (v - mean);
    const double std = double(std::sqrt(sumsq / count));
    const ActivationStats s = MeasureActivations(a.data(), count);
    EXPECT_NEAR(s.mean, double(mean), 1e-12 * double(mean)) << c.units << " units";
    EXPECT_NEAR(s.std, std, 1e-9 * std) << c.units << " units";
    EXPECT_EQ(s.zeros, 0);
  }
}

// Exact zeros are counted in the SIMD blocks and in the remainder.
TEST(Metrics, ActivationZerosAreCounted) {
  std::vector<float> a(8 * 5 + 3);
  for (size_t i = 0; i < a.size(); ++i) a[i] = i % 3 == 0 ? 0.0f : float(i);
  const ActivationStats s = MeasureActivations(a.data(), a.size());
  EXPECT_EQ(s.zeros, 15);  // 0, 3, ..., 42
  EXPECT_DOUBLE_EQ(s.mean, (43.0 * 42 / 2 - 3.0 * (14 * 15 / 2)) / 43);
}

TEST(Summary, FieldsFollowTheCurve) {
  v1::TrialSpec spec;
  spec.mutable_train()->set_target_accuracy(0.8);
  std::vector<v1::EpochMetrics> curve(4);
  const double acc[] = {0.5, 0.85, 0.9, 0.7};
  const double dead[] = {0.1, 0.3, 0.2, 0.25};
  for (int e = 0; e < 4; ++e) {
    curve[e].set_epoch(e);
    curve[e].set_test_acc(acc[e]);
    curve[e].set_train_loss(1.0);
    curve[e].set_test_loss(1.0);
    curve[e].set_dead_fraction(dead[e]);
    curve[e].set_sparsity(0.1 * e);
  }
  curve[0].set_grad_norm_first(0.2);
  curve[0].set_grad_norm_last(0.8);
  const auto s = spec::Summarize(spec, curve);
  EXPECT_EQ(s.final_test_acc(), 0.7);
  EXPECT_EQ(s.best_test_acc(), 0.9);
  EXPECT_EQ(s.best_epoch(), 2);
  EXPECT_EQ(s.epochs_to_target(), 1);
  EXPECT_DOUBLE_EQ(s.auc_test_acc(), ((0.5 + 0.85) / 2 + (0.85 + 0.9) / 2 + (0.9 + 0.7) / 2) / 3);
  EXPECT_EQ(s.max_dead_fraction(), 0.3);
  EXPECT_EQ(s.init_dead_fraction(), 0.1);
  EXPECT_EQ(s.final_dead_fraction(), 0.25);
  EXPECT_DOUBLE_EQ(s.final_sparsity(), 0.3);
  EXPECT_DOUBLE_EQ(s.grad_ratio(), 0.25);
  EXPECT_FALSE(s.diverged());
  EXPECT_EQ(s.epochs_run(), 3);
}

}  // namespace
}  // namespace actgrid::engine
