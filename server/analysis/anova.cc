// Balanced full-factorial ANOVA (see anova.h).
#include "server/analysis/anova.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "server/analysis/hypothesis.h"

namespace actgrid::analysis {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kMaxFactors = 20;

int PopCount(uint32_t mask) {
  int count = 0;
  for (; mask != 0; mask &= mask - 1) ++count;
  return count;
}

std::vector<int> FactorsOf(uint32_t mask, int k) {
  std::vector<int> factors;
  for (int i = 0; i < k; ++i)
    if (mask & (1u << i)) factors.push_back(i);
  return factors;
}

// Appends to `out` every r-subset of {0 … k−1} as a bit mask, in
// lexicographic order of the ascending index lists.
void Combinations(int k, int r, int first, uint32_t mask, std::vector<uint32_t>* out) {
  if (r == 0) {
    out->push_back(mask);
    return;
  }
  for (int i = first; i <= k - r; ++i) Combinations(k, r - 1, i + 1, mask | (1u << i), out);
}

AnovaTable Fail(const std::string& message) {
  AnovaTable table;
  table.error = message;
  return table;
}

}  // namespace

AnovaTable BalancedAnova(const std::vector<std::string>& factor_names, const std::vector<int>& levels,
                         const std::vector<std::vector<double>>& cells, int max_order) {
  // ---- Validate the design.
  const int k = int(levels.size());
  if (factor_names.size() != levels.size()) return Fail("factor_names and levels differ in size");
  if (k == 0) return Fail("no factors");
  if (k > kMaxFactors) return Fail("more than " + std::to_string(kMaxFactors) + " factors");
  if (max_order < 1) return Fail("max_order must be at least 1");
  bool varies = false;
  bool too_many_cells = false;  // Π L_k > cells.size(), found without overflowing
  size_t num_cells = 1;
  for (int i = 0; i < k; ++i) {
    if (levels[i] < 1) return Fail("factor '" + factor_names[i] + "' has fewer than 1 level");
    varies = varies || levels[i] >= 2;
    if (num_cells > cells.size() / size_t(levels[i])) too_many_cells = true;
    if (!too_many_cells) num_cells *= size_t(levels[i]);
  }
  if (!varies) return Fail("no factor has 2 or more levels");
  if (too_many_cells || num_cells != cells.size())
    return Fail("cells.size() = " + std::to_string(cells.size()) + " differs from the product of the level counts");
  const size_t n = cells[0].size();
  if (n == 0) return Fail("cell 0 is empty");
  for (size_t c = 0; c < num_cells; ++c) {
    if (cells[c].size() != n)
      return Fail("unbalanced design: cell " + std::to_string(c) + " has " + std::to_string(cells[c].size()) +
                  " observations, cell 0 has " + std::to_string(n));
    for (double x : cells[c])
      if (!std::isfinite(x)) return Fail("cell " + std::to_string(c) + " holds a non-finite observation");
  }

  AnovaTable table;
  table.per_cell = int(n);
  const double dn = double(n), num_obs = double(num_cells) * dn;

  // ---- Cell means, residual and total sums of squares (two passes each).
  std::vector<double> cell_mean(num_cells);
  double grand_sum = 0, ss_residual = 0;
  for (size_t c = 0; c < num_cells; ++c) {
    double sum = 0;
    for (double x : cells[c]) sum += x;
    grand_sum += sum;
    cell_mean[c] = sum / dn;
    for (double x : cells[c]) ss_residual += (x - cell_mean[c]) * (x - cell_mean[c]);
  }
  table.grand_mean = grand_sum / num_obs;
  double ss_total = 0;
  for (const std::vector<double>& cell : cells)
    for (double x : cell) ss_total += (x - table.grand_mean) * (x - table.grand_mean);

  // ---- Level digits of every cell (last factor fastest).
  std::vector<std::vector<int>> digits(num_cells, std::vector<int>(k));
  for (size_t c = 0; c < num_cells; ++c) {
    size_t rest = c;
    for (int i = k - 1; i >= 0; --i) {
      digits[c][i] = int(rest % size_t(levels[i]));
      rest /= size_t(levels[i]);
    }
  }
  // Index of cell c in the marginal table of the factor set `mask`: the
  // mixed-radix number of its digits on those factors.
  auto marginal_index = [&](size_t c, uint32_t mask) {
    size_t index = 0;
    for (int i = 0; i < k; ++i)
      if (mask & (1u << i)) index = index * size_t(levels[i]) + size_t(digits[c][i]);
    return index;
  };

  // ---- Marginal means m_T of the cell means for every factor set T.
  const uint32_t num_sets = 1u << k;
  std::vector<std::vector<double>> marginal(num_sets);
  for (uint32_t mask = 0; mask < num_sets; ++mask) {
    size_t size = 1;
    for (int i = 0; i < k; ++i)
      if (mask & (1u << i)) size *= size_t(levels[i]);
    std::vector<double>& m = marginal[mask];
    m.assign(size, 0.0);
    for (size_t c = 0; c < num_cells; ++c) m[marginal_index(c, mask)] += cell_mean[c];
    const double cells_per_entry = double(num_cells / size);
    for (double& v : m) v /= cells_per_entry;
  }

  // ---- Effects and sums of squares. At each cell, the vector (m_T(c))_T is
  // turned into (e_S(c))_S by the Möbius transform over the subset lattice:
  // for each factor i, e[S] −= e[S ∖ {i}] for the sets S containing i. After
  // all k passes e[S] = Σ_{T⊆S} (−1)^{|S∖T|} m_T(c), the inclusion–exclusion
  // sum, at O(k·2^k) per cell instead of O(3^k).
  std::vector<double> ss(num_sets, 0.0);
  std::vector<double> effect(num_sets);
  for (size_t c = 0; c < num_cells; ++c) {
    for (uint32_t mask = 0; mask < num_sets; ++mask) effect[mask] = marginal[mask][marginal_index(c, mask)];
    for (int i = 0; i < k; ++i)
      for (uint32_t mask = 0; mask < num_sets; ++mask)
        if (mask & (1u << i)) effect[mask] -= effect[mask ^ (1u << i)];
    for (uint32_t mask = 1; mask < num_sets; ++mask) ss[mask] += effect[mask] * effect[mask];
  }
  auto df_of = [&](uint32_t mask) {
    double df = 1;
    for (int i = 0; i < k; ++i)
      if (mask & (1u << i)) df *= double(levels[i] - 1);
    return df;
  };

  // ---- Rows.
  auto make_row = [&](const std::string& name, std::vector<int> factors, double row_ss, double row_df) {
    AnovaTerm term;
    term.name = name;
    term.factors = std::move(factors);
    term.ss = row_ss;
    term.df = row_df;
    term.ms = row_df > 0 ? row_ss / row_df : kNaN;
    term.f = term.p = kNaN;
    term.eta2 = row_ss / ss_total;
    return term;
  };
  const int listed_order = std::min(max_order, k);
  for (int order = 1; order <= listed_order; ++order) {
    std::vector<uint32_t> sets;
    Combinations(k, order, 0, 0, &sets);
    for (uint32_t mask : sets) {
      std::vector<int> factors = FactorsOf(mask, k);
      std::string name;
      for (int i : factors) name += (name.empty() ? "" : " x ") + factor_names[i];
      table.terms.push_back(make_row(name, std::move(factors), dn * ss[mask], df_of(mask)));
    }
  }
  const size_t num_effect_rows = table.terms.size();
  const bool has_pool = k > max_order;
  if (has_pool) {
    double pool_ss = 0, pool_df = 0;
    for (uint32_t mask = 1; mask < num_sets; ++mask) {
      if (PopCount(mask) <= max_order) continue;
      pool_ss += dn * ss[mask];
      pool_df += df_of(mask);
    }
    table.terms.push_back(make_row("higher-order interactions", {}, pool_ss, pool_df));
  }
  table.terms.push_back(make_row("residual", {}, ss_residual, double(num_cells) * (dn - 1)));
  table.terms.push_back(make_row("total", {}, ss_total, num_obs - 1));

  // ---- F tests against the error term.
  const AnovaTerm* error = nullptr;
  if (n >= 2) {
    error = &table.terms[table.terms.size() - 2];
  } else if (has_pool && table.terms[num_effect_rows].df > 0) {
    error = &table.terms[num_effect_rows];
  }
  if (error == nullptr) return table;
  table.error_term = error->name;
  const double ms_error = error->ms, df_error = error->df;
  const size_t tested_rows = num_effect_rows + ((has_pool && n >= 2) ? 1 : 0);
  for (size_t r = 0; r < tested_rows; ++r) {
    AnovaTerm& term = table.terms[r];
    if (!(term.df > 0)) continue;
    // An exactly zero error mean square makes any real effect infinitely significant.
    term.f = ms_error > 0 ? term.ms / ms_error : (term.ms > 0 ? std::numeric_limits<double>::infinity() : kNaN);
    term.p = FDistSf(term.f, term.df, df_error);
  }
  return table;
}

}  // namespace actgrid::analysis
