// Plain and TLS transports over non-blocking sockets (see transport.h). The threads that
// use them block SIGPIPE (http_listener.cc), so a write to a closed peer fails with EPIPE
// instead of ending the process, for OpenSSL's writes as for ours.
#include "server/http/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "absl/strings/str_cat.h"

namespace actgrid::server::http {
namespace {

class Plain final : public Transport {
 public:
  explicit Plain(int fd) : fd_(fd) {}
  ~Plain() override { ::close(fd_); }
  int fd() const override { return fd_; }
  IoResult Handshake() override { return {Io::kDone}; }

  IoResult Read(char* data, size_t size) override {
    for (;;) {
      const ssize_t n = ::recv(fd_, data, size, 0);
      if (n > 0) return {Io::kDone, size_t(n)};
      if (n == 0) return {Io::kClosed};
      if (errno == EINTR) continue;
      return {errno == EAGAIN || errno == EWOULDBLOCK ? Io::kWantRead : Io::kFailed};
    }
  }

  IoResult Write(const char* data, size_t size) override {
    for (;;) {
      const ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
      if (n >= 0) return {Io::kDone, size_t(n)};
      if (errno == EINTR) continue;
      return {errno == EAGAIN || errno == EWOULDBLOCK ? Io::kWantWrite : Io::kFailed};
    }
  }

  void ShutdownWrite() override { ::shutdown(fd_, SHUT_WR); }

 private:
  int fd_;
};

class Tls final : public Transport {
 public:
  Tls(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~Tls() override {
    SSL_free(ssl_);
    ::close(fd_);
  }
  int fd() const override { return fd_; }

  IoResult Handshake() override {
    ERR_clear_error();
    const int r = SSL_accept(ssl_);
    return r == 1 ? IoResult{Io::kDone} : Failure(r);
  }

  IoResult Read(char* data, size_t size) override {
    ERR_clear_error();
    size_t n = 0;
    const int r = SSL_read_ex(ssl_, data, size, &n);
    return r == 1 ? IoResult{Io::kDone, n} : Failure(r);
  }

  IoResult Write(const char* data, size_t size) override {
    if (size == 0) return {Io::kDone};
    ERR_clear_error();
    size_t n = 0;
    const int r = SSL_write_ex(ssl_, data, size, &n);
    return r == 1 ? IoResult{Io::kDone, n} : Failure(r);
  }

  void ShutdownWrite() override {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // queues close_notify; best effort on a non-blocking socket
    ::shutdown(fd_, SHUT_WR);
  }

 private:
  IoResult Failure(int r) {
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_WANT_READ: return {Io::kWantRead};
      case SSL_ERROR_WANT_WRITE: return {Io::kWantWrite};
      case SSL_ERROR_ZERO_RETURN: return {Io::kClosed};
      default: return {Io::kFailed};
    }
  }

  int fd_;
  SSL* ssl_;
};

}  // namespace

absl::StatusOr<int> Listen(const std::string& host, int port, int* bound_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0 || !found)
    return absl::UnavailableError(absl::StrCat("cannot resolve ", host));
  int listening = -1;
  for (addrinfo* a = found; a && listening < 0; a = a->ai_next) {  // the first that binds
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) {
      listening = fd;
    } else {
      ::close(fd);
    }
  }
  freeaddrinfo(found);
  if (listening < 0) return absl::UnavailableError(absl::StrCat("cannot listen on ", host, ":", port));
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  ::getsockname(listening, reinterpret_cast<sockaddr*>(&bound), &length);
  *bound_port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                                  : reinterpret_cast<sockaddr_in&>(bound).sin_port);
  return listening;
}

std::string PeerAddress(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr, text, sizeof(text));
  } else if (address.ss_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6&>(address).sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      inet_ntop(AF_INET, &a.s6_addr[12], text, sizeof(text));
    } else {
      inet_ntop(AF_INET6, &a, text, sizeof(text));
    }
  }
  return text;
}

std::unique_ptr<Transport> PlainTransport(int fd) { return std::make_unique<Plain>(fd); }

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContext::FromFiles(const std::string& cert_file,
                                                                  const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return absl::InternalError("cannot make a TLS context");
  std::unique_ptr<TlsContext> context(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  // Writes may end part way and go on from a buffer that moved (WriteAll, the loop).
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    char reason[256] = {};
    ERR_error_string_n(ERR_peek_last_error(), reason, sizeof(reason));
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("cannot serve HTTPS with ", cert_file, " and ", key_file,
                                                   " (not a PEM certificate and its key?): ", reason));
  }
  return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(static_cast<SSL_CTX*>(ctx_)); }

std::unique_ptr<Transport> TlsContext::Accept(int fd) const {
  SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ctx_));
  if (!ssl || SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    ::close(fd);
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return std::make_unique<Tls>(fd, ssl);
}

bool WriteAll(Transport& transport, absl::string_view data, std::chrono::steady_clock::time_point deadline) {
  size_t sent = 0;
  while (sent < data.size()) {
    const IoResult r = transport.Write(data.data() + sent, data.size() - sent);
    if (r.io == Io::kDone) {
      sent += r.bytes;
      continue;
    }
    if (r.io != Io::kWantRead && r.io != Io::kWantWrite) return false;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{transport.fd(), short(r.io == Io::kWantRead ? POLLIN : POLLOUT), 0};
    if (::poll(&p, 1, int(std::min<int64_t>(left.count(), 60'000))) < 0 && errno != EINTR) return false;
  }
  return true;
}

bool PeerOpen(const Transport& transport) {
  pollfd p{transport.fd(), POLLRDHUP, 0};
  if (::poll(&p, 1, 0) < 0) return errno == EINTR;
  return !(p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

}  // namespace actgrid::server::http
