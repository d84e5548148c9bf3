// Student's t and sample statistics against published table values.
#include <cmath>

#include <gtest/gtest.h>

#include "server/analysis/stats.h"

namespace actgrid::analysis {
namespace {

TEST(Stats, StudentTQuantilesMatchTheTables) {
  // Two-sided 95% critical values (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2).
  EXPECT_NEAR(StudentTQuantile(0.975, 1), 12.706, 1e-3);
  EXPECT_NEAR(StudentTQuantile(0.975, 2), 4.303, 1e-3);
  EXPECT_NEAR(StudentTQuantile(0.975, 4), 2.776, 1e-3);
  EXPECT_NEAR(StudentTQuantile(0.975, 10), 2.228, 1e-3);
  EXPECT_NEAR(StudentTQuantile(0.975, 30), 2.042, 1e-3);
  EXPECT_NEAR(StudentTQuantile(0.975, 100), 1.984, 1e-3);
  EXPECT_NEAR(StudentTQuantile(0.95, 5), 2.015, 1e-3);
  EXPECT_NEAR(StudentTQuantile(0.025, 4), -2.776, 1e-3);
  EXPECT_NEAR(StudentTQuantile(0.975, 1e7), 1.95996, 1e-4);  // the normal limit
}

TEST(Stats, CdfIsTheInverseOfTheQuantile) {
  for (double df : {1.0, 3.0, 7.5, 40.0})
    for (double p : {0.01, 0.2, 0.5, 0.9, 0.999}) EXPECT_NEAR(StudentTCdf(StudentTQuantile(p, df), df), p, 1e-10);
  // Cauchy (df = 1) has a closed form: F(t) = 1/2 + atan(t)/pi.
  EXPECT_NEAR(StudentTCdf(1.7, 1), 0.5 + std::atan(1.7) / M_PI, 1e-12);
}

TEST(Stats, IncompleteBetaClosedForms) {
  // I_x(1, b) = 1 - (1-x)^b and I_x(a, 1) = x^a.
  EXPECT_NEAR(RegularizedIncompleteBeta(1, 3, 0.4), 1 - std::pow(0.6, 3), 1e-13);
  EXPECT_NEAR(RegularizedIncompleteBeta(2.5, 1, 0.7), std::pow(0.7, 2.5), 1e-13);
  EXPECT_EQ(RegularizedIncompleteBeta(2, 2, 0), 0);
  EXPECT_EQ(RegularizedIncompleteBeta(2, 2, 1), 1);
}

TEST(Stats, DescribeSampleWorkedExample) {
  // {2, 4, 4, 4, 5, 5, 7, 9}: mean 5, sample variance 32/7.
  const Describe d = DescribeSample({2, 4, 4, 4, 5, 5, 7, 9});
  EXPECT_EQ(d.n, 8);
  EXPECT_DOUBLE_EQ(d.mean, 5);
  EXPECT_NEAR(d.std, std::sqrt(32.0 / 7), 1e-12);
  const double half = 2.364624251 * std::sqrt(32.0 / 7) / std::sqrt(8.0);  // t(0.975, 7)
  EXPECT_NEAR(d.ci95_low, 5 - half, 1e-8);
  EXPECT_NEAR(d.ci95_high, 5 + half, 1e-8);
  EXPECT_EQ(d.min, 2);
  EXPECT_EQ(d.max, 9);
}

TEST(Stats, TooFewValuesHaveNoSpread) {
  const Describe one = DescribeSample({0.8});
  EXPECT_EQ(one.n, 1);
  EXPECT_EQ(one.mean, 0.8);
  EXPECT_TRUE(std::isnan(one.std));
  EXPECT_TRUE(std::isnan(one.ci95_low));
  const Describe none = DescribeSample({});
  EXPECT_EQ(none.n, 0);
  EXPECT_TRUE(std::isnan(none.mean));
}

}  // namespace
}  // namespace actgrid::analysis
