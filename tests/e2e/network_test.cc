// A network cut between a worker and its coordinator, then restored: the worker
// reaches the coordinator through a TCP proxy that this test can turn into a black
// hole (connections stay open, nothing passes: a link gone down, not a refused
// connection). Keepalive notices the dead connection, the coordinator leases the
// worker's trial again when its lease expires, another worker finishes the grid, and
// when the link comes back the first worker's late reports are refused and change
// nothing.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "client/cli/client.h"
#include "client/grid/grid_file.h"
#include "common/rpc/rpc.h"
#include "server/grpc/coordinator.h"
#include "tests/e2e/process_util.h"
#include "worker/runner/remote_worker.h"

namespace actgrid {
namespace {

// Forwards 127.0.0.1:port() to 127.0.0.1:upstream; while cut, moves no byte.
class Link {
 public:
  explicit Link(int upstream) : upstream_(upstream) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listen_fd_, 16);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~Link() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : pipes_) t.join();
  }
  int port() const { return port_; }
  void Cut(bool cut) { cut_ = cut; }

 private:
  void Accept() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      const int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      const int server = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(uint16_t(upstream_));
      if (connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        close(client);
        close(server);
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      pipes_.emplace_back([this, client, server] { Pipe(client, server); });
    }
  }

  void Pipe(int a, int b) {
    char buf[16384];
    pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    while (!stop_) {
      if (cut_) {  // the link is down: hold everything where it is
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      if (poll(fds, 2, 50) <= 0) continue;
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
        if (n <= 0 || write(fds[1 - i].fd, buf, size_t(n)) != n) closed = true;
      }
      if (closed) break;
    }
    close(a);
    close(b);
  }

  int upstream_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, cut_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::list<std::thread> pipes_;
};

TEST(Network, CutLinkLosesTheLeaseAndLateReportsChangeNothing) {
  server::CoordinatorOptions options;
  options.db_path = ::testing::TempDir() + "/network_cut.db";
  e2e::RemoveDatabase(options.db_path);
  options.listen = "127.0.0.1:0";
  options.scheduler.lease_ms = 1500;
  auto coordinator = server::Coordinator::Start(options);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  Link link((*coordinator)->port());

  cli::Client client((*coordinator)->InProcessChannel());
  auto grid = grid::ParseGridText(
      "name: cut\ndataset: {name: circle, samples: 1000}\ntrain: {epochs: 1500}\nseeds: 1\n"
      "grid:\n  activation: [relu, tanh]\n");
  ASSERT_TRUE(grid.ok());
  ASSERT_TRUE(client.Submit(grid::ToSubmitRequest(*grid, false)).ok());

  // The far worker's channel pings every second and gives up on a silent link after
  // one more: a dead connection is noticed well within the lease.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  auto far_channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(link.port()),
                                               grpc::InsecureChannelCredentials(), args);
  std::atomic<bool> stop{false};
  runner::WorkerStats far_stats, near_stats;
  // The far worker is held at epoch 50 of its first trial until the link is down, so it
  // cannot finish that trial before the cut however fast this machine trains; it says
  // when a late report or completion of its has been refused.
  std::mutex mu;
  std::condition_variable cv;
  bool held = false, go = false, told_stale = false;
  std::thread far([&] {
    runner::WorkerOptions w;
    w.threads = 1;
    w.worker_id = "far";
    w.call_timeout = std::chrono::milliseconds(2000);
    w.after_epoch = [&](const v1::Lease&, int epoch) {
      std::unique_lock<std::mutex> lock(mu);
      if (epoch != 50 || held) return;
      held = true;
      cv.notify_all();
      cv.wait(lock, [&] { return go; });
    };
    w.log = [&](const std::string& message) {
      if (message.find("no longer ours") == std::string::npos && message.find("refused") == std::string::npos)
        return;
      std::lock_guard<std::mutex> lock(mu);
      told_stale = true;
      cv.notify_all();
    };
    far_stats = runner::RemoteWorker(far_channel, w).Run(stop);
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(120), [&] { return held; }));
  }
  link.Cut(true);  // the link goes down while the far worker holds a half-trained trial
  {
    std::lock_guard<std::mutex> lock(mu);
    go = true;
    cv.notify_all();
  }
  std::thread near([&] {
    runner::WorkerOptions w;
    w.threads = 2;
    w.worker_id = "near";
    near_stats = runner::RemoteWorker((*coordinator)->InProcessChannel(), w).Run(stop);
  });
  ASSERT_TRUE(client.Watch("cut", [](const v1::GridEvent&) {}, nullptr).ok());
  link.Cut(false);  // the link is back: the far worker's late reports arrive now
  {
    std::unique_lock<std::mutex> lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(120), [&] { return told_stale; }));
  }
  stop = true;
  far.join();
  near.join();

  auto done = client.GetGrid("cut");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state(), v1::GRID_STATE_DONE);
  EXPECT_EQ(done->counts().succeeded(), 2);
  EXPECT_EQ(far_stats.completed, 0) << "a late report completed a trial";
  EXPECT_EQ(near_stats.completed, 2);
  store::Store& store = (*coordinator)->store();
  auto rows = store.ListGridTrials(done->id());
  ASSERT_TRUE(rows.ok());
  for (const auto& r : *rows) {
    EXPECT_EQ(r.state, v1::TRIAL_STATE_SUCCEEDED) << store.GetTrial(r.trial_id)->last_error;
    auto epochs = store.LoadEpochs(r.trial_id);
    ASSERT_TRUE(epochs.ok());
    ASSERT_EQ(epochs->size(), 1501u);
    for (size_t e = 0; e < epochs->size(); ++e) ASSERT_EQ((*epochs)[e].epoch(), int(e));
    EXPECT_EQ(store.GetTrial(r.trial_id)->worker_id, "near");
  }
  coordinator->reset();
  EXPECT_EQ(e2e::IntegrityCheck(options.db_path), "ok");
}

}  // namespace
}  // namespace actgrid
