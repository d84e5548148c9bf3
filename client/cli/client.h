// The CLI's view of a coordinator: the Grids and Analysis calls, each with a
// deadline, with gRPC statuses turned into absl ones.
#ifndef ACTGRID_CLIENT_CLI_CLIENT_H_
#define ACTGRID_CLIENT_CLI_CLIENT_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "actgrid/v1/analysis.grpc.pb.h"
#include "actgrid/v1/grids.grpc.pb.h"
#include "client/grid/grid_file.h"

namespace actgrid::cli {

class Client {
 public:
  explicit Client(std::shared_ptr<grpc::Channel> channel,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

  absl::StatusOr<v1::SubmitGridResponse> Submit(const v1::SubmitGridRequest& request);
  absl::StatusOr<v1::Grid> GetGrid(const std::string& ref);
  absl::StatusOr<std::vector<v1::Grid>> ListGrids(int limit);
  absl::StatusOr<v1::Grid> Cancel(const std::string& ref);
  absl::StatusOr<std::vector<v1::WorkerInfo>> ListWorkers();
  absl::StatusOr<v1::CompareResponse> Compare(const v1::CompareRequest& request);
  absl::StatusOr<v1::CurvesResponse> Curves(const v1::CurvesRequest& request);
  absl::StatusOr<v1::EffectsResponse> Effects(const v1::EffectsRequest& request);
  absl::StatusOr<v1::TestResponse> Test(const v1::TestRequest& request);
  absl::StatusOr<v1::LayersResponse> Layers(const v1::LayersRequest& request);
  // Streams the export's chunks to `emit` (false stops it early). The deadline covers
  // the gaps between chunks, not the whole stream.
  absl::Status Export(const v1::ExportRequest& request, const std::function<bool(const v1::ExportChunk&)>& emit);

  // Follows the grid's progress: calls `on_event` for every event until the grid is
  // done or cancelled (OK), `stop` becomes true (Cancelled), or the stream fails. A
  // broken stream is reopened while the coordinator comes back within `patience`.
  absl::Status Watch(const std::string& ref, const std::function<void(const v1::GridEvent&)>& on_event,
                     const std::atomic<bool>* stop, std::chrono::milliseconds patience = std::chrono::seconds(30));

 private:
  std::unique_ptr<grpc::ClientContext> Context() const;

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Grids::Stub> grids_;
  std::unique_ptr<v1::Analysis::Stub> analysis_;
  std::chrono::milliseconds timeout_;
};

}  // namespace actgrid::cli

#endif  // ACTGRID_CLIENT_CLI_CLIENT_H_
