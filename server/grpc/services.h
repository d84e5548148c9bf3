// The gRPC adapters of the coordinator: each handler checks the caller's permission
// (auth.h), translates its request to a core call and the core's status to gRPC,
// nothing more.
#ifndef ACTGRID_SERVER_GRPC_SERVICES_H_
#define ACTGRID_SERVER_GRPC_SERVICES_H_

#include "actgrid/v1/analysis.grpc.pb.h"
#include "actgrid/v1/grids.grpc.pb.h"
#include "actgrid/v1/workers.grpc.pb.h"
#include "server/core/scheduler.h"
#include "server/grpc/auth.h"

namespace actgrid::server {

class GridsService final : public v1::Grids::Service {
 public:
  GridsService(core::Scheduler* scheduler, const Authorizer* auth) : scheduler_(scheduler), auth_(auth) {}
  grpc::Status SubmitGrid(grpc::ServerContext*, const v1::SubmitGridRequest*, v1::SubmitGridResponse*) override;
  grpc::Status GetGrid(grpc::ServerContext*, const v1::GridRef*, v1::Grid*) override;
  grpc::Status ListGrids(grpc::ServerContext*, const v1::ListGridsRequest*, v1::ListGridsResponse*) override;
  grpc::Status WatchGrid(grpc::ServerContext*, const v1::GridRef*, grpc::ServerWriter<v1::GridEvent>*) override;
  grpc::Status CancelGrid(grpc::ServerContext*, const v1::GridRef*, v1::Grid*) override;
  grpc::Status ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*, v1::ListWorkersResponse*) override;

 private:
  core::Scheduler* scheduler_;
  const Authorizer* auth_;
};

class WorkersService final : public v1::Workers::Service {
 public:
  WorkersService(core::Scheduler* scheduler, const Authorizer* auth) : scheduler_(scheduler), auth_(auth) {}
  grpc::Status LeaseTrials(grpc::ServerContext*, const v1::LeaseTrialsRequest*, v1::LeaseTrialsResponse*) override;
  grpc::Status ReportEpochs(grpc::ServerContext*, grpc::ServerReaderWriter<v1::ReportAck, v1::ReportBatch>*) override;
  grpc::Status CompleteTrial(grpc::ServerContext*, const v1::CompleteTrialRequest*, v1::CompleteTrialResponse*) override;
  grpc::Status FailTrial(grpc::ServerContext*, const v1::FailTrialRequest*, v1::FailTrialResponse*) override;

 private:
  core::Scheduler* scheduler_;
  const Authorizer* auth_;
};

class AnalysisService final : public v1::Analysis::Service {
 public:
  AnalysisService(core::Scheduler* scheduler, const Authorizer* auth) : scheduler_(scheduler), auth_(auth) {}
  grpc::Status Compare(grpc::ServerContext*, const v1::CompareRequest*, v1::CompareResponse*) override;
  grpc::Status Curves(grpc::ServerContext*, const v1::CurvesRequest*, v1::CurvesResponse*) override;
  grpc::Status Effects(grpc::ServerContext*, const v1::EffectsRequest*, v1::EffectsResponse*) override;
  grpc::Status Test(grpc::ServerContext*, const v1::TestRequest*, v1::TestResponse*) override;
  grpc::Status Layers(grpc::ServerContext*, const v1::LayersRequest*, v1::LayersResponse*) override;
  grpc::Status Export(grpc::ServerContext*, const v1::ExportRequest*, grpc::ServerWriter<v1::ExportChunk>*) override;

 private:
  core::Scheduler* scheduler_;
  const Authorizer* auth_;
};

}  // namespace actgrid::server

#endif  // ACTGRID_SERVER_GRPC_SERVICES_H_
