// A dashboard without tokens answers only requests addressed to this machine's loopback
// names or to names it was told of, so that a web page elsewhere cannot read it through
// a name of its own (DNS rebinding); with tokens the Host header does not matter.
#include <gtest/gtest.h>
#include <httplib.h>

#include "server/http/host_rule.h"
#include "server/http/http_server.h"
#include "tests/http/raw_client.h"

namespace actgrid {
namespace {

constexpr char kListGrids[] = "/api/actgrid.v1.Grids/ListGrids";
constexpr char kReader[] = "reader-token-0123456789";

TEST(HostRule, LoopbackNamesAtAnyPortAndConfiguredNames) {
  using server::http::IsAllowedHost;
  const std::vector<std::string> none;
  for (const std::string host : {"localhost", "localhost:7080", "LOCALHOST.:80", "127.0.0.1", "127.0.0.1:1",
                                 "127.3.2.1:7080", "[::1]", "[::1]:7080", "app.localhost:9"})
    EXPECT_TRUE(IsAllowedHost(&host, none)) << host;
  for (const std::string host :
       {"attacker.example", "attacker.example:7080", "localhost.attacker.example", "127.0.0.1.attacker.example",
        "10.0.0.1:7080", "[::2]:7080", "", ":7080", "local host", "[::1", "localhost:80x"})
    EXPECT_FALSE(IsAllowedHost(&host, none)) << host;
  EXPECT_FALSE(IsAllowedHost(nullptr, none));

  const std::vector<std::string> allowed = {"Dash.Example", "box.lan:8080"};
  for (const std::string host : {"dash.example", "dash.example:1", "DASH.EXAMPLE.:7080", "box.lan:8080"})
    EXPECT_TRUE(IsAllowedHost(&host, allowed)) << host;
  for (const std::string host : {"box.lan", "box.lan:8081", "other.example:8080", "sub.dash.example"})
    EXPECT_FALSE(IsAllowedHost(&host, allowed)) << host;
}

class HttpHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    coordinator_ = http_test::FreshCoordinator("http-host");
    ASSERT_TRUE(coordinator_);
  }

  std::unique_ptr<server::HttpServer> Serve(std::vector<std::string> allowed_hosts = {},
                                            std::shared_ptr<const server::Authorizer> auth = nullptr) {
    server::HttpOptions options;
    options.listen = "127.0.0.1:0";
    options.allowed_hosts = std::move(allowed_hosts);
    options.auth = std::move(auth);
    auto http = server::HttpServer::Start(&coordinator_->scheduler(), options);
    EXPECT_TRUE(http.ok()) << http.status();
    return http.ok() ? *std::move(http) : nullptr;
  }

  std::unique_ptr<server::Coordinator> coordinator_;
};

httplib::Result ListGridsAs(int port, const std::string& host, const std::string& token = "") {
  httplib::Client client("127.0.0.1", port);
  httplib::Headers headers = {{"Host", host}};
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  return client.Post(kListGrids, headers, "{}", "application/json");
}

TEST_F(HttpHostTest, WithoutTokensOtherNamesAreRefusedWithTheReasonAndTheOption) {
  auto http = Serve();
  ASSERT_TRUE(http);
  const std::string port = std::to_string(http->port());
  auto refused = ListGridsAs(http->port(), "attacker.example:" + port);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 421);
  EXPECT_EQ(refused->get_header_value("Content-Type"), "application/json");
  EXPECT_NE(refused->body.find("\"status\": \"PERMISSION_DENIED\""), std::string::npos) << refused->body;
  EXPECT_NE(refused->body.find("attacker.example"), std::string::npos) << refused->body;
  EXPECT_NE(refused->body.find("--http-allow-host"), std::string::npos) << refused->body;
  EXPECT_EQ(refused->body.find("grids"), std::string::npos);

  httplib::Client client("127.0.0.1", http->port());
  auto page = client.Get("/", {{"Host", "attacker.example:" + port}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 421);

  // Without a Host header at all (HTTP/1.0) it is refused too.
  http_test::RawClient bare(http->port());
  ASSERT_TRUE(bare.Send("POST /api/actgrid.v1.Grids/ListGrids HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}"));
  EXPECT_TRUE(bare.WaitClosed());
  EXPECT_EQ(bare.received().rfind("HTTP/1.1 421 ", 0), 0u) << bare.received();

  for (const std::string& host :
       {"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port, std::string("localhost")}) {
    auto answer = ListGridsAs(http->port(), host);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 200) << host << ": " << answer->body;
  }
}

TEST_F(HttpHostTest, WithoutTokensConfiguredNamesAreAnswered) {
  auto http = Serve({"dash.example", "box.lan:8080"});
  ASSERT_TRUE(http);
  for (const std::string& host : {"dash.example:" + std::to_string(http->port()), std::string("box.lan:8080")}) {
    auto answer = ListGridsAs(http->port(), host);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 200) << host;
  }
  for (const std::string host : {"box.lan:9090", "other.example"}) {
    auto answer = ListGridsAs(http->port(), host);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 421) << host;
  }
  server::HttpOptions bad;
  bad.listen = "127.0.0.1:0";
  bad.allowed_hosts = {"not a name"};
  EXPECT_TRUE(absl::IsInvalidArgument(server::HttpServer::Start(&coordinator_->scheduler(), bad).status()));
}

TEST_F(HttpHostTest, WithTokensTheHostDoesNotMatter) {
  auto auth = server::Authorizer::FromText(std::string("reader ") + kReader + "\n", "test");
  ASSERT_TRUE(auth.ok()) << auth.status();
  auto http = Serve({}, std::make_shared<const server::Authorizer>(*std::move(auth)));
  ASSERT_TRUE(http);
  auto answer = ListGridsAs(http->port(), "dashboard.example.org", kReader);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200) << answer->body;
  auto anonymous = ListGridsAs(http->port(), "dashboard.example.org");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
}

}  // namespace
}  // namespace actgrid
