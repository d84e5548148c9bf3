// Grids, filters, factors and metric values for the analyses (see selection.h).
#include "server/analysis/selection.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/spec/fields.h"
#include "common/spec/suggest.h"
#include "server/analysis/summary_metric.h"

namespace actgrid::analysis {
namespace {

using google::protobuf::RepeatedPtrField;

std::optional<double> Number(const std::string& text) {
  double value;
  if (!absl::SimpleAtod(text, &value)) return std::nullopt;
  return value;
}

// A label's meaning where several spellings name the same thing: an activation or
// init with its parameters filled in ("leaky_relu" = "leaky_relu(alpha=0.01)").
std::optional<std::string> Canonical(const std::string& factor, const std::string& text) {
  if (factor == "activation") {
    auto parsed = spec::ParseActivation(text);
    if (parsed.ok()) return parsed->SerializeAsString();
  } else if (factor == "init") {
    auto parsed = spec::ParseInit(text);
    if (parsed.ok()) return parsed->SerializeAsString();
  }
  return std::nullopt;
}

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

const std::vector<std::string>& EpochMetricNames() {
  static const std::vector<std::string> names = {"train_loss",    "test_loss", "train_acc",
                                                 "test_acc",      "dead_fraction", "sparsity",
                                                 "grad_norm_first", "grad_norm_last", "seconds"};
  return names;
}

const std::vector<std::string>& LayerMetricNames() {
  static const std::vector<std::string> names = {"dead_fraction", "sparsity", "grad_norm", "act_mean",
                                                 "act_std"};
  return names;
}

bool IsMissing(const std::string& metric, double value) {
  if (!std::isfinite(value)) return true;
  return value < 0 && (metric == "epochs_to_target" || metric == "diverged_epoch");
}

absl::StatusOr<MetricSpec> ParseMetric(const std::string& metric_in, const std::string& summary) {
  MetricSpec spec;
  spec.metric = metric_in.empty() ? "final_test_acc" : metric_in;
  const std::vector<std::string> summaries = SummaryMetricNames();
  if (Contains(summaries, spec.metric)) {
    if (!summary.empty())
      return absl::InvalidArgumentError(absl::StrCat(
          "summary \"", summary, "\" applies to per-epoch metrics (", absl::StrJoin(EpochMetricNames(), ", "),
          "); \"", spec.metric, "\" is already one value per trial"));
    return spec;
  }
  if (!Contains(EpochMetricNames(), spec.metric)) {
    std::vector<std::string> all = summaries;
    all.insert(all.end(), EpochMetricNames().begin(), EpochMetricNames().end());
    return absl::InvalidArgumentError(actgrid::spec::UnknownNameMessage("metric", spec.metric, all));
  }
  const std::string s = summary.empty() ? "final" : summary;
  spec.summary = s;
  const auto colon = s.find(':');
  const std::string head = s.substr(0, colon);
  const bool has_arg = colon != std::string::npos;
  const std::string usage = "summary: final, best, min, max, last:K (mean of the last K epochs) or epoch:N";
  if (head == "last" || head == "epoch") {
    int k = 0;
    if (!has_arg || !absl::SimpleAtoi(s.substr(colon + 1), &k) || k < (head == "last" ? 1 : 0))
      return absl::InvalidArgumentError(absl::StrCat("summary \"", s, "\": ", head, " needs ",
                                                     head == "last" ? "a count >= 1 (last:10)" : "an epoch >= 0 (epoch:50)"));
    spec.kind = head == "last" ? MetricSpec::Kind::kLast : MetricSpec::Kind::kEpoch;
    spec.k = k;
    spec.summary = absl::StrCat(head, ":", k);
    return spec;
  }
  if (has_arg) return absl::InvalidArgumentError(absl::StrCat("unknown summary \"", s, "\"; ", usage));
  if (s == "final") {
    spec.kind = MetricSpec::Kind::kFinal;
  } else if (s == "min") {
    spec.kind = MetricSpec::Kind::kMin;
  } else if (s == "max") {
    spec.kind = MetricSpec::Kind::kMax;
  } else if (s == "best") {
    const bool acc = spec.metric.find("_acc") != std::string::npos;
    const bool loss = spec.metric.find("_loss") != std::string::npos;
    if (!acc && !loss)
      return absl::InvalidArgumentError(absl::StrCat("summary \"best\" is defined for accuracy and loss metrics; use "
                                                     "min or max for \"", spec.metric, "\""));
    spec.kind = acc ? MetricSpec::Kind::kMax : MetricSpec::Kind::kMin;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown summary \"", s, "\"; ", usage));
  }
  return spec;
}

namespace {

// The value of `metric` over one curve (see MetricChoice in analysis.proto).
double Reduce(const MetricSpec& metric, const std::vector<double>& curve) {
  if (curve.empty()) return NAN;
  switch (metric.kind) {
    case MetricSpec::Kind::kFinal:
      return curve.back();
    case MetricSpec::Kind::kEpoch:
      return size_t(metric.k) < curve.size() ? curve[size_t(metric.k)] : NAN;
    case MetricSpec::Kind::kLast: {
      const size_t k = std::min(curve.size(), size_t(metric.k));
      double sum = 0;
      for (size_t i = curve.size() - k; i < curve.size(); ++i) sum += curve[i];
      return sum / double(k);
    }
    case MetricSpec::Kind::kMin:
    case MetricSpec::Kind::kMax: {
      double best = NAN;
      for (double v : curve) {
        if (!std::isfinite(v)) continue;
        if (std::isnan(best) || (metric.kind == MetricSpec::Kind::kMin ? v < best : v > best)) best = v;
      }
      return best;
    }
    case MetricSpec::Kind::kSummary:
      break;
  }
  return NAN;
}

}  // namespace

bool IsFinished(const store::GridValueRow& row) {
  return row.state == v1::TRIAL_STATE_SUCCEEDED || row.state == v1::TRIAL_STATE_DIVERGED;
}

absl::StatusOr<Selection> Selection::Load(store::Store& store, const std::string& grid_ref,
                                          const RepeatedPtrField<v1::Filter>& where, const MetricSpec* metric) {
  Selection s;
  auto grid = store.FindGrid(grid_ref);
  if (!grid.ok()) return grid.status();
  s.grid_ = std::move(*grid);
  const bool summary = metric != nullptr && metric->kind == MetricSpec::Kind::kSummary;
  auto values = store.ListGridValues(s.grid_.id, summary ? metric->metric : "");
  if (!values.ok()) return values.status();
  s.cells_ = std::move(values->cells);
  for (auto& labels : s.cells_) labels.resize(s.grid_.factors.size());  // a cell without positions
  s.all_ = std::move(values->rows);
  for (auto& row : s.all_)
    if (!summary || IsMissing(metric->metric, row.value)) row.value = NAN;
  s.rows_ = s.all_;
  auto matched = s.Match(where, "where", &s.where_);
  if (!matched.ok()) return matched.status();
  std::vector<store::GridValueRow> selected;
  selected.reserve(matched->size());
  for (const auto* row : *matched) selected.push_back(*row);
  s.rows_ = std::move(selected);
  return s;
}

int Selection::finished() const {
  return int(std::count_if(rows_.begin(), rows_.end(), [](const auto& r) { return IsFinished(r); }));
}

absl::StatusOr<int> Selection::Column(const std::string& name, const std::string& what) const {
  if (name == "seed") return kSeedColumn;
  const spec::Field* field = spec::FindFactor(name);
  const std::string canonical = field ? field->factor : name;
  for (size_t i = 0; i < grid_.factors.size(); ++i)
    if (grid_.factors[i] == canonical || grid_.factors[i] == name) return int(i);
  std::vector<std::string> names = grid_.factors;
  names.push_back("seed");
  const std::string near = spec::Suggest(name, names);
  return absl::InvalidArgumentError(absl::StrCat(
      what, ": grid \"", grid_.name, "\" has no factor \"", name, "\"",
      near.empty() ? "" : absl::StrCat("; did you mean \"", near, "\"?"), " (its factors: ",
      absl::StrJoin(names, ", "), ")"));
}

std::string Selection::FactorName(int column) const {
  return column == kSeedColumn ? "seed" : grid_.factors[size_t(column)];
}

std::string Selection::Label(const store::GridValueRow& row, int column) const {
  if (column == kSeedColumn) return absl::StrCat(row.seed);
  return CellLabel(row.cell, column);
}

const std::string& Selection::CellLabel(int cell, int column) const {
  static const std::string kNone;
  if (cell < 0 || size_t(cell) >= cells_.size() || column < 0 || size_t(column) >= cells_[size_t(cell)].size())
    return kNone;
  return cells_[size_t(cell)][size_t(column)];
}

std::vector<std::string> Selection::Levels(int column) const {
  if (auto it = levels_.find(column); it != levels_.end()) return it->second;
  // Cells are numbered with the last factor fastest, so first appearances over the
  // cells in order follow the grid's level order; seeds go by rank.
  std::vector<std::string> levels;
  if (column == kSeedColumn) {
    std::vector<const store::GridValueRow*> by_rank;
    for (const auto& row : all_) {
      if (row.seed_rank < 0) continue;
      if (size_t(row.seed_rank) >= by_rank.size()) by_rank.resize(size_t(row.seed_rank) + 1, nullptr);
      if (by_rank[size_t(row.seed_rank)] == nullptr) by_rank[size_t(row.seed_rank)] = &row;
    }
    for (const auto* row : by_rank)
      if (row != nullptr) levels.push_back(absl::StrCat(row->seed));
  } else {
    std::set<std::string> seen;
    for (size_t cell = 0; cell < cells_.size(); ++cell) {
      const std::string& label = CellLabel(int(cell), column);
      if (seen.insert(label).second) levels.push_back(label);
    }
  }
  levels_[column] = levels;
  return levels;
}

absl::StatusOr<std::vector<const store::GridValueRow*>> Selection::Match(
    const RepeatedPtrField<v1::Filter>& filters, const std::string& what,
    RepeatedPtrField<v1::Filter>* canonical) const {
  std::map<int, std::set<std::string>> allowed;  // column -> labels (every filter must hold)
  std::vector<int> order;
  for (const v1::Filter& f : filters) {
    auto column = Column(f.factor(), what);
    if (!column.ok()) return column.status();
    if (f.values().empty())
      return absl::InvalidArgumentError(absl::StrCat(what, ": ", f.factor(), " needs a value (", f.factor(), "=VALUE)"));
    const std::vector<std::string> levels = Levels(*column);
    std::set<std::string> labels;
    const std::string factor = FactorName(*column);
    for (const std::string& value : f.values()) {
      bool found = false;
      const auto number = Number(value);
      const auto canonical = Canonical(factor, value);
      for (const std::string& level : levels) {
        if (level == value) {
          labels.insert(level);
          found = true;
          continue;
        }
        const auto level_number = Number(level);
        const bool same_number = number && level_number && *number == *level_number;
        const bool same_meaning = canonical && Canonical(factor, level) == canonical;
        if (same_number || same_meaning) {
          labels.insert(level);
          found = true;
        }
      }
      if (!found)
        return absl::InvalidArgumentError(absl::StrCat(what, ": ", FactorName(*column), " has no value \"", value,
                                                       "\"; its values: ", absl::StrJoin(levels, ", ")));
    }
    auto [it, inserted] = allowed.emplace(*column, labels);
    if (inserted) {
      order.push_back(*column);
    } else {
      std::set<std::string> both;
      for (const auto& l : labels)
        if (it->second.count(l)) both.insert(l);
      it->second = std::move(both);
    }
  }
  if (canonical != nullptr) {
    canonical->Clear();
    for (int column : order) {
      v1::Filter* f = canonical->Add();
      f->set_factor(FactorName(column));
      for (const std::string& level : Levels(column))
        if (allowed[column].count(level)) f->add_values(level);
    }
  }
  // Factor filters decide per cell, seed filters per seed.
  std::vector<bool> cell_ok(cells_.size(), true);
  std::set<uint64_t> seeds;
  bool by_seed = false;
  for (const auto& [column, labels] : allowed) {
    if (column == kSeedColumn) {
      by_seed = true;
      for (const auto& row : rows_)
        if (labels.count(absl::StrCat(row.seed))) seeds.insert(row.seed);
      continue;
    }
    for (size_t cell = 0; cell < cells_.size(); ++cell)
      if (!labels.count(CellLabel(int(cell), column))) cell_ok[cell] = false;
  }
  std::vector<const store::GridValueRow*> out;
  for (const auto& row : rows_) {
    const bool cell = row.cell >= 0 && size_t(row.cell) < cell_ok.size() && cell_ok[size_t(row.cell)];
    if (cell && (!by_seed || seeds.count(row.seed))) out.push_back(&row);
  }
  return out;
}

absl::Status Selection::LoadEpochValues(store::Store& store, const MetricSpec& metric) {
  if (metric.kind == MetricSpec::Kind::kSummary) return absl::OkStatus();
  auto curves = store.LoadGridCurves(grid_.id, store::EpochField{metric.metric, -1});
  if (!curves.ok()) return curves.status();
  std::unordered_map<int64_t, const std::vector<double>*> by_trial;
  for (const auto& c : *curves) by_trial.emplace(c.trial_id, &c.values);
  for (auto& row : rows_) {
    row.value = NAN;
    if (!IsFinished(row)) continue;
    const auto it = by_trial.find(row.trial_id);
    if (it == by_trial.end()) continue;
    const double v = Reduce(metric, *it->second);
    row.value = IsMissing(metric.metric, v) ? NAN : v;
  }
  return absl::OkStatus();
}

std::vector<Group> GroupRows(const Selection& selection, const std::vector<const store::GridValueRow*>& rows,
                             const std::vector<int>& columns) {
  // The rank of each column's level, per cell for factors (seeds rank by seed rank).
  std::vector<std::vector<int>> cell_rank(columns.size());
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == kSeedColumn) continue;
    std::unordered_map<std::string, int> rank;
    const auto levels = selection.Levels(columns[i]);
    for (size_t l = 0; l < levels.size(); ++l) rank.emplace(levels[l], int(l));
    cell_rank[i].resize(size_t(selection.cells()));
    for (int cell = 0; cell < selection.cells(); ++cell)
      cell_rank[i][size_t(cell)] = rank[selection.CellLabel(cell, columns[i])];
  }
  std::map<std::vector<int>, Group> groups;
  std::vector<int> key(columns.size());
  for (const auto* row : rows) {
    for (size_t i = 0; i < columns.size(); ++i)
      key[i] = columns[i] == kSeedColumn ? row->seed_rank
                                          : (size_t(row->cell) < cell_rank[i].size() ? cell_rank[i][size_t(row->cell)] : -1);
    auto [it, inserted] = groups.try_emplace(key);
    if (inserted)
      for (int c : columns) it->second.labels.push_back(selection.Label(*row, c));
    it->second.rows.push_back(row);
  }
  std::vector<Group> out;
  out.reserve(groups.size());
  for (auto& [k, g] : groups) out.push_back(std::move(g));
  return out;
}

absl::StatusOr<std::vector<int>> ResolveBy(const Selection& selection, const RepeatedPtrField<std::string>& by,
                                           std::vector<std::string>* names) {
  std::vector<int> columns;
  names->clear();
  if (by.empty()) {
    for (size_t i = 0; i < selection.grid().factors.size(); ++i) {
      columns.push_back(int(i));
      names->push_back(selection.grid().factors[i]);
    }
    return columns;
  }
  for (const std::string& name : by) {
    auto column = selection.Column(name, "by");
    if (!column.ok()) return column.status();
    if (std::find(columns.begin(), columns.end(), *column) != columns.end())
      return absl::InvalidArgumentError(absl::StrCat("by: ", selection.FactorName(*column), " is named twice"));
    columns.push_back(*column);
    names->push_back(selection.FactorName(*column));
  }
  return columns;
}

void SetGroup(const std::vector<std::string>& names, const std::vector<std::string>& labels,
              RepeatedPtrField<v1::GroupValue>* out) {
  for (size_t i = 0; i < names.size(); ++i) {
    v1::GroupValue* g = out->Add();
    g->set_factor(names[i]);
    g->set_value(labels[i]);
  }
}

}  // namespace actgrid::analysis
