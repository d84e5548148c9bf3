// The HTTP server (see http_server.h): its routes and handlers, on http_listener.h.
#include "server/http/http_server.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/dashboard/assets.h"
#include "common/rpc/rpc.h"
#include "server/analysis/analysis.h"
#include "server/http/host_rule.h"

namespace actgrid::server {
namespace {

using Clock = std::chrono::steady_clock;
using http::ErrorJson;
using http::ErrorResponse;
using http::HttpRequest;
using http::HttpResponse;

// WatchGrid sends at most this many events a second, like its gRPC twin, and a blank
// line after this long without one, so a client that went away is noticed.
constexpr auto kWatchMinInterval = std::chrono::milliseconds(250);
constexpr auto kKeepAlive = std::chrono::seconds(15);

HttpResponse MessageResponse(const google::protobuf::Message& message) {
  HttpResponse response;
  response.content_type = "application/json";
  response.SetHeader("Cache-Control", "no-store");
  response.body = rpc::ProtoJson(message) + "\n";
  return response;
}

absl::Status Parse(const HttpRequest& req, google::protobuf::Message* message) {
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) return absl::OkStatus();  // the default request
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a misspelt field is an error, not a silent default
  if (auto st = google::protobuf::util::JsonStringToMessage(req.body, message, options); !st.ok())
    return absl::InvalidArgumentError(absl::StrCat("the request is not a ", message->GetDescriptor()->full_name(),
                                                   " in JSON: ", st.message().as_string()));
  return absl::OkStatus();
}

bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) return false;
  *host = address.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  if (host->empty()) *host = "0.0.0.0";
  return absl::SimpleAtoi(address.substr(colon + 1), port) && *port >= 0 && *port <= 65535;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A method's name as the API spells it: "Service/Method", letters, digits, '_' and '.'.
bool IsMethodName(const std::string& name) {
  const size_t slash = name.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (i == slash) continue;
    if (!(absl::ascii_isalnum(c) || c == '_' || (c == '.' && i < slash))) return false;
  }
  return true;
}

template <typename Request, typename Answer>
std::function<HttpResponse(const HttpRequest&)> Unary(std::function<absl::StatusOr<Answer>(const Request&)> call) {
  return [call](const HttpRequest& req) {
    Request request;
    if (auto st = Parse(req, &request); !st.ok()) return ErrorResponse(st);
    auto answer = call(request);
    if (!answer.ok()) return ErrorResponse(answer.status());
    return MessageResponse(*answer);
  };
}

// Holds one of the max_streams places while it lives.
class StreamSlot {
 public:
  explicit StreamSlot(std::atomic<int>* open) : open_(open) {}
  ~StreamSlot() { open_->fetch_sub(1); }

 private:
  std::atomic<int>* open_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(scheduler::Scheduler* scheduler, const HttpOptions& options) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(options.listen, &host, &port))
    return absl::InvalidArgumentError(absl::StrCat("--http ", options.listen, ": not host:port"));
  if (!(options.auth && options.auth->enabled()) && !IsLoopback(options.listen))
    return absl::InvalidArgumentError(
        absl::StrCat("--http ", options.listen,
                     ": without tokens (--tokens) the dashboard serves this machine only; use 127.0.0.1:PORT"));
  if (options.tls_cert_file.empty() != options.tls_key_file.empty())
    return absl::InvalidArgumentError("the HTTPS certificate and key go together");
  if (options.max_streams < 0 || options.max_streams >= options.threads)
    return absl::InvalidArgumentError(absl::StrCat("the HTTP server's ", options.threads,
                                                   " threads must be more than its ", options.max_streams, " streams"));
  for (const std::string& name : options.allowed_hosts)
    if (http::HostOf(name).empty())
      return absl::InvalidArgumentError(absl::StrCat("--http-allow-host ", name, ": not a host name or name:port"));

  http::ListenerOptions listen;
  listen.host = host;
  listen.port = port;
  listen.workers = options.threads;
  listen.limits = options.limits;
  const bool tls = !options.tls_cert_file.empty();
  if (tls) {
    auto context = http::TlsContext::FromFiles(options.tls_cert_file, options.tls_key_file);
    if (!context.ok()) return context.status();
    listen.tls = *std::move(context);
  }

  std::unique_ptr<HttpServer> server(new HttpServer());
  server->scheduler_ = scheduler;
  server->options_ = options;
  server->Routes();
  if (options.dashboard_dir.empty())
    for (const auto& [name, text] :
         {std::make_pair("app.js", dashboard::AppJs()), std::make_pair("app.css", dashboard::AppCss())})
      if (auto gzipped = http::Gzip(absl::string_view(text.data(), text.size())); gzipped.ok())
        server->gzipped_[name] = *std::move(gzipped);
  HttpServer* self = server.get();
  auto listener = http::HttpListener::Start(listen, [self](const HttpRequest& req) {
    HttpResponse res = self->Handle(req);
    res.SetHeader("X-Content-Type-Options", "nosniff");
    http::CompressFor(req, &res);
    return res;
  });
  if (!listener.ok()) {
    if (absl::IsUnavailable(listener.status()))
      return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen, " for HTTP"));
    return listener.status();
  }
  server->listener_ = *std::move(listener);
  server->port_ = server->listener_->port();
  std::string shown = host;
  if (host == "0.0.0.0" || host == "::") {
    char name[256] = {};
    shown = gethostname(name, sizeof(name) - 1) == 0 && name[0] ? name : "127.0.0.1";
  } else if (host.find(':') != std::string::npos) {
    shown = absl::StrCat("[", host, "]");
  }
  server->url_ = absl::StrCat(tls ? "https" : "http", "://", shown, ":", server->port_, "/");
  return server;
}

HttpServer::~HttpServer() { Shutdown(); }

void HttpServer::Shutdown() {
  if (stopping_.exchange(true)) return;  // streams see this and end
  if (listener_) listener_->Shutdown();
}

HttpResponse HttpServer::Handle(const HttpRequest& req) const {
  const bool open = !(options_.auth && options_.auth->enabled());
  if (open && !http::IsAllowedHost(req.Header("host"), options_.allowed_hosts)) {
    const std::string* host = req.Header("host");
    return ErrorResponse(
        absl::PermissionDeniedError(absl::StrCat(
            "this dashboard has no tokens, so it answers requests addressed to this machine's loopback names only "
            "(localhost, 127.0.0.1, [::1]), not to ",
            host ? absl::StrCat("\"", *host, "\"") : "a request without a Host header",
            "; to serve it under another name, start it with --http-allow-host NAME")),
        421);
  }
  if (absl::StartsWith(req.path, "/api/")) return Api(req);
  static const std::map<std::string, std::string> kPages = {{"/", "index.html"},
                                                            {"/index.html", "index.html"},
                                                            {"/app.js", "app.js"},
                                                            {"/app.css", "app.css"},
                                                            {"/favicon.ico", ""}};
  const auto page = kPages.find(req.path);
  if (page == kPages.end())
    return ErrorResponse(absl::NotFoundError(absl::StrCat("no page ", req.path, "; the dashboard is at /")));
  if (req.method != "GET" && req.method != "HEAD") {
    HttpResponse res = ErrorResponse(absl::InvalidArgumentError("pages are read with GET"), 405);
    res.SetHeader("Allow", "GET, HEAD");
    return res;
  }
  if (page->second.empty()) {
    HttpResponse res;
    res.status = 204;
    return res;
  }
  return Asset(page->second, req);
}

// The front end: the built-in copy, or files from --dashboard-dir.
HttpResponse HttpServer::Asset(const std::string& name, const HttpRequest& req) const {
  HttpResponse res;
  if (const auto gzipped = gzipped_.find(name); gzipped != gzipped_.end() && http::AcceptsGzip(req)) {
    res.body = gzipped->second;
    res.SetHeader("Content-Encoding", "gzip");
    res.SetHeader("Vary", "Accept-Encoding");
  } else if (!options_.dashboard_dir.empty()) {
    auto file = ReadFile(options_.dashboard_dir + "/" + name);
    if (!file.ok() && name == "index.html") file = dashboard::LivePage();
    if (!file.ok()) return ErrorResponse(file.status());
    res.body = *std::move(file);
  } else if (name == "index.html") {
    res.body = dashboard::LivePage();
  } else {
    res.body = std::string(name == "app.js" ? dashboard::AppJs() : dashboard::AppCss());
  }
  res.content_type = name == "index.html" ? "text/html; charset=utf-8"
                     : name == "app.js"   ? "text/javascript; charset=utf-8"
                                          : "text/css; charset=utf-8";
  res.SetHeader("Cache-Control", "no-cache");
  res.SetHeader("Content-Security-Policy",
                "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                "connect-src 'self'; frame-ancestors 'none'");
  return res;
}

HttpResponse HttpServer::Api(const HttpRequest& req) const {
  if (req.method != "POST") {
    HttpResponse res =
        ErrorResponse(absl::InvalidArgumentError("API calls are POSTs of the request message in JSON"), 405);
    res.SetHeader("Allow", "POST");
    return res;
  }
  const std::string name = req.path.substr(5);
  if (options_.auth)
    if (auto st = options_.auth->CheckHeader(req.Header("authorization"), Permission::kRead); !st.ok()) {
      HttpResponse res = ErrorResponse(st);
      res.SetHeader("WWW-Authenticate", "Bearer");
      return res;
    }
  const auto method = methods_.find(name);
  if (method == methods_.end()) {
    if (name == "actgrid.v1.Grids/SubmitGrid" || name == "actgrid.v1.Grids/CancelGrid")
      return ErrorResponse(
          absl::UnimplementedError(absl::StrCat(name, " is served over gRPC only (actgrid submit, actgrid cancel)")));
    std::string known;
    for (const auto& [known_name, unused] : methods_) absl::StrAppend(&known, known.empty() ? "" : ", ", known_name);
    return ErrorResponse(absl::NotFoundError(
        absl::StrCat("no method ", IsMethodName(name) ? name : "by that name", "; the API has ", known)));
  }
  return method->second(req);
}

void HttpServer::Routes() {
  scheduler::Scheduler* scheduler = scheduler_;
  methods_["actgrid.v1.Grids/GetGrid"] =
      Unary<v1::GridRef, v1::Grid>([scheduler](const v1::GridRef& r) { return scheduler->GetGrid(r.grid()); });
  methods_["actgrid.v1.Grids/ListGrids"] = Unary<v1::ListGridsRequest, v1::ListGridsResponse>(
      [scheduler](const v1::ListGridsRequest& r) -> absl::StatusOr<v1::ListGridsResponse> {
        auto grids = scheduler->ListGrids(r.limit());
        if (!grids.ok()) return grids.status();
        v1::ListGridsResponse response;
        for (auto& g : *grids) *response.add_grids() = std::move(g);
        return response;
      });
  methods_["actgrid.v1.Grids/ListWorkers"] = Unary<v1::ListWorkersRequest, v1::ListWorkersResponse>(
      [scheduler](const v1::ListWorkersRequest&) -> absl::StatusOr<v1::ListWorkersResponse> {
        auto workers = scheduler->ListWorkers();
        if (!workers.ok()) return workers.status();
        v1::ListWorkersResponse response;
        for (auto& w : *workers) *response.add_workers() = std::move(w);
        return response;
      });
  methods_["actgrid.v1.Analysis/Compare"] = Unary<v1::CompareRequest, v1::CompareResponse>(
      [scheduler](const v1::CompareRequest& r) { return analysis::Compare(scheduler->store(), r); });
  methods_["actgrid.v1.Analysis/Curves"] = Unary<v1::CurvesRequest, v1::CurvesResponse>(
      [scheduler](const v1::CurvesRequest& r) { return analysis::Curves(scheduler->store(), r); });
  methods_["actgrid.v1.Analysis/Effects"] = Unary<v1::EffectsRequest, v1::EffectsResponse>(
      [scheduler](const v1::EffectsRequest& r) { return analysis::Effects(scheduler->store(), r); });
  methods_["actgrid.v1.Analysis/Test"] = Unary<v1::TestRequest, v1::TestResponse>(
      [scheduler](const v1::TestRequest& r) { return analysis::Test(scheduler->store(), r); });
  methods_["actgrid.v1.Analysis/Layers"] = Unary<v1::LayersRequest, v1::LayersResponse>(
      [scheduler](const v1::LayersRequest& r) { return analysis::Layers(scheduler->store(), r); });
  methods_["actgrid.v1.Grids/WatchGrid"] = WatchGrid();
  methods_["actgrid.v1.Analysis/Export"] = Export();
}

std::shared_ptr<void> HttpServer::OpenStream() {
  if (streams_.fetch_add(1) >= options_.max_streams) {
    streams_.fetch_sub(1);
    return nullptr;
  }
  return std::make_shared<StreamSlot>(&streams_);
}

// Streams answer one message per line, written by the worker that serves the request.
HttpServer::Method HttpServer::WatchGrid() {
  return [this](const HttpRequest& req) {
    v1::GridRef ref;
    if (auto st = Parse(req, &ref); !st.ok()) return ErrorResponse(st);
    auto grid = scheduler_->GetGrid(ref.grid());
    if (!grid.ok()) return ErrorResponse(grid.status());
    auto slot = OpenStream();
    if (!slot)
      return ErrorResponse(absl::UnavailableError(
          absl::StrCat("more than ", options_.max_streams, " streams are open; try again later")));
    const int64_t id = grid->id();
    uint64_t start = 0;
    scheduler_->FailuresSince(id, &start);  // only failures from now on
    HttpResponse res;
    res.content_type = "application/x-ndjson";
    res.SetHeader("Cache-Control", "no-store");
    res.stream = [this, id, start, slot](http::StreamSink& sink) {
      scheduler::Scheduler* scheduler = scheduler_;
      uint64_t cursor = start, version = 0;
      Clock::time_point next;  // no event before this
      for (bool first = true;; first = false) {
        if (!first) {
          // Wait for a change, a blank line now and then, and stop with the server.
          auto quiet_until = Clock::now() + kKeepAlive;
          for (;;) {
            if (stopping_) return;
            if (scheduler->WaitForChange(version, std::chrono::milliseconds(500)) != version) break;
            if (!sink.Alive()) return;
            if (Clock::now() >= quiet_until) {
              if (!sink.Write("\n")) return;
              quiet_until = Clock::now() + kKeepAlive;
            }
          }
          std::this_thread::sleep_until(next);
        }
        version = scheduler->version();
        auto now = scheduler->GetGrid(std::to_string(id));
        if (!now.ok()) {
          sink.Write(ErrorJson(now.status()) + "\n");
          return;
        }
        v1::GridEvent event;
        *event.mutable_grid() = *now;
        for (auto& e : scheduler->FailuresSince(id, &cursor)) event.add_errors(std::move(e));
        if (!sink.Write(rpc::ProtoJson(event) + "\n")) return;
        next = Clock::now() + kWatchMinInterval;
        if (now->state() != v1::GRID_STATE_RUNNING) return;
      }
    };
    return res;
  };
}

HttpServer::Method HttpServer::Export() {
  return [this](const HttpRequest& req) {
    auto request = std::make_shared<v1::ExportRequest>();
    if (auto st = Parse(req, request.get()); !st.ok()) return ErrorResponse(st);
    // The request is checked (grid, filters) before the answer's status is sent: the
    // export stops at its first chunk.
    if (auto st = analysis::Export(scheduler_->store(), *request, [](const v1::ExportChunk&) { return false; }); !st.ok())
      return ErrorResponse(st);
    auto slot = OpenStream();
    if (!slot)
      return ErrorResponse(absl::UnavailableError(
          absl::StrCat("more than ", options_.max_streams, " streams are open; try again later")));
    HttpResponse res;
    res.content_type = "application/x-ndjson";
    res.SetHeader("Cache-Control", "no-store");
    res.stream = [this, request, slot](http::StreamSink& sink) {
      const absl::Status st = analysis::Export(scheduler_->store(), *request, [&](const v1::ExportChunk& chunk) {
        return !stopping_ && sink.Write(rpc::ProtoJson(chunk) + "\n");
      });
      if (!st.ok()) sink.Write(ErrorJson(st) + "\n");  // after the first chunk: the error ends the stream
    };
    return res;
  };
}

}  // namespace actgrid::server
