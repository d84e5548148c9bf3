// Central-difference gradient checks: every activation of the registry (value,
// derivative and learnable parameters, at several values of each hyperparameter) and
// whole networks w.r.t. every parameter group; sinc against a long double reference;
// float against double networks, also through training.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "tests/engine/gradient_check.h"
#include "worker/engine/activation.h"
#include "worker/engine/network.h"
#include "worker/engine/optimizer.h"
#include "worker/engine/random.h"
#include "common/spec/names.h"

namespace actgrid::engine {

// Readable test parameter names in failure messages.
void PrintTo(const spec::ActivationInfo& info, std::ostream* os) { *os << info.name; }

namespace {

using test_util::ExpectGradientMatchesCentralDifference;
using test_util::ParamGroup;
using test_util::ParamGroups;
using test_util::RelativeError;

// The specs each check runs: parameters moved off their defaults so that every branch
// matters, and each hyperparameter at more than one value, so that a formula that only
// holds at one value (ELU's f' = f + 1 for f + alpha, at alpha = 1) cannot pass.
std::vector<v1::ActivationSpec> TestSpecs(const spec::ActivationInfo& info) {
  auto with = [&](std::vector<double> params) {
    v1::ActivationSpec spec = spec::DefaultActivation(info.kind);
    for (size_t i = 0; i < params.size(); ++i) spec.set_params(int(i), params[i]);
    return spec;
  };
  switch (info.kind) {
    // left slope, right slope, position (off the sampled z grid), height
    case v1::ACTIVATION_KIND_REFLU: return {with({0.3, 0.8, 0.17, -0.2}), with({-0.4, 1.3, -0.23, 0.5})};
    case v1::ACTIVATION_KIND_LEAKY_RELU: return {with({0.1}), with({0.3})};
    case v1::ACTIVATION_KIND_PRELU: return {with({0.25}), with({0.6})};
    case v1::ACTIVATION_KIND_ELU: return {with({0.7}), with({1.6})};
    case v1::ACTIVATION_KIND_MAXOUT: return {with({3}), with({2})};
    default: return {spec::DefaultActivation(info.kind)};
  }
}

// The first of TestSpecs.
v1::ActivationSpec TestSpec(const spec::ActivationInfo& info) { return TestSpecs(info).front(); }

TEST(ActivationRegistry, EveryHyperparameterIsCheckedOffItsDefault) {
  for (const auto& info : spec::Activations())
    for (size_t i = 0; i < info.params.size(); ++i) {
      int off_default = 0;
      for (const auto& spec : TestSpecs(info)) off_default += spec.params(int(i)) != info.params[i].default_value;
      EXPECT_GE(off_default, 1) << info.name << " " << info.params[i].name;
    }
}

class ActivationGradient : public ::testing::TestWithParam<spec::ActivationInfo> {};
class ElementwiseGradient : public ::testing::TestWithParam<spec::ActivationInfo> {};

// Every activation but maxout, which is not elementwise (networks check it).
std::vector<spec::ActivationInfo> ElementwiseActivations() {
  std::vector<spec::ActivationInfo> out;
  for (const auto& a : spec::Activations())
    if (a.kind != v1::ACTIVATION_KIND_MAXOUT) out.push_back(a);
  return out;
}

// f'(z) from D() against (f(z+h) - f(z-h)) / 2h on points away from kinks.
TEST_P(ElementwiseGradient, DerivativeMatchesCentralDifference) {
  const spec::ActivationInfo& info = GetParam();
  for (const v1::ActivationSpec& spec : TestSpecs(info)) {
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
    EXPECT_LT(RelativeError(analytic, numeric), 1e-7) << spec::ActivationLabel(spec);
  }
}

class LearnableGradient : public ::testing::TestWithParam<spec::ActivationInfo> {};

std::vector<spec::ActivationInfo> LearnableActivations() {
  std::vector<spec::ActivationInfo> out;
  for (const auto& a : spec::Activations())
    if (a.learnable_per_neuron > 0) out.push_back(a);
  return out;
}

// Each learnable parameter's gradient from Grad() against central differences.
TEST_P(LearnableGradient, ParameterGradientsMatchCentralDifference) {
  const spec::ActivationInfo& info = GetParam();
  for (const v1::ActivationSpec& spec : TestSpecs(info)) {
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
    EXPECT_LT(RelativeError(analytic, numeric), 1e-7) << spec::ActivationLabel(spec);
  }
}

// The gradient of the whole objective w.r.t. every parameter of a 3-layer network, with
// equal layers and with layers of different sizes, group by group.
TEST_P(ActivationGradient, NetworkGradientMatchesCentralDifference) {
  const spec::ActivationInfo& info = GetParam();
  for (const v1::ActivationSpec& spec : TestSpecs(info))
    for (double l1 : {0.0, 0.01}) {
      NetworkShape shape{3, 4, 3, 5, spec, {}};
      if (l1 > 0) shape.hidden = {6, 2, 5};
      Network<double> net(shape);
      Rng rng(42, 1);
      ASSERT_TRUE(net.Initialize(spec::DefaultInit(v1::INIT_KIND_XAVIER_NORMAL), 0.05, rng).ok());
      // Learnable activation parameters also start off their defaults.
      for (const auto& layer : net.layers())
        for (int i = 0; i < layer.learnable * layer.units; ++i)
          net.params()[layer.p + i] += 0.05 * rng.Normal();
      SCOPED_TRACE(spec::ActivationLabel(spec) + " l1=" + std::to_string(l1));
      ExpectGradientMatchesCentralDifference(net, l1, rng);
    }
}

INSTANTIATE_TEST_SUITE_P(Registry, ActivationGradient, ::testing::ValuesIn(spec::Activations()),
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
    NetworkShape shape{inputs, classes, 2, width, spec::DefaultActivation(v1::ACTIVATION_KIND_TANH), {}};
    Network<double> nd(shape);
    Network<float> nf(shape);
    Rng rng(5, 5);
    ASSERT_TRUE(nd.Initialize(spec::DefaultInit(v1::INIT_KIND_XAVIER_NORMAL), 0.1, rng).ok());
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

// sinc(z) and sinc'(z) in long double: the series below |z| = 1 (where the direct forms
// cancel; the terms fall below 1e-25 by the 12th), the direct forms above.
long double SincRef(long double z) {
  if (std::abs(z) >= 1) return std::sin(z) / z;
  long double term = 1, sum = 1;  // (-1)^k z^2k / (2k+1)!
  for (int k = 1; k <= 14; ++k) {
    term *= -z * z / ((2 * k) * (2 * k + 1));
    sum += term;
  }
  return sum;
}

long double SincDerivativeRef(long double z) {
  if (std::abs(z) >= 1) return (std::cos(z) - std::sin(z) / z) / z;
  long double term = -z / 6, sum = 0;  // (-1)^k z^(2k-1) / (2k+1)!, times 2k below
  for (int k = 1; k <= 14; ++k) {
    sum += 2 * k * term;
    term *= -z * z / ((2 * k + 2) * (2 * k + 3));
  }
  return sum;
}

// Relative errors of Sinc<T> against the reference at z (rounded to T) and -z.
template <class T>
void ExpectSincAccurate(double z_in, double value_tol, double derivative_tol) {
  for (const T z : {T(z_in), T(-z_in)}) {
    const Sinc<T> op;
    const T a = op.F(z, 0), d = op.D(z, a, 0);
    const long double ref = SincRef(z), ref_d = SincDerivativeRef(z);
    EXPECT_LE(std::abs((a - ref) / ref), value_tol) << "f(" << z << ") = " << a << ", not " << double(ref);
    if (z == T(0))
      EXPECT_EQ(d, T(0));
    else
      EXPECT_LE(std::abs((d - ref_d) / ref_d), derivative_tol)
          << "f'(" << z << ") = " << d << ", not " << double(ref_d);
  }
}

// Sinc's value and derivative at 0, at tiny z, on both sides of the series thresholds
// (this one and the float and double thresholds it replaced) and on a grid up to 3
// (before the first zero of f or f', where relative errors lose their meaning).
TEST(Sinc, AccurateAcrossTheSeriesThresholds) {
  static_assert(std::numeric_limits<long double>::digits >= 64, "the reference needs extended precision");
  std::vector<double> points = {0.0, 1e-300, 1e-30, 1e-20, 1e-8, 1e-5, 1e-3, 0.1, 0.3};
  for (double t : {1e-4, 1e-2, double(Sinc<float>::kSeries), double(Sinc<double>::kSeries)})
    for (double f : {0.9, 0.99, 0.9999, 1.0, 1.0001, 1.01, 1.1}) points.push_back(t * f);
  for (double z = 0.05; z < 3.0; z += 0.05) points.push_back(z);
  for (double z : points) {
    ExpectSincAccurate<float>(z, 1e-6, 1e-6);
    ExpectSincAccurate<double>(z, 1e-14, 1e-13);
  }
  // The neighbours of each threshold in its own type.
  const float tf = Sinc<float>::kSeries;
  const double td = Sinc<double>::kSeries;
  for (float z : {std::nextafter(tf, 0.0f), tf, std::nextafter(tf, 2.0f)}) ExpectSincAccurate<float>(z, 1e-6, 1e-6);
  for (double z : {std::nextafter(td, 0.0), td, std::nextafter(td, 2.0)}) ExpectSincAccurate<double>(z, 1e-14, 1e-13);
}

// PReLU's and RefLU's parameters train with the weights: float and double networks
// from the same start on the same batches stay together through steps of each
// optimizer, as far as float rounding allows.
TEST(NetworkPrecision, LearnableActivationsTrainAlikeInFloatAndDouble) {
  for (auto kind : {v1::ACTIVATION_KIND_PRELU, v1::ACTIVATION_KIND_REFLU})
    for (auto optimizer : {v1::OPTIMIZER_SGD, v1::OPTIMIZER_MOMENTUM, v1::OPTIMIZER_ADAM}) {
      const v1::ActivationSpec spec = TestSpec(*spec::FindActivation(kind));
      const std::string what = spec::ActivationLabel(spec) + " optimizer " + std::to_string(optimizer);
      const NetworkShape shape{3, 4, 2, 6, spec, {}};
      Network<double> nd(shape);
      Network<float> nf(shape);
      Rng rng(7, 3);
      ASSERT_TRUE(nd.Initialize(spec::DefaultInit(v1::INIT_KIND_HE_NORMAL), 0.05, rng).ok());
      for (const auto& layer : nd.layers())
        for (int i = 0; i < layer.learnable * layer.units; ++i) nd.params()[layer.p + i] += 0.05 * rng.Normal();
      for (size_t i = 0; i < nd.params().size(); ++i) nf.params()[i] = float(nd.params()[i]);
      v1::TrainSpec train;
      train.set_optimizer(optimizer);
      train.set_lr(optimizer == v1::OPTIMIZER_ADAM ? 0.01 : 0.05);
      train.set_momentum(0.9);
      train.set_beta1(0.9);
      train.set_beta2(0.999);
      train.set_eps(1e-8);
      train.set_l2(1e-3);
      Optimizer<double> od(train, nd.params().size(), nd.weight_ranges());
      Optimizer<float> of(train, nf.params().size(), nf.weight_ranges());
      const int samples = 16, batch = 8;
      std::vector<double> xd(size_t(3) * samples);
      for (double& v : xd) v = rng.Normal();
      const std::vector<float> xf(xd.begin(), xd.end());
      std::vector<int32_t> y(samples);
      for (int j = 0; j < samples; ++j) y[j] = xd[3 * j] * xd[3 * j + 1] > 0 ? (xd[3 * j + 2] > 0) : 2 + j % 2;
      auto wd = nd.MakeWorkspace(batch);
      auto wf = nf.MakeWorkspace(batch);
      for (int step = 0; step < 30; ++step) {
        const int first = (step % 2) * batch;  // the two halves in turn
        const auto sd = nd.Forward(xd.data() + 3 * first, y.data() + first, batch, wd);
        const auto sf = nf.Forward(xf.data() + 3 * first, y.data() + first, batch, wf);
        EXPECT_NEAR(sf.loss_sum / batch, sd.loss_sum / batch, 1e-5) << what << " step " << step;
        nd.Backward(xd.data() + 3 * first, batch, 1e-3, wd);
        nf.Backward(xf.data() + 3 * first, batch, 1e-3, wf);
        od.Step(nd.params(), nd.grads());
        of.Step(nf.params(), nf.grads());
      }
      const std::vector<double> pf(nf.params().begin(), nf.params().end());
      for (const ParamGroup& group : ParamGroups(nd)) {
        double diff = 0, scale = 0;
        for (size_t i = group.offset; i < group.offset + group.size; ++i) {
          diff = std::max(diff, std::abs(pf[i] - nd.params()[i]));
          scale = std::max(scale, std::abs(nd.params()[i]));
        }
        EXPECT_LT(diff, 1e-5 * std::max(1.0, scale)) << what << ": " << group.name;
      }
    }
}

// Every ActivationKind of the wire enum is registered (a new one cannot be forgotten).
// Every built-in kind is in the registry; FORMULA is the one kind that is not (a formula
// activation carries its own definition, common/spec/formula.h).
TEST(ActivationRegistry, CoversEveryEnumValue) {
  const auto* desc = v1::ActivationKind_descriptor();
  for (int i = 0; i < desc->value_count(); ++i) {
    const auto kind = v1::ActivationKind(desc->value(i)->number());
    if (kind == v1::ACTIVATION_KIND_UNSPECIFIED) continue;
    if (kind == v1::ACTIVATION_KIND_FORMULA) {
      EXPECT_EQ(spec::FindActivation(kind), nullptr);
      continue;
    }
    EXPECT_NE(spec::FindActivation(kind), nullptr) << desc->value(i)->name();
  }
  EXPECT_EQ(spec::Activations().size(), size_t(desc->value_count() - 2));
}

}  // namespace
}  // namespace actgrid::engine
