// Effects (see analysis.h): main effects and the factorial ANOVA of a grid, on the
// largest balanced design among its finished trials.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/analysis/analysis.h"
#include "server/analysis/anova.h"
#include "server/analysis/selection.h"
#include "server/analysis/stats.h"

namespace actgrid::analysis {

absl::StatusOr<v1::EffectsResponse> Effects(store::Store& store, const v1::EffectsRequest& request) {
  auto metric = ParseMetric(request.metric(), request.summary());
  if (!metric.ok()) return metric.status();
  auto selection = Selection::Load(store, request.grid(), request.where(), &*metric);
  if (!selection.ok()) return selection.status();
  if (auto st = selection->LoadEpochValues(store, *metric); !st.ok()) return st;
  const auto& rows = selection->rows();

  v1::EffectsResponse response;
  response.set_grid_id(selection->grid().id);
  response.set_grid(selection->grid().name);
  response.set_metric(metric->metric);
  response.set_summary(metric->summary);
  *response.mutable_where() = selection->where();
  response.set_trials(int(rows.size()));
  response.set_finished(selection->finished());

  // The factors with two or more levels among the selected trials, in grid order.
  std::vector<int> columns;
  std::vector<std::string> names;
  std::vector<std::vector<std::string>> levels;
  for (size_t c = 0; c < selection->grid().factors.size(); ++c) {
    std::set<std::string> present;
    for (const auto& r : rows) present.insert(selection->Label(r, int(c)));
    std::vector<std::string> ordered;
    for (const auto& l : selection->Levels(int(c)))
      if (present.count(l)) ordered.push_back(l);
    if (ordered.size() < 2) {
      if (ordered.size() == 1)
        response.add_notes(absl::StrCat(selection->FactorName(int(c)), " has one level here (", ordered[0],
                                        "): not analysed"));
      continue;
    }
    columns.push_back(int(c));
    names.push_back(selection->FactorName(int(c)));
    levels.push_back(std::move(ordered));
  }
  if (columns.empty())
    return absl::InvalidArgumentError(absl::StrCat("grid \"", selection->grid().name,
                                                   "\" has no factor with two or more levels among the selected trials"));
  for (const auto& n : names) response.add_factors(n);

  // Cell index (last factor fastest) of each row, and values by (cell, seed rank).
  int cells = 1;
  for (const auto& l : levels) cells *= int(l.size());
  std::vector<std::map<std::string, int>> rank(levels.size());
  for (size_t k = 0; k < levels.size(); ++k)
    for (size_t i = 0; i < levels[k].size(); ++i) rank[k][levels[k][i]] = int(i);
  std::map<int, std::vector<double>> by_seed;  // seed rank -> value per cell (NaN: none)
  for (const auto& r : rows) {
    if (!IsFinished(r) || std::isnan(r.value)) continue;
    int cell = 0;
    for (size_t k = 0; k < columns.size(); ++k)
      cell = cell * int(levels[k].size()) + rank[k][selection->CellLabel(r.cell, columns[k])];
    auto [it, inserted] = by_seed.try_emplace(r.seed_rank, std::vector<double>(size_t(cells), NAN));
    if (std::isnan(it->second[size_t(cell)])) it->second[size_t(cell)] = r.value;
  }
  auto cell_name = [&](int cell) {
    std::vector<std::string> parts(columns.size());
    for (size_t k = columns.size(); k-- > 0;) {
      parts[k] = absl::StrCat(names[k], "=", levels[k][size_t(cell) % levels[k].size()]);
      cell /= int(levels[k].size());
    }
    return absl::StrJoin(parts, ", ");
  };

  // The balanced design: the seed ranks with a value in every cell.
  std::vector<int> used;
  int fewest_cell = 0, fewest = -1;
  std::vector<int> per_cell_count(size_t(cells), 0);
  for (const auto& [seed_rank, values] : by_seed) {
    bool complete = true;
    for (int c = 0; c < cells; ++c) {
      if (std::isnan(values[size_t(c)])) {
        complete = false;
      } else {
        ++per_cell_count[size_t(c)];
      }
    }
    if (complete) used.push_back(seed_rank);
  }
  for (int c = 0; c < cells; ++c)
    if (fewest < 0 || per_cell_count[size_t(c)] < fewest) fewest = per_cell_count[size_t(c)], fewest_cell = c;
  if (used.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "effects needs a balanced design: a seed with a value of ", metric->metric, " in each of the ", cells,
        " cells; none has one yet (cell ", cell_name(fewest_cell), " has ", fewest, " value", fewest == 1 ? "" : "s",
        "; ", response.finished(), " of ", response.trials(), " trials finished)",
        response.finished() < response.trials() ? "; wait for the grid or narrow it with --where" : ""));
  }
  std::vector<std::vector<double>> design(static_cast<size_t>(cells));
  for (int seed_rank : used)
    for (int c = 0; c < cells; ++c) design[size_t(c)].push_back(by_seed[seed_rank][size_t(c)]);
  int finished_values = 0;
  for (const auto& [seed_rank, values] : by_seed)
    for (double v : values) finished_values += !std::isnan(v);
  const int used_count = int(used.size()) * cells;
  for (int s : used) response.add_seed_ranks(s);
  response.set_used(used_count);
  response.set_per_cell(int(used.size()));
  if (used_count < finished_values)
    response.add_notes(absl::StrCat("left out ", finished_values - used_count,
                                    " finished trials of seeds without a value in every cell (balance needs all cells)"));
  if (const int missing = response.finished() - finished_values; missing > 0)
    response.add_notes(absl::StrCat(missing, " finished trials have no value of ", metric->metric,
                                    " (NaN, or a target never reached)"));

  std::vector<int> level_counts;
  for (const auto& l : levels) level_counts.push_back(int(l.size()));
  const AnovaTable table = BalancedAnova(names, level_counts, design);
  if (!table.error.empty()) return absl::FailedPreconditionError(absl::StrCat("effects: ", table.error));
  response.set_error_term(table.error_term);
  double ms_error = NAN, df_error = 0;
  for (const AnovaTerm& t : table.terms) {
    if (t.name == table.error_term) ms_error = t.ms, df_error = t.df;
    v1::AnovaRow* row = response.add_anova();
    row->set_term(t.name);
    for (int k : t.factors) row->add_factors(names[size_t(k)]);
    row->set_ss(t.ss);
    row->set_df(t.df);
    row->set_ms(t.ms);
    row->set_f(t.f);
    row->set_p(t.p);
    row->set_eta2(t.eta2);
  }
  if (table.per_cell == 1)
    response.add_notes(table.error_term.empty()
                           ? "one trial per cell and no higher-order interactions: no error term, so no F tests"
                           : "one trial per cell: F tests use the pooled higher-order interactions as error, "
                             "assuming they are negligible");
  const bool model_ci = df_error > 0 && std::isfinite(ms_error);
  response.add_notes(model_ci ? absl::StrCat("level CIs: mean -/+ t(0.975, ", df_error, ") * sqrt(MS ",
                                             table.error_term, " / n)")
                              : "level CIs: t-interval over the level's trials (no error term)");

  // Main effects: each level's mean over the balanced design.
  for (size_t k = 0; k < columns.size(); ++k) {
    v1::MainEffect* effect = response.add_main_effects();
    effect->set_factor(names[k]);
    int stride = 1;
    for (size_t j = k + 1; j < columns.size(); ++j) stride *= int(levels[j].size());
    double lo = NAN, hi = NAN;
    for (size_t i = 0; i < levels[k].size(); ++i) {
      std::vector<double> samples;
      for (int c = 0; c < cells; ++c)
        if ((c / stride) % int(levels[k].size()) == int(i))
          samples.insert(samples.end(), design[size_t(c)].begin(), design[size_t(c)].end());
      const Describe d = DescribeSample(samples);
      v1::LevelMean* level = effect->add_levels();
      level->set_value(levels[k][i]);
      level->set_n(d.n);
      level->set_mean(d.mean);
      level->set_std(d.std);
      if (model_ci) {
        const double half = StudentTQuantile(0.975, df_error) * std::sqrt(ms_error / d.n);
        level->set_ci95_low(d.mean - half);
        level->set_ci95_high(d.mean + half);
      } else {
        level->set_ci95_low(d.ci95_low);
        level->set_ci95_high(d.ci95_high);
      }
      lo = std::isnan(lo) ? d.mean : std::min(lo, d.mean);
      hi = std::isnan(hi) ? d.mean : std::max(hi, d.mean);
    }
    effect->set_range(hi - lo);
  }
  return response;
}

}  // namespace actgrid::analysis
