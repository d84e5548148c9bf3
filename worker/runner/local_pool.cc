// RunLocally (see local_pool.h): a oneTBB arena with one trial per task.
#include "worker/runner/local_pool.h"

#include <exception>
#include <new>
#include <string>
#include <thread>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include "worker/engine/trainer.h"

namespace actgrid::runner {
absl::StatusOr<v1::TrialResult> RunTrialGuarded(const v1::TrialSpec& spec, const engine::Dataset& data,
                                           const engine::TrialHooks& hooks) {
  try {
    return engine::RunTrial(spec, data, hooks);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory while training the trial");
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("trial aborted: ") + e.what());
  }
}

int EffectiveThreads(int requested) {
  if (requested > 0) return requested;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? int(hw) : 1;
}

std::vector<absl::StatusOr<v1::TrialResult>> RunLocally(const std::vector<v1::TrialSpec>& specs,
                                                        engine::DatasetCache& cache,
                                                        const PoolOptions& options) {
  std::vector<absl::StatusOr<v1::TrialResult>> results(specs.size(),
                                                       absl::UnknownError("not run"));
  tbb::task_arena arena(EffectiveThreads(options.threads));
  arena.execute([&] {
    tbb::parallel_for(
        tbb::blocked_range<size_t>(0, specs.size(), 1),
        [&](const tbb::blocked_range<size_t>& range) {
          for (size_t i = range.begin(); i != range.end(); ++i) {
            absl::StatusOr<v1::TrialResult> result;
            if (options.cancel && options.cancel->load()) {
              result = absl::CancelledError("cancelled before start");
            } else if (auto data = cache.Get(specs[i].dataset()); !data.ok()) {
              result = data.status();
            } else {
              engine::TrialHooks hooks;
              hooks.cancel = options.cancel;
              if (options.on_epoch)
                hooks.on_epoch = [&, i](const v1::EpochMetrics& m) { options.on_epoch(i, m); };
              result = RunTrialGuarded(specs[i], **data, hooks);
            }
            if (options.on_done) options.on_done(i, result);
            results[i] = std::move(result);
          }
        },
        tbb::simple_partitioner());
  });
  return results;
}

}  // namespace actgrid::runner
