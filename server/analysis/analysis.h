// Answers about a grid's finished trials, read from the store: the Analysis service's
// computations (analysis.proto documents each answer). Shared by the coordinator's
// service and by `--db` queries of the CLI; no gRPC.
//
// Every answer covers the trials finished (SUCCEEDED or DIVERGED) when it is
// computed, and says how many of the selected trials that is.
#ifndef ACTGRID_SERVER_ANALYSIS_ANALYSIS_H_
#define ACTGRID_SERVER_ANALYSIS_ANALYSIS_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "actgrid/v1/analysis.pb.h"
#include "server/store/store.h"

namespace actgrid::analysis {

// Errors of all: NotFound for an unknown grid; InvalidArgument for an unknown metric,
// summary, factor, filter value or sort key.
absl::StatusOr<v1::CompareResponse> Compare(store::Store& store, const v1::CompareRequest& request);
absl::StatusOr<v1::CurvesResponse> Curves(store::Store& store, const v1::CurvesRequest& request);
// FailedPrecondition when no balanced design exists among the finished trials.
absl::StatusOr<v1::EffectsResponse> Effects(store::Store& store, const v1::EffectsRequest& request);
// FailedPrecondition when a group has fewer than two values; InvalidArgument when the
// groups share a trial or a group is empty of trials.
absl::StatusOr<v1::TestResponse> Test(store::Store& store, const v1::TestRequest& request);
absl::StatusOr<v1::LayersResponse> Layers(store::Store& store, const v1::LayersRequest& request);

// Streams the selected trials: a first chunk with the grid and its factors, then
// chunks of rows in position order. Stops early (OK) when `emit` returns false.
absl::Status Export(store::Store& store, const v1::ExportRequest& request,
                    const std::function<bool(const v1::ExportChunk&)>& emit);

}  // namespace actgrid::analysis

#endif  // ACTGRID_SERVER_ANALYSIS_ANALYSIS_H_
