// Answers about a grid's finished trials, read from the store: the comparison of
// groups of trials over seeds. Shared by the Analysis service and `--db` queries.
#ifndef ACTGRID_SERVER_CORE_ANALYSIS_H_
#define ACTGRID_SERVER_CORE_ANALYSIS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "actgrid/v1/analysis.pb.h"
#include "server/store/store.h"

namespace actgrid::core {

// Groups the grid's finished trials (SUCCEEDED or DIVERGED) by the values of
// request.by (every factor when empty) and describes `metric` over each group, in
// the grid's cell order. Trials without a value of the metric (NaN) count as missing.
// Errors: NotFound for an unknown grid; InvalidArgument for an unknown metric or factor.
absl::StatusOr<v1::CompareResponse> Compare(store::Store& store, const v1::CompareRequest& request);

// The same over rows already read (for tests and callers that hold them).
absl::StatusOr<v1::CompareResponse> CompareRows(const store::GridRow& grid,
                                                const std::vector<store::GridTrialRow>& rows,
                                                const v1::CompareRequest& request);

}  // namespace actgrid::core

#endif  // ACTGRID_SERVER_CORE_ANALYSIS_H_
