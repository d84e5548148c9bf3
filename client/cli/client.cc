// Client (see client.h).
#include "client/cli/client.h"

#include <thread>

#include "common/rpc/rpc.h"

namespace actgrid::cli {

Client::Client(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout)
    : channel_(std::move(channel)),
      grids_(v1::Grids::NewStub(channel_)),
      analysis_(v1::Analysis::NewStub(channel_)),
      timeout_(timeout) {}

std::unique_ptr<grpc::ClientContext> Client::Context() const {
  auto context = std::make_unique<grpc::ClientContext>();
  rpc::SetDeadline(*context, timeout_);
  return context;
}

absl::StatusOr<v1::SubmitGridResponse> Client::Submit(const v1::SubmitGridRequest& request) {
  v1::SubmitGridResponse response;
  auto status = rpc::FromGrpc(grids_->SubmitGrid(Context().get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::Grid> Client::GetGrid(const std::string& ref) {
  v1::GridRef request;
  request.set_grid(ref);
  v1::Grid response;
  auto status = rpc::FromGrpc(grids_->GetGrid(Context().get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<std::vector<v1::Grid>> Client::ListGrids(int limit) {
  v1::ListGridsRequest request;
  request.set_limit(limit);
  v1::ListGridsResponse response;
  auto status = rpc::FromGrpc(grids_->ListGrids(Context().get(), request, &response));
  if (!status.ok()) return status;
  return std::vector<v1::Grid>(response.grids().begin(), response.grids().end());
}

absl::StatusOr<v1::Grid> Client::Cancel(const std::string& ref) {
  v1::GridRef request;
  request.set_grid(ref);
  v1::Grid response;
  auto status = rpc::FromGrpc(grids_->CancelGrid(Context().get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<std::vector<v1::WorkerInfo>> Client::ListWorkers() {
  v1::ListWorkersResponse response;
  auto status = rpc::FromGrpc(grids_->ListWorkers(Context().get(), v1::ListWorkersRequest(), &response));
  if (!status.ok()) return status;
  return std::vector<v1::WorkerInfo>(response.workers().begin(), response.workers().end());
}

namespace {

// One unary Analysis call: the response, or the call's status.
template <typename Response, typename Request, typename Method>
absl::StatusOr<Response> Call(v1::Analysis::Stub* stub, Method method, grpc::ClientContext* context,
                              const Request& request) {
  Response response;
  auto status = rpc::FromGrpc((stub->*method)(context, request, &response));
  if (!status.ok()) return status;
  return response;
}

}  // namespace

absl::StatusOr<v1::CompareResponse> Client::Compare(const v1::CompareRequest& request) {
  return Call<v1::CompareResponse>(analysis_.get(), &v1::Analysis::Stub::Compare, Context().get(), request);
}

absl::StatusOr<v1::CurvesResponse> Client::Curves(const v1::CurvesRequest& request) {
  return Call<v1::CurvesResponse>(analysis_.get(), &v1::Analysis::Stub::Curves, Context().get(), request);
}

absl::StatusOr<v1::EffectsResponse> Client::Effects(const v1::EffectsRequest& request) {
  return Call<v1::EffectsResponse>(analysis_.get(), &v1::Analysis::Stub::Effects, Context().get(), request);
}

absl::StatusOr<v1::TestResponse> Client::Test(const v1::TestRequest& request) {
  return Call<v1::TestResponse>(analysis_.get(), &v1::Analysis::Stub::Test, Context().get(), request);
}

absl::StatusOr<v1::LayersResponse> Client::Layers(const v1::LayersRequest& request) {
  return Call<v1::LayersResponse>(analysis_.get(), &v1::Analysis::Stub::Layers, Context().get(), request);
}

absl::Status Client::Export(const v1::ExportRequest& request,
                            const std::function<bool(const v1::ExportChunk&)>& emit) {
  // An export of many curves may take minutes: the stream itself gets a day, and the
  // channel's keepalive notices a coordinator that went away.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::hours(24));
  auto reader = analysis_->Export(&context, request);
  v1::ExportChunk chunk;
  while (reader->Read(&chunk)) {
    if (!emit(chunk)) {
      context.TryCancel();
      break;
    }
  }
  const grpc::Status status = reader->Finish();
  if (status.error_code() == grpc::StatusCode::CANCELLED) return absl::OkStatus();
  return rpc::FromGrpc(status);
}

absl::Status Client::Watch(const std::string& ref, const std::function<void(const v1::GridEvent&)>& on_event,
                           const std::atomic<bool>* stop, std::chrono::milliseconds patience) {
  v1::GridRef request;
  request.set_grid(ref);
  auto broken_since = std::chrono::steady_clock::now();
  bool broken = false;
  while (!(stop && *stop)) {
    // A watch can last for hours: each stream gets a long deadline and is reopened.
    grpc::ClientContext context;
    // While the coordinator restarts, wait for it (up to `patience`).
    rpc::SetDeadline(context, broken ? patience : std::chrono::minutes(10));
    context.set_wait_for_ready(broken);
    std::atomic<bool> done{false};
    std::thread canceller([&] {  // ends the stream promptly when `stop` fires
      while (!done && !(stop && *stop)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (!done) context.TryCancel();
    });
    auto reader = grids_->WatchGrid(&context, request);
    v1::GridEvent event;
    bool finished = false;
    while (reader->Read(&event)) {
      broken = false;
      on_event(event);
      finished = event.grid().state() != v1::GRID_STATE_RUNNING;
    }
    const grpc::Status status = reader->Finish();
    done = true;
    canceller.join();
    if (status.ok() && finished) return absl::OkStatus();
    if (stop && *stop) break;
    const auto code = status.error_code();
    const bool retry = status.ok() || code == grpc::StatusCode::UNAVAILABLE ||
                       code == grpc::StatusCode::DEADLINE_EXCEEDED;
    if (!retry) return rpc::FromGrpc(status);
    if (!broken) broken_since = std::chrono::steady_clock::now();
    broken = true;
    if (std::chrono::steady_clock::now() - broken_since > patience) return rpc::FromGrpc(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return absl::CancelledError("watch stopped");
}

}  // namespace actgrid::cli
