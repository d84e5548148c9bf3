// The gRPC adapters of the coordinator: each handler checks the caller's permission
// (auth.h), translates its request to a core call and the core's status to gRPC,
// nothing more.
#ifndef ACTGRID_SERVER_GRPC_SERVICES_H_
#define ACTGRID_SERVER_GRPC_SERVICES_H_

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "actgrid/v1/analysis.grpc.pb.h"
#include "actgrid/v1/grids.grpc.pb.h"
#include "actgrid/v1/workers.grpc.pb.h"
#include "server/scheduler/scheduler.h"
#include "server/grpc/auth.h"

namespace actgrid::server {

// Caps the streaming calls of one kind that may be open at once: each open stream holds
// a thread of the server for as long as it lasts, so without a cap a client opening
// thousands of them takes the coordinator's threads (and memory) away from everyone.
class StreamSlots final {
 public:
  // `what` names the streams in the refusal ("WatchGrid and Export streams"), `option`
  // the setting that raises the cap ("--max-streams").
  StreamSlots(int capacity, std::string what, std::string option)
      : capacity_(capacity), what_(std::move(what)), option_(std::move(option)) {}

  // A slot, held until the returned guard goes away; RESOURCE_EXHAUSTED with the cap
  // and how to raise it when every slot is taken.
  class Held {
   public:
    explicit Held(StreamSlots* slots) : slots_(slots) {}
    Held(Held&& other) noexcept : slots_(other.slots_) { other.slots_ = nullptr; }
    Held(const Held&) = delete;
    ~Held() {
      if (slots_) slots_->open_.fetch_sub(1);
    }

   private:
    StreamSlots* slots_;
  };
  grpc::Status Take(std::optional<Held>* held);
  int open() const { return open_.load(); }

 private:
  const int capacity_;
  const std::string what_, option_;
  std::atomic<int> open_{0};
};

class GridsService final : public v1::Grids::Service {
 public:
  using GridFileParser = std::function<absl::StatusOr<v1::SubmitGridRequest>(const std::string& text, bool dry_run)>;
  GridsService(scheduler::Scheduler* scheduler, const Authorizer* auth, StreamSlots* streams,
               GridFileParser parse_grid_file = nullptr)
      : scheduler_(scheduler), auth_(auth), streams_(streams), parse_grid_file_(std::move(parse_grid_file)) {}
  grpc::Status SubmitGrid(grpc::ServerContext*, const v1::SubmitGridRequest*, v1::SubmitGridResponse*) override;
  grpc::Status GetGrid(grpc::ServerContext*, const v1::GridRef*, v1::Grid*) override;
  grpc::Status ListGrids(grpc::ServerContext*, const v1::ListGridsRequest*, v1::ListGridsResponse*) override;
  grpc::Status WatchGrid(grpc::ServerContext*, const v1::GridRef*, grpc::ServerWriter<v1::GridEvent>*) override;
  grpc::Status CancelGrid(grpc::ServerContext*, const v1::GridRef*, v1::Grid*) override;
  grpc::Status ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*, v1::ListWorkersResponse*) override;

 private:
  scheduler::Scheduler* scheduler_;
  const Authorizer* auth_;
  StreamSlots* streams_;
  GridFileParser parse_grid_file_;
};

class WorkersService final : public v1::Workers::Service {
 public:
  WorkersService(scheduler::Scheduler* scheduler, const Authorizer* auth, StreamSlots* streams)
      : scheduler_(scheduler), auth_(auth), streams_(streams) {}
  grpc::Status LeaseTrials(grpc::ServerContext*, const v1::LeaseTrialsRequest*, v1::LeaseTrialsResponse*) override;
  grpc::Status ReportEpochs(grpc::ServerContext*, grpc::ServerReaderWriter<v1::ReportAck, v1::ReportBatch>*) override;
  grpc::Status CompleteTrial(grpc::ServerContext*, const v1::CompleteTrialRequest*, v1::CompleteTrialResponse*) override;
  grpc::Status FailTrial(grpc::ServerContext*, const v1::FailTrialRequest*, v1::FailTrialResponse*) override;

 private:
  scheduler::Scheduler* scheduler_;
  const Authorizer* auth_;
  StreamSlots* streams_;
};

class AnalysisService final : public v1::Analysis::Service {
 public:
  AnalysisService(scheduler::Scheduler* scheduler, const Authorizer* auth, StreamSlots* streams)
      : scheduler_(scheduler), auth_(auth), streams_(streams) {}
  grpc::Status Compare(grpc::ServerContext*, const v1::CompareRequest*, v1::CompareResponse*) override;
  grpc::Status Curves(grpc::ServerContext*, const v1::CurvesRequest*, v1::CurvesResponse*) override;
  grpc::Status Effects(grpc::ServerContext*, const v1::EffectsRequest*, v1::EffectsResponse*) override;
  grpc::Status Test(grpc::ServerContext*, const v1::TestRequest*, v1::TestResponse*) override;
  grpc::Status Layers(grpc::ServerContext*, const v1::LayersRequest*, v1::LayersResponse*) override;
  grpc::Status Export(grpc::ServerContext*, const v1::ExportRequest*, grpc::ServerWriter<v1::ExportChunk>*) override;

 private:
  scheduler::Scheduler* scheduler_;
  const Authorizer* auth_;
  StreamSlots* streams_;
};

}  // namespace actgrid::server

#endif  // ACTGRID_SERVER_GRPC_SERVICES_H_
