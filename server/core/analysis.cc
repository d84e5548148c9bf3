// Compare (see analysis.h).
#include "server/core/analysis.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/core/stats.h"
#include "server/core/summary_metric.h"

namespace actgrid::core {

absl::StatusOr<v1::CompareResponse> Compare(store::Store& store, const v1::CompareRequest& request) {
  auto grid = store.FindGrid(request.grid());
  if (!grid.ok()) return grid.status();
  auto rows = store.ListGridTrials(grid->id);
  if (!rows.ok()) return rows.status();
  return CompareRows(*grid, *rows, request);
}

absl::StatusOr<v1::CompareResponse> CompareRows(const store::GridRow& grid,
                                                const std::vector<store::GridTrialRow>& rows,
                                                const v1::CompareRequest& request) {
  const std::string metric = request.metric().empty() ? "final_test_acc" : request.metric();
  if (auto probe = SummaryMetric(v1::TrialSummary(), metric); !probe.ok()) return probe.status();
  std::vector<std::string> by(request.by().begin(), request.by().end());
  if (by.empty()) by = grid.factors;
  std::vector<int> column;  // index into the grid's factors of each `by` entry
  for (const std::string& f : by) {
    const auto it = std::find(grid.factors.begin(), grid.factors.end(), f);
    if (it == grid.factors.end())
      return absl::InvalidArgumentError(absl::StrCat(
          "by: grid \"", grid.name, "\" has no factor \"", f, "\"; its factors: ",
          grid.factors.empty() ? "(none)" : absl::StrJoin(grid.factors, ", ")));
    column.push_back(int(it - grid.factors.begin()));
  }

  // Groups in the order of the first cell that holds them.
  std::vector<const store::GridTrialRow*> ordered;
  for (const auto& r : rows) ordered.push_back(&r);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto* a, const auto* b) { return a->cell < b->cell; });
  struct Group {
    std::vector<std::string> values;
    std::vector<double> samples;
    int diverged = 0, missing = 0;
  };
  std::vector<Group> groups;
  std::map<std::vector<std::string>, size_t> index;
  v1::CompareResponse response;
  for (const auto* r : ordered) {
    std::vector<std::string> key;
    for (int c : column) key.push_back(c < int(r->values.size()) ? r->values[c] : "");
    auto [it, inserted] = index.emplace(key, groups.size());
    if (inserted) groups.push_back({key, {}, 0, 0});
    Group& g = groups[it->second];
    if (!r->summary) continue;
    response.set_finished(response.finished() + 1);
    g.diverged += r->summary->diverged();
    const double v = *SummaryMetric(*r->summary, metric);
    if (std::isnan(v)) {
      ++g.missing;
    } else {
      g.samples.push_back(v);
    }
  }
  response.set_grid_id(grid.id);
  response.set_grid(grid.name);
  response.set_metric(metric);
  for (const auto& f : by) response.add_by(f);
  response.set_trials(int(rows.size()));
  for (const Group& g : groups) {
    v1::CompareRow* row = response.add_rows();
    for (size_t i = 0; i < by.size(); ++i) {
      auto* gv = row->add_group();
      gv->set_factor(by[i]);
      gv->set_value(g.values[i]);
    }
    const Describe d = DescribeSample(g.samples);
    row->set_n(d.n);
    row->set_mean(d.mean);
    row->set_std(d.std);
    row->set_ci95_low(d.ci95_low);
    row->set_ci95_high(d.ci95_high);
    row->set_min(d.min);
    row->set_max(d.max);
    row->set_diverged(g.diverged);
    row->set_missing(g.missing);
  }
  return response;
}

}  // namespace actgrid::core
