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
// call needs "Authorization: Bearer TOKEN" of a role that may read (auth.h). Submitting
// and cancelling stay on gRPC. The scheduler is the only thing this talks to: no SQL
// here, and no gRPC calls.
#ifndef ACTGRID_SERVER_HTTP_HTTP_SERVER_H_
#define ACTGRID_SERVER_HTTP_HTTP_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/core/scheduler.h"
#include "server/grpc/auth.h"

namespace httplib {
class Server;
}

namespace actgrid::server {

struct HttpOptions {
  std::string listen;                    // "host:port"; port 0 picks a free one
  std::shared_ptr<const Authorizer> auth;  // null = open (then `listen` must be loopback)
  // Serve HTTPS with this PEM certificate chain and key (files), when both are set.
  std::string tls_cert_file, tls_key_file;
  // Serve index.html, app.js and app.css from this directory instead of the built-in
  // copy (for working on the front end without rebuilding the server).
  std::string dashboard_dir;
  int threads = 32;      // connections served at once
  int max_streams = 24;  // open WatchGrid and Export streams at once; more are refused (503)
};

class HttpServer {
 public:
  // Binds and starts serving on a thread of its own. Errors: InvalidArgument for a bad
  // address, an open server on a non-loopback address or unreadable TLS files;
  // Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(core::Scheduler* scheduler, const HttpOptions& options);
  ~HttpServer();

  int port() const { return port_; }
  // The dashboard's address, e.g. "http://127.0.0.1:7080/" (a wildcard host is shown as
  // the machine's hostname).
  const std::string& url() const { return url_; }
  // Ends open streams, stops accepting connections and joins the serving thread.
  void Shutdown();

 private:
  HttpServer() = default;
  void Routes();

  core::Scheduler* scheduler_ = nullptr;
  HttpOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::string url_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> streams_{0};
};

}  // namespace actgrid::server

#endif  // ACTGRID_SERVER_HTTP_HTTP_SERVER_H_
