// Descriptive statistics over seeds: mean, sample standard deviation and the 95%
// confidence interval of the mean from Student's t distribution.
#ifndef ACTGRID_SERVER_ANALYSIS_STATS_H_
#define ACTGRID_SERVER_ANALYSIS_STATS_H_

#include <vector>

namespace actgrid::analysis {

// Regularized incomplete beta function I_x(a, b), by its continued fraction.
double RegularizedIncompleteBeta(double a, double b, double x);

// CDF of Student's t with `df` degrees of freedom:
//   F(t) = 1 - I_{df/(df+t²)}(df/2, 1/2) / 2 for t >= 0, symmetric below.
double StudentTCdf(double t, double df);

// The p-quantile of Student's t (0 < p < 1), e.g. StudentTQuantile(0.975, 4) = 2.7764.
double StudentTQuantile(double p, double df);

// StudentTQuantile(0.975, df) for integer df >= 1, computed once per df (NaN below 1).
double StudentT975(int df);

// The median (the mean of the two middle values for an even count); NaN when empty.
double Median(std::vector<double> values);

struct Describe {
  int n = 0;
  double mean = 0;   // NaN when n == 0
  double std = 0;    // sample standard deviation (n - 1); NaN below n = 2
  double ci95_low = 0, ci95_high = 0;  // mean -/+ t(0.975, n-1)·std/√n; NaN below n = 2
  double min = 0, max = 0;             // NaN when n == 0
};

Describe DescribeSample(const std::vector<double>& values);

}  // namespace actgrid::analysis

#endif  // ACTGRID_SERVER_ANALYSIS_STATS_H_
