// Packed training: a trial is its own whatever lane it trains in and whatever its
// pack-mates do, and it learns as a trial trained alone does.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/spec/names.h"
#include "common/spec/trial_key.h"
#include "worker/engine/dataset.h"
#include "worker/engine/packed_trainer.h"
#include "worker/engine/trainer.h"

namespace actgrid::engine {

// The same packed trainer compiled for baseline x86-64 (tests/engine/CMakeLists.txt).
namespace portable {
std::vector<absl::StatusOr<v1::TrialResult>> RunPackedTrials(const std::vector<v1::TrialSpec>& specs,
                                                            const Dataset& data, const std::vector<TrialHooks>& hooks);
}  // namespace portable

namespace {

constexpr char kPackedFingerprint[] = "82e11bcc712152856a22a295290c643386cd061c7786da706e8216a624c365f9";

v1::TrialSpec Circle(v1::ActivationKind act, uint64_t seed, double lr, int epochs = 12) {
  v1::TrialSpec spec;
  auto* d = spec.mutable_dataset();
  d->set_kind(v1::DATASET_KIND_CIRCLE);
  d->set_samples(400);
  d->set_noise(0.1);
  d->set_test_fraction(0.5);
  d->set_seed(7);
  d->set_scaling(v1::SCALING_STANDARDIZE);
  spec.mutable_model()->set_width(8);
  auto* t = spec.mutable_train();
  t->set_optimizer(v1::OPTIMIZER_SGD);
  t->set_lr(lr);
  t->set_batch(10);
  t->set_epochs(epochs);
  t->set_target_accuracy(0.9);
  t->set_momentum(0.9);
  t->set_beta1(0.9);
  t->set_beta2(0.999);
  t->set_eps(1e-8);
  *spec.mutable_activation() = spec::DefaultActivation(act);
  *spec.mutable_init() = spec::DefaultInit(v1::INIT_KIND_HE_NORMAL);
  spec.set_depth(3);
  spec.set_seed(seed);
  return spec;
}

const Dataset& Data(const v1::TrialSpec& spec) {
  static DatasetCache cache;
  return **cache.Get(spec.dataset());
}

// The curve as bytes, wall times left out.
std::string Curve(const v1::TrialResult& r) {
  std::string out;
  for (v1::EpochMetrics m : r.epochs()) {
    m.clear_seconds();
    out += m.SerializeAsString();
  }
  v1::TrialSummary s = r.summary();
  s.clear_seconds();
  s.clear_steps_per_second();
  return out + s.SerializeAsString();
}

v1::TrialResult Alone(const v1::TrialSpec& spec, const std::vector<TrialHooks>& hooks = {}) {
  auto results = RunPackedTrials({spec}, Data(spec), hooks);
  EXPECT_TRUE(results[0].ok()) << results[0].status();
  return *results[0];
}

// 16 different pack-mates: other seeds, learning rates, inits and biases.
std::vector<v1::TrialSpec> Mates(v1::ActivationKind act, int count) {
  std::vector<v1::TrialSpec> specs;
  for (int k = 0; k < count; ++k) {
    v1::TrialSpec s = Circle(act, 100 + k, 0.01 + 0.02 * k);
    if (k % 3 == 1) *s.mutable_init() = spec::DefaultInit(v1::INIT_KIND_XAVIER_UNIFORM);
    s.set_bias(k % 2 ? 0.1 : 0.0);
    specs.push_back(s);
  }
  return specs;
}

TEST(Packed, ATrialIsTheSameBitsInEveryLaneWithAnyPackMates) {
  for (v1::ActivationKind act : {v1::ACTIVATION_KIND_RELU, v1::ACTIVATION_KIND_TANH, v1::ACTIVATION_KIND_REFLU}) {
    const v1::TrialSpec spec = Circle(act, 1, 0.05);
    const std::string alone = Curve(Alone(spec));
    for (int lane : {0, 7, kPackLanes - 1}) {
      std::vector<v1::TrialSpec> specs = Mates(act, kPackLanes);
      specs[size_t(lane)] = spec;
      auto results = RunPackedTrials(specs, Data(spec));
      ASSERT_TRUE(results[size_t(lane)].ok());
      EXPECT_EQ(Curve(*results[size_t(lane)]), alone) << spec::ActivationLabel(spec.activation()) << " lane " << lane;
    }
    // A partly empty pack.
    std::vector<v1::TrialSpec> three = Mates(act, 3);
    three[1] = spec;
    auto results = RunPackedTrials(three, Data(spec));
    EXPECT_EQ(Curve(*results[1]), alone);
  }
}

// A pack is as wide as its trials need (a lone trial does not pay for 16 lanes); the
// width changes nothing in a trial's bits.
TEST(Packed, EveryPackWidthGivesTheSameBits) {
  const v1::TrialSpec spec = Circle(v1::ACTIVATION_KIND_RELU, 5, 0.05);
  std::vector<v1::TrialSpec> specs = Mates(v1::ACTIVATION_KIND_RELU, kPackLanes);
  specs[9] = spec;
  const std::string full = Curve(*RunPackedTrials(specs, Data(spec))[9]);
  for (int width : {1, 2, 4, 8, kPackLanes}) {
    auto pack = PackedTrainer::Create(spec, Data(spec), width);
    ASSERT_TRUE(pack.ok());
    EXPECT_EQ((*pack)->Width(), width);
    ASSERT_TRUE((*pack)->Add(0, spec).ok());
    EXPECT_EQ((*pack)->FreeLanes(), width - 1);
    v1::TrialResult result;
    while (!(*pack)->Empty())
      for (auto& e : (*pack)->Advance()) result = *e.result;
    EXPECT_EQ(Curve(result), full) << "width " << width;
  }
  auto odd = PackedTrainer::Create(spec, Data(spec), 3);
  EXPECT_EQ((*odd)->Width(), 4);
}

TEST(Packed, EveryOptimizerKeepsLanesApart) {
  for (v1::Optimizer opt : {v1::OPTIMIZER_MOMENTUM, v1::OPTIMIZER_ADAM}) {
    v1::TrialSpec spec = Circle(v1::ACTIVATION_KIND_PRELU, 3, 0.003);
    spec.mutable_train()->set_optimizer(opt);
    spec.mutable_train()->set_l2(1e-3);
    spec.mutable_train()->set_l1_activity(1e-3);
    std::vector<v1::TrialSpec> specs = Mates(v1::ACTIVATION_KIND_PRELU, 5);
    for (auto& s : specs) {
      s.mutable_train()->set_optimizer(opt);
      s.mutable_train()->set_lr(0.001 * (1 + s.seed() % 4));
    }
    specs[2] = spec;
    auto results = RunPackedTrials(specs, Data(spec));
    EXPECT_EQ(Curve(*results[2]), Curve(Alone(spec))) << opt;
  }
}

// A runner refills lanes as trials end: a trial that joins a pack mid-run, in the lane
// another trial just left, next to lanes at other epochs (and a lane with the activity
// penalty its pack-mates lack), is the same bits as alone, with every optimizer.
TEST(Packed, ATrialThatJoinsARunningPackIsTheSameBitsAsAlone) {
  for (v1::Optimizer opt : {v1::OPTIMIZER_SGD, v1::OPTIMIZER_MOMENTUM, v1::OPTIMIZER_ADAM}) {
    std::vector<v1::TrialSpec> specs = Mates(v1::ACTIVATION_KIND_TANH, 4);
    for (auto& s : specs) s.mutable_train()->set_optimizer(opt);
    specs[1].mutable_train()->set_epochs(2);  // leaves after round 3
    v1::TrialSpec late = Circle(v1::ACTIVATION_KIND_TANH, 42, 0.02, 5);
    late.mutable_train()->set_optimizer(opt);
    late.mutable_train()->set_l1_activity(1e-3);
    auto pack = PackedTrainer::Create(specs[0], Data(specs[0]));
    ASSERT_TRUE(pack.ok()) << pack.status();
    for (size_t i = 0; i < specs.size(); ++i) ASSERT_TRUE((*pack)->Add(int64_t(i), specs[i]).ok());
    EXPECT_EQ((*pack)->FreeLanes(), kPackLanes - 4);
    std::vector<v1::TrialResult> results(specs.size() + 1);
    int rounds = 0;
    bool joined = false;
    while (!(*pack)->Empty()) {
      for (auto& e : (*pack)->Advance()) {
        ASSERT_TRUE(e.result.ok()) << e.result.status();
        if (e.id < int64_t(results.size())) results[size_t(e.id)] = *e.result;
      }
      ++rounds;
      if (rounds == 3) {
        ASSERT_EQ(results[1].epochs_size(), 3) << "trial 1 left after epoch 2";
        // Fill the whole pack: the late trial takes the lane trial 1 left (lane 1).
        ASSERT_TRUE((*pack)->Add(int64_t(specs.size()), late).ok());
        joined = true;
        for (int extra = 0; (*pack)->FreeLanes() > 0; ++extra) {
          v1::TrialSpec mate = Circle(v1::ACTIVATION_KIND_TANH, 500 + extra, 0.3, 2);
          mate.mutable_train()->set_optimizer(opt);
          ASSERT_TRUE((*pack)->Add(1000 + extra, mate).ok());
        }
        EXPECT_EQ((*pack)->Add(99, late).code(), absl::StatusCode::kFailedPrecondition);
      }
      if (rounds > 100) FAIL() << "the pack never emptied";
    }
    ASSERT_TRUE(joined);
    EXPECT_EQ(Curve(results.back()), Curve(Alone(late))) << opt;
    for (size_t i = 0; i < specs.size(); ++i) EXPECT_EQ(Curve(results[i]), Curve(Alone(specs[i]))) << opt << " " << i;
  }
  // A trial of another shape is refused.
  auto pack = PackedTrainer::Create(Circle(v1::ACTIVATION_KIND_TANH, 1, 0.1), Data(Circle(v1::ACTIVATION_KIND_TANH, 1, 0.1)));
  ASSERT_TRUE(pack.ok());
  EXPECT_EQ((*pack)->Add(0, Circle(v1::ACTIVATION_KIND_RELU, 1, 0.1)).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Packed, ALaneThatDivergesAtEpoch3LeavesTheOthersAlone) {
  std::vector<v1::TrialSpec> specs = Mates(v1::ACTIVATION_KIND_RELU, 6);
  std::vector<TrialHooks> hooks(specs.size());
  // Lane 4's first weight becomes infinite after epoch 3's updates.
  hooks[4].on_params = [](int epoch, std::vector<float>& p) {
    if (epoch == 3) p[0] = INFINITY;
  };
  auto results = RunPackedTrials(specs, Data(specs[0]), hooks);
  ASSERT_TRUE(results[4].ok());
  EXPECT_TRUE(results[4]->summary().diverged());
  EXPECT_EQ(results[4]->summary().diverged_epoch(), 3);
  EXPECT_EQ(results[4]->epochs_size(), 4);  // epochs 0..3
  for (size_t k = 0; k < specs.size(); ++k) {
    if (k == 4) continue;
    ASSERT_TRUE(results[k].ok());
    EXPECT_FALSE(results[k]->summary().diverged()) << k;
    EXPECT_EQ(Curve(*results[k]), Curve(Alone(specs[k]))) << "lane " << k;
  }
}

TEST(Packed, LanesEndAtTheirOwnEpochLimitAndCancelAlone) {
  std::vector<v1::TrialSpec> specs = Mates(v1::ACTIVATION_KIND_TANH, 4);
  specs[1].mutable_train()->set_epochs(3);
  std::atomic<bool> cancel{false};
  std::vector<TrialHooks> hooks(specs.size());
  hooks[2].cancel = &cancel;
  hooks[2].on_epoch = [&](const v1::EpochMetrics& m) {
    if (m.epoch() == 5) cancel = true;
  };
  auto results = RunPackedTrials(specs, Data(specs[0]), hooks);
  ASSERT_TRUE(results[1].ok());
  EXPECT_EQ(results[1]->epochs_size(), 4);
  EXPECT_EQ(Curve(*results[1]), Curve(Alone(specs[1])));
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kCancelled);
  for (size_t k : {size_t(0), size_t(3)}) EXPECT_EQ(Curve(*results[k]), Curve(Alone(specs[k]))) << k;
}

TEST(Packed, LearnsAsATrialTrainedAloneDoes) {
  // Not the same bits as RunTrial (another order of operations), the same learning.
  for (v1::ActivationKind act : {v1::ACTIVATION_KIND_RELU, v1::ACTIVATION_KIND_TANH}) {
    const v1::TrialSpec spec = Circle(act, 2, 0.03, 40);
    const v1::TrialResult packed = Alone(spec);
    auto single = RunTrial(spec, Data(spec));
    ASSERT_TRUE(single.ok());
    ASSERT_EQ(packed.epochs_size(), single->epochs_size());
    EXPECT_EQ(packed.epochs(0).test_acc(), single->epochs(0).test_acc());  // the same initial weights
    EXPECT_NEAR(packed.epochs(0).train_loss(), single->epochs(0).train_loss(), 1e-5);
    EXPECT_NEAR(packed.summary().final_test_acc(), single->summary().final_test_acc(), 0.03);
    EXPECT_GT(packed.summary().final_test_acc(), 0.9);
    EXPECT_EQ(packed.epochs(0).layers_size(), 3);
    EXPECT_NEAR(packed.epochs(0).layers(1).grad_norm(), single->epochs(0).layers(1).grad_norm(),
                1e-4 * single->epochs(0).layers(1).grad_norm());
    EXPECT_NEAR(packed.epochs(0).layers(2).act_std(), single->epochs(0).layers(2).act_std(), 1e-5);
    EXPECT_EQ(packed.epochs(0).dead_fraction(), single->epochs(0).dead_fraction());
  }
}

// The native build (AVX-512 or AVX2 on the machines that build it) and a baseline
// x86-64 build (SSE2) of the packed trainer give every trial the same bits: the vector
// width changes how many lanes one instruction holds, never a lane's operations.
TEST(Packed, ThePortableBuildGivesTheSameBits) {
  for (v1::ActivationKind act : {v1::ACTIVATION_KIND_RELU, v1::ACTIVATION_KIND_TANH, v1::ACTIVATION_KIND_SIGMOID,
                                 v1::ACTIVATION_KIND_ELU, v1::ACTIVATION_KIND_GELU, v1::ACTIVATION_KIND_REFLU}) {
    std::vector<v1::TrialSpec> specs = Mates(act, kPackLanes);
    specs[3].mutable_train()->set_optimizer(v1::OPTIMIZER_SGD);
    auto native = RunPackedTrials(specs, Data(specs[0]));
    auto base = portable::RunPackedTrials(specs, Data(specs[0]), {});
    for (size_t k = 0; k < specs.size(); ++k) {
      ASSERT_TRUE(native[k].ok() && base[k].ok());
      EXPECT_EQ(Curve(*native[k]), Curve(*base[k])) << spec::ActivationLabel(specs[k].activation()) << " lane " << k;
    }
  }
  for (v1::Optimizer opt : {v1::OPTIMIZER_MOMENTUM, v1::OPTIMIZER_ADAM}) {
    std::vector<v1::TrialSpec> specs = Mates(v1::ACTIVATION_KIND_PRELU, 4);
    for (auto& s : specs) {
      s.mutable_train()->set_optimizer(opt);
      s.mutable_train()->set_lr(0.003);
      s.mutable_train()->set_l2(1e-3);
      s.mutable_train()->set_l1_activity(1e-3);
    }
    auto native = RunPackedTrials(specs, Data(specs[0]));
    auto base = portable::RunPackedTrials(specs, Data(specs[0]), {});
    for (size_t k = 0; k < specs.size(); ++k) EXPECT_EQ(Curve(*native[k]), Curve(*base[k])) << opt << " lane " << k;
  }
}

// The packed path's numbers, pinned: a change of any operation's order shows here (and
// the engine version must then change). Set ACTGRID_PRINT_PACKED_FINGERPRINT=1 to print.
TEST(Packed, Fingerprint) {
  std::string all;
  for (v1::ActivationKind act : {v1::ACTIVATION_KIND_RELU, v1::ACTIVATION_KIND_TANH, v1::ACTIVATION_KIND_REFLU}) {
    std::vector<v1::TrialSpec> specs = Mates(act, kPackLanes);
    for (auto& r : RunPackedTrials(specs, Data(specs[0]))) all += Curve(*r);
  }
  const std::string fingerprint = spec::Sha256Hex(all);
  if (std::getenv("ACTGRID_PRINT_PACKED_FINGERPRINT")) std::printf("packed fingerprint %s\n", fingerprint.c_str());
  EXPECT_EQ(fingerprint, kPackedFingerprint);
}

TEST(Packed, WhatPacks) {
  v1::TrialSpec spec = Circle(v1::ACTIVATION_KIND_RELU, 1, 0.03);
  EXPECT_TRUE(Packable(spec));
  v1::TrialSpec wide = spec;
  wide.mutable_model()->set_width(kMaxPackedUnits + 1);
  EXPECT_FALSE(Packable(wide));
  v1::TrialSpec maxout = spec;
  *maxout.mutable_activation() = spec::DefaultActivation(v1::ACTIVATION_KIND_MAXOUT);
  EXPECT_FALSE(Packable(maxout));
  v1::TrialSpec images = spec;  // 784 inputs: the BLAS path
  images.mutable_dataset()->set_kind(v1::DATASET_KIND_FASHION_MNIST);
  EXPECT_FALSE(Packable(images));
  v1::TrialSpec csv = spec;  // any number of inputs
  csv.mutable_dataset()->set_kind(v1::DATASET_KIND_CSV);
  EXPECT_FALSE(Packable(csv));
  for (v1::DatasetKind kind : {v1::DATASET_KIND_XOR, v1::DATASET_KIND_GAUSS, v1::DATASET_KIND_SPIRAL}) {
    v1::TrialSpec synthetic = spec;
    synthetic.mutable_dataset()->set_kind(kind);
    EXPECT_TRUE(Packable(synthetic)) << kind;
  }
  // Seeds, learning rates, inits, biases and epochs differ within a pack; shapes do not.
  v1::TrialSpec other = spec;
  other.set_seed(9);
  other.mutable_train()->set_lr(0.3);
  other.mutable_train()->set_epochs(7);
  other.set_bias(1.0);
  *other.mutable_init() = spec::DefaultInit(v1::INIT_KIND_XAVIER_NORMAL);
  EXPECT_EQ(PackKey(other), PackKey(spec));
  v1::TrialSpec deeper = spec;
  deeper.set_depth(4);
  EXPECT_NE(PackKey(deeper), PackKey(spec));
  auto refused = RunPackedTrials({spec, deeper}, Data(spec));
  EXPECT_EQ(refused[0].status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace actgrid::engine
