// The HTTP server's limits, as a client notices them: clients that trickle or stall are
// cut off at total deadlines and never keep the API from others; connection caps make
// room by closing the oldest waiting connection, never a busy one; oversized requests get
// a JSON error that says why. Also HTTP/1.1 itself: keep-alive, pipelining, HTTPS.
// Deadlines here are short so the tests end soon; every wait is bounded generously and
// driven by what the client sees, never by how fast the machine is.

#include <atomic>
#include <fstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>

#include "client/cli/client.h"
#include "client/dashboard/assets.h"
#include "client/grid/grid_file.h"
#include "server/http/http_server.h"
#include "tests/http/raw_client.h"
#include "tests/support/test_certificate.h"

namespace actgrid {
namespace {

using http_test::RawClient;
using namespace std::chrono_literals;

constexpr char kListGrids[] = "/api/actgrid.v1.Grids/ListGrids";

class HttpLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    coordinator_ = http_test::FreshCoordinator("http-limits");
    ASSERT_TRUE(coordinator_);
  }

  static server::HttpOptions Options() {
    server::HttpOptions options;
    options.listen = "127.0.0.1:0";
    options.limits.header_timeout = 10min;  // a test that needs a deadline sets it
    return options;
  }

  std::unique_ptr<server::HttpServer> Serve(const server::HttpOptions& options) {
    auto http = server::HttpServer::Start(&coordinator_->scheduler(), options);
    EXPECT_TRUE(http.ok()) << http.status();
    return http.ok() ? *std::move(http) : nullptr;
  }

  // A real API call, on a connection of its own; the client's timeouts only bound a failure.
  static httplib::Result ListGrids(int port) {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(10, 0);
    client.set_read_timeout(10, 0);
    client.set_write_timeout(10, 0);
    return client.Post(kListGrids, "{}", "application/json");
  }

  int64_t SubmitRunningGrid() {
    auto grid = grid::ParseGridText("name: open\ndataset: {name: circle, samples: 200}\ntrain: {epochs: 5}\n");
    EXPECT_TRUE(grid.ok()) << grid.status();
    auto submitted = cli::Client(coordinator_->InProcessChannel()).Submit(grid::ToSubmitRequest(*grid, false));
    EXPECT_TRUE(submitted.ok()) << submitted.status();
    return submitted.ok() ? submitted->grid_id() : 0;
  }

  std::unique_ptr<server::Coordinator> coordinator_;
};

// Sends one more header byte on every open client every 200 ms (the pace of the attack,
// not a measure) until destroyed, and notes which clients the server has closed.
class Trickler {
 public:
  explicit Trickler(std::vector<std::unique_ptr<RawClient>>* clients)
      : clients_(clients), closed_(clients->size()), thread_([this] { Run(); }) {}
  ~Trickler() {
    stop_ = true;
    thread_.join();
  }
  int closed() const { return closed_count_; }
  bool IsClosed(size_t i) const { return closed_[i]; }
  // Waits until the server has closed client `i`; false when `bound` (generous, not a
  // measure) passes first.
  bool WaitClosed(size_t i, std::chrono::seconds bound = 60s) const {
    for (auto until = std::chrono::steady_clock::now() + bound; !closed_[i];) {
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }
  bool WaitAllClosed(std::chrono::seconds bound = 60s) const {
    for (size_t i = 0; i < closed_.size(); ++i)
      if (!WaitClosed(i, bound)) return false;
    return true;
  }

 private:
  void Run() {
    while (!stop_) {
      for (size_t i = 0; i < clients_->size(); ++i)
        if (!closed_[i] && (!(*clients_)[i]->Send("x") || !(*clients_)[i]->Open())) {
          closed_[i] = true;
          ++closed_count_;
        }
      std::this_thread::sleep_for(200ms);
    }
  }

  std::vector<std::unique_ptr<RawClient>>* clients_;
  std::vector<std::atomic<bool>> closed_;
  std::atomic<bool> stop_{false};
  std::atomic<int> closed_count_{0};
  std::thread thread_;
};

// Opens `n` clients that send a request line and the start of a header, then trickle.
std::vector<std::unique_ptr<RawClient>> TricklingClients(int port, int n) {
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < n; ++i) {
    clients.push_back(std::make_unique<RawClient>(port));
    EXPECT_TRUE(clients.back()->Send("POST /api/actgrid.v1.Grids/ListGrids HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
  }
  return clients;
}

TEST_F(HttpLimitsTest, TricklingClientsLeaveRoomForRealCalls) {
  auto http = Serve(Options());  // 32 threads, and a header deadline far away
  ASSERT_TRUE(http);
  auto clients = TricklingClients(http->port(), 48);
  Trickler trickler(&clients);
  for (int i = 0; i < 3; ++i) {
    auto answer = ListGrids(http->port());
    ASSERT_TRUE(answer) << httplib::to_string(answer.error());
    EXPECT_EQ(answer->status, 200) << answer->body;
  }
  EXPECT_EQ(trickler.closed(), 0);  // they were all still there
}

TEST_F(HttpLimitsTest, AHeadThatTricklesIsCutOffAtItsDeadline) {
  auto options = Options();
  options.limits.header_timeout = 1s;
  auto http = Serve(options);
  ASSERT_TRUE(http);
  auto clients = TricklingClients(http->port(), 40);
  RawClient silent(http->port());  // sends nothing at all
  {
    Trickler trickler(&clients);
    EXPECT_TRUE(silent.WaitClosed());
    EXPECT_TRUE(trickler.WaitAllClosed()) << "the server left " << 40 - trickler.closed() << " trickling clients open";
  }
  auto answer = ListGrids(http->port());
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
}

TEST_F(HttpLimitsTest, ABodyThatTricklesIsCutOffAtItsDeadline) {
  auto options = Options();
  options.limits.body_timeout = 1s;
  auto http = Serve(options);
  ASSERT_TRUE(http);
  std::vector<std::unique_ptr<RawClient>> clients;
  clients.push_back(std::make_unique<RawClient>(http->port()));
  ASSERT_TRUE(
      clients[0]->Send("POST /api/actgrid.v1.Grids/ListGrids HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Content-Length: 100000\r\n\r\n{"));
  Trickler trickler(&clients);
  EXPECT_TRUE(trickler.WaitClosed(0)) << "the server waited on a trickling body";
}

TEST_F(HttpLimitsTest, APeerPastItsCapClosesItsOldestWaitingConnection) {
  auto options = Options();
  options.limits.max_connections_per_peer = 2;
  auto http = Serve(options);
  ASSERT_TRUE(http);
  std::vector<std::unique_ptr<RawClient>> clients;
  clients.push_back(std::make_unique<RawClient>(http->port(), "127.0.0.2"));  // the oldest, but another peer
  for (int i = 0; i < 2; ++i) clients.push_back(std::make_unique<RawClient>(http->port()));
  for (auto& client : clients)
    ASSERT_TRUE(client->Send("POST /api/actgrid.v1.Grids/ListGrids HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
  {
    Trickler trickler(&clients);
    RawClient third(http->port());  // the peer's third: its oldest makes room
    EXPECT_TRUE(trickler.WaitClosed(1));
    auto answer = ListGrids(http->port());  // and its fourth
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 200);
    EXPECT_TRUE(trickler.WaitClosed(2));
    EXPECT_FALSE(trickler.IsClosed(0));
  }
  // The other peer's connection was left alone: its request, ended now, is answered.
  ASSERT_TRUE(clients[0]->Send("\r\n\r\n"));
  EXPECT_EQ(clients[0]->ReadAnswers(1), 1);
  EXPECT_EQ(clients[0]->received().rfind("HTTP/1.1 200 ", 0), 0u) << clients[0]->received();
}

TEST_F(HttpLimitsTest, PastTheConnectionCapTheOldestWaitingConnectionMakesRoom) {
  auto options = Options();
  options.limits.max_connections = 3;
  auto http = Serve(options);
  ASSERT_TRUE(http);
  auto clients = TricklingClients(http->port(), 3);
  Trickler trickler(&clients);
  auto answer = ListGrids(http->port());
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  EXPECT_TRUE(trickler.WaitClosed(0));
}

TEST_F(HttpLimitsTest, ConnectionsBusyWithARequestAreNeverClosedToMakeRoom) {
  auto options = Options();
  options.limits.max_connections_per_peer = 2;
  auto http = Serve(options);
  ASSERT_TRUE(http);
  const std::string watch = "{\"grid\": \"" + std::to_string(SubmitRunningGrid()) + "\"}";
  const std::string request = "POST /api/actgrid.v1.Grids/WatchGrid HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                              std::to_string(watch.size()) + "\r\n\r\n" + watch;
  auto one = std::make_unique<RawClient>(http->port());
  auto two = std::make_unique<RawClient>(http->port());
  ASSERT_TRUE(one->Send(request));
  ASSERT_TRUE(two->Send(request));
  ASSERT_TRUE(one->WaitFor("GRID_STATE_RUNNING"));
  ASSERT_TRUE(two->WaitFor("GRID_STATE_RUNNING"));
  RawClient refused(http->port());  // both places hold streams: no room
  refused.Send("GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_TRUE(refused.WaitClosed());
  EXPECT_EQ(refused.received(), "");
  EXPECT_TRUE(one->Open());
  EXPECT_TRUE(two->Open());
  one.reset();  // a stream ends with its client, and its place serves again
  bool answered = false;
  for (int i = 0; i < 600 && !answered; ++i) {
    RawClient next(http->port());
    answered = next.Send("GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") && next.ReadAnswers(1) == 1;
    if (!answered) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(answered);
  EXPECT_TRUE(two->Open());
}

TEST_F(HttpLimitsTest, AnOversizedBodyGetsAJsonErrorThatSaysWhy) {
  auto http = Serve(Options());  // the documented 1 MiB
  ASSERT_TRUE(http);
  httplib::Client client("127.0.0.1", http->port());
  // curl -d sends application/x-www-form-urlencoded; its bodies have the same limit.
  const std::string padded = "{\"limit\": 1" + std::string(9000, ' ') + "}";
  auto mid = client.Post(kListGrids, padded, "application/x-www-form-urlencoded");
  ASSERT_TRUE(mid);
  EXPECT_EQ(mid->status, 200) << mid->body;
  auto big = client.Post(kListGrids, std::string(2 << 20, ' '), "application/x-www-form-urlencoded");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(big->get_header_value("Content-Type"), "application/json");
  EXPECT_NE(big->body.find("\"status\": \"RESOURCE_EXHAUSTED\""), std::string::npos) << big->body;
  EXPECT_NE(big->body.find("request body of 2097152 bytes; at most 1048576 are accepted"), std::string::npos)
      << big->body;

  // A client that waits for "100 Continue" before its body hears at once that it is too big...
  RawClient waits(http->port());
  ASSERT_TRUE(
      waits.Send("POST /api/actgrid.v1.Grids/ListGrids HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Content-Length: 1048577\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_EQ(waits.ReadAnswers(1), 1);
  EXPECT_EQ(waits.received().rfind("HTTP/1.1 413 ", 0), 0u) << waits.received();
  EXPECT_NE(waits.received().find("at most 1048576 are accepted"), std::string::npos);
  // ... and one within the limit is asked for its body.
  RawClient asked(http->port());
  ASSERT_TRUE(
      asked.Send("POST /api/actgrid.v1.Grids/ListGrids HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Content-Length: 2\r\nExpect: 100-continue\r\n\r\n"));
  ASSERT_TRUE(asked.WaitFor("HTTP/1.1 100 Continue\r\n\r\n"));
  ASSERT_TRUE(asked.Send("{}"));
  EXPECT_EQ(asked.ReadAnswers(1), 1);
  EXPECT_NE(asked.received().find("HTTP/1.1 200 OK"), std::string::npos) << asked.received();
}

TEST_F(HttpLimitsTest, AnOversizedHeadGetsAJsonErrorThatSaysWhy) {
  auto options = Options();
  options.limits.max_header_bytes = 4096;
  auto http = Serve(options);
  ASSERT_TRUE(http);
  httplib::Client client("127.0.0.1", http->port());
  auto big = client.Get("/", {{"X-Big", std::string(6000, 'x')}});
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 431);
  EXPECT_NE(big->body.find("over 4096 bytes"), std::string::npos) << big->body;
  auto fine = client.Get("/", {{"X-Small", std::string(2000, 'x')}});
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->status, 200);
}

TEST_F(HttpLimitsTest, OneConnectionCarriesRequestsOneAfterAnother) {
  auto http = Serve(Options());
  ASSERT_TRUE(http);
  RawClient client(http->port());
  // Two requests sent together (pipelined) are answered in order; the connection stays.
  ASSERT_TRUE(
      client.Send("GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                  "POST /api/actgrid.v1.Grids/ListGrids HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Content-Length: 2\r\n\r\n{}"));
  ASSERT_EQ(client.ReadAnswers(2), 2) << client.received();
  const size_t second = client.received().find("HTTP/1.1 200 OK");
  EXPECT_EQ(client.received().rfind("HTTP/1.1 204 ", 0), 0u);
  EXPECT_NE(second, std::string::npos);
  ASSERT_TRUE(client.Send("GET /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  EXPECT_TRUE(client.WaitClosed());
  EXPECT_NE(client.received().find("HTTP/1.1 404 ", second), std::string::npos);
}

TEST_F(HttpLimitsTest, ServesHttpsWithTheSameLimits) {
  const std::string cert = ::testing::TempDir() + "/http-cert-" + std::to_string(getpid()) + ".pem";
  const std::string key = ::testing::TempDir() + "/http-key-" + std::to_string(getpid()) + ".pem";
  actgrid::testing::WriteTestCertificate(cert, key);
  auto options = Options();
  options.tls_cert_file = cert;
  options.tls_key_file = key;
  options.limits.header_timeout = 1s;
  auto http = Serve(options);
  ASSERT_TRUE(http);
  EXPECT_EQ(http->url(), "https://127.0.0.1:" + std::to_string(http->port()) + "/");

  httplib::SSLClient client("127.0.0.1", http->port());
  client.set_ca_cert_path(cert.c_str());
  client.enable_server_certificate_verification(true);
  auto page = client.Get("/");
  ASSERT_TRUE(page) << httplib::to_string(page.error());
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->body, dashboard::LivePage());
  const std::string id = std::to_string(SubmitRunningGrid());
  ASSERT_TRUE(coordinator_->scheduler().CancelGrid(id).ok());
  auto watched = client.Post("/api/actgrid.v1.Grids/WatchGrid", "{\"grid\": \"" + id + "\"}", "application/json");
  ASSERT_TRUE(watched);
  EXPECT_EQ(watched->status, 200);
  EXPECT_NE(watched->body.find("GRID_STATE_CANCELLED"), std::string::npos) << watched->body;

  RawClient silent(http->port());  // connects and never says hello
  EXPECT_TRUE(silent.WaitClosed());
  auto wrong = options;
  wrong.tls_key_file = cert;  // not a key
  EXPECT_TRUE(absl::IsInvalidArgument(server::HttpServer::Start(&coordinator_->scheduler(), wrong).status()));
}

}  // namespace
}  // namespace actgrid
