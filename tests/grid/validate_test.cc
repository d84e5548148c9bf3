// Tests of spec::ValidateTrialSpec: the grid's default spec passes, and every range check
// reports its own "path: problem" line.
#include "common/spec/validate.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "common/spec/fields.h"
#include "gtest/gtest.h"
#include "common/spec/names.h"

namespace actgrid::engine {
namespace {

// The message of validating the default spec after `mutate`; "" when it is valid.
std::string Problem(const std::function<void(v1::TrialSpec*)>& mutate) {
  v1::TrialSpec spec = spec::DefaultTrialSpec();
  mutate(&spec);
  const absl::Status status = spec::ValidateTrialSpec(spec);
  if (status.ok()) return "";
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  return std::string(status.message());
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(Validate, DefaultSpecIsValid) {
  EXPECT_TRUE(spec::ValidateTrialSpec(spec::DefaultTrialSpec()).ok());
  EXPECT_EQ(Problem([](v1::TrialSpec* s) {
              s->mutable_dataset()->set_kind(v1::DATASET_KIND_CSV);
              s->mutable_dataset()->set_path("a.csv");
              s->mutable_train()->set_epochs(0);
              s->mutable_train()->set_momentum(0);
              s->set_depth(256);
              s->mutable_model()->set_width(256);
              *s->mutable_activation() = spec::DefaultActivation(v1::ACTIVATION_KIND_REFLU);
            }),
            "");
}

TEST(Validate, NetworkSizeIsBounded) {
  EXPECT_EQ(Problem([](v1::TrialSpec* s) {
              s->set_depth(256);
              s->mutable_model()->set_width(4096);
            }),
            "model: width x depth = 1048576 hidden units; at most 65536 are allowed");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) {
              s->set_depth(4);
              s->mutable_model()->set_width(4096);
            }),
            "model: width^2 x (depth - 1) = 50331648 hidden weights; at most 50000000 are allowed");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) {
              s->set_depth(65);
              s->mutable_model()->set_width(512);
              *s->mutable_activation() = spec::DefaultActivation(v1::ACTIVATION_KIND_MAXOUT);
            }),
            "model: width x depth x maxout k = 66560 hidden units; at most 65536 are allowed");
}

TEST(Validate, KindsMustBeSet) {
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_dataset()->set_kind(v1::DATASET_KIND_UNSPECIFIED); }),
            "dataset.name: must be set (dataset kind is unspecified)");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_dataset()->set_scaling(v1::SCALING_UNSPECIFIED); }),
            "dataset.scaling: must be set (scaling is unspecified)");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_train()->set_optimizer(v1::OPTIMIZER_UNSPECIFIED); }),
            "train.optimizer: must be set (optimizer is unspecified)");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_activation()->set_kind(v1::ACTIVATION_KIND_UNSPECIFIED); }),
            "model.activation: must be set (activation kind is unspecified)");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_init()->set_kind(v1::INIT_KIND_UNSPECIFIED); }),
            "model.init: must be set (init kind is unspecified)");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_init()->set_kind(static_cast<v1::InitKind>(99)); }),
            "model.init: unknown init kind 99");
}

TEST(Validate, ParameterCountsAndMaxout) {
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_activation()->add_params(1); }),
            "model.activation: relu takes 0 parameter(s), got 1");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { *s->mutable_init() = spec::DefaultInit(v1::INIT_KIND_NORMAL);
                                           s->mutable_init()->clear_params(); }),
            "model.init: normal takes 1 parameter(s), got 0");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { *s->mutable_activation() = spec::DefaultActivation(v1::ACTIVATION_KIND_ELU);
                                           s->mutable_activation()->set_params(0, kNaN); }),
            "model.activation: elu parameter alpha must be finite, got nan");
  for (double k : {2.0, 16.0})
    EXPECT_EQ(Problem([k](v1::TrialSpec* s) { *s->mutable_activation() = spec::DefaultActivation(v1::ACTIVATION_KIND_MAXOUT);
                                              s->mutable_activation()->set_params(0, k); }),
              "");
  for (double k : {1.0, 17.0, 2.5})
    EXPECT_EQ(Problem([k](v1::TrialSpec* s) { *s->mutable_activation() = spec::DefaultActivation(v1::ACTIVATION_KIND_MAXOUT);
                                              s->mutable_activation()->set_params(0, k); }),
              "model.activation: maxout k must be an integer in 2..16, got " + spec::FormatNumber(k));
}

TEST(Validate, DatasetRanges) {
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_dataset()->set_samples(3); }),
            "dataset.samples: must be in 4..10000000, got 3");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_dataset()->set_samples(10000001); }),
            "dataset.samples: must be in 4..10000000, got 10000001");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) {  // samples do not matter for file sets
              s->mutable_dataset()->set_kind(v1::DATASET_KIND_IDX);
              s->mutable_dataset()->set_path("/d");
              s->mutable_dataset()->set_samples(0);
            }),
            "");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_dataset()->set_noise(10.5); }),
            "dataset.noise: must be in [0, 10], got 10.5");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_dataset()->set_noise(kNaN); }),
            "dataset.noise: must be in [0, 10], got nan");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_dataset()->set_test_fraction(1); }),
            "dataset.test_fraction: must be in (0, 1), got 1");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_dataset()->set_test_fraction(0); }),
            "dataset.test_fraction: must be in (0, 1), got 0");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_dataset()->set_train_limit(-1); }),
            "dataset.train_limit: must be >= 0, got -1");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_dataset()->set_test_limit(-2); }),
            "dataset.test_limit: must be >= 0, got -2");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_dataset()->set_kind(v1::DATASET_KIND_IDX); }),
            "dataset.path: must be set for dataset idx");
}

TEST(Validate, ModelRanges) {
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_model()->set_width(0); }), "model.width: must be in 1..4096, got 0");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_model()->set_width(4097); }),
            "model.width: must be in 1..4096, got 4097");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->set_depth(0); }), "model.depth: must be in 1..256, got 0");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->set_depth(300); }), "model.depth: must be in 1..256, got 300");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->set_bias(kInf); }), "model.bias: must be a finite number, got inf");
}

TEST(Validate, TrainRanges) {
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_train()->set_lr(-1); }),
            "train.lr: must be a finite number > 0, got -1");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_train()->set_lr(0); }),
            "train.lr: must be a finite number > 0, got 0");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_train()->set_lr(100.5); }),
            "train.lr: must be at most 100, got 100.5");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_train()->set_lr(100); }), "");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_train()->set_batch(0); }), "train.batch: must be in 1..65536, got 0");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_train()->set_epochs(100001); }),
            "train.epochs: must be in 0..100000, got 100001");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_train()->set_l2(-0.1); }),
            "train.l2: must be a finite number >= 0, got -0.1");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_train()->set_l1_activity(kInf); }),
            "train.l1_activity: must be a finite number >= 0, got inf");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_train()->set_target_accuracy(1.01); }),
            "train.target_accuracy: must be in [0, 1], got 1.01");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_train()->set_momentum(1); }),
            "train.momentum: must be in [0, 1), got 1");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_train()->set_beta1(-0.1); }),
            "train.beta1: must be in [0, 1), got -0.1");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_train()->set_beta2(1); }), "train.beta2: must be in [0, 1), got 1");
  EXPECT_EQ(Problem([](v1::TrialSpec* s) { s->mutable_train()->set_eps(0); }),
            "train.eps: must be a finite number > 0, got 0");
}

TEST(Validate, EveryProblemIsReported) {
  EXPECT_EQ(Problem([](v1::TrialSpec* s) {
              s->set_depth(0);
              s->mutable_train()->set_lr(-1);
              s->mutable_dataset()->set_noise(-1);
            }),
            "dataset.noise: must be in [0, 10], got -1\n"
            "model.depth: must be in 1..256, got 0\n"
            "train.lr: must be a finite number > 0, got -1");
}

}  // namespace
}  // namespace actgrid::engine
