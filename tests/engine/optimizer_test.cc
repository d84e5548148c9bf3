// Optimizers against the formulas of optimizer.h, worked out step by step in double
// here: coupled L2 on the weight ranges only, heavy-ball momentum, Adam's bias
// corrections (which change with t) and its eps. Optimizer<double> must match to
// rounding, Optimizer<float> to float precision.
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "worker/engine/optimizer.h"

namespace actgrid::engine {
namespace {

using Trajectory = std::vector<std::vector<double>>;  // parameters after each step

// Five parameters: weights at 0, 1 (one matrix) and 3 (another), biases at 2 and 4.
const std::vector<std::pair<size_t, size_t>> kWeightRanges = {{0, 2}, {3, 1}};
bool IsWeight(size_t i) { return i == 0 || i == 1 || i == 3; }
const std::vector<double> kStart = {0.5, -1.25, 0.75, 2.0, -0.4};
// One gradient per step, varied in sign and size so that every step's factors show.
const Trajectory kGrads = {
    {0.3, -0.2, 0.1, 0.05, -0.6},
    {-0.1, 0.4, 0.2, -0.3, 0.5},
    {0.25, 0.1, -0.35, 0.2, 0.05},
    {0.02, -0.5, 0.15, 0.4, -0.1},
};

v1::TrainSpec Spec(v1::Optimizer kind, double lr, double l2) {
  v1::TrainSpec t;
  t.set_optimizer(kind);
  t.set_lr(lr);
  t.set_l2(l2);
  t.set_momentum(0.9);
  t.set_beta1(0.9);
  t.set_beta2(0.999);
  t.set_eps(1e-8);
  return t;
}

// The gradient an update uses: coupled L2 adds l2 * w, on weights only.
double Decayed(const v1::TrainSpec& t, size_t i, double g, double w) {
  return IsWeight(i) ? g + t.l2() * w : g;
}

template <class T>
Trajectory Optimize(const v1::TrainSpec& train) {
  Optimizer<T> opt(train, kStart.size(), kWeightRanges);
  std::vector<T> w(kStart.begin(), kStart.end());
  Trajectory out;
  for (const auto& g : kGrads) {
    std::vector<T> grads(g.begin(), g.end());
    opt.Step(w, grads);
    out.emplace_back(w.begin(), w.end());
  }
  return out;
}

void ExpectTrajectory(const v1::TrainSpec& train, const Trajectory& expected, const std::string& what) {
  const Trajectory d = Optimize<double>(train), f = Optimize<float>(train);
  for (size_t t = 0; t < expected.size(); ++t)
    for (size_t i = 0; i < kStart.size(); ++i) {
      const double e = expected[t][i], scale = 1.0 + std::abs(e);
      EXPECT_NEAR(d[t][i], e, 1e-14 * scale) << what << ", double, step " << t + 1 << ", parameter " << i;
      EXPECT_NEAR(f[t][i], e, 2e-6 * scale) << what << ", float, step " << t + 1 << ", parameter " << i;
    }
}

// sgd: w -= lr * g, with g += l2 * w on weights
Trajectory Sgd(const v1::TrainSpec& t) {
  std::vector<double> w = kStart;
  Trajectory out;
  for (const auto& g : kGrads) {
    for (size_t i = 0; i < w.size(); ++i) w[i] -= t.lr() * Decayed(t, i, g[i], w[i]);
    out.push_back(w);
  }
  return out;
}

// momentum: v = mu v + g;  w -= lr v
Trajectory Momentum(const v1::TrainSpec& t) {
  std::vector<double> w = kStart, v(w.size(), 0.0);
  Trajectory out;
  for (const auto& g : kGrads) {
    for (size_t i = 0; i < w.size(); ++i) {
      v[i] = t.momentum() * v[i] + Decayed(t, i, g[i], w[i]);
      w[i] -= t.lr() * v[i];
    }
    out.push_back(w);
  }
  return out;
}

// adam: m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//       w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
Trajectory Adam(const v1::TrainSpec& s) {
  const double b1 = s.beta1(), b2 = s.beta2();
  std::vector<double> w = kStart, m(w.size(), 0.0), v(w.size(), 0.0);
  Trajectory out;
  for (size_t step = 0; step < kGrads.size(); ++step) {
    const double t = double(step + 1);
    for (size_t i = 0; i < w.size(); ++i) {
      const double g = Decayed(s, i, kGrads[step][i], w[i]);
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const double m_hat = m[i] / (1 - std::pow(b1, t));
      const double v_hat = v[i] / (1 - std::pow(b2, t));
      w[i] -= s.lr() * m_hat / (std::sqrt(v_hat) + s.eps());
    }
    out.push_back(w);
  }
  return out;
}

TEST(Optimizer, SgdAndCoupledL2OnWeightsOnly) {
  const auto plain = Spec(v1::OPTIMIZER_SGD, 0.1, 0.0);
  ExpectTrajectory(plain, Sgd(plain), "sgd");
  const auto decayed = Spec(v1::OPTIMIZER_SGD, 0.1, 0.5);
  const Trajectory expected = Sgd(decayed);
  ExpectTrajectory(decayed, expected, "sgd l2=0.5");
  // The biases moved by their gradients alone.
  EXPECT_DOUBLE_EQ(expected[0][2], 0.75 - 0.1 * 0.1);
  EXPECT_DOUBLE_EQ(expected[0][0], 0.5 - 0.1 * (0.3 + 0.5 * 0.5));
}

TEST(Optimizer, HeavyBallMomentum) {
  for (double l2 : {0.0, 0.2}) {
    const auto spec = Spec(v1::OPTIMIZER_MOMENTUM, 0.05, l2);
    ExpectTrajectory(spec, Momentum(spec), "momentum l2=" + std::to_string(l2));
  }
  // Two steps by hand: v1 = g1, v2 = 0.9 g1 + g2 (not 0.9 v + 0.1 g).
  const Trajectory w = Optimize<double>(Spec(v1::OPTIMIZER_MOMENTUM, 0.05, 0.0));
  EXPECT_NEAR(w[1][4], -0.4 - 0.05 * -0.6 - 0.05 * (0.9 * -0.6 + 0.5), 1e-15);
}

TEST(Optimizer, AdamBiasCorrectionEveryStep) {
  const auto spec = Spec(v1::OPTIMIZER_ADAM, 0.01, 0.0);
  ExpectTrajectory(spec, Adam(spec), "adam");
  // Corrected, the first step is lr * g / (|g| + eps): lr in size, whatever beta1, beta2.
  const Trajectory w = Optimize<double>(spec);
  for (size_t i = 0; i < kStart.size(); ++i) {
    const double g = kGrads[0][i];
    EXPECT_NEAR(kStart[i] - w[0][i], 0.01 * g / (std::abs(g) + 1e-8), 1e-15) << i;
  }
}

// An eps comparable to sqrt(v_hat): where it is added (after the correction of v) shows.
TEST(Optimizer, AdamEpsAfterTheCorrection) {
  auto spec = Spec(v1::OPTIMIZER_ADAM, 0.01, 0.0);
  spec.set_eps(0.1);
  spec.set_beta1(0.8);
  spec.set_beta2(0.99);
  ExpectTrajectory(spec, Adam(spec), "adam eps=0.1");
}

TEST(Optimizer, AdamWithCoupledL2) {
  const auto spec = Spec(v1::OPTIMIZER_ADAM, 0.01, 0.3);
  ExpectTrajectory(spec, Adam(spec), "adam l2=0.3");
}

}  // namespace
}  // namespace actgrid::engine
