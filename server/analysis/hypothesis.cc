// Two-sample tests, effect sizes and bootstrap intervals (see hypothesis.h).
#include "server/analysis/hypothesis.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "server/analysis/stats.h"

namespace actgrid::analysis {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Mean and sample variance (n − 1) by two passes, so the squared deviations
// do not suffer from the cancellation of Σx² − n·x̄². NaN where undefined.
struct Moments {
  int n = 0;
  double mean = kNaN;
  double var = kNaN;
};

Moments ComputeMoments(const std::vector<double>& x) {
  Moments m;
  m.n = int(x.size());
  if (m.n == 0) return m;
  double sum = 0;
  for (double v : x) sum += v;
  m.mean = sum / m.n;
  if (m.n < 2) return m;
  double ss = 0;
  for (double v : x) ss += (v - m.mean) * (v - m.mean);
  m.var = ss / (m.n - 1);
  return m;
}

// d[i] = a[i] − b[i]; the caller checks that the sizes match.
std::vector<double> Differences(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return d;
}

// Two-sided p of Student's t: 2·P(T <= −|t|). StudentTCdf returns the lower
// tail directly for negative arguments, so small p keep full relative precision.
double TwoSidedTP(double t, double df) { return 2.0 * StudentTCdf(-std::fabs(t), df); }

// Fills t, p and the 95% CI from a difference, its standard error and df.
void FillT(double diff, double se, double df, TTestResult* r) {
  r->t = diff / se;
  r->df = df;
  r->p = TwoSidedTP(r->t, df);
  const double half = StudentTQuantile(0.975, df) * se;
  r->ci95_low = diff - half;
  r->ci95_high = diff + half;
}

void SetTestFieldsNaN(TTestResult* r) { r->t = r->df = r->p = r->ci95_low = r->ci95_high = kNaN; }

// Exact null distribution of the Mann–Whitney U for sizes (m, n) without ties:
// probs[k] = P(U = k), k = 0 … m·n. U counts the pairs with a_i > b_j. The
// largest pooled value belongs to a with probability i/(i+j), in which case it
// beats all j values of b; otherwise it is a b and adds nothing:
//   P_{i,j}(k) = i/(i+j)·P_{i−1,j}(k − j) + j/(i+j)·P_{i,j−1}(k),  P_{i,0} = P_{0,j} = δ_0.
// Working in probabilities instead of counts (which reach C(100, 50) ≈ 1e29)
// keeps every term a convex combination of non-negative numbers: no overflow
// and no cancellation.
std::vector<double> MannWhitneyExactDistribution(int m, int n) {
  // prev[j] = P_{i−1, j}, cur[j] = P_{i, j}.
  std::vector<std::vector<double>> prev(n + 1, std::vector<double>{1.0});  // i = 0
  for (int i = 1; i <= m; ++i) {
    std::vector<std::vector<double>> cur(n + 1);
    cur[0] = {1.0};
    for (int j = 1; j <= n; ++j) {
      std::vector<double>& p = cur[j];
      p.assign(size_t(i) * j + 1, 0.0);
      const double wa = double(i) / (i + j), wb = double(j) / (i + j);
      const std::vector<double>& from_a = prev[j];     // support 0 … (i−1)·j, shifted by j
      const std::vector<double>& from_b = cur[j - 1];  // support 0 … i·(j−1)
      for (size_t k = 0; k < from_a.size(); ++k) p[k + j] += wa * from_a[k];
      for (size_t k = 0; k < from_b.size(); ++k) p[k] += wb * from_b[k];
    }
    prev.swap(cur);
  }
  return prev[n];
}

// An index uniform on [0, n), n >= 1, without modulo bias: raw draws r are
// uniform on [0, 2^64); accepting only r >= 2^64 mod n leaves a range whose
// length is a multiple of n, on which r mod n is exactly uniform.
size_t UniformIndex(std::mt19937_64& gen, uint64_t n) {
  const uint64_t threshold = (0 - n) % n;  // (2^64 − n) mod n = 2^64 mod n
  for (;;) {
    const uint64_t r = gen();
    if (r >= threshold) return size_t(r % n);
  }
}

// Sorts the valid statistics and reads the 2.5% and 97.5% quantiles.
BootstrapCI FinishBootstrap(double estimate, std::vector<double> stats) {
  BootstrapCI ci;
  ci.estimate = estimate;
  std::sort(stats.begin(), stats.end());
  ci.resamples = int(stats.size());
  ci.ci95_low = SortedQuantile(stats, 0.025);
  ci.ci95_high = SortedQuantile(stats, 0.975);
  return ci;
}

// Independent-groups bootstrap of statistic(a*, b*): a* is n_a draws from a,
// then b* is n_b draws from b, for each resample in turn.
template <typename Statistic>
BootstrapCI BootstrapIndependent(const std::vector<double>& a, const std::vector<double>& b, int resamples,
                                 uint64_t seed, Statistic statistic) {
  const double estimate = statistic(a, b);
  if (a.empty() || b.empty() || resamples <= 0) return FinishBootstrap(estimate, {});
  std::mt19937_64 gen(seed);
  std::vector<double> ra(a.size()), rb(b.size()), stats;
  stats.reserve(size_t(resamples));
  for (int r = 0; r < resamples; ++r) {
    for (double& v : ra) v = a[UniformIndex(gen, a.size())];
    for (double& v : rb) v = b[UniformIndex(gen, b.size())];
    const double s = statistic(ra, rb);
    if (!std::isnan(s)) stats.push_back(s);
  }
  return FinishBootstrap(estimate, std::move(stats));
}

// Paired bootstrap: resamples n pair indices; the statistic is a function of
// the differences d[i] = a[i] − b[i] only, so the pairs are resampled as d.
template <typename Statistic>
BootstrapCI BootstrapPaired(const std::vector<double>& a, const std::vector<double>& b, int resamples, uint64_t seed,
                            Statistic statistic) {
  if (a.size() != b.size()) return FinishBootstrap(kNaN, {});
  const std::vector<double> d = Differences(a, b);
  const double estimate = statistic(d);
  if (d.empty() || resamples <= 0) return FinishBootstrap(estimate, {});
  std::mt19937_64 gen(seed);
  std::vector<double> rd(d.size()), stats;
  stats.reserve(size_t(resamples));
  for (int r = 0; r < resamples; ++r) {
    for (double& v : rd) v = d[UniformIndex(gen, d.size())];
    const double s = statistic(rd);
    if (!std::isnan(s)) stats.push_back(s);
  }
  return FinishBootstrap(estimate, std::move(stats));
}

double MeanDiff(const std::vector<double>& a, const std::vector<double>& b) {
  return ComputeMoments(a).mean - ComputeMoments(b).mean;
}

double MeanOf(const std::vector<double>& d) { return ComputeMoments(d).mean; }

// d_z of the differences themselves.
double DzOf(const std::vector<double>& d) {
  const Moments m = ComputeMoments(d);
  if (m.n < 2 || !(m.var > 0)) return kNaN;
  return m.mean / std::sqrt(m.var);
}

}  // namespace

double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double FDistSf(double f, double d1, double d2) {
  if (std::isnan(f) || !(d1 > 0) || !(d2 > 0)) return kNaN;
  if (f <= 0) return 1.0;
  if (std::isinf(f)) return 0.0;
  // F = (X1/d1)/(X2/d2) and x = d1·f/(d1·f + d2) ~ Beta(d1/2, d2/2), so
  // P(F > f) = 1 − I_x(d1/2, d2/2) = I_{1−x}(d2/2, d1/2). 1 − x is formed as
  // d2/(d2 + d1·f) directly, so tiny tail probabilities are not lost to 1 − x.
  return RegularizedIncompleteBeta(d2 / 2.0, d1 / 2.0, d2 / (d2 + d1 * f));
}

TTestResult WelchTTest(const std::vector<double>& a, const std::vector<double>& b) {
  const Moments ma = ComputeMoments(a), mb = ComputeMoments(b);
  TTestResult r;
  r.n_a = ma.n;
  r.n_b = mb.n;
  r.mean_a = ma.mean;
  r.mean_b = mb.mean;
  r.mean_diff = ma.mean - mb.mean;
  SetTestFieldsNaN(&r);
  if (ma.n < 2 || mb.n < 2) return r;
  const double va = ma.var / ma.n, vb = mb.var / mb.n;  // squared standard errors of the means
  const double se2 = va + vb;
  if (!(se2 > 0)) return r;
  // Welch–Satterthwaite: match the first two moments of SE² to a scaled χ²_df.
  const double df = se2 * se2 / (va * va / (ma.n - 1) + vb * vb / (mb.n - 1));
  FillT(r.mean_diff, std::sqrt(se2), df, &r);
  return r;
}

TTestResult PairedTTest(const std::vector<double>& a, const std::vector<double>& b) {
  TTestResult r;
  r.n_a = int(a.size());
  r.n_b = int(b.size());
  r.mean_a = r.mean_b = r.mean_diff = kNaN;
  SetTestFieldsNaN(&r);
  if (a.size() != b.size()) return r;
  const Moments md = ComputeMoments(Differences(a, b));
  r.mean_a = ComputeMoments(a).mean;
  r.mean_b = ComputeMoments(b).mean;
  r.mean_diff = md.mean;
  if (md.n < 2 || !(md.var > 0)) return r;
  FillT(md.mean, std::sqrt(md.var / md.n), md.n - 1, &r);
  return r;
}

MannWhitneyResult MannWhitneyU(const std::vector<double>& a, const std::vector<double>& b) {
  MannWhitneyResult r;
  r.u = r.z = r.p = r.rank_biserial = kNaN;
  r.exact = false;
  const size_t na = a.size(), nb = b.size(), n = na + nb;
  if (na == 0 || nb == 0) return r;
  // Pool (value, from_a), sort and assign mid-ranks (1-based) to tie groups.
  std::vector<std::pair<double, bool>> pooled;
  pooled.reserve(n);
  for (double v : a) pooled.emplace_back(v, true);
  for (double v : b) pooled.emplace_back(v, false);
  for (const auto& p : pooled)
    if (std::isnan(p.first)) return r;  // NaN has no rank
  std::sort(pooled.begin(), pooled.end(),
            [](const std::pair<double, bool>& x, const std::pair<double, bool>& y) { return x.first < y.first; });
  double rank_sum_a = 0;
  double tie_sum = 0;  // Σ(t³ − t) over tie groups
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && pooled[j].first == pooled[i].first) ++j;
    const double t = double(j - i);
    const double mid_rank = (double(i + 1) + double(j)) / 2.0;  // mean of ranks i+1 … j
    for (size_t k = i; k < j; ++k)
      if (pooled[k].second) rank_sum_a += mid_rank;
    tie_sum += t * t * t - t;
    i = j;
  }
  const double dna = double(na), dnb = double(nb), dn = double(n);
  r.u = rank_sum_a - dna * (dna + 1.0) / 2.0;
  r.rank_biserial = 2.0 * r.u / (dna * dnb) - 1.0;

  if (tie_sum == 0 && na <= size_t(kMannWhitneyExactMaxN) && nb <= size_t(kMannWhitneyExactMaxN)) {
    // Without ties U is an integer in [0, n_a·n_b].
    const std::vector<double> probs = MannWhitneyExactDistribution(int(na), int(nb));
    const size_t u = size_t(std::llround(r.u));
    double lower = 0, upper = 0;  // P(U <= u), P(U >= u)
    for (size_t k = 0; k <= u; ++k) lower += probs[k];
    for (size_t k = u; k < probs.size(); ++k) upper += probs[k];
    r.exact = true;
    r.z = kNaN;
    r.p = std::min(1.0, 2.0 * std::min(lower, upper));
    return r;
  }

  const double mu = dna * dnb / 2.0;
  const double sigma = std::sqrt(dna * dnb / 12.0 * ((dn + 1.0) - tie_sum / (dn * (dn - 1.0))));
  const double dev = r.u - mu;
  const double corrected = std::max(0.0, std::fabs(dev) - 0.5);  // continuity correction towards μ
  if (corrected == 0 || !(sigma > 0)) {
    r.z = 0;
    r.p = 1;
    return r;
  }
  r.z = std::copysign(corrected / sigma, dev);
  r.p = std::min(1.0, 2.0 * NormalCdf(-std::fabs(r.z)));
  return r;
}

double CohensD(const std::vector<double>& a, const std::vector<double>& b) {
  const Moments ma = ComputeMoments(a), mb = ComputeMoments(b);
  if (ma.n < 2 || mb.n < 2) return kNaN;
  const double pooled_var = ((ma.n - 1) * ma.var + (mb.n - 1) * mb.var) / (ma.n + mb.n - 2);
  if (!(pooled_var > 0)) return kNaN;
  return (ma.mean - mb.mean) / std::sqrt(pooled_var);
}

double PairedCohensDz(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return kNaN;
  return DzOf(Differences(a, b));
}

double SortedQuantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty() || std::isnan(q)) return kNaN;
  const double h = (double(sorted.size()) - 1.0) * std::clamp(q, 0.0, 1.0);
  const size_t lo = size_t(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  const double frac = h - double(lo);
  return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

BootstrapCI BootstrapMeanDiff(const std::vector<double>& a, const std::vector<double>& b, int resamples,
                              uint64_t seed) {
  return BootstrapIndependent(a, b, resamples, seed, MeanDiff);
}

BootstrapCI BootstrapCohensD(const std::vector<double>& a, const std::vector<double>& b, int resamples, uint64_t seed) {
  return BootstrapIndependent(a, b, resamples, seed, CohensD);
}

BootstrapCI BootstrapPairedMeanDiff(const std::vector<double>& a, const std::vector<double>& b, int resamples,
                                    uint64_t seed) {
  return BootstrapPaired(a, b, resamples, seed, MeanOf);
}

BootstrapCI BootstrapPairedCohensDz(const std::vector<double>& a, const std::vector<double>& b, int resamples,
                                    uint64_t seed) {
  return BootstrapPaired(a, b, resamples, seed, DzOf);
}

}  // namespace actgrid::analysis
