// Fixed-effects ANOVA of a balanced full-factorial design, e.g. final loss over
// the grid activation × depth × learning rate with the same number of seeds in
// every cell.
#ifndef ACTGRID_SERVER_ANALYSIS_ANOVA_H_
#define ACTGRID_SERVER_ANALYSIS_ANOVA_H_

#include <string>
#include <vector>

namespace actgrid::analysis {

struct AnovaTerm {
  // Factor names joined by " x " ("activation x depth"), or one of
  // "higher-order interactions", "residual", "total".
  std::string name;
  std::vector<int> factors;  // indices into the design's factors; empty for the pooled/residual/total rows
  double ss = 0;             // sum of squares
  double df = 0;             // degrees of freedom
  double ms = 0;             // ss / df; NaN when df == 0
  double f = 0;     // ms / ms_error; NaN without an error term, for the error row itself, and for residual/total
  double p = 0;     // P(F(df, df_error) > f); NaN where f is
  double eta2 = 0;  // ss / ss_total (NaN when ss_total == 0)
};

struct AnovaTable {
  // Empty on success; otherwise why the design was rejected, and `terms` is empty.
  std::string error;
  // Main effects in factor order; then the interactions of order 2 … max_order,
  // by order and, within an order, in lexicographic order of the factor indices
  // (for order 2: (0,1), (0,2), …, (1,2), …); then, when there are more than
  // max_order factors, one "higher-order interactions" row pooling every
  // interaction of order > max_order; then "residual"; then "total".
  std::vector<AnovaTerm> terms;
  // The row the F tests divide by: "residual" (the within-cell variation,
  // whenever per_cell >= 2); with per_cell == 1, "higher-order interactions"
  // when that pool exists and has df > 0 (the usual analysis of an
  // unreplicated factorial, which assumes those interactions are negligible);
  // "" when there is no error term (then every f and p is NaN).
  std::string error_term;
  int per_cell = 0;       // observations per cell (n)
  double grand_mean = 0;  // mean of all observations
};

// Balanced full-factorial fixed-effects ANOVA.
//
// Design: levels[k] = number of levels of factor k (named factor_names[k]);
// cells[c] = the observations of cell c, where c is the mixed-radix number of
// the cell's level indices with the LAST factor varying fastest:
//   c = ((i_0·L_1 + i_1)·L_2 + i_2)·… .
//
// Requirements (otherwise `error` is set): as many names as level counts;
// 1 to 20 factors, each with >= 1 level and at least one with >= 2;
// cells.size() == Π L_k; every cell holds the same number n >= 1 of finite
// observations; max_order >= 1.
//
// Model and sums of squares. Let m_T(c) be the marginal mean of the cell
// means over the cells that share c's levels of the factors in T (m_∅ is the
// grand mean; balance makes marginal means of cell means equal marginal means
// of observations). The effect of the factor set S at cell c is the
// inclusion–exclusion (Möbius) sum
//   e_S(c) = Σ_{T ⊆ S} (−1)^{|S∖T|} m_T(c)
// (e.g. e_{A}(c) = m_A − m_∅, e_{AB}(c) = m_AB − m_A − m_B + m_∅), and
//   SS_S = n · Σ_c e_S(c)²,   df_S = Π_{k∈S} (L_k − 1).
// The effects are orthogonal, so Σ_{S≠∅} SS_S = n·Σ_c (m_cell(c) − m_∅)²;
// the residual is SS_res = Σ_c Σ_i (x_ci − m_cell(c))² (two passes, no
// cancellation) with df C·(n − 1), and SS_total = Σ (x − x̄)² with df N − 1,
// so the listed rows add up to the total. The pooled row sums SS and df over
// every S with |S| > max_order.
//
// F = MS_S / MS_error and p = P(F(df_S, df_error) > F) for every listed term
// and for the pooled row unless it is itself the error term.
//
// Cost: O(C · k · 2^k) time and O(Π (L_k + 1)) memory for C cells and k factors.
AnovaTable BalancedAnova(const std::vector<std::string>& factor_names, const std::vector<int>& levels,
                         const std::vector<std::vector<double>>& cells, int max_order = 2);

}  // namespace actgrid::analysis

#endif  // ACTGRID_SERVER_ANALYSIS_ANOVA_H_
