// The service adapters (see services.h).
#include "server/grpc/services.h"

#include <chrono>
#include <thread>

#include <google/protobuf/arena.h>

#include "absl/strings/str_cat.h"
#include "common/rpc/rpc.h"
#include "server/analysis/analysis.h"

namespace actgrid::server {
namespace {

using rpc::ToGrpc;

// WatchGrid sends at most this many events a second.
constexpr auto kWatchMinInterval = std::chrono::milliseconds(250);

template <typename T, typename Out>
grpc::Status Answer(absl::StatusOr<T> result, Out* out) {
  if (!result.ok()) return ToGrpc(result.status());
  *out = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status StreamSlots::Take(std::optional<Held>* held) {
  if (open_.fetch_add(1) >= capacity_) {
    open_.fetch_sub(1);
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat(capacity_, " ", what_, " are open, the most this coordinator serves at once; "
                                     "try again when one has ended (", option_, " raises the cap)"));
  }
  held->emplace(this);
  return grpc::Status::OK;
}

grpc::Status GridsService::SubmitGrid(grpc::ServerContext* context, const v1::SubmitGridRequest* request,
                                      v1::SubmitGridResponse* response) {
  if (grpc::Status denied = auth_->Check(context, Permission::kSubmit); !denied.ok()) return denied;
  if (request->grid_file().empty()) return Answer(scheduler_->Submit(*request), response);
  if (!request->name().empty() || request->factors_size() > 0 || request->cells() != 0 || request->trials_size() > 0)
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "grid_file: send either a grid file's text or name, factors, cells and trials, not both");
  if (!parse_grid_file_)
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "grid_file: this coordinator does not read grid files");
  auto parsed = parse_grid_file_(request->grid_file(), request->dry_run());
  if (!parsed.ok()) return ToGrpc(parsed.status());
  return Answer(scheduler_->Submit(*parsed), response);
}

grpc::Status GridsService::GetGrid(grpc::ServerContext* context, const v1::GridRef* request, v1::Grid* response) {
  if (grpc::Status denied = auth_->Check(context, Permission::kRead); !denied.ok()) return denied;
  return Answer(scheduler_->GetGrid(request->grid()), response);
}

grpc::Status GridsService::ListGrids(grpc::ServerContext* context, const v1::ListGridsRequest* request,
                                     v1::ListGridsResponse* response) {
  if (grpc::Status denied = auth_->Check(context, Permission::kRead); !denied.ok()) return denied;
  auto grids = scheduler_->ListGrids(request->limit());
  if (!grids.ok()) return ToGrpc(grids.status());
  for (auto& g : *grids) *response->add_grids() = std::move(g);
  return grpc::Status::OK;
}

grpc::Status GridsService::WatchGrid(grpc::ServerContext* context, const v1::GridRef* request,
                                     grpc::ServerWriter<v1::GridEvent>* writer) {
  if (grpc::Status denied = auth_->Check(context, Permission::kRead); !denied.ok()) return denied;
  std::optional<StreamSlots::Held> slot;
  if (grpc::Status full = streams_->Take(&slot); !full.ok()) return full;
  auto grid = scheduler_->GetGrid(request->grid());
  if (!grid.ok()) return ToGrpc(grid.status());
  const int64_t id = grid->id();
  uint64_t cursor = 0;
  scheduler_->FailuresSince(id, &cursor);  // only failures from now on
  uint64_t version = scheduler_->version();
  while (!context->IsCancelled()) {
    v1::GridEvent event;
    *event.mutable_grid() = *grid;
    for (auto& e : scheduler_->FailuresSince(id, &cursor)) event.add_errors(std::move(e));
    if (!writer->Write(event)) break;  // the client went away
    if (grid->state() != v1::GRID_STATE_RUNNING) break;
    const auto next = std::chrono::steady_clock::now() + kWatchMinInterval;
    version = scheduler_->WaitForChange(version, std::chrono::seconds(5));
    grid = scheduler_->GetGrid(std::to_string(id));
    if (!grid.ok()) return ToGrpc(grid.status());
    if (grid->state() == v1::GRID_STATE_RUNNING) {  // the last event goes out at once
      std::this_thread::sleep_until(next);
      grid = scheduler_->GetGrid(std::to_string(id));
      if (!grid.ok()) return ToGrpc(grid.status());
    }
  }
  return grpc::Status::OK;
}

grpc::Status GridsService::CancelGrid(grpc::ServerContext* context, const v1::GridRef* request, v1::Grid* response) {
  if (grpc::Status denied = auth_->Check(context, Permission::kSubmit); !denied.ok()) return denied;
  return Answer(scheduler_->CancelGrid(request->grid()), response);
}

grpc::Status GridsService::ListWorkers(grpc::ServerContext* context, const v1::ListWorkersRequest*,
                                       v1::ListWorkersResponse* response) {
  if (grpc::Status denied = auth_->Check(context, Permission::kRead); !denied.ok()) return denied;
  auto workers = scheduler_->ListWorkers();
  if (!workers.ok()) return ToGrpc(workers.status());
  for (auto& w : *workers) *response->add_workers() = std::move(w);
  return grpc::Status::OK;
}

grpc::Status WorkersService::LeaseTrials(grpc::ServerContext* context, const v1::LeaseTrialsRequest* request,
                                         v1::LeaseTrialsResponse* response) {
  if (grpc::Status denied = auth_->Check(context, Permission::kWork); !denied.ok()) return denied;
  return Answer(scheduler_->Lease(*request), response);
}

grpc::Status WorkersService::ReportEpochs(grpc::ServerContext* context,
                                          grpc::ServerReaderWriter<v1::ReportAck, v1::ReportBatch>* stream) {
  if (grpc::Status denied = auth_->Check(context, Permission::kWork); !denied.ok()) return denied;
  std::optional<StreamSlots::Held> slot;
  if (grpc::Status full = streams_->Take(&slot); !full.ok()) return full;
  // Each batch is parsed into an arena of its own: its thousands of small messages are
  // one allocation, freed at once after the batch has committed.
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = 64 << 10;
  arena_options.max_block_size = 1 << 20;
  for (;;) {
    google::protobuf::Arena arena(arena_options);
    auto* batch = google::protobuf::Arena::CreateMessage<v1::ReportBatch>(&arena);
    if (!stream->Read(batch)) break;
    auto ack = scheduler_->Report(*batch);  // returns after the batch has committed
    if (!ack.ok()) return ToGrpc(ack.status());
    if (!stream->Write(*ack)) break;
  }
  return grpc::Status::OK;
}

grpc::Status WorkersService::CompleteTrial(grpc::ServerContext* context, const v1::CompleteTrialRequest* request,
                                           v1::CompleteTrialResponse*) {
  if (grpc::Status denied = auth_->Check(context, Permission::kWork); !denied.ok()) return denied;
  return ToGrpc(scheduler_->Complete(*request));
}

grpc::Status WorkersService::FailTrial(grpc::ServerContext* context, const v1::FailTrialRequest* request,
                                       v1::FailTrialResponse*) {
  if (grpc::Status denied = auth_->Check(context, Permission::kWork); !denied.ok()) return denied;
  return ToGrpc(scheduler_->Fail(*request));
}

grpc::Status AnalysisService::Compare(grpc::ServerContext* context, const v1::CompareRequest* request,
                                      v1::CompareResponse* response) {
  if (grpc::Status denied = auth_->Check(context, Permission::kRead); !denied.ok()) return denied;
  return Answer(analysis::Compare(scheduler_->store(), *request), response);
}

grpc::Status AnalysisService::Curves(grpc::ServerContext* context, const v1::CurvesRequest* request,
                                     v1::CurvesResponse* response) {
  if (grpc::Status denied = auth_->Check(context, Permission::kRead); !denied.ok()) return denied;
  return Answer(analysis::Curves(scheduler_->store(), *request), response);
}

grpc::Status AnalysisService::Effects(grpc::ServerContext* context, const v1::EffectsRequest* request,
                                      v1::EffectsResponse* response) {
  if (grpc::Status denied = auth_->Check(context, Permission::kRead); !denied.ok()) return denied;
  return Answer(analysis::Effects(scheduler_->store(), *request), response);
}

grpc::Status AnalysisService::Test(grpc::ServerContext* context, const v1::TestRequest* request,
                                   v1::TestResponse* response) {
  if (grpc::Status denied = auth_->Check(context, Permission::kRead); !denied.ok()) return denied;
  return Answer(analysis::Test(scheduler_->store(), *request), response);
}

grpc::Status AnalysisService::Layers(grpc::ServerContext* context, const v1::LayersRequest* request,
                                     v1::LayersResponse* response) {
  if (grpc::Status denied = auth_->Check(context, Permission::kRead); !denied.ok()) return denied;
  return Answer(analysis::Layers(scheduler_->store(), *request), response);
}

grpc::Status AnalysisService::Export(grpc::ServerContext* context, const v1::ExportRequest* request,
                                     grpc::ServerWriter<v1::ExportChunk>* writer) {
  if (grpc::Status denied = auth_->Check(context, Permission::kRead); !denied.ok()) return denied;
  std::optional<StreamSlots::Held> slot;
  if (grpc::Status full = streams_->Take(&slot); !full.ok()) return full;
  // Chunks go out as they are read; a client that goes away stops the export.
  return ToGrpc(analysis::Export(scheduler_->store(), *request, [&](const v1::ExportChunk& chunk) {
    return !context->IsCancelled() && writer->Write(chunk);
  }));
}

}  // namespace actgrid::server
