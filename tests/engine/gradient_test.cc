// Central-difference gradient checks: every activation of the registry (value,
// derivative and learnable parameters) and whole networks w.r.t. every parameter.
#include <cmath>
#include <tuple>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "worker/engine/activation.h"
#include "worker/engine/network.h"
#include "worker/engine/random.h"
#include "worker/engine/spec_names.h"

namespace actgrid::engine {

// Readable test parameter names in failure messages.
void PrintTo(const ActivationInfo& info, std::ostream* os) { *os << info.name; }

namespace {

// Relative error ||a - n|| / ||a + n|| (0 when both vanish).
double RelativeError(const std::vector<double>& a, const std::vector<double>& n) {
  double diff = 0, sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - n[i]) * (a[i] - n[i]);
    sum += (a[i] + n[i]) * (a[i] + n[i]);
  }
  return sum == 0 ? 0 : std::sqrt(diff) / std::sqrt(sum);
}

// A spec whose parameters are moved off their defaults so that every branch matters.
v1::ActivationSpec TestSpec(const ActivationInfo& info) {
  v1::ActivationSpec spec = DefaultActivation(info.kind);
  if (info.kind == v1::ACTIVATION_KIND_REFLU) {
    spec.set_params(0, 0.3);   // left slope
    spec.set_params(1, 0.8);   // right slope
    spec.set_params(2, 0.17);  // position (off the sampled z grid)
    spec.set_params(3, -0.2);  // height
  }
  if (info.kind == v1::ACTIVATION_KIND_LEAKY_RELU) spec.set_params(0, 0.1);
  if (info.kind == v1::ACTIVATION_KIND_MAXOUT) spec.set_params(0, 3);
  return spec;
}

class ActivationGradient : public ::testing::TestWithParam<ActivationInfo> {};
class ElementwiseGradient : public ::testing::TestWithParam<ActivationInfo> {};

// Every activation but maxout, which is not elementwise (networks check it).
std::vector<ActivationInfo> ElementwiseActivations() {
  std::vector<ActivationInfo> out;
  for (const auto& a : Activations())
    if (a.kind != v1::ACTIVATION_KIND_MAXOUT) out.push_back(a);
  return out;
}

// f'(z) from D() against (f(z+h) - f(z-h)) / 2h on points away from kinks.
TEST_P(ElementwiseGradient, DerivativeMatchesCentralDifference) {
  const ActivationInfo& info = GetParam();
  const v1::ActivationSpec spec = TestSpec(info);
  std::vector<double> hyper(spec.params().begin(), spec.params().end());
  std::vector<double> learn;
  for (int q = 0; q < info.learnable_per_neuron; ++q) learn.push_back(hyper[q]);
  ActContext<double> ctx{hyper.data(), learn.data(), 1};
  const double h = 1e-6;
  std::vector<double> analytic, numeric;
  for (double z = -3.05; z <= 3.0; z += 0.1) {
    VisitActivation<double>(spec.kind(), ctx, [&](const auto& op) {
      const double a = op.F(z, 0);
      analytic.push_back(op.D(z, a, 0));
      numeric.push_back((op.F(z + h, 0) - op.F(z - h, 0)) / (2 * h));
      return 0;
    });
  }
  EXPECT_LT(RelativeError(analytic, numeric), 1e-7) << info.name;
}

class LearnableGradient : public ::testing::TestWithParam<ActivationInfo> {};

std::vector<ActivationInfo> LearnableActivations() {
  std::vector<ActivationInfo> out;
  for (const auto& a : Activations())
    if (a.learnable_per_neuron > 0) out.push_back(a);
  return out;
}

// Each learnable parameter's gradient from Grad() against central differences.
TEST_P(LearnableGradient, ParameterGradientsMatchCentralDifference) {
  const ActivationInfo& info = GetParam();
  const v1::ActivationSpec spec = TestSpec(info);
  std::vector<double> hyper(spec.params().begin(), spec.params().end());
  const double h = 1e-6;
  std::vector<double> analytic, numeric;
  for (double z = -2.05; z <= 2.0; z += 0.2) {
    for (int q = 0; q < info.learnable_per_neuron; ++q) {
      std::vector<double> learn(hyper.begin(), hyper.begin() + info.learnable_per_neuron);
      std::vector<double> grad(learn.size(), 0.0);
      ActContext<double> ctx{hyper.data(), learn.data(), 1};
      VisitActivation<double>(spec.kind(), ctx, [&](const auto& op) {
        using Op = std::decay_t<decltype(op)>;
        if constexpr (Op::kLearnable > 0) op.Grad(z, 0, 1.0, grad.data(), 1);
        return 0;
      });
      analytic.push_back(grad[q]);
      auto f_at = [&](double delta) {
        std::vector<double> moved = learn;
        moved[q] += delta;
        ActContext<double> c2{hyper.data(), moved.data(), 1};
        return VisitActivation<double>(spec.kind(), c2, [&](const auto& op) { return op.F(z, 0); });
      };
      numeric.push_back((f_at(h) - f_at(-h)) / (2 * h));
    }
  }
  EXPECT_LT(RelativeError(analytic, numeric), 1e-7) << info.name;
}

// The gradient of the whole objective w.r.t. every parameter of a 3-layer network, with
// equal layers and with layers of different sizes.
TEST_P(ActivationGradient, NetworkGradientMatchesCentralDifference) {
  const ActivationInfo& info = GetParam();
  for (double l1 : {0.0, 0.01}) {
    NetworkShape shape{3, 4, 3, 5, TestSpec(info), {}};
    if (l1 > 0) shape.hidden = {6, 2, 5};
    Network<double> net(shape);
    Rng rng(42, 1);
    net.Initialize(DefaultInit(v1::INIT_KIND_XAVIER_NORMAL), 0.05, rng);
    // Learnable activation parameters also start off their defaults.
    for (const auto& layer : net.layers())
      for (int i = 0; i < layer.learnable * layer.units; ++i)
        net.params()[layer.p + i] += 0.05 * rng.Normal();
    const int n = 7;
    std::vector<double> x(size_t(3) * n);
    for (double& v : x) v = rng.Normal();
    std::vector<int32_t> y(n);
    for (int j = 0; j < n; ++j) y[j] = j % 4;
    auto ws = net.MakeWorkspace(n);
    net.Forward(x.data(), y.data(), n, ws);
    net.Backward(x.data(), n, l1, ws);
    const std::vector<double> analytic = net.grads();
    std::vector<double> numeric(analytic.size());
    const double h = 1e-6;
    for (size_t i = 0; i < numeric.size(); ++i) {
      const double saved = net.params()[i];
      net.params()[i] = saved + h;
      const double up = net.Objective(x.data(), y.data(), n, l1, ws);
      net.params()[i] = saved - h;
      const double down = net.Objective(x.data(), y.data(), n, l1, ws);
      net.params()[i] = saved;
      numeric[i] = (up - down) / (2 * h);
    }
    EXPECT_LT(RelativeError(analytic, numeric), 1e-5) << info.name << " l1=" << l1;
  }
}

INSTANTIATE_TEST_SUITE_P(Registry, ActivationGradient, ::testing::ValuesIn(Activations()),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(Registry, ElementwiseGradient, ::testing::ValuesIn(ElementwiseActivations()),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(Registry, LearnableGradient, ::testing::ValuesIn(LearnableActivations()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ActivationRegistry, PreluAndRefluAreLearnable) {
  EXPECT_EQ(LearnableActivations().size(), 2u);
}

// Float networks large enough to take the OpenBLAS path (and the small kernels' row
// and column remainders) agree with the double network on outputs and gradients.
TEST(NetworkPrecision, FloatMatchesDoubleOnLargeAndOddShapes) {
  for (auto [inputs, width, classes, n] : {std::tuple{70, 64, 10, 100}, std::tuple{13, 11, 3, 9}}) {
    NetworkShape shape{inputs, classes, 2, width, DefaultActivation(v1::ACTIVATION_KIND_TANH), {}};
    Network<double> nd(shape);
    Network<float> nf(shape);
    Rng rng(5, 5);
    nd.Initialize(DefaultInit(v1::INIT_KIND_XAVIER_NORMAL), 0.1, rng);
    for (size_t i = 0; i < nd.params().size(); ++i) nf.params()[i] = float(nd.params()[i]);
    std::vector<double> xd(size_t(inputs) * n);
    for (double& v : xd) v = rng.Normal();
    std::vector<float> xf(xd.begin(), xd.end());
    std::vector<int32_t> y(n);
    for (int j = 0; j < n; ++j) y[j] = j % classes;
    auto wd = nd.MakeWorkspace(n);
    auto wf = nf.MakeWorkspace(n);
    const auto sd = nd.Forward(xd.data(), y.data(), n, wd);
    const auto sf = nf.Forward(xf.data(), y.data(), n, wf);
    EXPECT_NEAR(sf.loss_sum / n, sd.loss_sum / n, 1e-4);
    nd.Backward(xd.data(), n, 0.0, wd);
    nf.Backward(xf.data(), n, 0.0, wf);
    std::vector<double> gf(nf.grads().begin(), nf.grads().end());
    EXPECT_LT(RelativeError(gf, nd.grads()), 1e-4) << inputs << "-" << width << "-" << classes;
  }
}

// Every ActivationKind of the wire enum is registered (a new one cannot be forgotten).
TEST(ActivationRegistry, CoversEveryEnumValue) {
  const auto* desc = v1::ActivationKind_descriptor();
  for (int i = 0; i < desc->value_count(); ++i) {
    const auto kind = v1::ActivationKind(desc->value(i)->number());
    if (kind == v1::ACTIVATION_KIND_UNSPECIFIED) continue;
    EXPECT_NE(FindActivation(kind), nullptr) << desc->value(i)->name();
  }
  EXPECT_EQ(Activations().size(), size_t(desc->value_count() - 1));
}

}  // namespace
}  // namespace actgrid::engine
