// Student's t and sample statistics (see stats.h).
#include "server/analysis/stats.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <limits>

namespace actgrid::analysis {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Continued fraction of I_x(a, b) by the modified Lentz method:
//   I_x(a,b) = x^a (1-x)^b / (a B(a,b)) · 1/(1+ d1/(1+ d2/(1+ ...)))
//   d_{2m+1} = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1)),  d_{2m} = m(b-m) x / ((a+2m-1)(a+2m))
double BetaContinuedFraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300, kEps = 1e-15;
  double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double f = d;
  for (int m = 1; m <= 500; ++m) {
    const double m2 = 2.0 * m;
    double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    d = 1.0 + num * d;
    c = 1.0 + num / c;
    if (std::fabs(d) < kTiny) d = kTiny;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    f *= d * c;
    num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    d = 1.0 + num * d;
    c = 1.0 + num / c;
    if (std::fabs(d) < kTiny) d = kTiny;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    f *= delta;
    if (std::fabs(delta - 1.0) < kEps) break;
  }
  return f;
}

}  // namespace

double RegularizedIncompleteBeta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) +
                           b * std::log1p(-x);
  // The fraction converges fast for x < (a+1)/(a+b+2); use the symmetry otherwise.
  if (x < (a + 1.0) / (a + b + 2.0)) return std::exp(log_front) * BetaContinuedFraction(a, b, x) / a;
  return 1.0 - std::exp(log_front) * BetaContinuedFraction(b, a, 1.0 - x) / b;
}

double StudentTCdf(double t, double df) {
  if (std::isnan(t) || !(df > 0)) return kNaN;
  const double tail = 0.5 * RegularizedIncompleteBeta(df / 2.0, 0.5, df / (df + t * t));
  return t >= 0 ? 1.0 - tail : tail;
}

double StudentTQuantile(double p, double df) {
  if (!(p > 0 && p < 1) || !(df > 0)) return kNaN;
  if (p == 0.5) return 0;
  // Bisection on the monotone CDF: 200 halvings of a bracket that holds every
  // quantile of interest reach double precision.
  double lo = -1e6, hi = 1e6;
  for (int i = 0; i < 200 && hi - lo > 1e-13 * std::max(1.0, std::fabs(lo)); ++i) {
    const double mid = 0.5 * (lo + hi);
    (StudentTCdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

double StudentT975(int df) {
  // Each quantile is a few hundred evaluations of the incomplete beta; analyses ask for
  // the same few thousand integer df again and again, so they are computed once.
  static std::array<std::atomic<double>, 4096> cache{};  // 0 = not computed yet
  if (df < 1) return kNaN;
  if (size_t(df) >= cache.size()) return StudentTQuantile(0.975, df);
  double q = cache[size_t(df)].load(std::memory_order_relaxed);
  if (q == 0) {
    q = StudentTQuantile(0.975, df);
    cache[size_t(df)].store(q, std::memory_order_relaxed);
  }
  return q;
}

double Median(std::vector<double> values) {
  if (values.empty()) return kNaN;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  const double lower = *std::max_element(values.begin(), values.begin() + mid);
  return lower + (upper - lower) / 2;
}

Describe DescribeSample(const std::vector<double>& values) {
  Describe d;
  d.n = int(values.size());
  d.mean = d.std = d.ci95_low = d.ci95_high = d.min = d.max = kNaN;
  if (values.empty()) return d;
  double sum = 0;
  d.min = d.max = values[0];
  for (double v : values) {
    sum += v;
    d.min = std::min(d.min, v);
    d.max = std::max(d.max, v);
  }
  d.mean = sum / d.n;
  if (d.n < 2) return d;
  double ss = 0;  // two-pass: no cancellation
  for (double v : values) ss += (v - d.mean) * (v - d.mean);
  d.std = std::sqrt(ss / (d.n - 1));
  const double half = StudentT975(d.n - 1) * d.std / std::sqrt(double(d.n));
  d.ci95_low = d.mean - half;
  d.ci95_high = d.mean + half;
  return d;
}

}  // namespace actgrid::analysis
