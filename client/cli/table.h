// The comparison table `actgrid run` prints: one row per grid cell with the mean,
// standard deviation and count over seeds of a summary metric.
#ifndef ACTGRID_CLIENT_CLI_TABLE_H_
#define ACTGRID_CLIENT_CLI_TABLE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "actgrid/v1/metrics.pb.h"
#include "client/grid/grid_file.h"

namespace actgrid::cli {

// The value of a numeric TrialSummary field by its name ("final_test_acc");
// NotFound lists the valid names. NaN where the trial has no value: the -1 of
// epochs_to_target (target never reached) and diverged_epoch (did not diverge).
absl::StatusOr<double> SummaryMetric(const v1::TrialSummary& summary, const std::string& name);
std::vector<std::string> SummaryMetricNames();

struct CellStats {
  std::vector<std::string> values;  // factor labels of the cell
  int n = 0;                        // finished trials (succeeded or diverged)
  int valued = 0;                   // of those, trials with a value of the metric
  int diverged = 0;
  double mean = 0, std = 0;         // over the valued trials; std is NaN below 2
  double dead_mean = 0;             // final_dead_fraction mean
};

// One entry per cell of `grid`, in cell order. `results` is parallel to grid.trials;
// absent entries (not finished) are skipped.
std::vector<CellStats> AggregateCells(const grid::Grid& grid,
                                      const std::vector<std::optional<v1::TrialResult>>& results,
                                      const std::string& metric);

// Renders the cells as an aligned text table ("mean ± std").
std::string RenderTable(const grid::Grid& grid, const std::vector<CellStats>& cells,
                        const std::string& metric);

}  // namespace actgrid::cli

#endif  // ACTGRID_CLIENT_CLI_TABLE_H_
