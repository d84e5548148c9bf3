// Two-sample hypothesis tests and effect sizes for comparing grid cells
// (e.g. the final losses of two activations over seeds): Welch's and the
// paired t test, the Mann–Whitney U test, Cohen's d / d_z and percentile
// bootstrap confidence intervals.
//
// Conventions shared by every function here:
//   * "a" is the first sample and "b" the second; differences are a − b, so a
//     positive difference / effect size means a tends to be larger.
//   * p values are two-sided.
//   * A statistic that is undefined for the input (too few values, zero
//     spread, mismatched pair counts) is NaN, never an exception.
//   * Only the standard library and stats.h are used.
#ifndef ACTGRID_SERVER_ANALYSIS_HYPOTHESIS_H_
#define ACTGRID_SERVER_ANALYSIS_HYPOTHESIS_H_

#include <cstdint>
#include <vector>

namespace actgrid::analysis {

// Standard normal CDF Φ(z) = erfc(−z/√2)/2; accurate in both tails (no 1 − x
// cancellation for z ≪ 0). NaN for NaN.
double NormalCdf(double z);

// Survival function P(F > f) of the F distribution with (d1, d2) degrees of
// freedom:  P(F > f) = I_{d2/(d2 + d1·f)}(d2/2, d1/2)  (regularized incomplete
// beta). Returns 1 for f <= 0, 0 for f = +inf, NaN when f is NaN or d1, d2 are
// not positive.
double FDistSf(double f, double d1, double d2);

struct TTestResult {
  double mean_a = 0, mean_b = 0;
  double mean_diff = 0;  // mean_a − mean_b; for the paired test the mean of a[i] − b[i]
  double t = 0, df = 0;
  double p = 0;  // two-sided: 2·P(T_df <= −|t|)
  // 95% confidence interval of the mean difference: mean_diff ∓ t_{0.975,df}·SE,
  // with the same SE and df as the test.
  double ci95_low = 0, ci95_high = 0;
  int n_a = 0, n_b = 0;  // paired: both equal the number of pairs (when sizes match)
};

// Welch's unequal-variance t test:
//   t = (x̄_a − x̄_b) / SE,  SE² = s_a²/n_a + s_b²/n_b  (s² with n − 1),
//   df = SE⁴ / ((s_a²/n_a)²/(n_a − 1) + (s_b²/n_b)²/(n_b − 1))  (Welch–Satterthwaite).
// Matches scipy.stats.ttest_ind(a, b, equal_var=False).
// When a group has fewer than 2 values, or both variances are 0, the fields
// t, df, p, ci95_low and ci95_high are NaN (means and sizes are still filled;
// the mean of an empty group is NaN).
TTestResult WelchTTest(const std::vector<double>& a, const std::vector<double>& b);

// Paired t test on d[i] = a[i] − b[i]: t = d̄ / (s_d/√n), df = n − 1.
// Matches scipy.stats.ttest_rel(a, b).
// Sizes must match: otherwise n_a, n_b hold the two sizes and every double
// field is NaN. With fewer than 2 pairs, or all d[i] equal (s_d = 0), the
// means are filled but t, df, p and the CI are NaN.
TTestResult PairedTTest(const std::vector<double>& a, const std::vector<double>& b);

struct MannWhitneyResult {
  // U of sample a: R_a − n_a(n_a + 1)/2, where R_a is the sum of a's ranks in
  // the pooled sample (ties get their mid-rank). Equals #{a_i > b_j} +
  // #{a_i = b_j}/2. scipy.stats.mannwhitneyu reports the same U (for x = a).
  double u = 0;
  // Normal-approximation z, signed like U − n_a n_b/2, continuity-corrected
  // towards 0 by 0.5 (and 0 when |U − n_a n_b/2| <= 0.5); NaN when exact.
  double z = 0;
  double p = 0;        // two-sided
  bool exact = false;  // p from the exact permutation distribution of U
  // Rank-biserial correlation 2U/(n_a n_b) − 1 in [−1, 1]; > 0 when a tends to
  // be larger. Equals P(a > b) − P(a < b) for a random pair.
  double rank_biserial = 0;
};

// Largest per-group size for which MannWhitneyU uses the exact distribution.
// The exact distribution is computed by dynamic programming over
// probabilities in O(n_a² n_b²) time (≈ 1.6 M additions at 50 × 50, a few
// milliseconds). The continuity-corrected normal approximation's largest
// absolute error in p (over all U, no ties) is 0.017 at 5 × 5, 0.0043 at
// 20 × 20 and 0.0017 at 50 × 50, shrinking like 1/n, so beyond 50 it is
// adequate for reporting.
constexpr int kMannWhitneyExactMaxN = 50;

// Mann–Whitney U (Wilcoxon rank-sum) test, two-sided.
//  * Exact when there are no ties in the pooled sample and both sizes are
//    <= kMannWhitneyExactMaxN: p = min(1, 2·min(P(U <= u), P(U >= u))) under
//    the permutation null — scipy's method='exact'.
//  * Otherwise the normal approximation with tie correction and continuity
//    correction 0.5 — scipy's method='asymptotic', use_continuity=True:
//      μ = n_a n_b / 2,
//      σ² = n_a n_b / 12 · ((N + 1) − Σ(t³ − t) / (N(N − 1))),  N = n_a + n_b,
//      t over the sizes of the tie groups,
//      p = min(1, 2·(1 − Φ((|U − μ| − 0.5)/σ))).
//    When every value is tied (σ = 0) z = 0 and p = 1.
// An empty group or a NaN value gives NaN u, z, p and rank_biserial
// (exact = false). Note that scipy's default method='auto' switches to the
// exact distribution only up to 8 per group; the bound here is larger, so
// compare against scipy with an explicit method.
MannWhitneyResult MannWhitneyU(const std::vector<double>& a, const std::vector<double>& b);

// Cohen's d = (x̄_a − x̄_b) / s_p with the pooled SD
//   s_p² = ((n_a − 1)s_a² + (n_b − 1)s_b²) / (n_a + n_b − 2).
// NaN when a group has fewer than 2 values or s_p = 0.
double CohensD(const std::vector<double>& a, const std::vector<double>& b);

// Cohen's d_z for paired data: d̄ / s_d with d[i] = a[i] − b[i] (s_d with n − 1).
// NaN when sizes differ, n < 2 or s_d = 0.
double PairedCohensDz(const std::vector<double>& a, const std::vector<double>& b);

struct BootstrapCI {
  double estimate = 0;  // the statistic on the original data
  double ci95_low = 0, ci95_high = 0;
  int resamples = 0;  // number of valid (non-NaN) resampled statistics used
};

// Percentile bootstrap 95% intervals.
//
// Resampling: std::mt19937_64 seeded with `seed`; each index is drawn
// uniformly from [0, n) by rejection (reject raw 64-bit draws below
// 2^64 mod n, then take the draw mod n), so results are bit-identical across
// standard libraries for a given seed. Independent versions resample a
// (n_a indices) and then b (n_b indices) separately with replacement for
// each resample; paired versions resample n pair indices, keeping a[i] with b[i].
//
// Interval: the valid resampled statistics (NaN ones, e.g. from a resample with
// zero variance, are skipped and not counted) are sorted into x_0 <= … <= x_{B−1}
// and the q-quantile is the linear interpolation at rank h = (B − 1)·q:
//   x_⌊h⌋ + (h − ⌊h⌋)·(x_⌊h⌋+1 − x_⌊h⌋),
// i.e. numpy.percentile's default ('linear'); low = q 0.025, high = q 0.975.
// With B = 0 valid resamples (or resamples <= 0, or invalid input such as an
// empty group or mismatched pair counts) the interval is NaN and resamples 0.
BootstrapCI BootstrapMeanDiff(const std::vector<double>& a, const std::vector<double>& b, int resamples, uint64_t seed);
BootstrapCI BootstrapCohensD(const std::vector<double>& a, const std::vector<double>& b, int resamples, uint64_t seed);
BootstrapCI BootstrapPairedMeanDiff(const std::vector<double>& a, const std::vector<double>& b, int resamples,
                                    uint64_t seed);
BootstrapCI BootstrapPairedCohensDz(const std::vector<double>& a, const std::vector<double>& b, int resamples,
                                    uint64_t seed);

// The percentile used by the bootstrap intervals: the q-quantile (q clamped to
// [0, 1]) of `sorted` (ascending) by linear interpolation between closest
// ranks, as numpy.percentile's default. NaN for an empty vector or NaN q.
double SortedQuantile(const std::vector<double>& sorted, double q);

}  // namespace actgrid::analysis

#endif  // ACTGRID_SERVER_ANALYSIS_HYPOTHESIS_H_
