// The whole-network gradient check the activation tests share: Backward's gradient of the
// objective against central differences of Objective, group by group (each layer's
// weights, biases and activation parameters), on random inputs drawn from `rng`.
#ifndef ACTGRID_TESTS_ENGINE_GRADIENT_CHECK_H_
#define ACTGRID_TESTS_ENGINE_GRADIENT_CHECK_H_

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "worker/engine/network.h"
#include "worker/engine/random.h"

namespace actgrid::engine::test_util {

// Relative error ||a - n|| / ||a + n|| (0 when both vanish).
inline double RelativeError(const std::vector<double>& a, const std::vector<double>& n) {
  double diff = 0, sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - n[i]) * (a[i] - n[i]);
    sum += (a[i] + n[i]) * (a[i] + n[i]);
  }
  return sum == 0 ? 0 : std::sqrt(diff) / std::sqrt(sum);
}

// One group of a network's parameters (a layer's weights, its biases or its activation
// parameters) and the relative gradient error its check allows. Each group is checked
// on its own: in one norm over all parameters, a small group's error would vanish.
// The tolerances are about ten times the worst error of the registry's networks.
struct ParamGroup {
  std::string name;
  size_t offset = 0, size = 0;
  double tolerance = 0;
};

inline std::vector<ParamGroup> ParamGroups(const Network<double>& net) {
  std::vector<ParamGroup> groups;
  const int out = int(net.layers().size()) - 1;
  for (int l = 0; l <= out; ++l) {
    const auto& layer = net.layers()[l];
    const std::string at = l == out ? "output layer" : "hidden layer " + std::to_string(l);
    groups.push_back({at + " weights", layer.w, size_t(layer.rows) * layer.in, 1e-6});
    groups.push_back({at + " biases", layer.b, size_t(layer.rows), 2e-6});
    if (layer.learnable > 0)
      groups.push_back({at + " activation parameters", layer.p, size_t(layer.learnable) * layer.units, 1e-7});
  }
  return groups;
}

inline std::vector<double> Slice(const std::vector<double>& v, const ParamGroup& g) {
  return std::vector<double>(v.begin() + g.offset, v.begin() + g.offset + g.size);
}

// The check on 7 random samples of 3 features and 4 classes (the network's shape must
// match), with the L1 activity penalty `l1`.
inline void ExpectGradientMatchesCentralDifference(Network<double>& net, double l1, Rng& rng) {
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
  size_t covered = 0;
  for (const ParamGroup& group : ParamGroups(net)) covered += group.size;
  ASSERT_EQ(covered, net.params().size());
  for (const ParamGroup& group : ParamGroups(net))
    EXPECT_LT(RelativeError(Slice(analytic, group), Slice(numeric, group)), group.tolerance) << group.name;
}

}  // namespace actgrid::engine::test_util

#endif  // ACTGRID_TESTS_ENGINE_GRADIENT_CHECK_H_
