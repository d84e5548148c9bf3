// The coordinator and database commands (see commands.h).
#include "client/cli/commands.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "client/cli/client.h"
#include "client/cli/report.h"
#include "client/dashboard/assets.h"
#include "client/cli/progress.h"
#include "client/cli/render.h"
#include "client/cli/render_analysis.h"
#include "client/cli/text.h"
#include "common/spec/echo.h"
#include "client/grid/grid_file.h"
#include "common/rpc/rpc.h"
#include "server/analysis/analysis.h"
#include "server/scheduler/scheduler.h"
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
  virtual absl::StatusOr<v1::CurvesResponse> Curves(const v1::CurvesRequest& request) = 0;
  virtual absl::StatusOr<v1::EffectsResponse> Effects(const v1::EffectsRequest& request) = 0;
  virtual absl::StatusOr<v1::TestResponse> Test(const v1::TestRequest& request) = 0;
  virtual absl::StatusOr<v1::LayersResponse> Layers(const v1::LayersRequest& request) = 0;
  virtual absl::Status Export(const v1::ExportRequest& request,
                              const std::function<bool(const v1::ExportChunk&)>& emit) = 0;
};

class RemoteBackend final : public Backend {
 public:
  explicit RemoteBackend(Client client) : client_(std::move(client)) {}
  absl::StatusOr<v1::Grid> GetGrid(const std::string& ref) override { return client_.GetGrid(ref); }
  absl::StatusOr<std::vector<v1::Grid>> ListGrids(int limit) override { return client_.ListGrids(limit); }
  absl::StatusOr<std::vector<v1::WorkerInfo>> ListWorkers() override { return client_.ListWorkers(); }
  absl::StatusOr<v1::CompareResponse> Compare(const v1::CompareRequest& r) override { return client_.Compare(r); }
  absl::StatusOr<v1::CurvesResponse> Curves(const v1::CurvesRequest& r) override { return client_.Curves(r); }
  absl::StatusOr<v1::EffectsResponse> Effects(const v1::EffectsRequest& r) override { return client_.Effects(r); }
  absl::StatusOr<v1::TestResponse> Test(const v1::TestRequest& r) override { return client_.Test(r); }
  absl::StatusOr<v1::LayersResponse> Layers(const v1::LayersRequest& r) override { return client_.Layers(r); }
  absl::Status Export(const v1::ExportRequest& r, const std::function<bool(const v1::ExportChunk&)>& emit) override {
    return client_.Export(r, emit);
  }

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
    return analysis::Compare(*store_, r);
  }
  absl::StatusOr<v1::CurvesResponse> Curves(const v1::CurvesRequest& r) override { return analysis::Curves(*store_, r); }
  absl::StatusOr<v1::EffectsResponse> Effects(const v1::EffectsRequest& r) override {
    return analysis::Effects(*store_, r);
  }
  absl::StatusOr<v1::TestResponse> Test(const v1::TestRequest& r) override { return analysis::Test(*store_, r); }
  absl::StatusOr<v1::LayersResponse> Layers(const v1::LayersRequest& r) override { return analysis::Layers(*store_, r); }
  absl::Status Export(const v1::ExportRequest& r, const std::function<bool(const v1::ExportChunk&)>& emit) override {
    return analysis::Export(*store_, r, emit);
  }

 private:
  scheduler::SystemClock clock_;
  std::unique_ptr<store::Store> store_;
  scheduler::Scheduler scheduler_;
};

std::chrono::milliseconds Timeout(const Target& t) { return std::chrono::milliseconds(long(t.timeout_s * 1000)); }

absl::StatusOr<Client> Connect(const Target& t) {
  auto auth = rpc::ClientAuth(t.token_file, t.tls, t.tls_ca);
  if (!auth.ok()) return auth.status();
  return Client(rpc::Connect(rpc::ServerAddress(t.server), *auth), Timeout(t));
}

absl::StatusOr<std::unique_ptr<Backend>> Open(const Target& t) {
  if (t.db.empty()) {
    auto client = Connect(t);
    if (!client.ok()) return client.status();
    return std::unique_ptr<Backend>(new RemoteBackend(*std::move(client)));
  }
  store::StoreOptions options;
  options.path = t.db;
  options.read_only = true;
  options.migrate_older = true;  // a file of an earlier actgrid answers too
  auto store = store::Store::Open(options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Backend>(new DbBackend(*std::move(store)));
}

// Prints the error and returns the exit code it deserves.
int Fail(std::FILE* err, const Target& t, const absl::Status& status) {
  std::string where;
  if (absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) || absl::IsUnauthenticated(status) ||
      absl::IsPermissionDenied(status))
    where = t.db.empty() ? absl::StrCat(" (coordinator ", rpc::ServerAddress(t.server), ")") : "";
  std::fprintf(err, "error: %s%s\n", ErrorText(std::string(status.message())).c_str(), where.c_str());
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
        for (const auto& message : e.errors()) std::fprintf(err, "\ntrial failed: %s\n", ErrorText(message).c_str());
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
  if (const std::string engines = EnginesLine(last); !engines.empty()) std::fprintf(out, "%s\n", engines.c_str());
  return last.counts().failed() > 0 ? 1 : 0;
}

}  // namespace

int SubmitCommand(const CommandOptions& o, std::FILE* out, std::FILE* err, const std::atomic<bool>* stop) {
  auto grid = grid::ParseGridFile(o.grid, stop);
  if (!grid.ok()) return GridFileFailure(err, o.grid, grid.status());
  auto connected = Connect(o.target);
  if (!connected.ok()) return Fail(err, o.target, connected.status());
  Client& client = *connected;
  auto response = client.Submit(grid::ToSubmitRequest(*grid, o.dry_run));
  if (!response.ok()) return Fail(err, o.target, response.status());
  if (o.dry_run) {
    for (int i = 0; i < response->errors_size() && i < int(grid::kMaxErrorsListed); ++i)
      std::fprintf(err, "error: %s\n", ErrorText(response->errors(i)).c_str());
    if (response->errors_size() > int(grid::kMaxErrorsListed))
      std::fprintf(err, "error: ... and %d more problems\n", response->errors_size() - int(grid::kMaxErrorsListed));
    std::fprintf(err, "dry run: %d trials, %s\n", response->trials(),
                 response->errors_size() ? "refused" : "the coordinator accepts it");
    return response->errors_size() ? 2 : 0;
  }
  std::fprintf(err, "grid %s submitted as %lld: %d trials", grid->name.c_str(),
               static_cast<long long>(response->grid_id()), response->trials());
  if (response->shared()) std::fprintf(err, ", %d already queued by other grids", response->shared());
  if (const std::string reuse = ReuseText(*response); !reuse.empty()) std::fprintf(err, "; %s", reuse.c_str());
  std::fprintf(err, "\n");
  std::fprintf(out, "%lld\n", static_cast<long long>(response->grid_id()));
  std::fflush(out);
  if (!o.watch) return 0;
  return Follow(client, std::to_string(response->grid_id()), o, out, err, stop);
}

int WatchCommand(const CommandOptions& o, std::FILE* out, std::FILE* err, const std::atomic<bool>* stop) {
  if (absl::Status ref = CheckGridRef(o.grid); !ref.ok()) return Fail(err, o.target, ref);
  auto client = Connect(o.target);
  if (!client.ok()) return Fail(err, o.target, client.status());
  return Follow(*client, o.grid, o, out, err, stop);
}

int StatusCommand(const CommandOptions& o, std::FILE* out, std::FILE* err) {
  if (absl::Status ref = CheckGridRef(o.grid); !ref.ok()) return Fail(err, o.target, ref);
  auto backend = Open(o.target);
  if (!backend.ok()) return Fail(err, o.target, backend.status());
  auto grid = (*backend)->GetGrid(o.grid);
  if (!grid.ok()) return Fail(err, o.target, grid.status());
  std::fprintf(out, "%s\n", GridLine(*grid).c_str());
  if (const std::string engines = EnginesLine(*grid); !engines.empty()) std::fprintf(out, "%s\n", engines.c_str());
  return 0;
}

int CancelCommand(const CommandOptions& o, std::FILE* out, std::FILE* err) {
  if (absl::Status ref = CheckGridRef(o.grid); !ref.ok()) return Fail(err, o.target, ref);
  auto client = Connect(o.target);
  if (!client.ok()) return Fail(err, o.target, client.status());
  auto grid = client->Cancel(o.grid);
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
  std::fprintf(out, "%s", RenderWorkers(*workers, scheduler::SystemClock().NowMs()).c_str());
  return 0;
}

int HealthCommand(const CommandOptions& o, std::FILE* out, std::FILE* err) {
  auto auth = rpc::ClientAuth(o.target.token_file, o.target.tls, o.target.tls_ca);
  if (!auth.ok()) return Fail(err, o.target, auth.status());
  const std::string address = rpc::ServerAddress(o.target.server);
  const absl::Status health = rpc::CheckHealth(rpc::Connect(address, *auth), o.grid, Timeout(o.target));
  if (!health.ok()) {
    std::fprintf(err, "error: %s (coordinator %s)\n", std::string(health.message()).c_str(), address.c_str());
    return 1;
  }
  std::fprintf(out, "SERVING %s\n", address.c_str());
  return 0;
}

absl::StatusOr<std::vector<std::pair<std::string, std::vector<std::string>>>> ParseFilters(
    const std::vector<std::string>& items, const std::string& flag) {
  std::vector<std::pair<std::string, std::vector<std::string>>> filters;
  size_t values = 0;
  const auto add_value = [&](std::vector<std::string>* to, const std::string& factor,
                             std::string value) -> absl::Status {
    if (value.size() > kMaxFilterValueBytes)
      return absl::InvalidArgumentError(absl::StrCat(flag, ": the value of ", spec::Shown(factor), " is ",
                                                     value.size(), " bytes; at most ", kMaxFilterValueBytes,
                                                     " are allowed"));
    if (++values > kMaxFilterValues)
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": more than ", kMaxFilterValues, " values; at most ", kMaxFilterValues, " are allowed"));
    to->push_back(std::move(value));
    return absl::OkStatus();
  };
  for (const std::string& item : items) {
    // Split at commas outside parentheses.
    std::vector<std::string> parts(1);
    int depth = 0;
    for (char c : item) {
      if (c == '(') ++depth;
      if (c == ')') depth = std::max(0, depth - 1);
      if (c == ',' && depth == 0) {
        parts.emplace_back();
        continue;
      }
      parts.back() += c;
    }
    for (const std::string& part : parts) {
      const auto eq = part.find('=');
      if (eq == std::string::npos || eq == 0)
        return absl::InvalidArgumentError(
            absl::StrCat(flag, ": ", spec::Quoted(part), " is not FACTOR=VALUE (e.g. depth=8 or activation=relu|tanh)"));
      const std::string factor = part.substr(0, eq);
      if (factor.size() > kMaxOptionBytes)
        return absl::InvalidArgumentError(absl::StrCat(flag, ": the factor ", spec::Quoted(factor), " is ",
                                                       factor.size(), " bytes; at most ", kMaxOptionBytes,
                                                       " are allowed"));
      auto it = std::find_if(filters.begin(), filters.end(), [&](const auto& f) { return f.first == factor; });
      if (it == filters.end()) it = filters.insert(filters.end(), {factor, {}});
      // "|" separates values, again outside parentheses.
      std::string value;
      depth = 0;
      for (char c : part.substr(eq + 1) + "|") {
        if (c == '(') ++depth;
        if (c == ')') depth = std::max(0, depth - 1);
        if (c == '|' && depth == 0) {
          if (value.empty())
            return absl::InvalidArgumentError(absl::StrCat(flag, ": ", spec::Shown(factor), " needs a value (",
                                                           spec::Shown(factor), "=VALUE)"));
          if (absl::Status added = add_value(&it->second, factor, std::move(value)); !added.ok()) return added;
          value.clear();
          continue;
        }
        value += c;
      }
    }
  }
  return filters;
}

absl::Status CheckGridRef(const std::string& ref) {
  const bool valid = !ref.empty() && ref.size() <= 64 &&
                     std::all_of(ref.begin(), ref.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
                     });
  if (valid) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "grid: expected a grid id or a name of 1 to 64 characters of [a-z0-9_-], got ", spec::Quoted(ref)));
}

int GridFileFailure(std::FILE* err, const std::string& path, const absl::Status& status) {
  if (absl::IsCancelled(status)) {
    std::fprintf(err, "cancelled while reading %s\n", TerminalText(path).c_str());
    return 130;
  }
  std::fprintf(err, "error: %s: %s\n", TerminalText(path).c_str(), ErrorText(std::string(status.message())).c_str());
  return 2;
}

namespace {

// The grid reference and the names a query sends, each within its bound.
absl::Status CheckQuery(const CommandOptions& o) {
  if (absl::Status ref = CheckGridRef(o.grid); !ref.ok()) return ref;
  std::vector<std::pair<std::string, const std::string*>> named = {
      {"--metric", &o.metric}, {"--summary", &o.summary}, {"--sort", &o.sort}};
  for (const auto& f : o.by) named.emplace_back("--by", &f);
  for (const auto& [flag, value] : named)
    if (value->size() > kMaxOptionBytes)
      return absl::InvalidArgumentError(absl::StrCat(flag, ": ", value->size(), " bytes; at most ", kMaxOptionBytes,
                                                     " are allowed (", spec::Quoted(*value), ")"));
  return absl::OkStatus();
}

absl::Status SetFilters(const std::vector<std::string>& items, const std::string& flag,
                        google::protobuf::RepeatedPtrField<v1::Filter>* out) {
  auto filters = ParseFilters(items, flag);
  if (!filters.ok()) return filters.status();
  for (const auto& [factor, values] : *filters) {
    v1::Filter* f = out->Add();
    f->set_factor(factor);
    for (const auto& v : values) f->add_values(v);
  }
  return absl::OkStatus();
}

// Asks the backend with `ask` and prints `render`'s text of the answer; the note of a
// partial answer goes to stderr for machine formats (the table says it in its heading).
template <typename AskFn, typename RenderFn>
int Ask(const CommandOptions& o, std::FILE* out, std::FILE* err, Format format, AskFn ask, RenderFn render) {
  auto backend = Open(o.target);
  if (!backend.ok()) return Fail(err, o.target, backend.status());
  auto r = ask(**backend);
  if (!r.ok()) return Fail(err, o.target, r.status());
  if (format != Format::kTable && r->finished() < r->trials())
    std::fprintf(err, "note: partial answer, %d of %d trials finished\n", r->finished(), r->trials());
  std::fputs(render(*r, format).c_str(), out);
  return 0;
}

}  // namespace

int CompareCommand(const CommandOptions& o, std::FILE* out, std::FILE* err) {
  if (absl::Status query = CheckQuery(o); !query.ok()) return Fail(err, o.target, query);
  auto format = ParseFormat(o.format, {Format::kTable, Format::kCsv, Format::kJson, Format::kMatrix});
  if (!format.ok()) return Fail(err, o.target, format.status());
  if (*format == Format::kMatrix && o.by.size() != 2)
    return Fail(err, o.target, absl::InvalidArgumentError("--format matrix needs --by with two factors (rows,columns)"));
  v1::CompareRequest request;
  request.set_grid(o.grid);
  request.set_metric(o.metric);
  request.set_summary(o.summary);
  request.set_sort(o.sort);
  for (const auto& f : o.by) request.add_by(f);
  if (auto st = SetFilters(o.where, "--where", request.mutable_where()); !st.ok()) return Fail(err, o.target, st);
  return Ask(o, out, err, *format, [&](Backend& b) { return b.Compare(request); }, RenderCompare);
}

int CurvesCommand(const CommandOptions& o, std::FILE* out, std::FILE* err) {
  if (absl::Status query = CheckQuery(o); !query.ok()) return Fail(err, o.target, query);
  auto format = ParseFormat(o.format, {Format::kTable, Format::kCsv, Format::kJson, Format::kSvg});
  if (!format.ok()) return Fail(err, o.target, format.status());
  v1::CurvesRequest request;
  request.set_grid(o.grid);
  request.set_metric(o.metric);
  if (o.layer >= 0) request.set_layer(o.layer);
  for (const auto& f : o.by) request.add_by(f);
  if (auto st = SetFilters(o.where, "--where", request.mutable_where()); !st.ok()) return Fail(err, o.target, st);
  return Ask(o, out, err, *format, [&](Backend& b) { return b.Curves(request); }, RenderCurves);
}

int EffectsCommand(const CommandOptions& o, std::FILE* out, std::FILE* err) {
  if (absl::Status query = CheckQuery(o); !query.ok()) return Fail(err, o.target, query);
  auto format = ParseFormat(o.format);
  if (!format.ok()) return Fail(err, o.target, format.status());
  v1::EffectsRequest request;
  request.set_grid(o.grid);
  request.set_metric(o.metric);
  request.set_summary(o.summary);
  if (auto st = SetFilters(o.where, "--where", request.mutable_where()); !st.ok()) return Fail(err, o.target, st);
  return Ask(o, out, err, *format, [&](Backend& b) { return b.Effects(request); }, RenderEffects);
}

int TestCommand(const CommandOptions& o, std::FILE* out, std::FILE* err) {
  if (absl::Status query = CheckQuery(o); !query.ok()) return Fail(err, o.target, query);
  auto format = ParseFormat(o.format);
  if (!format.ok()) return Fail(err, o.target, format.status());
  v1::TestRequest request;
  request.set_grid(o.grid);
  request.set_metric(o.metric);
  request.set_summary(o.summary);
  request.set_resamples(o.resamples);
  request.set_seed(o.seed);
  for (const auto& [items, flag, field] :
       {std::make_tuple(&o.where, "--where", request.mutable_where()), std::make_tuple(&o.a, "--a", request.mutable_a()),
        std::make_tuple(&o.b, "--b", request.mutable_b())})
    if (auto st = SetFilters(*items, flag, field); !st.ok()) return Fail(err, o.target, st);
  return Ask(o, out, err, *format, [&](Backend& b) { return b.Test(request); }, RenderTest);
}

int LayersCommand(const CommandOptions& o, std::FILE* out, std::FILE* err) {
  if (absl::Status query = CheckQuery(o); !query.ok()) return Fail(err, o.target, query);
  auto format = ParseFormat(o.format);
  if (!format.ok()) return Fail(err, o.target, format.status());
  v1::LayersRequest request;
  request.set_grid(o.grid);
  if (o.epoch >= 0) request.set_epoch(o.epoch);
  for (const auto& f : o.by) request.add_by(f);
  if (auto st = SetFilters(o.where, "--where", request.mutable_where()); !st.ok()) return Fail(err, o.target, st);
  return Ask(o, out, err, *format, [&](Backend& b) { return b.Layers(request); }, RenderLayers);
}

int ExportCommand(const CommandOptions& o, std::FILE* out, std::FILE* err, const std::atomic<bool>* stop) {
  if (absl::Status query = CheckQuery(o); !query.ok()) return Fail(err, o.target, query);
  auto format = ParseFormat(o.format, {Format::kCsv, Format::kJsonl});
  if (!format.ok()) return Fail(err, o.target, format.status());
  if (o.content != "trials" && o.content != "curves")
    return Fail(err, o.target,
                absl::InvalidArgumentError(absl::StrCat("--content: ", spec::Quoted(o.content),
                                                        " is not one of trials, curves")));
  v1::ExportRequest request;
  request.set_grid(o.grid);
  request.set_content(o.content == "curves" ? v1::EXPORT_CONTENT_CURVES : v1::EXPORT_CONTENT_TRIALS);
  if (auto st = SetFilters(o.where, "--where", request.mutable_where()); !st.ok()) return Fail(err, o.target, st);
  auto backend = Open(o.target);
  if (!backend.ok()) return Fail(err, o.target, backend.status());
  ExportWriter writer(*format, o.content == "curves");
  bool first = true, write_failed = false;
  int selected = 0, written = 0, finished = 0;
  const absl::Status status = (*backend)->Export(request, [&](const v1::ExportChunk& chunk) {
    if (stop && *stop) return false;
    std::string text;
    if (first) {
      text = writer.Header(chunk);
      selected = chunk.trials();
      first = false;
    } else {
      text = writer.Rows(chunk);
      written += chunk.rows_size();
      for (const auto& t : chunk.rows())
        finished += t.state() == v1::TRIAL_STATE_SUCCEEDED || t.state() == v1::TRIAL_STATE_DIVERGED;
    }
    if (std::fwrite(text.data(), 1, text.size(), out) != text.size()) {
      write_failed = true;  // e.g. a closed pipe: stop reading
      return false;
    }
    return true;
  });
  std::fflush(out);
  if (!status.ok()) return Fail(err, o.target, status);
  if (write_failed) {
    std::fprintf(err, "error: could not write the export\n");
    return 1;
  }
  if (stop && *stop) {
    std::fprintf(err, "export interrupted after %d of %d trials\n", written, selected);
    return 130;
  }
  std::fprintf(err, "exported %d trials (%d finished)\n", written, finished);
  return 0;
}

namespace {

inline constexpr size_t kMaxCallRequestBytes = 16 << 20;

// `message` with its size before it as a varint.
bool WriteDelimited(const google::protobuf::Message& message, std::FILE* out) {
  std::string bytes;
  if (!message.SerializeToString(&bytes)) return false;
  std::string prefix;
  for (uint64_t n = bytes.size(); ; n >>= 7) {
    if (n < 0x80) {
      prefix.push_back(static_cast<char>(n));
      break;
    }
    prefix.push_back(static_cast<char>((n & 0x7f) | 0x80));
  }
  return std::fwrite(prefix.data(), 1, prefix.size(), out) == prefix.size() &&
         std::fwrite(bytes.data(), 1, bytes.size(), out) == bytes.size();
}

int CallFailure(std::FILE* err, const absl::Status& status) {
  std::fprintf(err, "%d %s\n", static_cast<int>(status.code()), std::string(status.message()).c_str());
  const bool bad_input = absl::IsInvalidArgument(status) || absl::IsNotFound(status) ||
                         absl::IsResourceExhausted(status);  // as Fail()
  return bad_input ? 2 : 1;
}

}  // namespace

int CallCommand(const CommandOptions& o, const std::string& method, std::FILE* in, std::FILE* out, std::FILE* err,
                const std::atomic<bool>* stop) {
  if (o.target.db.empty()) return CallFailure(err, absl::InvalidArgumentError("call: --db is required"));
  std::string request;
  char buf[1 << 16];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), in)) > 0;) {
    request.append(buf, n);
    if (request.size() > kMaxCallRequestBytes)
      return CallFailure(err, absl::InvalidArgumentError(absl::StrCat("call: the request is over ",
                                                                      kMaxCallRequestBytes, " bytes")));
  }
  if (std::ferror(in)) return CallFailure(err, absl::UnavailableError("call: could not read the request"));
  auto backend = Open(o.target);
  if (!backend.ok()) return CallFailure(err, backend.status());
  Backend& b = **backend;
  // Parses the request as `Request`, answers it with `answer` and writes the response.
  const auto one = [&](auto request_type, auto answer) -> int {
    decltype(request_type) r;
    if (!r.ParseFromString(request))
      return CallFailure(err, absl::InvalidArgumentError(absl::StrCat("call: the request is not a valid ",
                                                                      r.GetDescriptor()->full_name())));
    auto response = answer(r);
    if (!response.ok()) return CallFailure(err, response.status());
    if (!WriteDelimited(*response, out) || std::fflush(out) != 0)
      return CallFailure(err, absl::UnavailableError("call: could not write the response"));
    return 0;
  };
  if (method == "GetGrid")
    return one(v1::GridRef(), [&](const v1::GridRef& r) { return b.GetGrid(r.grid()); });
  if (method == "ListGrids")
    return one(v1::ListGridsRequest(), [&](const v1::ListGridsRequest& r) -> absl::StatusOr<v1::ListGridsResponse> {
      auto grids = b.ListGrids(r.limit());
      if (!grids.ok()) return grids.status();
      v1::ListGridsResponse response;
      for (auto& g : *grids) *response.add_grids() = std::move(g);
      return response;
    });
  if (method == "ListWorkers")
    return one(v1::ListWorkersRequest(), [&](const v1::ListWorkersRequest&) -> absl::StatusOr<v1::ListWorkersResponse> {
      auto workers = b.ListWorkers();
      if (!workers.ok()) return workers.status();
      v1::ListWorkersResponse response;
      for (auto& w : *workers) *response.add_workers() = std::move(w);
      return response;
    });
  if (method == "Compare") return one(v1::CompareRequest(), [&](const v1::CompareRequest& r) { return b.Compare(r); });
  if (method == "Curves") return one(v1::CurvesRequest(), [&](const v1::CurvesRequest& r) { return b.Curves(r); });
  if (method == "Effects") return one(v1::EffectsRequest(), [&](const v1::EffectsRequest& r) { return b.Effects(r); });
  if (method == "Test") return one(v1::TestRequest(), [&](const v1::TestRequest& r) { return b.Test(r); });
  if (method == "Layers") return one(v1::LayersRequest(), [&](const v1::LayersRequest& r) { return b.Layers(r); });
  if (method == "Export") {
    v1::ExportRequest r;
    if (!r.ParseFromString(request))
      return CallFailure(err, absl::InvalidArgumentError("call: the request is not a valid actgrid.v1.ExportRequest"));
    bool write_failed = false;
    const absl::Status status = b.Export(r, [&](const v1::ExportChunk& chunk) {
      if (stop && *stop) return false;
      write_failed = !WriteDelimited(chunk, out);
      return !write_failed;
    });
    if (!status.ok()) return CallFailure(err, status);
    if (write_failed || std::fflush(out) != 0)
      return CallFailure(err, absl::UnavailableError("call: could not write the response"));
    if (stop && *stop) return CallFailure(err, absl::CancelledError("call: interrupted"));
    return 0;
  }
  return CallFailure(err, absl::InvalidArgumentError(absl::StrCat(
                              "call: ", spec::Quoted(method),
                              " is not one of GetGrid, ListGrids, ListWorkers, Compare, Curves, Effects, Test, "
                              "Layers, Export")));
}

int ReportCommand(const CommandOptions& o, const std::string& out_path, std::FILE* out, std::FILE* err) {
  if (absl::Status ref = CheckGridRef(o.grid); !ref.ok()) return Fail(err, o.target, ref);
  auto backend = Open(o.target);
  if (!backend.ok()) return Fail(err, o.target, backend.status());
  Backend& b = **backend;
  ReportSource source;
  source.grid = [&](const std::string& ref) { return b.GetGrid(ref); };
  source.compare = [&](const v1::CompareRequest& r) { return b.Compare(r); };
  source.curves = [&](const v1::CurvesRequest& r) { return b.Curves(r); };
  source.effects = [&](const v1::EffectsRequest& r) { return b.Effects(r); };
  source.layers = [&](const v1::LayersRequest& r) { return b.Layers(r); };
  char generated[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(generated, sizeof(generated), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  auto report = BuildReport(source, o.grid, generated);
  if (!report.ok()) return Fail(err, o.target, report.status());
  const std::string page =
      dashboard::ReportPage(absl::StrCat("actgrid report: ", report->grid.name()), report->json, dashboard::AppJs(),
                            dashboard::AppCss());
  // Written beside the target and renamed over it: an interrupted report leaves the old one.
  const std::string partial = out_path + ".partial";
  std::FILE* file = std::fopen(partial.c_str(), "wb");
  if (!file) {
    std::fprintf(err, "error: --out %s: %s\n", partial.c_str(), std::strerror(errno));
    return 2;
  }
  const bool written = std::fwrite(page.data(), 1, page.size(), file) == page.size();
  if (std::fclose(file) != 0 || !written || std::rename(partial.c_str(), out_path.c_str()) != 0) {
    std::fprintf(err, "error: writing %s: %s\n", out_path.c_str(), std::strerror(errno));
    std::remove(partial.c_str());
    return 1;
  }
  const auto& c = report->grid.counts();
  const int finished = c.succeeded() + c.diverged();
  std::fprintf(out, "%s\n", out_path.c_str());
  std::fprintf(err, "report of grid %s (%ld) written to %s (%.0f KB): %d of %d trials finished\n",
               report->grid.name().c_str(), long(report->grid.id()), out_path.c_str(), page.size() / 1024.0, finished,
               report->grid.trials());
  if (report->grid.state() == v1::GRID_STATE_RUNNING)
    std::fprintf(err, "the grid is still running: the report covers the trials finished so far\n");
  return 0;
}

}  // namespace actgrid::cli
