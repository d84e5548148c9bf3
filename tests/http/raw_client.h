// Test-only: a bare TCP client for the HTTP server's tests, for what a well-behaved client
// library would never send (trickled heads, stalled bodies, pipelined requests), and a
// coordinator on a fresh database to serve from.
#ifndef ACTGRID_TESTS_HTTP_RAW_CLIENT_H_
#define ACTGRID_TESTS_HTTP_RAW_CLIENT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "server/grpc/coordinator.h"

namespace actgrid::http_test {

// A coordinator on a database of its own (CTest runs tests as parallel processes).
inline std::unique_ptr<server::Coordinator> FreshCoordinator(const std::string& name) {
  server::CoordinatorOptions options;
  options.db_path = ::testing::TempDir() + "/" + name + "-" + std::to_string(getpid()) + ".db";
  for (const char* s : {"", "-wal", "-shm"}) std::remove((options.db_path + s).c_str());
  auto coordinator = server::Coordinator::Start(options);
  EXPECT_TRUE(coordinator.ok()) << coordinator.status();
  return coordinator.ok() ? *std::move(coordinator) : nullptr;
}

class RawClient {
 public:
  // Connects to 127.0.0.1:`port`, from `source` (any 127.0.0.0/8 address) when given.
  explicit RawClient(int port, const char* source = nullptr) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (source) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      inet_pton(AF_INET, source, &from.sin_addr);
      EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof(from)), 0);
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(uint16_t(port));
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0;
    EXPECT_TRUE(connected_) << "cannot connect to port " << port;
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // False once the connection is broken.
  bool Send(const std::string& data) {
    size_t sent = 0;
    while (connected_ && sent < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += size_t(n);
    }
    return connected_;
  }

  // Reads what has arrived without waiting; false once the server has closed the
  // connection (or it broke).
  bool Open() {
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) return true;
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return false;
      received_.append(buffer, size_t(n));
    }
  }

  // Reads until the server closes the connection; false when `bound` (a generous upper
  // bound, not a measure) passes first.
  bool WaitClosed(std::chrono::seconds bound = std::chrono::seconds(60)) {
    const auto until = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < until) {
      if (!Open()) return true;
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, 100);
    }
    return false;
  }

  // Reads until `received()` holds `text`; false when the connection ends or `bound`
  // passes first.
  bool WaitFor(const std::string& text, std::chrono::seconds bound = std::chrono::seconds(60)) {
    const auto until = std::chrono::steady_clock::now() + bound;
    while (received_.find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= until || !Open()) return received_.find(text) != std::string::npos;
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, 100);
    }
    return true;
  }

  // Reads until `received()` holds `n` answers with a Content-Length each, or the
  // connection ends, or `bound` passes. The number of complete answers.
  int ReadAnswers(int n, std::chrono::seconds bound = std::chrono::seconds(60)) {
    const auto until = std::chrono::steady_clock::now() + bound;
    for (;;) {
      const int complete = CompleteAnswers();
      if (complete >= n || std::chrono::steady_clock::now() >= until) return complete;
      if (!Open()) return CompleteAnswers();
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, 100);
    }
  }

  const std::string& received() const { return received_; }

 private:
  int CompleteAnswers() const {
    int complete = 0;
    size_t at = 0;
    for (;;) {
      const size_t end = received_.find("\r\n\r\n", at);
      if (end == std::string::npos) return complete;
      const std::string head = received_.substr(at, end - at);
      size_t length = 0;
      if (const size_t cl = head.find("Content-Length: "); cl != std::string::npos)
        length = std::stoul(head.substr(cl + 16));
      if (received_.size() < end + 4 + length) return complete;
      at = end + 4 + length;
      if (head.rfind("HTTP/1.1 100 ", 0) != 0) ++complete;  // an interim answer is not one
    }
  }

  int fd_;
  bool connected_ = false;
  std::string received_;
};

}  // namespace actgrid::http_test

#endif  // ACTGRID_TESTS_HTTP_RAW_CLIENT_H_
