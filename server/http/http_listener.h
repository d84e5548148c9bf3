// The dashboard server's connections. One thread accepts and reads every connection with
// epoll, never blocking: a request reaches a handler only once its head and body are
// complete, and both must arrive by total deadlines within size limits, so a client that
// trickles bytes costs a socket, not a thread. Complete requests run on a fixed pool of
// workers; fixed answers go back to the loop to be written, streams are written by their
// worker. Connection caps (in all and per peer address) make room for new clients by
// closing the oldest connection that is only waiting.
#ifndef ACTGRID_SERVER_HTTP_HTTP_LISTENER_H_
#define ACTGRID_SERVER_HTTP_HTTP_LISTENER_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/http/http_message.h"
#include "server/http/transport.h"

namespace actgrid::server::http {

struct HttpLimits {
  // A request's head (request line and headers) must have arrived within header_timeout
  // of the connection's start (the TLS handshake included) or, on a kept-alive
  // connection, of the request's first byte; its body within body_timeout of its head.
  // These are totals, not per read: a client that trickles is cut off like one that
  // stalls. Then the connection is closed (after a 408 when part of a request came).
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  // A kept-alive connection waits this long for the first byte of its next request.
  std::chrono::milliseconds idle_timeout{30'000};
  // A fixed answer must be taken by the client within this; a stream, each write.
  std::chrono::milliseconds write_timeout{30'000};
  size_t max_header_bytes = 16 << 10;  // request line and headers; a longer head: 431
  size_t max_body_bytes = 1 << 20;     // a longer body: 413, before it is read
  // Connections open at once, in all and from one IP address. A new connection past a
  // cap closes the oldest one in its scope that only waits for its client (one closing
  // after its answer first, then an idle kept-alive one, then one still sending its
  // request); when every one is busy with a request, the new connection is refused.
  int max_connections = 512;
  int max_connections_per_peer = 64;
};

struct ListenerOptions {
  std::string host;                       // an address or a name to bind to
  int port = 0;                           // 0 picks a free port
  std::shared_ptr<const TlsContext> tls;  // HTTPS when set
  int workers = 32;                       // requests handled at once (streams hold theirs while they last)
  HttpLimits limits;
};

// Answers one complete request. Runs on a worker thread, several at once.
using Handler = std::function<HttpResponse(const HttpRequest&)>;

class HttpListener {
 public:
  // Binds and starts serving. InvalidArgument for limits that cannot work; Unavailable
  // when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpListener>> Start(const ListenerOptions& options, Handler handler);
  virtual ~HttpListener() = default;  // shuts down

  virtual int port() const = 0;
  // Stops accepting, waits for the handlers that run and closes every connection. A
  // streaming handler must have been told to end first (it ends on its own otherwise).
  virtual void Shutdown() = 0;
};

}  // namespace actgrid::server::http

#endif  // ACTGRID_SERVER_HTTP_HTTP_LISTENER_H_
