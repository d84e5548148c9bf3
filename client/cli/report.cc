// BuildReport (see report.h).
#include "client/cli/report.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "client/cli/text.h"
#include "common/rpc/rpc.h"

namespace actgrid::cli {
namespace {

// The summary metrics whose lower values are better (client/dashboard/src/metrics.js).
bool LowerIsBetter(const std::string& metric) {
  for (const char* m : {"final_test_loss", "final_train_loss", "epochs_to_target", "init_dead_fraction",
                        "final_dead_fraction", "max_dead_fraction", "born_dead", "seconds"})
    if (metric == m) return true;
  return false;
}

}  // namespace

const std::vector<std::string>& ReportSummaryMetrics() {
  static const auto* metrics = new std::vector<std::string>{
      "final_test_acc",      "best_test_acc",     "auc_test_acc",        "final_test_loss",  "final_train_loss",
      "epochs_to_target",    "best_epoch",        "init_dead_fraction",  "final_dead_fraction",
      "max_dead_fraction",   "born_dead",   "init_sparsity",     "final_sparsity",      "grad_ratio",       "steps_per_second",
      "seconds"};
  return *metrics;
}

const std::vector<std::string>& ReportCurveMetrics() {
  static const auto* metrics = new std::vector<std::string>{
      "test_acc", "train_acc", "test_loss", "train_loss", "dead_fraction", "sparsity", "grad_norm_first",
      "grad_norm_last"};
  return *metrics;
}

std::pair<std::string, std::string> DefaultHeatmapAxes(const std::vector<std::string>& factors) {
  auto has = [&](const std::string& f) { return std::find(factors.begin(), factors.end(), f) != factors.end(); };
  std::string y = has("activation") ? "activation" : (factors.empty() ? "" : factors[0]);
  std::string x;
  if (has("depth") && y != "depth") {
    x = "depth";
  } else {
    for (const auto& f : factors)
      if (f != y) {
        x = f;
        break;
      }
  }
  return {y, x};
}

absl::StatusOr<Report> BuildReport(const ReportSource& source, const std::string& grid_ref,
                                   const std::string& generated) {
  auto grid = source.grid(grid_ref);
  if (!grid.ok()) return grid.status();
  const std::string id = std::to_string(grid->id());  // every answer about the same grid, even if renamed
  const std::vector<std::string> factors(grid->factors().begin(), grid->factors().end());
  const auto [y, x] = DefaultHeatmapAxes(factors);

  std::vector<std::pair<std::string, std::string>> heatmaps, tables, effects, curves;
  for (const auto& metric : ReportSummaryMetrics()) {
    v1::CompareRequest request;
    request.set_grid(id);
    request.set_metric(metric);
    if (!y.empty()) request.add_by(y);
    if (!x.empty()) request.add_by(x);
    auto heatmap = source.compare(request);
    if (!heatmap.ok()) return heatmap.status();
    heatmaps.emplace_back(metric, rpc::ProtoJson(*heatmap));

    request.clear_by();
    for (const auto& f : factors) request.add_by(f);
    request.set_sort(LowerIsBetter(metric) ? "mean" : "-mean");  // best first, as the dashboard ranks
    auto table = source.compare(request);
    if (!table.ok()) return table.status();
    tables.emplace_back(metric, rpc::ProtoJson(*table));

    v1::EffectsRequest effects_request;
    effects_request.set_grid(id);
    effects_request.set_metric(metric);
    auto answer = source.effects(effects_request);
    if (answer.ok()) {
      effects.emplace_back(metric, rpc::ProtoJson(*answer));
    } else if (absl::IsFailedPrecondition(answer.status()) || absl::IsInvalidArgument(answer.status())) {
      // No balanced design yet, or nothing to analyse (a grid without factors).
      effects.emplace_back(
          metric, JsonObject({{"error", JsonObject({{"code", std::to_string(int(answer.status().code()))},
                                            {"status", JsonString(absl::StatusCodeToString(answer.status().code()))},
                                            {"message", JsonString(std::string(answer.status().message()))}})}}));
    } else {
      return answer.status();
    }
  }
  for (const auto& metric : ReportCurveMetrics()) {
    v1::CurvesRequest request;
    request.set_grid(id);
    request.set_metric(metric);
    if (!y.empty()) request.add_by(y);
    auto answer = source.curves(request);
    if (!answer.ok()) return answer.status();
    curves.emplace_back(metric, rpc::ProtoJson(*answer));
  }
  v1::LayersRequest layers_request;
  layers_request.set_grid(id);
  if (!y.empty()) layers_request.add_by(y);
  auto layers = source.layers(layers_request);
  if (!layers.ok()) return layers.status();

  Report report;
  report.grid = *grid;
  report.json = JsonObject({
      {"version", "1"},
      {"generated", JsonString(generated)},
      {"grid", rpc::ProtoJson(*grid)},
      {"heatmap", JsonObject({{"x", JsonString(x)}, {"y", JsonString(y)}, {"answers", JsonObject(heatmaps)}})},
      {"table", JsonObject({{"answers", JsonObject(tables)}})},
      {"effects", JsonObject({{"answers", JsonObject(effects)}})},
      {"curves", JsonObject({{"by", JsonString(y)}, {"answers", JsonObject(curves)}})},
      {"layers", JsonObject({{"by", JsonString(y)}, {"answer", rpc::ProtoJson(*layers)}})},
  });
  return report;
}

}  // namespace actgrid::cli
