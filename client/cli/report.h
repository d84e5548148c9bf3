// `actgrid report`: the data of a self-contained report page, the answers of the
// Analysis calls behind the dashboard's default views of one grid.
#ifndef ACTGRID_CLIENT_CLI_REPORT_H_
#define ACTGRID_CLIENT_CLI_REPORT_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "actgrid/v1/analysis.pb.h"
#include "actgrid/v1/grids.pb.h"

namespace actgrid::cli {

// Where the answers come from (a coordinator or a database file).
struct ReportSource {
  std::function<absl::StatusOr<v1::Grid>(const std::string& ref)> grid;
  std::function<absl::StatusOr<v1::CompareResponse>(const v1::CompareRequest&)> compare;
  std::function<absl::StatusOr<v1::CurvesResponse>(const v1::CurvesRequest&)> curves;
  std::function<absl::StatusOr<v1::EffectsResponse>(const v1::EffectsRequest&)> effects;
  std::function<absl::StatusOr<v1::LayersResponse>(const v1::LayersRequest&)> layers;
};

// The summary metrics (heatmap, table, effects) and per-epoch metrics (curves) a
// report holds, in the order its menus show them.
const std::vector<std::string>& ReportSummaryMetrics();
const std::vector<std::string>& ReportCurveMetrics();

// The dashboard's default axes (its rule, client/dashboard/src): rows = "activation"
// when it is a factor, else the first factor; columns = "depth" when it is a factor
// other than the rows, else the first other factor; "" when there is none.
std::pair<std::string, std::string> DefaultHeatmapAxes(const std::vector<std::string>& factors);

struct Report {
  v1::Grid grid;
  std::string json;  // the page's data (the format client/dashboard/src/report.js reads)
};

// Asks every answer of the report of `grid_ref`. `generated` is an ISO-8601 time.
// An Effects call that fails for want of a balanced design is kept as an error entry;
// any other failure fails the report.
absl::StatusOr<Report> BuildReport(const ReportSource& source, const std::string& grid_ref,
                                   const std::string& generated);

}  // namespace actgrid::cli

#endif  // ACTGRID_CLIENT_CLI_REPORT_H_
