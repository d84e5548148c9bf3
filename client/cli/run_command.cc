// RunGrid (see run_command.h).
#include "client/cli/run_command.h"

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/cli/client.h"
#include "client/cli/commands.h"
#include "client/cli/progress.h"
#include "client/cli/render.h"
#include "client/cli/text.h"
#include "client/grid/grid_file.h"
#include "common/rpc/rpc.h"
#include "server/scheduler/scheduler.h"
#include "server/analysis/summary_metric.h"
#include "server/grpc/coordinator.h"
#include "server/http/http_server.h"
#include "worker/runner/local_pool.h"
#include "worker/runner/remote_worker.h"

namespace actgrid::cli {
namespace {

// Appends finished trials of one grid to a JSON-lines file, each once, flushed line by line.
class JsonlWriter {
 public:
  JsonlWriter(std::FILE* file, store::Store* store, int64_t grid_id) : file_(file), store_(store), grid_id_(grid_id) {}

  void Write(int64_t trial_id, const std::string& key, const std::optional<v1::TrialSummary>& summary) {
    if (!file_ || !summary || !written_.insert(trial_id).second) return;
    auto trial = store_->GetTrial(trial_id);
    auto epochs = store_->LoadEpochs(trial_id);
    if (!trial.ok() || !epochs.ok()) return;
    v1::TrialResult result;
    result.set_trial_key(key);
    *result.mutable_spec() = trial->spec;
    for (auto& e : *epochs) *result.add_epochs() = std::move(e);
    *result.mutable_summary() = *summary;
    std::fprintf(file_, "%s\n", rpc::ProtoJson(result).c_str());
    std::fflush(file_);
  }

  // Writes every finished trial of the grid not written yet.
  void CatchUp() {
    if (!file_) return;
    auto rows = store_->ListGridTrials(grid_id_);
    if (!rows.ok()) return;
    for (const auto& r : *rows) Write(r.trial_id, r.key, r.summary);
  }

 private:
  std::FILE* file_;
  store::Store* store_;
  int64_t grid_id_;
  std::set<int64_t> written_;
};

ProgressBar::Counts CountsOf(const v1::Grid& g) {
  const auto& c = g.counts();
  return {long(g.epochs_done()), long(c.succeeded() + c.diverged() + c.failed() + c.cancelled()), long(c.failed()),
          long(c.cancelled())};
}

}  // namespace

int RunGrid(const RunOptions& options, std::FILE* out, std::FILE* err, const std::atomic<bool>* cancel) {
  const auto grid = grid::ParseGridFile(options.grid_path, cancel);
  if (!grid.ok()) return GridFileFailure(err, options.grid_path, grid.status());
  if (auto m = analysis::SummaryMetric(v1::TrialSummary(), options.metric); !m.ok()) {
    std::fprintf(err, "error: --metric: %s\n", ErrorText(std::string(m.status().message())).c_str());
    return 2;
  }
  const int threads = runner::EffectiveThreads(options.workers);
  long total_epochs = 0;
  for (const auto& t : grid->trials) total_epochs += t.spec.train().epochs() + 1;
  std::fprintf(err, "grid %s: %d cells x %zu seeds = %zu trials, %ld epochs in all, on %d thread%s\n",
               grid->name.c_str(), grid->cells, grid->seeds.size(), grid->trials.size(), total_epochs, threads,
               threads == 1 ? "" : "s");
  if (options.dry_run) return 0;

  std::FILE* jsonl = nullptr;
  if (!options.jsonl_path.empty()) {
    jsonl = std::fopen(options.jsonl_path.c_str(), "a");
    if (!jsonl) {
      std::fprintf(err, "error: --jsonl %s: %s\n", options.jsonl_path.c_str(), std::strerror(errno));
      return 2;
    }
  }
  server::CoordinatorOptions coordinator_options;
  coordinator_options.db_path = options.db_path;
  coordinator_options.listen = options.listen;
  coordinator_options.parse_grid_file = [](const std::string& text, bool dry_run) {
    return grid::SubmitRequestFromText(text, dry_run);
  };
  if (!options.tokens_file.empty()) {
    auto auth = server::Authorizer::FromFile(options.tokens_file);
    if (!auth.ok()) {
      std::fprintf(err, "error: %s\n", std::string(auth.status().message()).c_str());
      if (jsonl) std::fclose(jsonl);
      return 2;
    }
    coordinator_options.auth = std::make_shared<const server::Authorizer>(*std::move(auth));
  }
  auto coordinator = server::Coordinator::Start(coordinator_options);
  if (!coordinator.ok()) {
    std::fprintf(err, "error: %s\n", std::string(coordinator.status().message()).c_str());
    if (jsonl) std::fclose(jsonl);
    return absl::IsInvalidArgument(coordinator.status()) ? 2 : 1;
  }
  if (!options.listen.empty())
    std::fprintf(err, "coordinator listening on %s (port %d)\n", options.listen.c_str(), (*coordinator)->port());
  std::unique_ptr<server::HttpServer> dashboard;
  if (!options.http.empty()) {
    server::HttpOptions http;
    http.listen = options.http;
    http.auth = coordinator_options.auth;
    http.allowed_hosts = options.http_allowed_hosts;
    auto started = server::HttpServer::Start(&(*coordinator)->scheduler(), http);
    if (!started.ok() && absl::IsUnavailable(started.status()) && options.http == RunOptions::kDefaultHttp) {
      http.listen = "127.0.0.1:0";  // the default port is taken (another run?): any free one will do
      started = server::HttpServer::Start(&(*coordinator)->scheduler(), http);
    }
    if (!started.ok()) {
      std::fprintf(err, "error: %s\n", std::string(started.status().message()).c_str());
      if (jsonl) std::fclose(jsonl);
      return absl::IsInvalidArgument(started.status()) ? 2 : 1;
    }
    dashboard = *std::move(started);
  }
  Client client((*coordinator)->InProcessChannel());
  auto submitted = client.Submit(grid::ToSubmitRequest(*grid, false));
  if (!submitted.ok()) {
    std::fprintf(err, "error: %s: %s\n", TerminalText(options.grid_path).c_str(),
                 ErrorText(std::string(submitted.status().message())).c_str());
    if (jsonl) std::fclose(jsonl);
    return absl::IsInvalidArgument(submitted.status()) ? 2 : 1;
  }
  const std::string grid_ref = std::to_string(submitted->grid_id());
  std::fprintf(err, "grid %s stored in %s", grid_ref.c_str(), options.db_path.c_str());
  if (const std::string reuse = ReuseText(*submitted); !reuse.empty()) std::fprintf(err, "; %s", reuse.c_str());
  std::fprintf(err, "\n");
  if (dashboard)
    std::fprintf(err, "dashboard: %s#/grid/%s (live while the grid runs%s)\n", dashboard->url().c_str(),
                 grid_ref.c_str(), options.keep_serving ? " and after it, until Ctrl-C" : "");

  // Trials finishing now are appended to the JSON-lines file as they come.
  JsonlWriter writer(jsonl, &(*coordinator)->store(), submitted->grid_id());
  std::mutex finished_mu;
  std::vector<int64_t> finished;
  if (jsonl)
    (*coordinator)->scheduler().SetFinishedListener([&](int64_t id) {
      std::lock_guard<std::mutex> lock(finished_mu);
      finished.push_back(id);
    });

  std::atomic<bool> worker_stop{false}, worker_stop_now{false};
  std::thread worker([&] {
    runner::WorkerOptions w;
    w.threads = threads;
    w.worker_id = scheduler::kInProcessWorkerId;
    w.grace = std::chrono::milliseconds(0);
    w.log = [&](const std::string& m) {
      if (!(cancel && *cancel)) std::fprintf(err, "\nworker: %s\n", m.c_str());  // a cancel explains itself
    };
    runner::RemoteWorker remote((*coordinator)->InProcessChannel(), w);
    remote.Run(worker_stop, &worker_stop_now);
  });

  ProgressBar bar(err, total_epochs, long(grid->trials.size()));
  v1::Grid last;
  const absl::Status watched = client.Watch(
      grid_ref,
      [&](const v1::GridEvent& event) {
        last = event.grid();
        if (options.progress) bar.Update(CountsOf(last));
        std::vector<int64_t> ids;
        {
          std::lock_guard<std::mutex> lock(finished_mu);
          ids.swap(finished);
        }
        if (!ids.empty()) writer.CatchUp();
      },
      cancel);
  // A Ctrl-C that lands as the grid finishes cancels nothing.
  const bool cancelled = cancel && cancel->load() && !watched.ok();
  if (cancelled) client.Cancel(grid_ref).IgnoreError();
  worker_stop_now = cancelled;
  worker_stop = true;
  worker.join();
  if (auto g = client.GetGrid(grid_ref); g.ok()) last = *g;
  if (options.progress) bar.Finish(CountsOf(last));
  (*coordinator)->scheduler().SetFinishedListener(nullptr);
  writer.CatchUp();
  if (jsonl) std::fclose(jsonl);
  if (!watched.ok() && !cancelled)
    std::fprintf(err, "error: lost track of the grid: %s\n", ErrorText(std::string(watched.message())).c_str());

  // Failed trials grouped by error, so a grid whose dataset is missing says so once.
  std::map<std::string, std::vector<int64_t>> errors;
  if (auto rows = (*coordinator)->store().ListGridTrials(submitted->grid_id()); rows.ok())
    for (const auto& r : *rows)
      if (r.state == v1::TRIAL_STATE_FAILED) errors[r.last_error].push_back(r.trial_id);
  for (const auto& [message, ids] : errors) {
    std::string which = absl::StrFormat("trial %d", ids[0]);
    if (ids.size() > 1) which = absl::StrFormat("%d trials (first: %d)", ids.size(), ids[0]);
    std::fprintf(err, "error: %s failed: %s\n", which.c_str(), ErrorText(message).c_str());
  }
  if (cancelled) std::fprintf(err, "cancelled: the table covers the trials that finished\n");

  v1::CompareRequest request;
  request.set_grid(grid_ref);
  request.set_metric(options.metric);
  auto table = client.Compare(request);
  request.set_metric("final_dead_fraction");
  auto dead = client.Compare(request);
  if (table.ok() && dead.ok()) {
    std::fprintf(out, "\n%s", RenderRunTable(*table, *dead).c_str());
    std::fflush(out);
    std::fprintf(err, "compare again with: actgrid compare %s --db %s --by %s --metric %s\n", grid_ref.c_str(),
                 options.db_path.c_str(), grid->factors.empty() ? "''" : absl::StrJoin(grid->factors, ",").c_str(),
                 options.metric.c_str());
    std::fprintf(err, "and ask more: actgrid curves|effects|test|layers|export %s --db %s (--help for each)\n",
                 grid_ref.c_str(), options.db_path.c_str());
  } else {
    std::fprintf(err, "error: %s\n", ErrorText(std::string((table.ok() ? dead : table).status().message())).c_str());
  }
  std::fflush(out);
  if (dashboard && options.keep_serving && !cancelled) {
    std::fprintf(err, "dashboard: %s#/grid/%s stays up until Ctrl-C\n", dashboard->url().c_str(), grid_ref.c_str());
    while (!(cancel && cancel->load())) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (dashboard) dashboard->Shutdown();
  if (cancelled) return 130;
  return errors.empty() && watched.ok() ? 0 : 1;
}

}  // namespace actgrid::cli
