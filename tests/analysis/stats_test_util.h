// Assertions shared by the statistics tests.
#ifndef ACTGRID_TESTS_CORE_STATS_TEST_UTIL_H_
#define ACTGRID_TESTS_CORE_STATS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cmath>

namespace actgrid::analysis::test_util {

// |actual − expected| <= rel·|expected| (plus a tiny absolute floor for zero).
inline ::testing::AssertionResult RelNear(double actual, double expected, double rel) {
  const double tol = rel * std::fabs(expected) + 1e-300;
  if (std::fabs(actual - expected) <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "actual " << actual << " vs expected " << expected << " (rel tol " << rel
                                       << ")";
}

}  // namespace actgrid::analysis::test_util

#endif  // ACTGRID_TESTS_CORE_STATS_TEST_UTIL_H_
