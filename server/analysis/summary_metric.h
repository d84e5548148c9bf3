// Summary metrics by name: the numeric fields of TrialSummary ("final_test_acc",
// "best_epoch", ...), the values that comparisons rank.
#ifndef ACTGRID_SERVER_ANALYSIS_SUMMARY_METRIC_H_
#define ACTGRID_SERVER_ANALYSIS_SUMMARY_METRIC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "actgrid/v1/metrics.pb.h"

namespace actgrid::analysis {

// The value of a numeric TrialSummary field by its name ("final_test_acc");
// InvalidArgument lists the valid names. NaN where the trial has no value: the -1 of
// epochs_to_target (target never reached) and diverged_epoch (did not diverge).
absl::StatusOr<double> SummaryMetric(const v1::TrialSummary& summary, const std::string& name);
std::vector<std::string> SummaryMetricNames();

}  // namespace actgrid::analysis

#endif  // ACTGRID_SERVER_ANALYSIS_SUMMARY_METRIC_H_
