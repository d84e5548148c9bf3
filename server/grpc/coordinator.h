// The coordinator assembled: the SQLite store, the scheduler, the Grids, Workers and
// Analysis services (with gRPC health checking and reflection) on an optional TCP
// port and an in-process channel, and the ticker that expires leases.
#ifndef ACTGRID_SERVER_GRPC_COORDINATOR_H_
#define ACTGRID_SERVER_GRPC_COORDINATOR_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "actgrid/v1/grids.pb.h"
#include "server/scheduler/clock.h"
#include "server/scheduler/scheduler.h"
#include "server/grpc/auth.h"
#include "server/grpc/services.h"
#include "server/store/database_lock.h"
#include "server/store/store.h"

namespace actgrid::server {

struct CoordinatorOptions {
  std::string db_path = "actgrid.db";  // ":memory:" for a throwaway store
  std::string listen;                   // "host:port" to serve on TCP; empty = in-process only
  scheduler::SchedulerOptions scheduler;
  const scheduler::Clock* clock = nullptr;   // test-only: lease time from a FakeClock (default: system)
  // Who may call (auth.h). Without tokens, `listen` must be a loopback address.
  std::shared_ptr<const Authorizer> auth;
  // TLS on `listen` when both are set (PEM text of the certificate chain and its key).
  std::string tls_cert_pem, tls_key_pem;
  int64_t max_db_bytes = 0;  // the database's size limit (0 = none), see StoreOptions::max_bytes
  // Tokens travel in every call's metadata: off loopback they need TLS, unless a layer
  // the operator trusts (a VPN, a service mesh) encrypts the traffic and this is set.
  bool allow_plaintext_tokens = false;
  // Streaming calls open at once: people's WatchGrid and Export streams, and workers'
  // ReportEpochs streams (one per worker process). Past a cap: RESOURCE_EXHAUSTED.
  int max_streams = 256;
  int max_worker_streams = 1024;
  // Turns SubmitGridRequest.grid_file into the request it stands for. The grid file's
  // parser lives in client/grid and the coordinator's libraries read no YAML: the
  // program's assembly hands it in (grid::SubmitRequestFromText). Unset: a grid_file is
  // refused with UNIMPLEMENTED.
  std::function<absl::StatusOr<v1::SubmitGridRequest>(const std::string& text, bool dry_run)> parse_grid_file;
};

class Coordinator {
 public:
  // Opens the store, recovers unfinished trials and starts serving. Errors:
  // Unavailable when the database cannot be opened or the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Start(const CoordinatorOptions& options);
  ~Coordinator();

  // A channel to this coordinator that does not leave the process (with the
  // coordinator's own token when tokens are configured).
  std::shared_ptr<grpc::Channel> InProcessChannel();
  // The TCP port bound (0 when not listening).
  int port() const { return port_; }
  scheduler::Scheduler& scheduler() { return *scheduler_; }
  store::Store& store() { return *store_; }

  // Stops accepting calls, ends open streams after `grace`, stops the ticker.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));
  // Blocks until Shutdown.
  void Wait();

 private:
  Coordinator() = default;
  void Tick();

  // Declared first, so released last: after the store has closed the database.
  std::unique_ptr<store::DatabaseLock> db_lock_;
  scheduler::SystemClock clock_;
  std::shared_ptr<const Authorizer> auth_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<StreamSlots> reader_streams_, worker_streams_;
  std::unique_ptr<GridsService> grids_;
  std::unique_ptr<WorkersService> workers_;
  std::unique_ptr<AnalysisService> analysis_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::thread ticker_;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by mu_
};

}  // namespace actgrid::server

#endif  // ACTGRID_SERVER_GRPC_COORDINATOR_H_
