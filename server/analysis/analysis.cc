// Compare, Curves and Layers (see analysis.h).
#include "server/analysis/analysis.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/spec/suggest.h"
#include "server/analysis/selection.h"
#include "server/analysis/stats.h"

namespace actgrid::analysis {
namespace {

// The statistics a compare row may be sorted by.
double SortValue(const v1::CompareRow& row, const std::string& key) {
  if (key == "mean") return row.mean();
  if (key == "median") return row.median();
  if (key == "std") return row.std();
  if (key == "n") return row.n();
  if (key == "min") return row.min();
  if (key == "max") return row.max();
  if (key == "ci95_low") return row.ci95_low();
  if (key == "ci95_high") return row.ci95_high();
  if (key == "diverged") return row.diverged();
  if (key == "missing") return row.missing();
  return NAN;
}

const std::vector<std::string>& SortStatistics() {
  static const std::vector<std::string> keys = {"mean", "median", "std",       "n",        "min",
                                                "max",  "ci95_low", "ci95_high", "diverged", "missing"};
  return keys;
}

// Orders rows by `sort` ("" keeps them; "-" prefix for descending); NaN sorts last.
absl::Status SortRows(const std::string& sort, const std::vector<std::string>& by,
                      google::protobuf::RepeatedPtrField<v1::CompareRow>* rows) {
  if (sort.empty()) return absl::OkStatus();
  const bool descending = sort[0] == '-';
  const std::string key = descending ? sort.substr(1) : sort;
  const bool statistic =
      std::find(SortStatistics().begin(), SortStatistics().end(), key) != SortStatistics().end();
  const auto factor = std::find(by.begin(), by.end(), key);
  if (!statistic && factor == by.end()) {
    std::vector<std::string> keys = SortStatistics();
    keys.insert(keys.end(), by.begin(), by.end());
    return absl::InvalidArgumentError(absl::StrCat(spec::UnknownNameMessage("sort key", key, keys),
                                                   " (a leading - sorts descending)"));
  }
  const size_t column = size_t(factor - by.begin());
  auto less = [&](const v1::CompareRow& a, const v1::CompareRow& b) {
    if (statistic) {
      const double x = SortValue(a, key), y = SortValue(b, key);
      if (std::isnan(x) || std::isnan(y)) return !std::isnan(x) && std::isnan(y);
      return descending ? x > y : x < y;
    }
    const std::string& x = a.group(int(column)).value();
    const std::string& y = b.group(int(column)).value();
    double nx, ny;
    if (absl::SimpleAtod(x, &nx) && absl::SimpleAtod(y, &ny)) return descending ? nx > ny : nx < ny;
    return descending ? x > y : x < y;
  };
  std::stable_sort(rows->begin(), rows->end(), less);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::CompareResponse> Compare(store::Store& store, const v1::CompareRequest& request) {
  auto metric = ParseMetric(request.metric(), request.summary());
  if (!metric.ok()) return metric.status();
  auto selection = Selection::Load(store, request.grid(), request.where(), &*metric);
  if (!selection.ok()) return selection.status();
  if (auto st = selection->LoadEpochValues(store, *metric); !st.ok()) return st;
  std::vector<std::string> by;
  auto columns = ResolveBy(*selection, request.by(), &by);
  if (!columns.ok()) return columns.status();

  v1::CompareResponse response;
  response.set_grid_id(selection->grid().id);
  response.set_grid(selection->grid().name);
  response.set_metric(metric->metric);
  response.set_summary(metric->summary);
  for (const auto& f : by) response.add_by(f);
  *response.mutable_where() = selection->where();
  response.set_sort(request.sort());
  response.set_trials(int(selection->rows().size()));
  response.set_finished(selection->finished());

  std::vector<const store::GridValueRow*> rows;
  for (const auto& r : selection->rows()) rows.push_back(&r);
  std::vector<double> samples;
  for (const Group& g : GroupRows(*selection, rows, *columns)) {
    v1::CompareRow* row = response.add_rows();
    SetGroup(by, g.labels, row->mutable_group());
    samples.clear();
    int diverged = 0, missing = 0;
    for (const auto* r : g.rows) {
      if (!IsFinished(*r)) continue;
      diverged += r->diverged;
      if (std::isnan(r->value)) {
        ++missing;
      } else {
        samples.push_back(r->value);
      }
    }
    const Describe d = DescribeSample(samples);
    row->set_n(d.n);
    row->set_mean(d.mean);
    row->set_std(d.std);
    row->set_ci95_low(d.ci95_low);
    row->set_ci95_high(d.ci95_high);
    row->set_median(Median(samples));
    row->set_min(d.min);
    row->set_max(d.max);
    row->set_diverged(diverged);
    row->set_missing(missing);
    row->set_trials(int(g.rows.size()));
  }
  if (auto st = SortRows(request.sort(), by, response.mutable_rows()); !st.ok()) return st;
  return response;
}

absl::StatusOr<v1::CurvesResponse> Curves(store::Store& store, const v1::CurvesRequest& request) {
  const std::string metric = request.metric().empty() ? "test_acc" : request.metric();
  const bool layer = request.has_layer();
  const auto& names = layer ? LayerMetricNames() : EpochMetricNames();
  if (std::find(names.begin(), names.end(), metric) == names.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        spec::UnknownNameMessage(layer ? "per-layer metric" : "per-epoch metric", metric, names),
        layer ? "" : " (per-layer metrics need --layer)"));
  }
  if (layer && request.layer() < 0)
    return absl::InvalidArgumentError(absl::StrCat("layer ", request.layer(), ": hidden layers count from 0"));
  auto selection = Selection::Load(store, request.grid(), request.where(), nullptr);
  if (!selection.ok()) return selection.status();
  std::vector<std::string> by;
  auto columns = ResolveBy(*selection, request.by(), &by);
  if (!columns.ok()) return columns.status();
  auto curves = store.LoadGridCurves(selection->grid().id, store::EpochField{metric, layer ? request.layer() : -1});
  if (!curves.ok()) return curves.status();
  std::unordered_map<int64_t, const std::vector<double>*> by_trial;
  for (const auto& c : *curves) by_trial.emplace(c.trial_id, &c.values);

  v1::CurvesResponse response;
  response.set_grid_id(selection->grid().id);
  response.set_grid(selection->grid().name);
  response.set_metric(metric);
  if (layer) response.set_layer(request.layer());
  for (const auto& f : by) response.add_by(f);
  *response.mutable_where() = selection->where();
  response.set_trials(int(selection->rows().size()));
  response.set_finished(selection->finished());

  std::vector<const store::GridValueRow*> finished;
  for (const auto& r : selection->rows())
    if (IsFinished(r) && by_trial.count(r.trial_id)) finished.push_back(&r);
  std::vector<double> samples;
  for (const Group& g : GroupRows(*selection, finished, *columns)) {
    v1::CurveGroup* group = response.add_groups();
    SetGroup(by, g.labels, group->mutable_group());
    group->set_trials(int(g.rows.size()));
    std::vector<const std::vector<double>*> members;
    size_t epochs = 0;
    for (const auto* r : g.rows) {
      group->set_diverged(group->diverged() + r->diverged);
      members.push_back(by_trial[r->trial_id]);
      epochs = std::max(epochs, members.back()->size());
    }
    for (size_t e = 0; e < epochs; ++e) {
      samples.clear();
      for (const auto* curve : members)
        if (e < curve->size() && std::isfinite((*curve)[e])) samples.push_back((*curve)[e]);
      if (samples.empty()) continue;
      const Describe d = DescribeSample(samples);
      v1::CurvePoint* p = group->add_points();
      p->set_epoch(int(e));
      p->set_n(d.n);
      p->set_mean(d.mean);
      p->set_std(d.std);
      p->set_ci95_low(d.ci95_low);
      p->set_ci95_high(d.ci95_high);
    }
  }
  return response;
}

namespace {

void SetStat(const std::vector<double>& samples, v1::LayerStat* stat) {
  const Describe d = DescribeSample(samples);
  stat->set_n(d.n);
  stat->set_mean(d.mean);
  stat->set_ci95_low(d.ci95_low);
  stat->set_ci95_high(d.ci95_high);
}

}  // namespace

absl::StatusOr<v1::LayersResponse> Layers(store::Store& store, const v1::LayersRequest& request) {
  if (request.has_epoch() && request.epoch() < 0)
    return absl::InvalidArgumentError(absl::StrCat("epoch ", request.epoch(), ": epochs count from 0"));
  auto selection = Selection::Load(store, request.grid(), request.where(), nullptr);
  if (!selection.ok()) return selection.status();
  std::vector<std::string> by;
  auto columns = ResolveBy(*selection, request.by(), &by);
  if (!columns.ok()) return columns.status();
  auto epochs = store.LoadGridEpoch(selection->grid().id, request.has_epoch() ? request.epoch() : -1);
  if (!epochs.ok()) return epochs.status();
  std::unordered_map<int64_t, const v1::EpochMetrics*> by_trial;
  for (const auto& [trial, metrics] : *epochs) by_trial.emplace(trial, &metrics);

  v1::LayersResponse response;
  response.set_grid_id(selection->grid().id);
  response.set_grid(selection->grid().name);
  for (const auto& f : by) response.add_by(f);
  if (request.has_epoch()) response.set_epoch(request.epoch());
  *response.mutable_where() = selection->where();
  response.set_trials(int(selection->rows().size()));
  response.set_finished(selection->finished());

  std::vector<const store::GridValueRow*> finished;
  for (const auto& r : selection->rows())
    if (IsFinished(r) && by_trial.count(r.trial_id)) finished.push_back(&r);
  for (const Group& g : GroupRows(*selection, finished, *columns)) {
    v1::LayerGroup* group = response.add_groups();
    SetGroup(by, g.labels, group->mutable_group());
    group->set_trials(int(g.rows.size()));
    int layers = 0;
    for (const auto* r : g.rows) layers = std::max(layers, by_trial[r->trial_id]->layers_size());
    for (int l = 0; l < layers; ++l) {
      std::vector<double> values[5];
      for (const auto* r : g.rows) {
        const v1::EpochMetrics& m = *by_trial[r->trial_id];
        if (l >= m.layers_size()) continue;
        const v1::LayerMetrics& lm = m.layers(l);
        const double v[5] = {lm.dead_fraction(), lm.sparsity(), lm.grad_norm(), lm.act_mean(), lm.act_std()};
        for (int i = 0; i < 5; ++i)
          if (std::isfinite(v[i])) values[i].push_back(v[i]);
      }
      v1::LayerRow* row = group->add_layers();
      row->set_layer(l);
      SetStat(values[0], row->mutable_dead_fraction());
      SetStat(values[1], row->mutable_sparsity());
      SetStat(values[2], row->mutable_grad_norm());
      SetStat(values[3], row->mutable_act_mean());
      SetStat(values[4], row->mutable_act_std());
    }
  }
  return response;
}

}  // namespace actgrid::analysis
