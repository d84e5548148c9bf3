// The coordinator and database commands (see commands.h).
#include "client/cli/commands.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "client/cli/client.h"
#include "client/cli/progress.h"
#include "client/cli/render.h"
#include "client/grid/grid_file.h"
#include "common/rpc/rpc.h"
#include "server/core/analysis.h"
#include "server/core/scheduler.h"
#include "server/store/store.h"

namespace actgrid::cli {
namespace {

// Where the answers come from: a coordinator, or a database file read directly.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual absl::StatusOr<v1::Grid> GetGrid(const std::string& ref) = 0;
  virtual absl::StatusOr<std::vector<v1::Grid>> ListGrids(int limit) = 0;
  virtual absl::StatusOr<std::vector<v1::WorkerInfo>> ListWorkers() = 0;
  virtual absl::StatusOr<v1::CompareResponse> Compare(const v1::CompareRequest& request) = 0;
};

class RemoteBackend final : public Backend {
 public:
  explicit RemoteBackend(Client client) : client_(std::move(client)) {}
  absl::StatusOr<v1::Grid> GetGrid(const std::string& ref) override { return client_.GetGrid(ref); }
  absl::StatusOr<std::vector<v1::Grid>> ListGrids(int limit) override { return client_.ListGrids(limit); }
  absl::StatusOr<std::vector<v1::WorkerInfo>> ListWorkers() override { return client_.ListWorkers(); }
  absl::StatusOr<v1::CompareResponse> Compare(const v1::CompareRequest& r) override { return client_.Compare(r); }

 private:
  Client client_;
};

// Reads through a read-only store; the scheduler only formats what the store says.
class DbBackend final : public Backend {
 public:
  DbBackend(std::unique_ptr<store::Store> store)
      : store_(std::move(store)), scheduler_(store_.get(), &clock_) {}
  absl::StatusOr<v1::Grid> GetGrid(const std::string& ref) override { return scheduler_.GetGrid(ref); }
  absl::StatusOr<std::vector<v1::Grid>> ListGrids(int limit) override { return scheduler_.ListGrids(limit); }
  absl::StatusOr<std::vector<v1::WorkerInfo>> ListWorkers() override { return store_->ListWorkers(); }
  absl::StatusOr<v1::CompareResponse> Compare(const v1::CompareRequest& r) override {
    return core::Compare(*store_, r);
  }

 private:
  core::SystemClock clock_;
  std::unique_ptr<store::Store> store_;
  core::Scheduler scheduler_;
};

std::chrono::milliseconds Timeout(const Target& t) { return std::chrono::milliseconds(long(t.timeout_s * 1000)); }

Client Connect(const Target& t) { return Client(rpc::Connect(rpc::ServerAddress(t.server)), Timeout(t)); }

absl::StatusOr<std::unique_ptr<Backend>> Open(const Target& t) {
  if (t.db.empty()) return std::unique_ptr<Backend>(new RemoteBackend(Connect(t)));
  store::StoreOptions options;
  options.path = t.db;
  options.read_only = true;
  auto store = store::Store::Open(options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Backend>(new DbBackend(*std::move(store)));
}

// Prints the error and returns the exit code it deserves.
int Fail(std::FILE* err, const Target& t, const absl::Status& status) {
  std::string where;
  if (absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status))
    where = t.db.empty() ? absl::StrCat(" (coordinator ", rpc::ServerAddress(t.server), ")") : "";
  std::fprintf(err, "error: %s%s\n", std::string(status.message()).c_str(), where.c_str());
  const bool bad_input = absl::IsInvalidArgument(status) || absl::IsNotFound(status) ||
                         absl::IsResourceExhausted(status);
  return bad_input ? 2 : 1;
}

int Follow(Client& client, const std::string& ref, const CommandOptions& o, std::FILE* out, std::FILE* err,
           const std::atomic<bool>* stop) {
  auto grid = client.GetGrid(ref);
  if (!grid.ok()) return Fail(err, o.target, grid.status());
  ProgressBar bar(err, grid->epochs_total(), grid->trials());
  v1::Grid last = *grid;
  auto counts = [](const v1::Grid& g) {
    const auto& c = g.counts();
    return ProgressBar::Counts{long(g.epochs_done()), long(c.succeeded() + c.diverged() + c.failed() + c.cancelled()),
                               long(c.failed()), long(c.cancelled())};
  };
  const absl::Status status = client.Watch(
      ref,
      [&](const v1::GridEvent& e) {
        last = e.grid();
        for (const auto& message : e.errors()) std::fprintf(err, "\ntrial failed: %s\n", message.c_str());
        if (o.progress) bar.Update(counts(last));
      },
      stop);
  if (o.progress) bar.Finish(counts(last));
  if (stop && *stop && !status.ok()) {
    std::fprintf(err, "stopped watching; the grid goes on (actgrid cancel %s to stop it)\n", ref.c_str());
    return 130;
  }
  if (!status.ok()) return Fail(err, o.target, status);
  std::fprintf(out, "%s\n", GridLine(last).c_str());
  return last.counts().failed() > 0 ? 1 : 0;
}

}  // namespace

int SubmitCommand(const CommandOptions& o, std::FILE* out, std::FILE* err, const std::atomic<bool>* stop) {
  auto grid = grid::ParseGridFile(o.grid);
  if (!grid.ok()) {
    std::fprintf(err, "error: %s: %s\n", o.grid.c_str(), std::string(grid.status().message()).c_str());
    return 2;
  }
  Client client = Connect(o.target);
  auto response = client.Submit(grid::ToSubmitRequest(*grid, o.dry_run));
  if (!response.ok()) return Fail(err, o.target, response.status());
  if (o.dry_run) {
    for (const auto& e : response->errors()) std::fprintf(err, "error: %s\n", e.c_str());
    std::fprintf(err, "dry run: %d trials, %s\n", response->trials(),
                 response->errors_size() ? "refused" : "the coordinator accepts it");
    return response->errors_size() ? 2 : 0;
  }
  std::fprintf(err, "grid %s submitted as %lld: %d trials", grid->name.c_str(),
               static_cast<long long>(response->grid_id()), response->trials());
  if (response->reused()) std::fprintf(err, ", %d already finished (reused)", response->reused());
  if (response->shared()) std::fprintf(err, ", %d already queued by other grids", response->shared());
  std::fprintf(err, "\n");
  std::fprintf(out, "%lld\n", static_cast<long long>(response->grid_id()));
  std::fflush(out);
  if (!o.watch) return 0;
  return Follow(client, std::to_string(response->grid_id()), o, out, err, stop);
}

int WatchCommand(const CommandOptions& o, std::FILE* out, std::FILE* err, const std::atomic<bool>* stop) {
  Client client = Connect(o.target);
  return Follow(client, o.grid, o, out, err, stop);
}

int StatusCommand(const CommandOptions& o, std::FILE* out, std::FILE* err) {
  auto backend = Open(o.target);
  if (!backend.ok()) return Fail(err, o.target, backend.status());
  auto grid = (*backend)->GetGrid(o.grid);
  if (!grid.ok()) return Fail(err, o.target, grid.status());
  std::fprintf(out, "%s\n", GridLine(*grid).c_str());
  return 0;
}

int CancelCommand(const CommandOptions& o, std::FILE* out, std::FILE* err) {
  Client client = Connect(o.target);
  auto grid = client.Cancel(o.grid);
  if (!grid.ok()) return Fail(err, o.target, grid.status());
  std::fprintf(out, "%s\n", GridLine(*grid).c_str());
  return 0;
}

int GridsCommand(const CommandOptions& o, std::FILE* out, std::FILE* err) {
  auto backend = Open(o.target);
  if (!backend.ok()) return Fail(err, o.target, backend.status());
  auto grids = (*backend)->ListGrids(0);
  if (!grids.ok()) return Fail(err, o.target, grids.status());
  std::fprintf(out, "%s", RenderGrids(*grids).c_str());
  return 0;
}

int WorkersCommand(const CommandOptions& o, std::FILE* out, std::FILE* err) {
  auto backend = Open(o.target);
  if (!backend.ok()) return Fail(err, o.target, backend.status());
  auto workers = (*backend)->ListWorkers();
  if (!workers.ok()) return Fail(err, o.target, workers.status());
  std::fprintf(out, "%s", RenderWorkers(*workers, core::SystemClock().NowMs()).c_str());
  return 0;
}

int CompareCommand(const CommandOptions& o, std::FILE* out, std::FILE* err) {
  auto format = ParseFormat(o.format);
  if (!format.ok()) return Fail(err, o.target, format.status());
  auto backend = Open(o.target);
  if (!backend.ok()) return Fail(err, o.target, backend.status());
  v1::CompareRequest request;
  request.set_grid(o.grid);
  request.set_metric(o.metric);
  for (const auto& f : o.by) request.add_by(f);
  auto compare = (*backend)->Compare(request);
  if (!compare.ok()) return Fail(err, o.target, compare.status());
  if (compare->finished() < compare->trials())
    std::fprintf(err, "note: partial answer, %d of %d trials finished\n", compare->finished(), compare->trials());
  std::fprintf(out, "%s", RenderCompare(*compare, *format).c_str());
  return 0;
}

}  // namespace actgrid::cli
