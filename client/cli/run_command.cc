// RunGrid (see run_command.h).
#include "client/cli/run_command.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"
#include "client/cli/progress.h"
#include "client/cli/table.h"
#include "client/grid/grid_file.h"
#include "worker/runner/local_pool.h"

namespace actgrid::cli {
namespace {

struct Tracker {
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::atomic<long> epochs{0}, done{0}, failed{0}, cancelled{0};

  ProgressBar::Counts Snapshot() const { return {epochs, done, failed, cancelled}; }
};

}  // namespace

int RunGrid(const RunOptions& options, std::FILE* out, std::FILE* err,
            const std::atomic<bool>* cancel) {
  const auto grid = grid::ParseGridFile(options.grid_path);
  if (!grid.ok()) {
    std::fprintf(err, "error: %s: %s\n", options.grid_path.c_str(),
                 std::string(grid.status().message()).c_str());
    return 2;
  }
  if (auto m = SummaryMetric(v1::TrialSummary(), options.metric); !m.ok()) {
    std::fprintf(err, "error: --metric: %s\n", std::string(m.status().message()).c_str());
    return 2;
  }
  const int threads = runner::EffectiveThreads(options.workers);
  long total_epochs = 0;
  std::vector<v1::TrialSpec> specs;
  for (const auto& t : grid->trials) {
    specs.push_back(t.spec);
    total_epochs += t.spec.train().epochs() + 1;
  }
  std::fprintf(err, "grid %s: %d cells x %zu seeds = %zu trials, %ld epochs in all, on %d thread%s\n",
               grid->name.c_str(), grid->cells, grid->seeds.size(), specs.size(), total_epochs,
               threads, threads == 1 ? "" : "s");
  if (options.dry_run) return 0;

  std::FILE* jsonl = nullptr;
  if (!options.jsonl_path.empty()) {
    jsonl = std::fopen(options.jsonl_path.c_str(), "a");
    if (!jsonl) {
      std::fprintf(err, "error: --jsonl %s: %s\n", options.jsonl_path.c_str(), std::strerror(errno));
      return 2;
    }
  }
  google::protobuf::util::JsonPrintOptions json_options;
  json_options.preserve_proto_field_names = true;
  json_options.always_print_primitive_fields = true;

  Tracker tracker;
  std::vector<std::optional<v1::TrialResult>> results(specs.size());
  // Failed trials grouped by error, so a grid whose dataset is missing says so once.
  std::map<std::string, std::vector<size_t>> errors;
  runner::PoolOptions pool;
  pool.threads = threads;
  pool.cancel = cancel;
  // Epochs seen per trial: a trial that ends early (diverged, failed, cancelled) adds
  // the epochs it will never run, so the bar always ends at 100%.
  std::vector<std::atomic<int>> seen(specs.size());
  pool.on_epoch = [&](size_t i, const v1::EpochMetrics&) {
    ++seen[i];
    ++tracker.epochs;
  };
  pool.on_done = [&](size_t i, const absl::StatusOr<v1::TrialResult>& r) {
    std::lock_guard<std::mutex> lock(tracker.mu);
    if (r.ok()) {
      results[i] = *r;
      results[i]->set_trial_key(grid->trials[i].key);
      if (jsonl) {  // one line per trial, flushed, so a crash loses no finished trial
        std::string line;
        if (google::protobuf::util::MessageToJsonString(*results[i], &line, json_options).ok()) {
          std::fprintf(jsonl, "%s\n", line.c_str());
          std::fflush(jsonl);
        }
      }
    } else if (absl::IsCancelled(r.status())) {
      ++tracker.cancelled;
    } else {
      ++tracker.failed;
      errors[r.status().ToString()].push_back(i);
    }
    tracker.epochs += specs[i].train().epochs() + 1 - seen[i];
    ++tracker.done;
  };

  ProgressBar bar(err, total_epochs, long(specs.size()));
  engine::DatasetCache cache;  // each distinct dataset is loaded once for the whole grid
  std::thread worker([&] {
    runner::RunLocally(specs, cache, pool);
    std::lock_guard<std::mutex> lock(tracker.mu);
    tracker.finished = true;
    tracker.cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(tracker.mu);
    while (!tracker.finished) {
      tracker.cv.wait_for(lock, std::chrono::milliseconds(200));
      if (options.progress) bar.Update(tracker.Snapshot());
    }
  }
  worker.join();
  if (jsonl) std::fclose(jsonl);
  if (options.progress) bar.Finish(tracker.Snapshot());
  for (const auto& [message, trials] : errors) {
    std::string which = absl::StrFormat("trial %d (key %s)", trials[0], grid->trials[trials[0]].key.substr(0, 12));
    if (trials.size() > 1) which = absl::StrFormat("%d trials, first %s,", trials.size(), which);
    std::fprintf(err, "error: %s failed: %s\n", which.c_str(), message.c_str());
  }

  const bool cancelled = cancel && cancel->load();
  if (cancelled) std::fprintf(err, "cancelled: the table covers the trials that finished\n");
  const auto cells = AggregateCells(*grid, results, options.metric);
  std::fprintf(out, "\n%s", RenderTable(*grid, cells, options.metric).c_str());
  std::fflush(out);
  if (cancelled) return 130;
  return errors.empty() ? 0 : 1;
}

}  // namespace actgrid::cli
