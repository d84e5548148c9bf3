// Initializations: sample mean and variance against their fan-in/fan-out formulas;
// unknown kinds are errors.
#include <cmath>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <gtest/gtest.h>

#include "worker/engine/init.h"
#include "common/spec/names.h"

namespace actgrid::engine {
namespace {

struct Moments {
  double mean, var;
};

Moments Measure(const std::vector<double>& w) {
  double s = 0, ss = 0;
  for (double v : w) s += v;
  const double mean = s / w.size();
  for (double v : w) ss += (v - mean) * (v - mean);
  return {mean, ss / w.size()};
}

struct Case {
  const char* name;
  double expected_var;  // for fan_in 400, fan_out 300
};

class InitStatistics : public ::testing::TestWithParam<Case> {};

TEST_P(InitStatistics, VarianceMatchesFormula) {
  const Case c = GetParam();
  Rng rng(3, 4);
  const auto w = *InitWeights(spec::DefaultInit(spec::FindInit(c.name)->kind), 400, 300, rng);
  ASSERT_EQ(w.size(), 400u * 300u);
  const Moments m = Measure(w);
  EXPECT_NEAR(m.mean, 0.0, 5 * std::sqrt(c.expected_var / w.size()) + 1e-12) << c.name;
  EXPECT_NEAR(m.var, c.expected_var, 0.02 * c.expected_var) << c.name;
}

constexpr double kIn = 400, kOut = 300;
INSTANTIATE_TEST_SUITE_P(
    Formulas, InitStatistics,
    ::testing::Values(Case{"xavier_uniform", 2 / (kIn + kOut)}, Case{"xavier_normal", 2 / (kIn + kOut)},
                      Case{"he_uniform", 2 / kIn}, Case{"he_normal", 2 / kIn},
                      Case{"lecun_uniform", 1 / kIn}, Case{"lecun_normal", 1 / kIn},
                      Case{"uniform", 0.05 * 0.05 / 3}, Case{"normal", 0.05 * 0.05}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Init, ConstantAndZeros) {
  Rng rng(1);
  const std::vector<double> zeros = *InitWeights(spec::DefaultInit(v1::INIT_KIND_ZEROS), 5, 4, rng);
  for (double v : zeros) EXPECT_EQ(v, 0.0);
  v1::InitSpec c = spec::DefaultInit(v1::INIT_KIND_CONSTANT);
  c.set_params(0, 0.7);
  const std::vector<double> constant = *InitWeights(c, 5, 4, rng);
  for (double v : constant) EXPECT_EQ(v, 0.7);
}

TEST(Init, OrthogonalHasOrthonormalRowsOrColumns) {
  for (auto [in, out] : {std::pair{20, 30}, std::pair{30, 20}, std::pair{16, 16}}) {
    Rng rng(9);
    v1::InitSpec spec = spec::DefaultInit(v1::INIT_KIND_ORTHOGONAL);
    spec.set_params(0, 2.0);
    const auto w = *InitWeights(spec, in, out, rng);
    const Eigen::Map<const Eigen::MatrixXd> m(w.data(), out, in);
    const Eigen::MatrixXd gram = out >= in ? Eigen::MatrixXd(m.transpose() * m) : Eigen::MatrixXd(m * m.transpose());
    const Eigen::MatrixXd expected = 4.0 * Eigen::MatrixXd::Identity(gram.rows(), gram.cols());
    EXPECT_LT((gram - expected).norm(), 1e-9) << in << "x" << out;
  }
}

// An init kind without a formula is an error, not a matrix of zeros.
TEST(Init, UnknownKindIsAnError) {
  v1::InitSpec spec;
  spec.set_kind(v1::InitKind(999));
  Rng rng(1);
  const auto w = InitWeights(spec, 5, 4, rng);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(w.status().message()).find("unknown init kind 999"), std::string::npos)
      << w.status();
}

TEST(Init, SameSeedSameWeights) {
  Rng a(5), b(5), c(6);
  const auto spec = spec::DefaultInit(v1::INIT_KIND_HE_NORMAL);
  EXPECT_EQ(*InitWeights(spec, 8, 8, a), *InitWeights(spec, 8, 8, b));
  EXPECT_NE(*InitWeights(spec, 8, 8, a), *InitWeights(spec, 8, 8, c));
}

}  // namespace
}  // namespace actgrid::engine
