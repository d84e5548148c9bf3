// The dashboard server's sockets: the listening one, and a connection's byte stream, a
// non-blocking TCP socket, plain or with TLS (OpenSSL) over it. A transport's calls never
// wait; they say what the socket must become (readable, writable) before they can go on.
#ifndef ACTGRID_SERVER_HTTP_TRANSPORT_H_
#define ACTGRID_SERVER_HTTP_TRANSPORT_H_

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace actgrid::server::http {

// A non-blocking listening TCP socket on `host` (an address or a name) and `port` (0: a
// free one, stored in `bound_port`). Unavailable when it cannot be resolved or bound.
absl::StatusOr<int> Listen(const std::string& host, int port, int* bound_port);

// The IP address of an accepted peer as text ("127.0.0.1", "::1"; IPv4-mapped as IPv4).
std::string PeerAddress(const sockaddr_storage& address);

enum class Io {
  kDone,       // `bytes` moved (at least one, for reads and writes)
  kWantRead,   // call again once the socket is readable
  kWantWrite,  // call again once the socket is writable
  kClosed,     // the peer ended the connection cleanly
  kFailed,     // a socket or TLS error: the connection is lost
};

struct IoResult {
  Io io;
  size_t bytes = 0;
};

// One connection; not thread-safe: one thread at a time uses it.
class Transport {
 public:
  virtual ~Transport() = default;  // closes the socket
  virtual int fd() const = 0;
  // Completes the TLS handshake (a plain transport is done at once).
  virtual IoResult Handshake() = 0;
  virtual IoResult Read(char* data, size_t size) = 0;
  virtual IoResult Write(const char* data, size_t size) = 0;
  // Tells the peer that nothing more comes (TLS close_notify, then TCP FIN); reads go on.
  virtual void ShutdownWrite() = 0;
};

// Owns `fd`, a connected non-blocking TCP socket.
std::unique_ptr<Transport> PlainTransport(int fd);

// A server's certificate and key, shared by its TLS connections.
class TlsContext {
 public:
  // Reads a PEM certificate chain and its key. InvalidArgument when they cannot be read or
  // do not belong together.
  static absl::StatusOr<std::unique_ptr<TlsContext>> FromFiles(const std::string& cert_file,
                                                               const std::string& key_file);
  ~TlsContext();
  // A transport that owns `fd` and speaks TLS as the server over it (handshake first).
  std::unique_ptr<Transport> Accept(int fd) const;

 private:
  explicit TlsContext(void* ctx) : ctx_(ctx) {}
  void* ctx_;  // SSL_CTX
};

// Writes all of `data`, waiting for the socket as needed but not past `deadline`. False
// when the connection failed or the deadline passed first.
bool WriteAll(Transport& transport, absl::string_view data, std::chrono::steady_clock::time_point deadline);

// False once the peer has closed its side of the connection or the socket failed.
bool PeerOpen(const Transport& transport);

}  // namespace actgrid::server::http

#endif  // ACTGRID_SERVER_HTTP_TRANSPORT_H_
