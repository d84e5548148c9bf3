// spec::Activations and networks at their edges: NaN pre-activations stay NaN (a NaN weight
// must not pass for a dead unit), and unknown activation or init kinds are refused
// rather than replaced by the identity or zero weights.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "worker/engine/activation.h"
#include "worker/engine/init.h"
#include "worker/engine/network.h"
#include "worker/engine/random.h"
#include "common/spec/names.h"

namespace actgrid::engine {
namespace {

template <class T>
void ExpectNanPropagates(const spec::ActivationInfo& info) {
  const v1::ActivationSpec spec = spec::DefaultActivation(info.kind);
  const std::vector<double> hyper(spec.params().begin(), spec.params().end());
  std::vector<T> learn;
  for (int q = 0; q < info.learnable_per_neuron; ++q) learn.push_back(T(hyper[q]));
  const ActContext<T> ctx{hyper.data(), learn.data(), 1};
  const T nan = std::numeric_limits<T>::quiet_NaN();
  VisitActivation<T>(info.kind, ctx, [&](const auto& op) {
    const T a = op.F(nan, 0);
    EXPECT_TRUE(std::isnan(a)) << info.name << " f(NaN) = " << a;
    const T d = op.D(nan, a, 0);
    if (info.kind == v1::ACTIVATION_KIND_LINEAR)
      EXPECT_EQ(d, T(1));
    else
      EXPECT_TRUE(std::isnan(d)) << info.name << " f'(NaN) = " << d;
    return 0;
  });
}

// Value and derivative of every elementwise activation at NaN, in float and double.
TEST(NanPropagation, EveryElementwiseActivation) {
  for (const auto& info : spec::Activations()) {
    if (info.kind == v1::ACTIVATION_KIND_MAXOUT) continue;
    ExpectNanPropagates<float>(info);
    ExpectNanPropagates<double>(info);
  }
}

// Maxout's max over pieces: a NaN piece wins wherever it sits, and a unit fed by it is
// neither dead nor a finite value.
TEST(NanPropagation, MaxoutPieces) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  v1::ActivationSpec maxout = spec::DefaultActivation(v1::ACTIVATION_KIND_MAXOUT);
  maxout.set_params(0, 3);
  for (int nan_piece = 0; nan_piece < 3; ++nan_piece) {
    Network<float> net(NetworkShape{1, 2, 1, 1, maxout, {}});
    Rng rng(1);
    ASSERT_TRUE(net.Initialize(spec::DefaultInit(v1::INIT_KIND_ZEROS), 0.0, rng).ok());
    const auto& hidden = net.layers()[0];
    // Pieces of the one unit at biases 1, 0.5, 0 (weights 0): the first would win.
    for (int q = 0; q < 3; ++q) net.params()[hidden.b + q] = 1.0f - 0.5f * q;
    net.params()[hidden.b + nan_piece] = nan;
    const float x = 1.0f;
    const int32_t y = 0;
    auto ws = net.MakeWorkspace(1);
    const auto stats = net.Forward(&x, &y, 1, ws);
    EXPECT_TRUE(std::isnan(ws.a[0][0])) << "NaN in piece " << nan_piece;
    EXPECT_TRUE(std::isnan(stats.loss_sum)) << "NaN in piece " << nan_piece;
  }
}

// A NaN weight in a ReLU network: its unit and all units after it stay active (a
// nonzero, NaN derivative), the loss and the gradients are NaN, not zero.
TEST(NanPropagation, ReluNetworkGradients) {
  Network<float> net(NetworkShape{2, 2, 2, 4, spec::DefaultActivation(v1::ACTIVATION_KIND_RELU), {}});
  Rng rng(2);
  ASSERT_TRUE(net.Initialize(spec::DefaultInit(v1::INIT_KIND_HE_NORMAL), 0.0, rng).ok());
  net.params()[0] = std::numeric_limits<float>::quiet_NaN();  // layer 0, W(0, 0)
  const std::vector<float> x = {0.5f, -1.0f, -0.3f, 0.8f};
  const std::vector<int32_t> y = {0, 1};
  auto ws = net.MakeWorkspace(2);
  EXPECT_TRUE(std::isnan(net.Forward(x.data(), y.data(), 2, ws).loss_sum));
  for (int j = 0; j < 2; ++j) {
    EXPECT_TRUE(net.UnitActive(ws, 0, 0, j));  // the unit of the NaN weight
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(net.UnitActive(ws, 1, i, j)) << i;  // all it feeds
  }
  net.Backward(x.data(), 2, 0.0, ws);
  EXPECT_TRUE(std::isnan(net.grads()[net.layers()[0].b]));  // bias of the NaN unit
}

TEST(UnknownKinds, NetworkInitializeRefusesUnknownActivation) {
  v1::ActivationSpec act;
  act.set_kind(v1::ActivationKind(999));
  Network<double> net(NetworkShape{2, 2, 1, 3, act, {}});
  Rng rng(1);
  const absl::Status s = net.Initialize(spec::DefaultInit(v1::INIT_KIND_HE_NORMAL), 0.0, rng);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("unknown activation kind 999"), std::string::npos) << s;
}

TEST(UnknownKinds, NetworkInitializeRefusesUnknownInit) {
  Network<double> net(NetworkShape{2, 2, 1, 3, spec::DefaultActivation(v1::ACTIVATION_KIND_TANH), {}});
  v1::InitSpec init;
  init.set_kind(v1::InitKind(999));
  Rng rng(1);
  const absl::Status s = net.Initialize(init, 0.0, rng);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("unknown init kind 999"), std::string::npos) << s;
}

// The dispatch itself has no fallback: reaching it with an unknown kind is a bug that
// stops the process instead of training an identity network.
TEST(UnknownKindsDeathTest, VisitActivationAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const double hyper[1] = {0.0};
  const ActContext<double> ctx{hyper, nullptr, 1};
  EXPECT_DEATH(VisitActivation<double>(v1::ActivationKind(999), ctx,
                                       [](const auto& op) { return op.F(2.0, 0); }),
               "unknown activation kind 999");
}

}  // namespace
}  // namespace actgrid::engine
