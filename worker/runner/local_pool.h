// Runs a list of trials on a oneTBB arena, one pack of small trials or one larger trial
// per thread (the engine is single-threaded inside either), and reports each epoch and
// each finished trial.
#ifndef ACTGRID_WORKER_RUNNER_LOCAL_POOL_H_
#define ACTGRID_WORKER_RUNNER_LOCAL_POOL_H_

#include <atomic>
#include <exception>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "actgrid/v1/metrics.pb.h"
#include "actgrid/v1/spec.pb.h"
#include "worker/engine/dataset.h"
#include "worker/engine/trainer.h"

namespace actgrid::runner {

struct PoolOptions {
  int threads = 0;  // 0 = every hardware thread
  // Both callbacks may run concurrently on pool threads.
  std::function<void(size_t trial, const v1::EpochMetrics&)> on_epoch;
  std::function<void(size_t trial, const absl::StatusOr<v1::TrialResult>&)> on_done;
  const std::atomic<bool>* cancel = nullptr;  // stops trials at their next epoch
};

// Trains every spec and returns its result (or the error that stopped it), in the
// order of `specs`. Small trials with equal engine::PackKeys train in packs of up to
// engine::kPackLanes (a pack's trials are reported done when the pack ends); the rest
// train alone. Datasets are loaded once per distinct DatasetSpec through `cache`.
std::vector<absl::StatusOr<v1::TrialResult>> RunLocally(const std::vector<v1::TrialSpec>& specs,
                                                        engine::DatasetCache& cache,
                                                        const PoolOptions& options);

// One trial alone, on the path every worker trains it on: a small network
// (engine::Packable) in a pack of its own, any other with engine::RunTrial. A trial
// that runs out of memory (or throws for any other reason) fails alone, with
// ResourceExhausted or Internal, instead of taking the whole pool down.
absl::StatusOr<v1::TrialResult> RunTrialGuarded(const v1::TrialSpec& spec, const engine::Dataset& data,
                                                const engine::TrialHooks& hooks);

// The status a trial fails with when training it threw `error`.
absl::Status FromException(const std::exception_ptr& error);

// The number of threads RunLocally uses for `requested` (0 = hardware threads).
int EffectiveThreads(int requested);

}  // namespace actgrid::runner

#endif  // ACTGRID_WORKER_RUNNER_LOCAL_POOL_H_
