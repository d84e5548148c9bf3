// The dashboard server's event loop and workers (see http_listener.h). A connection is
// owned by the loop thread except while a worker handles its request (Phase::kBusy): then
// the loop neither watches nor touches it until the worker hands it back.
#include "server/http/http_listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace actgrid::server::http {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 16 << 10;
// After an answer that ends the connection, what the client still sends is read and
// dropped for this long, so that closing does not reset the connection (and lose the
// answer) while its request is still arriving.
constexpr auto kLinger = std::chrono::seconds(5);
// When the process runs out of descriptors, accepting pauses this long.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);

// Writes to a socket whose peer has gone raise SIGPIPE; on the server's own threads it
// stays blocked, so such a write fails with EPIPE instead (OpenSSL's included).
void BlockSigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

enum class Phase {
  kHandshake,  // TLS handshake under the header deadline
  kHead,       // reading a request head
  kIdle,       // kept alive, waiting for the next request's first byte
  kBody,       // reading a request body
  kBusy,       // a worker has it
  kWrite,      // the loop writes an answer
  kLinger,     // answered and closing: reading what still comes, dropping it
};

// Whether a connection only waits for its client, and so may be closed to make room
// for a new one; those of lower rank go first (then the oldest).
bool Waiting(Phase phase) { return phase != Phase::kBusy && phase != Phase::kWrite; }
int Rank(Phase phase) { return phase == Phase::kLinger ? 0 : phase == Phase::kIdle ? 1 : 2; }

struct Conn {
  std::unique_ptr<Transport> io;
  std::string peer;
  Phase phase = Phase::kHead;
  Clock::time_point since;  // when the phase began: the oldest waiting connection goes first
  Clock::time_point deadline;
  bool timed = false;   // `deadline` is in the loop's deadline set
  uint32_t events = 0;  // epoll interest; 0 while not watched
  std::string in;       // read and not yet consumed
  size_t scanned = 0;   // `in` is known to hold no head end before this
  HttpRequest request;
  uint64_t body_length = 0;
  std::string out;  // the answer the loop writes
  size_t written = 0;
  bool close_after = false;
  bool closed = false;
};

// A worker's answer to a connection: what the loop still writes, and whether the
// connection may carry another request.
struct Answered {
  Conn* conn;
  std::string out;
  bool keep_alive;
};

// A stream's body, written by its worker.
class WorkerSink final : public StreamSink {
 public:
  WorkerSink(Transport& io, bool chunked, std::chrono::milliseconds timeout)
      : io_(io), chunked_(chunked), timeout_(timeout) {}
  bool Write(absl::string_view data) override {
    if (data.empty()) return ok_;
    return Send(chunked_ ? Chunk(data) : std::string(data));
  }
  bool Alive() override { return ok_ && PeerOpen(io_); }
  bool Send(absl::string_view bytes) {
    ok_ = ok_ && WriteAll(io_, bytes, Clock::now() + timeout_);
    return ok_;
  }
  bool ok() const { return ok_; }

 private:
  Transport& io_;
  const bool chunked_;
  const std::chrono::milliseconds timeout_;
  bool ok_ = true;
};

char kListenTag, kWakeTag;  // epoll tags of the listening socket and the wake-up eventfd

epoll_event Interest(uint32_t events, void* tag) {
  epoll_event e{};
  e.events = events;
  e.data.ptr = tag;
  return e;
}

class Listener final : public HttpListener {
 public:
  Listener(const ListenerOptions& options, Handler handler) : options_(options), handler_(std::move(handler)) {}
  ~Listener() override {
    Shutdown();
    for (int fd : {listen_fd_, epoll_fd_, wake_fd_})
      if (fd >= 0) ::close(fd);
  }

  absl::Status Bind();
  void Begin() {
    loop_ = std::thread([this] { Run(); });
    for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { Work(); });
  }
  int port() const override { return port_; }
  void Shutdown() override;

 private:
  // The loop thread.
  void Run();
  int TimeoutMs() const;
  void OnReady(Conn* c);
  void AcceptAll();
  bool MakeRoom(const std::string& peer);
  Conn* OldestWaiting(const std::string* peer) const;
  void Handshake(Conn* c);
  void ReadRequest(Conn* c);
  bool Parse(Conn* c);
  void Dispatch(Conn* c);
  void Refuse(Conn* c, int http_status, const absl::Status& status);
  void Flush(Conn* c);
  void Linger(Conn* c);
  void Drain(Conn* c);
  void Expire();
  void TakeAnswers();
  void Want(Conn* c, Io io) { Watch(c, io == Io::kWantWrite ? EPOLLOUT : EPOLLIN); }
  void Watch(Conn* c, uint32_t events);
  void SetDeadline(Conn* c, Clock::time_point t);
  void ClearDeadline(Conn* c);
  void Close(Conn* c);
  void Wake() {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof(one));
  }

  // The workers.
  void Work();
  void Serve(Conn* c);
  HttpResponse Call(const HttpRequest& request);

  const ListenerOptions options_;
  const Handler handler_;
  int listen_fd_ = -1, epoll_fd_ = -1, wake_fd_ = -1;
  int port_ = 0;
  std::thread loop_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopping_{false};

  // Owned by the loop thread.
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
  std::vector<std::unique_ptr<Conn>> closed_;  // freed at the end of a loop turn
  std::map<std::string, int> per_peer_;
  std::set<std::pair<Clock::time_point, Conn*>> deadlines_;
  bool accepting_ = true;
  Clock::time_point accept_again_;

  // mu_ guards the hand-over between the loop and the workers.
  std::mutex mu_;
  std::condition_variable work_;
  std::deque<Conn*> jobs_;         // GUARDED_BY(mu_)
  std::vector<Answered> answers_;  // GUARDED_BY(mu_)
  bool stop_workers_ = false;      // GUARDED_BY(mu_)
};

absl::Status Listener::Bind() {
  auto fd = Listen(options_.host, options_.port, &port_);
  if (!fd.ok()) return fd.status();
  listen_fd_ = *fd;
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) return absl::InternalError("cannot make an epoll set");
  epoll_event listen_event = Interest(EPOLLIN, &kListenTag), wake_event = Interest(EPOLLIN, &kWakeTag);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &listen_event);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake_event);
  return absl::OkStatus();
}

void Listener::Shutdown() {
  if (stopping_.exchange(true)) return;
  if (loop_.joinable()) {
    Wake();
    loop_.join();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_workers_ = true;
  }
  work_.notify_all();
  for (auto& worker : workers_) worker.join();
  workers_.clear();
  conns_.clear();  // no worker runs now: every connection is the loop's to close
  closed_.clear();
}

void Listener::Run() {
  BlockSigpipe();
  epoll_event events[64];
  while (!stopping_) {
    const int n = ::epoll_wait(epoll_fd_, events, 64, TimeoutMs());
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &kListenTag) {
        AcceptAll();
      } else if (tag == &kWakeTag) {
        uint64_t count;
        (void)!::read(wake_fd_, &count, sizeof(count));
        TakeAnswers();
      } else if (Conn* c = static_cast<Conn*>(tag); !c->closed) {
        OnReady(c);
      }
    }
    Expire();
    if (!accepting_ && Clock::now() >= accept_again_) {
      epoll_event listen_event = Interest(EPOLLIN, &kListenTag);
      accepting_ = ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &listen_event) == 0;
    }
    closed_.clear();
  }
}

int Listener::TimeoutMs() const {
  std::optional<Clock::time_point> next;
  if (!deadlines_.empty()) next = deadlines_.begin()->first;
  if (!accepting_ && (!next || accept_again_ < *next)) next = accept_again_;
  if (!next) return -1;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(*next - Clock::now()).count();
  return int(std::clamp<int64_t>(left, 0, 3'600'000));
}

void Listener::OnReady(Conn* c) {
  switch (c->phase) {
    case Phase::kHandshake: return Handshake(c);
    case Phase::kHead:
    case Phase::kIdle:
    case Phase::kBody: return ReadRequest(c);
    case Phase::kWrite: return Flush(c);
    case Phase::kLinger: return Drain(c);
    case Phase::kBusy: return;
  }
}

void Listener::AcceptAll() {
  for (int accepted = 0; accepted < 256; ++accepted) {  // then the others' turn; epoll says there is more
    sockaddr_storage addr{};
    socklen_t length = sizeof(addr);
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop watching the listening socket for a moment rather
        // than being woken for it again at once.
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        accepting_ = false;
        accept_again_ = Clock::now() + kAcceptPause;
      }
      return;
    }
    const std::string peer = PeerAddress(addr);
    if (!MakeRoom(peer)) {
      ::close(fd);
      continue;
    }
    const int yes = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    auto conn = std::make_unique<Conn>();
    conn->io = options_.tls ? options_.tls->Accept(fd) : PlainTransport(fd);
    if (!conn->io) continue;
    Conn* c = conn.get();
    c->peer = peer;
    c->phase = options_.tls ? Phase::kHandshake : Phase::kHead;
    c->since = Clock::now();
    conns_.emplace(c, std::move(conn));
    ++per_peer_[peer];
    SetDeadline(c, c->since + options_.limits.header_timeout);
    Watch(c, EPOLLIN);
  }
}

bool Listener::MakeRoom(const std::string& peer) {
  const auto from_peer = per_peer_.find(peer);
  if (from_peer != per_peer_.end() && from_peer->second >= options_.limits.max_connections_per_peer) {
    Conn* oldest = OldestWaiting(&peer);
    if (!oldest) return false;
    Close(oldest);
  }
  if (int(conns_.size()) >= options_.limits.max_connections) {
    Conn* oldest = OldestWaiting(nullptr);
    if (!oldest) return false;
    Close(oldest);
  }
  return true;
}

Conn* Listener::OldestWaiting(const std::string* peer) const {
  Conn* oldest = nullptr;
  auto rank = [](const Conn* c) { return std::make_pair(Rank(c->phase), c->since); };
  for (const auto& [c, owned] : conns_)
    if (Waiting(c->phase) && (!peer || c->peer == *peer) && (!oldest || rank(c) < rank(oldest))) oldest = c;
  return oldest;
}

void Listener::Handshake(Conn* c) {
  const IoResult r = c->io->Handshake();
  if (r.io == Io::kDone) {
    c->phase = Phase::kHead;  // under the same deadline
    return ReadRequest(c);
  }
  if (r.io == Io::kWantRead || r.io == Io::kWantWrite) return Want(c, r.io);
  Close(c);
}

void Listener::ReadRequest(Conn* c) {
  char buffer[kReadChunk];
  for (;;) {
    if (Parse(c)) return;  // the connection moved on: dispatched, refused or closed
    const IoResult r = c->io->Read(buffer, sizeof(buffer));
    if (r.io == Io::kDone) {
      c->in.append(buffer, r.bytes);
    } else if (r.io == Io::kWantRead || r.io == Io::kWantWrite) {
      return Want(c, r.io);
    } else {
      return Close(c);
    }
  }
}

bool Listener::Parse(Conn* c) {
  const HttpLimits& limits = options_.limits;
  if (c->phase == Phase::kIdle || c->phase == Phase::kHead) {
    // Blank lines before a request line are ignored (RFC 9112, 2.2).
    const size_t start = c->in.find_first_not_of("\r\n");
    c->in.erase(0, start == std::string::npos ? c->in.size() : start);
    if (c->in.empty()) return false;
    if (c->phase == Phase::kIdle) {
      c->phase = Phase::kHead;
      c->since = Clock::now();
      SetDeadline(c, c->since + limits.header_timeout);
    }
    const size_t end = FindHeadEnd(c->in, c->scanned);
    if (end == std::string::npos) c->scanned = c->in.size();
    if ((end == std::string::npos ? c->in.size() : end) > limits.max_header_bytes) {
      Refuse(c, 431,
             absl::ResourceExhaustedError(absl::StrCat("the request line and headers are over ",
                                                       limits.max_header_bytes, " bytes, more than are accepted")));
      return true;
    }
    if (end == std::string::npos) return false;
    c->request = HttpRequest();
    c->request.peer = c->peer;
    if (auto refusal = ParseRequestHead(absl::string_view(c->in).substr(0, end), &c->request, &c->body_length)) {
      Refuse(c, refusal->http_status, refusal->status);
      return true;
    }
    c->in.erase(0, end);
    c->scanned = 0;
    if (c->body_length > limits.max_body_bytes) {
      Refuse(c, 413,
             absl::ResourceExhaustedError(absl::StrCat("request body of ", c->body_length, " bytes; at most ",
                                                       limits.max_body_bytes, " are accepted")));
      return true;
    }
    c->phase = Phase::kBody;
    c->since = Clock::now();
    SetDeadline(c, c->since + limits.body_timeout);
    const std::string* expect = c->request.Header("expect");
    if (expect && absl::EqualsIgnoreCase(*expect, "100-continue") && c->request.minor_version >= 1 &&
        c->in.size() < c->body_length) {
      // The client waits for this before it sends the body; nothing else is being sent
      // on the connection now, so it fits in the socket's buffer at once.
      constexpr absl::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      const IoResult r = c->io->Write(kContinue.data(), kContinue.size());
      if (r.io != Io::kDone || r.bytes != kContinue.size()) {
        Close(c);
        return true;
      }
    }
  }
  if (c->phase == Phase::kBody && c->in.size() >= c->body_length) {
    c->request.body = c->in.substr(0, c->body_length);
    c->in.erase(0, c->body_length);
    Dispatch(c);
    return true;
  }
  return false;
}

void Listener::Dispatch(Conn* c) {
  c->phase = Phase::kBusy;
  ClearDeadline(c);
  Watch(c, 0);
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(c);
  }
  work_.notify_one();
}

void Listener::Refuse(Conn* c, int http_status, const absl::Status& status) {
  const HttpResponse response = ErrorResponse(status, http_status);
  c->out = ResponseHead(response, false, false) + response.body;
  c->written = 0;
  c->close_after = true;
  c->phase = Phase::kWrite;
  SetDeadline(c, Clock::now() + options_.limits.write_timeout);
  Flush(c);
}

void Listener::Flush(Conn* c) {
  while (c->written < c->out.size()) {
    const IoResult r = c->io->Write(c->out.data() + c->written, c->out.size() - c->written);
    if (r.io == Io::kDone) {
      c->written += r.bytes;
    } else if (r.io == Io::kWantRead || r.io == Io::kWantWrite) {
      return Want(c, r.io);
    } else {
      return Close(c);
    }
  }
  c->out.clear();
  c->written = 0;
  if (c->close_after || stopping_) return Linger(c);
  c->phase = Phase::kIdle;
  c->since = Clock::now();
  c->request = HttpRequest();
  SetDeadline(c, c->since + options_.limits.idle_timeout);
  ReadRequest(c);  // a request may wait already, read before (pipelined) or inside TLS
}

void Listener::Linger(Conn* c) {
  c->io->ShutdownWrite();
  c->phase = Phase::kLinger;
  SetDeadline(c, Clock::now() + kLinger);
  Drain(c);
}

void Listener::Drain(Conn* c) {
  char buffer[kReadChunk];
  for (int i = 0; i < 16; ++i) {  // then let others have the loop; epoll says when there is more
    const IoResult r = c->io->Read(buffer, sizeof(buffer));
    if (r.io == Io::kWantRead || r.io == Io::kWantWrite) return Want(c, r.io);
    if (r.io != Io::kDone) return Close(c);
  }
}

void Listener::Expire() {
  const auto now = Clock::now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    Conn* c = deadlines_.begin()->second;
    if ((c->phase == Phase::kHead && !c->in.empty()) || c->phase == Phase::kBody) {
      // Part of a request came: say why it ends, if the socket takes it now.
      const HttpResponse response = ErrorResponse(
          absl::DeadlineExceededError(absl::StrCat("the request did not arrive in time: its head must arrive within ",
                                                   options_.limits.header_timeout.count(), " ms, its body within ",
                                                   options_.limits.body_timeout.count(), " ms after the head")),
          408);
      const std::string text = ResponseHead(response, false, false) + response.body;
      c->io->Write(text.data(), text.size());
    }
    Close(c);
  }
}

void Listener::TakeAnswers() {
  std::vector<Answered> answers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    answers.swap(answers_);
  }
  for (Answered& a : answers) {
    Conn* c = a.conn;
    c->out = std::move(a.out);
    c->written = 0;
    c->close_after = !a.keep_alive;
    c->phase = Phase::kWrite;
    SetDeadline(c, Clock::now() + options_.limits.write_timeout);
    Flush(c);
  }
}

void Listener::Watch(Conn* c, uint32_t events) {
  if (c->events == events) return;
  epoll_event e = Interest(events, c);
  const int op = c->events == 0 ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  ::epoll_ctl(epoll_fd_, op, c->io->fd(), &e);
  c->events = events;
}

void Listener::SetDeadline(Conn* c, Clock::time_point t) {
  ClearDeadline(c);
  c->deadline = t;
  c->timed = true;
  deadlines_.emplace(t, c);
}

void Listener::ClearDeadline(Conn* c) {
  if (c->timed) deadlines_.erase({c->deadline, c});
  c->timed = false;
}

void Listener::Close(Conn* c) {
  if (c->closed) return;
  c->closed = true;
  ClearDeadline(c);
  Watch(c, 0);
  c->io.reset();  // closes the socket now; the Conn itself lives to the end of the turn
  if (auto it = per_peer_.find(c->peer); it != per_peer_.end() && --it->second <= 0) per_peer_.erase(it);
  auto owned = conns_.find(c);
  closed_.push_back(std::move(owned->second));
  conns_.erase(owned);
}

void Listener::Work() {
  BlockSigpipe();
  for (;;) {
    Conn* c = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_.wait(lock, [this] { return stop_workers_ || !jobs_.empty(); });
      if (stop_workers_) return;
      c = jobs_.front();
      jobs_.pop_front();
    }
    Serve(c);
  }
}

void Listener::Serve(Conn* c) {
  const HttpRequest& request = c->request;
  HttpResponse response = Call(request);
  const bool head_only = request.method == "HEAD";
  if (head_only) response.stream = nullptr;
  bool keep_alive = request.KeepAlive() && !stopping_;
  std::string out;
  if (response.stream) {
    // HTTP/1.0 clients get the stream unframed, ended by closing the connection.
    const bool chunked = request.minor_version >= 1;
    keep_alive = keep_alive && chunked;
    WorkerSink sink(*c->io, chunked, options_.limits.write_timeout);
    if (sink.Send(ResponseHead(response, keep_alive, chunked))) {
      response.stream(sink);
      if (chunked) sink.Send(kLastChunk);
    }
    keep_alive = keep_alive && sink.ok();
  } else {
    out = ResponseHead(response, keep_alive, false);
    if (!head_only) out += response.body;
  }
  response = HttpResponse();  // what the answer held (a stream's slot) is released first
  {
    std::lock_guard<std::mutex> lock(mu_);
    answers_.push_back({c, std::move(out), keep_alive});
  }
  Wake();
}

HttpResponse Listener::Call(const HttpRequest& request) {
  try {
    return handler_(request);
  } catch (const std::exception& e) {  // the thread's edge: a handler's surprise is a 500, not an exit
    return ErrorResponse(absl::InternalError(e.what()));
  } catch (...) {
    return ErrorResponse(absl::InternalError("unexpected error"));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpListener>> HttpListener::Start(const ListenerOptions& options, Handler handler) {
  const HttpLimits& limits = options.limits;
  if (options.workers < 1 || limits.max_connections < 1 || limits.max_connections_per_peer < 1 ||
      limits.max_header_bytes < 64 || limits.header_timeout.count() <= 0 || limits.body_timeout.count() <= 0 ||
      limits.idle_timeout.count() <= 0 || limits.write_timeout.count() <= 0)
    return absl::InvalidArgumentError("HTTP limits must be positive (and heads may have 64 bytes at least)");
  auto listener = std::make_unique<Listener>(options, std::move(handler));
  if (auto st = listener->Bind(); !st.ok()) return st;
  listener->Begin();
  return std::unique_ptr<HttpListener>(std::move(listener));
}

}  // namespace actgrid::server::http
