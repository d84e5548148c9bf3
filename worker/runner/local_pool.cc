// RunLocally (see local_pool.h): a oneTBB arena with one pack or one trial per task.
#include "worker/runner/local_pool.h"

#include <exception>
#include <map>
#include <new>
#include <string>
#include <thread>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include "worker/engine/packed_trainer.h"
#include "worker/engine/trainer.h"

namespace actgrid::runner {

absl::Status FromException(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory while training the trial");
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("trial aborted: ") + e.what());
  } catch (...) {
    return absl::InternalError("trial aborted");
  }
}

absl::StatusOr<v1::TrialResult> RunTrialGuarded(const v1::TrialSpec& spec, const engine::Dataset& data,
                                                const engine::TrialHooks& hooks) {
  try {
    if (engine::Packable(spec)) return std::move(engine::RunPackedTrials({spec}, data, {hooks})[0]);
    return engine::RunTrial(spec, data, hooks);
  } catch (...) {
    return FromException(std::current_exception());
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
  // Work items: packs of up to kPackLanes compatible small trials, in the order their
  // first trial comes, and every other trial alone.
  std::vector<std::vector<size_t>> items;
  std::map<std::string, size_t> open;  // pack key -> the item still taking trials
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!engine::Packable(specs[i])) {
      items.push_back({i});
      continue;
    }
    const std::string key = engine::PackKey(specs[i]);
    auto it = open.find(key);
    if (it == open.end() || items[it->second].size() == size_t(engine::kPackLanes)) {
      open[key] = items.size();
      items.push_back({i});
    } else {
      items[it->second].push_back(i);
    }
  }
  tbb::task_arena arena(EffectiveThreads(options.threads));
  arena.execute([&] {
    tbb::parallel_for(
        tbb::blocked_range<size_t>(0, items.size(), 1),
        [&](const tbb::blocked_range<size_t>& range) {
          for (size_t item = range.begin(); item != range.end(); ++item) {
            const std::vector<size_t>& members = items[item];
            std::vector<engine::TrialHooks> hooks(members.size());
            std::vector<absl::StatusOr<v1::TrialResult>> out;
            auto data = cache.Get(specs[members[0]].dataset());
            if (options.cancel && options.cancel->load()) {
              out.assign(members.size(), absl::CancelledError("cancelled before start"));
            } else if (!data.ok()) {
              out.assign(members.size(), data.status());
            } else {
              std::vector<v1::TrialSpec> group;
              for (size_t m = 0; m < members.size(); ++m) {
                const size_t i = members[m];
                group.push_back(specs[i]);
                hooks[m].cancel = options.cancel;
                if (options.on_epoch)
                  hooks[m].on_epoch = [&options, i](const v1::EpochMetrics& e) { options.on_epoch(i, e); };
              }
              if (group.size() == 1) {
                out.push_back(RunTrialGuarded(group[0], **data, hooks[0]));
              } else {
                try {
                  out = engine::RunPackedTrials(group, **data, hooks);
                } catch (...) {
                  out.assign(members.size(), FromException(std::current_exception()));
                }
              }
            }
            for (size_t m = 0; m < members.size(); ++m) {
              if (options.on_done) options.on_done(members[m], out[m]);
              results[members[m]] = std::move(out[m]);
            }
          }
        },
        tbb::simple_partitioner());
  });
  return results;
}

}  // namespace actgrid::runner
