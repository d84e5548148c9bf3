// The coordinator's HTTP face: the dashboard (the front end built from
// client/dashboard) and a JSON API that is the protobuf JSON mapping of the read-only
// Grids calls and the Analysis calls: one API design, two encodings.
//
//   POST /api/actgrid.v1.Grids/GetGrid        {"grid": "12"}      -> Grid
//   POST /api/actgrid.v1.Grids/ListGrids      {"limit": 100}      -> ListGridsResponse
//   POST /api/actgrid.v1.Grids/ListWorkers    {}                  -> ListWorkersResponse
//   POST /api/actgrid.v1.Grids/WatchGrid      {"grid": "12"}      -> GridEvent per line (x-ndjson)
//   POST /api/actgrid.v1.Analysis/{Compare,Curves,Effects,Test,Layers} -> the response message
//   POST /api/actgrid.v1.Analysis/Export      ExportRequest       -> ExportChunk per line (x-ndjson)
//
// Requests and answers use the .proto field names (snake_case; lowerCamelCase is read
// too); 64-bit integers are strings, NaN and infinities "NaN", "Infinity", "-Infinity",
// enums their names. An error is the HTTP status gRPC's code maps to and
// {"code": 3, "status": "INVALID_ARGUMENT", "message": "..."}. With tokens, every API
// call needs "Authorization: Bearer TOKEN" of a role that may read (auth.h); without
// tokens, only requests addressed to a loopback name (or an allowed host) are answered
// (host_rule.h). Submitting and cancelling stay on gRPC. The scheduler is the only thing
// this talks to: no SQL here, and no gRPC calls. Connections, deadlines and size limits
// are http_listener.h's.
#ifndef ACTGRID_SERVER_HTTP_HTTP_SERVER_H_
#define ACTGRID_SERVER_HTTP_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/scheduler/scheduler.h"
#include "server/grpc/auth.h"
#include "server/http/http_listener.h"

namespace actgrid::server {

struct HttpOptions {
  std::string listen;                      // "host:port"; port 0 picks a free one
  std::shared_ptr<const Authorizer> auth;  // null = open (then `listen` must be loopback)
  // Serve HTTPS with this PEM certificate chain and key (files), when both are set.
  std::string tls_cert_file, tls_key_file;
  // Serve index.html, app.js and app.css from this directory instead of the built-in
  // copy (for working on the front end without rebuilding the server).
  std::string dashboard_dir;
  // Without tokens: host names besides loopback ones that requests may be addressed to
  // (--http-allow-host), "name" at any port or "name:port"; others get 421.
  std::vector<std::string> allowed_hosts;
  int threads = 32;         // requests handled at once; streams hold theirs while they last
  int max_streams = 24;     // open WatchGrid and Export streams at once, fewer than threads; more: 503
  http::HttpLimits limits;  // deadlines, sizes and connection caps
};

class HttpServer {
 public:
  // Binds and starts serving on threads of its own. Errors: InvalidArgument for a bad
  // address, an open server on a non-loopback address, unreadable TLS files or limits
  // that cannot work; Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(scheduler::Scheduler* scheduler, const HttpOptions& options);
  ~HttpServer();

  int port() const { return port_; }
  // The dashboard's address, e.g. "http://127.0.0.1:7080/" (a wildcard host is shown as
  // the machine's hostname).
  const std::string& url() const { return url_; }
  // Ends open streams, stops accepting connections and joins the serving threads.
  void Shutdown();

 private:
  using Method = std::function<http::HttpResponse(const http::HttpRequest&)>;

  HttpServer() = default;
  void Routes();
  http::HttpResponse Handle(const http::HttpRequest& request) const;
  http::HttpResponse Api(const http::HttpRequest& request) const;
  http::HttpResponse Asset(const std::string& name, const http::HttpRequest& request) const;
  Method WatchGrid();
  Method Export();
  // A place among max_streams, held while the stream lives; null when all are taken.
  std::shared_ptr<void> OpenStream();

  scheduler::Scheduler* scheduler_ = nullptr;
  HttpOptions options_;
  std::map<std::string, Method> methods_;       // by "actgrid.v1.Service/Method"
  std::map<std::string, std::string> gzipped_;  // the built-in app.js and app.css, compressed once
  std::unique_ptr<http::HttpListener> listener_;
  int port_ = 0;
  std::string url_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> streams_{0};
};

}  // namespace actgrid::server

#endif  // ACTGRID_SERVER_HTTP_HTTP_SERVER_H_
