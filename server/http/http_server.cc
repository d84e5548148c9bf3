// The HTTP server (see http_server.h), on cpp-httplib.
#include "server/http/http_server.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <utility>

#include <httplib.h>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/dashboard/assets.h"
#include "common/rpc/rpc.h"
#include "server/core/analysis.h"

namespace actgrid::server {
namespace {

using Clock = std::chrono::steady_clock;

// WatchGrid sends at most this many events a second, like its gRPC twin, and a blank
// line after this long without one, so a client that went away is noticed.
constexpr auto kWatchMinInterval = std::chrono::milliseconds(250);
constexpr auto kKeepAlive = std::chrono::seconds(15);
constexpr size_t kMaxRequestBytes = 1 << 20;

// The HTTP status gRPC's code maps to (google.rpc's table).
int HttpStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kCancelled: return 499;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange: return 400;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted: return 409;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kUnimplemented: return 501;
    case absl::StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

// {"code": 3, "status": "INVALID_ARGUMENT", "message": "..."}, escaped as JSON.
std::string ErrorJson(const absl::Status& status) {
  std::string message;
  for (unsigned char c : status.message()) {
    if (c == '"' || c == '\\') {
      message += '\\';
      message += char(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      message += buf;
    } else {
      message += char(c);
    }
  }
  return absl::StrCat("{\"code\": ", int(status.code()), ", \"status\": \"", absl::StatusCodeToString(status.code()),
                      "\", \"message\": \"", message, "\"}");
}

void SendError(httplib::Response& res, const absl::Status& status) {
  res.status = HttpStatus(status.code());
  res.set_header("Cache-Control", "no-store");
  res.set_content(ErrorJson(status) + "\n", "application/json");
}

void SendMessage(httplib::Response& res, const google::protobuf::Message& message) {
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_content(rpc::ProtoJson(message) + "\n", "application/json");
}

absl::Status Parse(const httplib::Request& req, google::protobuf::Message* message) {
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

// A handler of one API method: parses the request, answers or fails.
using Method = std::function<void(const httplib::Request&, httplib::Response&)>;

template <typename Request, typename Answer>
Method Unary(std::function<absl::StatusOr<Answer>(const Request&)> call) {
  return [call](const httplib::Request& req, httplib::Response& res) {
    Request request;
    if (auto st = Parse(req, &request); !st.ok()) return SendError(res, st);
    auto answer = call(request);
    if (!answer.ok()) return SendError(res, answer.status());
    SendMessage(res, *answer);
  };
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(core::Scheduler* scheduler,
                                                              const HttpOptions& options) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(options.listen, &host, &port))
    return absl::InvalidArgumentError(absl::StrCat("--http ", options.listen, ": not host:port"));
  if (!(options.auth && options.auth->enabled()) && !IsLoopback(options.listen))
    return absl::InvalidArgumentError(absl::StrCat(
        "--http ", options.listen,
        ": without tokens (--tokens) the dashboard serves this machine only; use 127.0.0.1:PORT"));
  if (options.tls_cert_file.empty() != options.tls_key_file.empty())
    return absl::InvalidArgumentError("the HTTPS certificate and key go together");

  std::unique_ptr<HttpServer> http(new HttpServer());
  http->scheduler_ = scheduler;
  http->options_ = options;
  const bool tls = !options.tls_cert_file.empty();
  if (tls) {
    auto ssl = std::make_unique<httplib::SSLServer>(options.tls_cert_file.c_str(), options.tls_key_file.c_str());
    if (!ssl->is_valid())
      return absl::InvalidArgumentError(absl::StrCat("cannot serve HTTPS with ", options.tls_cert_file, " and ",
                                                     options.tls_key_file, " (not a PEM certificate and key?)"));
    http->server_ = std::move(ssl);
  } else {
    http->server_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& server = *http->server_;
  const int threads = std::max(2, options.threads);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_payload_max_length(kMaxRequestBytes);
  server.set_read_timeout(30, 0);
  server.set_write_timeout(30, 0);
  http->Routes();

  if (port == 0) {
    port = server.bind_to_any_port(host);
    if (port < 0) port = 0;
  } else if (!server.bind_to_port(host, port)) {
    port = 0;
  }
  if (port == 0) return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen, " for HTTP"));
  http->port_ = port;
  std::string shown = host;
  if (host == "0.0.0.0" || host == "::") {
    char name[256] = {};
    shown = gethostname(name, sizeof(name) - 1) == 0 && name[0] ? name : "127.0.0.1";
  } else if (host.find(':') != std::string::npos) {
    shown = absl::StrCat("[", host, "]");
  }
  http->url_ = absl::StrCat(tls ? "https" : "http", "://", shown, ":", port, "/");
  http->thread_ = std::thread([&server] { server.listen_after_bind(); });
  return http;
}

HttpServer::~HttpServer() { Shutdown(); }

void HttpServer::Shutdown() {
  if (stopping_.exchange(true)) return;
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void HttpServer::Routes() {
  httplib::Server& server = *server_;
  core::Scheduler* scheduler = scheduler_;

  // The front end: the built-in copy, or files from --dashboard-dir.
  auto asset = [this](const std::string& name, const std::string& type) {
    return [this, name, type](const httplib::Request&, httplib::Response& res) {
      std::string body;
      if (!options_.dashboard_dir.empty()) {
        auto file = ReadFile(options_.dashboard_dir + "/" + name);
        if (!file.ok() && name == "index.html") file = dashboard::LivePage();
        if (!file.ok()) return SendError(res, file.status());
        body = *std::move(file);
      } else if (name == "index.html") {
        body = dashboard::LivePage();
      } else {
        body = std::string(name == "app.js" ? dashboard::AppJs() : dashboard::AppCss());
      }
      res.set_header("Cache-Control", "no-cache");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Content-Security-Policy",
                     "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                     "connect-src 'self'; frame-ancestors 'none'");
      res.set_content(body, type);
    };
  };
  server.Get("/", asset("index.html", "text/html; charset=utf-8"));
  server.Get("/index.html", asset("index.html", "text/html; charset=utf-8"));
  server.Get("/app.js", asset("app.js", "text/javascript; charset=utf-8"));
  server.Get("/app.css", asset("app.css", "text/css; charset=utf-8"));
  server.Get("/favicon.ico", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });

  std::map<std::string, Method> methods;
  methods["actgrid.v1.Grids/GetGrid"] = Unary<v1::GridRef, v1::Grid>(
      [scheduler](const v1::GridRef& r) { return scheduler->GetGrid(r.grid()); });
  methods["actgrid.v1.Grids/ListGrids"] = Unary<v1::ListGridsRequest, v1::ListGridsResponse>(
      [scheduler](const v1::ListGridsRequest& r) -> absl::StatusOr<v1::ListGridsResponse> {
        auto grids = scheduler->ListGrids(r.limit());
        if (!grids.ok()) return grids.status();
        v1::ListGridsResponse response;
        for (auto& g : *grids) *response.add_grids() = std::move(g);
        return response;
      });
  methods["actgrid.v1.Grids/ListWorkers"] = Unary<v1::ListWorkersRequest, v1::ListWorkersResponse>(
      [scheduler](const v1::ListWorkersRequest&) -> absl::StatusOr<v1::ListWorkersResponse> {
        auto workers = scheduler->ListWorkers();
        if (!workers.ok()) return workers.status();
        v1::ListWorkersResponse response;
        for (auto& w : *workers) *response.add_workers() = std::move(w);
        return response;
      });
  methods["actgrid.v1.Analysis/Compare"] = Unary<v1::CompareRequest, v1::CompareResponse>(
      [scheduler](const v1::CompareRequest& r) { return core::Compare(scheduler->store(), r); });
  methods["actgrid.v1.Analysis/Curves"] = Unary<v1::CurvesRequest, v1::CurvesResponse>(
      [scheduler](const v1::CurvesRequest& r) { return core::Curves(scheduler->store(), r); });
  methods["actgrid.v1.Analysis/Effects"] = Unary<v1::EffectsRequest, v1::EffectsResponse>(
      [scheduler](const v1::EffectsRequest& r) { return core::Effects(scheduler->store(), r); });
  methods["actgrid.v1.Analysis/Test"] = Unary<v1::TestRequest, v1::TestResponse>(
      [scheduler](const v1::TestRequest& r) { return core::Test(scheduler->store(), r); });
  methods["actgrid.v1.Analysis/Layers"] = Unary<v1::LayersRequest, v1::LayersResponse>(
      [scheduler](const v1::LayersRequest& r) { return core::Layers(scheduler->store(), r); });

  // Streams: one message per line; the connection stays with its thread while it lasts.
  auto open_stream = [this](httplib::Response& res) {
    if (streams_.fetch_add(1) >= options_.max_streams) {
      streams_.fetch_sub(1);
      SendError(res, absl::UnavailableError(absl::StrCat("more than ", options_.max_streams,
                                                         " streams are open; try again later")));
      return false;
    }
    return true;
  };
  methods["actgrid.v1.Grids/WatchGrid"] = [this, scheduler, open_stream](const httplib::Request& req,
                                                                          httplib::Response& res) {
    v1::GridRef ref;
    if (auto st = Parse(req, &ref); !st.ok()) return SendError(res, st);
    auto grid = scheduler->GetGrid(ref.grid());
    if (!grid.ok()) return SendError(res, grid.status());
    if (!open_stream(res)) return;
    struct Watch {
      int64_t id;
      uint64_t cursor = 0;
      uint64_t version = 0;
      bool first = true, done = false;
      Clock::time_point next;
    };
    auto watch = std::make_shared<Watch>();
    watch->id = grid->id();
    scheduler->FailuresSince(watch->id, &watch->cursor);  // only failures from now on
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_chunked_content_provider(
        "application/x-ndjson",
        [this, scheduler, watch](size_t, httplib::DataSink& sink) {
          if (watch->done || stopping_) {
            sink.done();
            return true;
          }
          if (!watch->first) {
            // Wait for a change, a blank line now and then, and stop with the server.
            const auto quiet_until = Clock::now() + kKeepAlive;
            for (;;) {
              if (stopping_) {
                sink.done();
                return true;
              }
              const uint64_t seen = scheduler->WaitForChange(watch->version, std::chrono::milliseconds(500));
              if (seen != watch->version) break;
              if (!sink.is_writable()) return false;
              if (Clock::now() >= quiet_until) return sink.write("\n", 1);
            }
            std::this_thread::sleep_until(watch->next);
          }
          watch->version = scheduler->version();
          auto now = scheduler->GetGrid(std::to_string(watch->id));
          if (!now.ok()) {
            const std::string line = ErrorJson(now.status()) + "\n";
            sink.write(line.data(), line.size());
            sink.done();
            return true;
          }
          v1::GridEvent event;
          *event.mutable_grid() = *now;
          for (auto& e : scheduler->FailuresSince(watch->id, &watch->cursor)) event.add_errors(std::move(e));
          const std::string line = rpc::ProtoJson(event) + "\n";
          if (!sink.write(line.data(), line.size())) return false;
          watch->first = false;
          watch->next = Clock::now() + kWatchMinInterval;
          watch->done = now->state() != v1::GRID_STATE_RUNNING;
          return true;
        },
        [this](bool) { streams_.fetch_sub(1); });
  };
  methods["actgrid.v1.Analysis/Export"] = [this, scheduler, open_stream](const httplib::Request& req,
                                                                          httplib::Response& res) {
    auto request = std::make_shared<v1::ExportRequest>();
    if (auto st = Parse(req, request.get()); !st.ok()) return SendError(res, st);
    // The request is checked (grid, filters) before the answer's status is sent: the
    // export stops at its first chunk.
    if (auto st = core::Export(scheduler->store(), *request, [](const v1::ExportChunk&) { return false; });
        !st.ok())
      return SendError(res, st);
    if (!open_stream(res)) return;
    res.set_header("Cache-Control", "no-store");
    res.set_chunked_content_provider(
        "application/x-ndjson",
        [this, scheduler, request](size_t, httplib::DataSink& sink) {
          const absl::Status st = core::Export(scheduler->store(), *request, [&](const v1::ExportChunk& chunk) {
            if (stopping_) return false;
            const std::string line = rpc::ProtoJson(chunk) + "\n";
            return sink.write(line.data(), line.size());
          });
          if (!st.ok()) {  // after the first chunk: the error ends the stream as its last line
            const std::string line = ErrorJson(st) + "\n";
            sink.write(line.data(), line.size());
          }
          sink.done();
          return true;
        },
        [this](bool) { streams_.fetch_sub(1); });
  };

  std::string known;
  for (const auto& [name, method] : methods) absl::StrAppend(&known, known.empty() ? "" : ", ", name);
  auto api = [this, methods = std::move(methods), known](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    const bool has_header = req.has_header("Authorization");
    const std::string value = has_header ? req.get_header_value("Authorization") : "";
    const std::string* header = has_header ? &value : nullptr;
    if (options_.auth)
      if (auto st = options_.auth->CheckHeader(header, Permission::kRead); !st.ok()) {
        res.set_header("WWW-Authenticate", "Bearer");
        return SendError(res, st);
      }
    const auto method = methods.find(name);
    if (method == methods.end()) {
      if (name == "actgrid.v1.Grids/SubmitGrid" || name == "actgrid.v1.Grids/CancelGrid")
        return SendError(res, absl::UnimplementedError(absl::StrCat(
                                  name, " is served over gRPC only (actgrid submit, actgrid cancel)")));
      return SendError(res, absl::NotFoundError(absl::StrCat("no method ", name, "; the API has ", known)));
    }
    method->second(req, res);
  };
  server.Post(R"(/api/([A-Za-z0-9_.]+/[A-Za-z0-9_]+))", api);
  server.Get(R"(/api/(.*))", [](const httplib::Request&, httplib::Response& res) {
    SendError(res, absl::InvalidArgumentError("API calls are POSTs of the request message in JSON"));
    res.status = 405;
    res.set_header("Allow", "POST");
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr e) {
    std::string what = "unexpected error";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
    }
    SendError(res, absl::InternalError(what));
  });
}

}  // namespace actgrid::server
