// A worker that pulls trials from a coordinator over the Workers protocol and trains
// them on a oneTBB arena: a thread trains a pack of compatible small trials (one per
// SIMD lane, engine/packed_trainer.h, taking in more as lanes free) or one larger
// trial. It leases whole pack groups, a few units of work more than it has threads
// (a unit: a running pack, a lone trial, or one group's waiting trials). Epoch metrics stream to the coordinator
// as they are produced (one report stream per worker, batched; each batch is acked
// after it commits) and renew the leases; a trial whose lease went stale or whose grid
// was cancelled is stopped at its next epoch. The same class serves remote workers
// (TCP) and the coordinator's in-process workers (an in-process channel).
#ifndef ACTGRID_WORKER_RUNNER_REMOTE_WORKER_H_
#define ACTGRID_WORKER_RUNNER_REMOTE_WORKER_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "actgrid/v1/workers.pb.h"

namespace actgrid::runner {

struct WorkerOptions {
  int threads = 0;                 // pool threads (each a pack or a trial); 0 = every hardware thread
  std::string worker_id;           // default "<hostname>:<pid>:<n>"
  std::chrono::milliseconds call_timeout{10'000};  // deadline of every unary call
  // On stop: running trials get this long to finish; then they are released
  // (given back unfinished, not counted as a failed attempt).
  std::chrono::milliseconds grace{30'000};
  // Directories dataset files may be read from (a trial whose dataset path lies
  // elsewhere fails permanently, see engine::CheckDataPath); empty = anywhere.
  std::vector<std::string> data_dirs;
  // When set, rewritten at least every 5 s while the lease loop runs (whether or not
  // the coordinator answers): a liveness probe checks its age.
  std::string health_file;
  // Messages for the operator (coordinator unreachable, reconnected, ...).
  std::function<void(const std::string&)> log;
  // Test-only: called on a trial's training thread after each epoch it measures, before
  // that epoch is queued for reporting. A test blocks in it to hold a trial at an epoch
  // of its choosing, so what it checks follows events, not the machine's speed.
  std::function<void(const v1::Lease& lease, int epoch)> after_epoch;
  // Fault tests of whole processes (actgrid-worker --hold-at-epoch): every trial stops
  // after measuring this epoch until it is cancelled (lease lost, grid cancelled, worker
  // stopping), as a worker arbitrarily slow would. -1: never.
  int hold_at_epoch = -1;
};

struct WorkerStats {
  long leased = 0, completed = 0, failed = 0, released = 0, dropped = 0;
  long epochs_reported = 0;
  std::string refused;  // why the coordinator refused this worker's token (it stopped then)
};

class RemoteWorker {
 public:
  RemoteWorker(std::shared_ptr<grpc::Channel> channel, WorkerOptions options);
  ~RemoteWorker();
  RemoteWorker(const RemoteWorker&) = delete;
  RemoteWorker& operator=(const RemoteWorker&) = delete;

  // Leases and trains until `stop` becomes true (retrying with backoff while the
  // coordinator is unreachable), then finishes or releases what it holds and returns.
  // `stop_now`, when it becomes true, skips the grace period.
  WorkerStats Run(const std::atomic<bool>& stop, const std::atomic<bool>* stop_now = nullptr);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace actgrid::runner

#endif  // ACTGRID_WORKER_RUNNER_REMOTE_WORKER_H_
