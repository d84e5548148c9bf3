// Who may call a coordinator: tokens files, roles over TCP (UNAUTHENTICATED without a
// known token, PERMISSION_DENIED for a role that lacks the permission), workers with
// and without a worker token, the in-process channel, loopback-only serving without
// tokens, and TLS with a certificate made here.
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "client/cli/client.h"
#include "client/grid/grid_file.h"
#include "common/rpc/rpc.h"
#include "server/grpc/auth.h"
#include "server/grpc/coordinator.h"
#include "tests/support/test_certificate.h"
#include "worker/runner/remote_worker.h"

namespace actgrid {
namespace {

constexpr char kReader[] = "reader-token-0123456789";
constexpr char kSubmitter[] = "submitter-token-0123456789";
constexpr char kWorker[] = "worker-token-0123456789";
constexpr char kTokens[] = R"(# role token
reader    reader-token-0123456789
submitter submitter-token-0123456789
worker    worker-token-0123456789   # the workers' shared token
)";

constexpr char kGrid[] = R"(name: auth
dataset: {name: xor, samples: 100}
train: {epochs: 3}
seeds: 2
grid:
  activation: [relu, tanh]
)";

server::CoordinatorOptions Options(const std::string& name, bool tokens) {
  server::CoordinatorOptions options;
  options.db_path = ::testing::TempDir() + "/" + name + ".db";
  for (const char* s : {"", "-wal", "-shm"}) std::remove((options.db_path + s).c_str());
  options.listen = "127.0.0.1:0";
  if (tokens) {
    auto auth = server::Authorizer::FromText(kTokens, "tokens");
    EXPECT_TRUE(auth.ok()) << auth.status();
    options.auth = std::make_shared<const server::Authorizer>(*std::move(auth));
  }
  return options;
}

cli::Client ClientWith(const server::Coordinator& c, const std::string& token, const rpc::ChannelAuth& base = {}) {
  rpc::ChannelAuth auth = base;
  auth.token = token;
  return cli::Client(rpc::Connect("127.0.0.1:" + std::to_string(c.port()), auth), std::chrono::seconds(10));
}

runner::WorkerStats RunWorker(std::shared_ptr<grpc::Channel> channel, const std::atomic<bool>& stop) {
  runner::WorkerOptions w;
  w.threads = 1;
  w.worker_id = "w";
  return runner::RemoteWorker(std::move(channel), w).Run(stop);
}

TEST(Auth, TokensFileIsCheckedLineByLine) {
  EXPECT_TRUE(server::Authorizer::FromText(kTokens, "t").ok());
  auto bad = server::Authorizer::FromText("reader r-0123456789abcdef\nowner o-0123456789abcdef\n", "t");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("t:2: unknown role \"owner\""), std::string::npos) << bad.status();
  bad = server::Authorizer::FromText("reader short\n", "t");
  EXPECT_NE(bad.status().message().find("shorter than 16"), std::string::npos) << bad.status();
  bad = server::Authorizer::FromText("reader r-0123456789abcdef\nworker r-0123456789abcdef\n", "t");
  EXPECT_NE(bad.status().message().find("listed twice"), std::string::npos) << bad.status();
  bad = server::Authorizer::FromText("# nothing\n\n", "t");
  EXPECT_NE(bad.status().message().find("no tokens"), std::string::npos) << bad.status();
  bad = server::Authorizer::FromText("reader\n", "t");
  EXPECT_NE(bad.status().message().find("ROLE TOKEN"), std::string::npos) << bad.status();
}

TEST(Auth, RolesDecideWhoMayCallWhat) {
  auto coordinator = server::Coordinator::Start(Options("auth_roles", true));
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  auto grid = grid::ParseGridText(kGrid);
  ASSERT_TRUE(grid.ok());
  const v1::SubmitGridRequest submit = grid::ToSubmitRequest(*grid, false);

  auto none = ClientWith(**coordinator, "").ListGrids(0);
  EXPECT_TRUE(absl::IsUnauthenticated(none.status())) << none.status();
  auto unknown = ClientWith(**coordinator, "not-a-token-at-all-0000").ListGrids(0);
  EXPECT_TRUE(absl::IsUnauthenticated(unknown.status())) << unknown.status();

  cli::Client reader = ClientWith(**coordinator, kReader);
  EXPECT_TRUE(reader.ListGrids(0).ok());
  auto denied = reader.Submit(submit);
  ASSERT_TRUE(absl::IsPermissionDenied(denied.status())) << denied.status();
  EXPECT_NE(denied.status().message().find("submitter or admin"), std::string::npos);

  cli::Client submitter = ClientWith(**coordinator, kSubmitter);
  auto submitted = submitter.Submit(submit);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_TRUE(absl::IsPermissionDenied(ClientWith(**coordinator, kWorker).ListGrids(0).status()));

  // A worker without a worker's token stops at once, saying why.
  std::atomic<bool> stop{false};
  const runner::WorkerStats refused =
      RunWorker(rpc::Connect("127.0.0.1:" + std::to_string((*coordinator)->port()), {kReader, false, ""}), stop);
  EXPECT_NE(refused.refused.find("worker or admin"), std::string::npos) << refused.refused;
  EXPECT_EQ(refused.leased, 0);

  // With one, it trains the grid.
  std::thread worker([&] {
    RunWorker(rpc::Connect("127.0.0.1:" + std::to_string((*coordinator)->port()), {kWorker, false, ""}), stop);
  });
  ASSERT_TRUE(reader.Watch("auth", [](const v1::GridEvent&) {}, nullptr).ok());
  stop = true;
  worker.join();
  auto done = reader.GetGrid("auth");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state(), v1::GRID_STATE_DONE);
  v1::CompareRequest compare;
  compare.set_grid("auth");
  EXPECT_TRUE(reader.Compare(compare).ok());
  EXPECT_TRUE(absl::IsUnauthenticated(ClientWith(**coordinator, "").Compare(compare).status()));
}

TEST(Auth, TheInProcessChannelCarriesTheCoordinatorsOwnToken) {
  auto coordinator = server::Coordinator::Start(Options("auth_in_process", true));
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  cli::Client client((*coordinator)->InProcessChannel());
  auto grid = grid::ParseGridText(kGrid);
  ASSERT_TRUE(client.Submit(grid::ToSubmitRequest(*grid, false)).ok());
  std::atomic<bool> stop{false};
  std::thread worker([&] { RunWorker((*coordinator)->InProcessChannel(), stop); });
  EXPECT_TRUE(client.Watch("auth", [](const v1::GridEvent&) {}, nullptr).ok());
  stop = true;
  worker.join();
  EXPECT_EQ(client.GetGrid("auth")->state(), v1::GRID_STATE_DONE);
}

TEST(Auth, WithoutTokensOnlyLoopbackIsServed) {
  EXPECT_TRUE(server::IsLoopback("127.0.0.1:7070"));
  EXPECT_TRUE(server::IsLoopback("localhost:1"));
  EXPECT_TRUE(server::IsLoopback("[::1]:7070"));
  EXPECT_FALSE(server::IsLoopback("0.0.0.0:7070"));
  EXPECT_FALSE(server::IsLoopback("[::]:7070"));
  EXPECT_FALSE(server::IsLoopback("10.1.2.3:7070"));
  server::CoordinatorOptions open = Options("auth_public", false);
  open.listen = "0.0.0.0:0";
  auto refused = server::Coordinator::Start(open);
  ASSERT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("without tokens"), std::string::npos);
  server::CoordinatorOptions guarded = Options("auth_public", true);
  guarded.listen = "0.0.0.0:0";
  auto plaintext = server::Coordinator::Start(guarded);  // tokens would cross the network in clear
  ASSERT_TRUE(absl::IsInvalidArgument(plaintext.status())) << plaintext.status();
  EXPECT_NE(plaintext.status().message().find("without TLS"), std::string::npos) << plaintext.status();
  guarded.allow_plaintext_tokens = true;
  auto served = server::Coordinator::Start(guarded);
  EXPECT_TRUE(served.ok()) << served.status();
}

TEST(Auth, ClientTokensComeFromAFileOrTheEnvironment) {
  const std::string file = ::testing::TempDir() + "/token";
  std::ofstream(file) << "  file-token-0123456789\n";
  unsetenv("ACTGRID_TOKEN");
  unsetenv("ACTGRID_TOKEN_FILE");
  unsetenv("ACTGRID_TLS_CA");
  auto auth = rpc::ClientAuth(file, false, "");
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(auth->token, "file-token-0123456789");
  EXPECT_FALSE(auth->tls);
  setenv("ACTGRID_TOKEN", "env-token-0123456789", 1);
  EXPECT_EQ(rpc::ClientAuth("", false, "")->token, "env-token-0123456789");
  unsetenv("ACTGRID_TOKEN");
  setenv("ACTGRID_TOKEN_FILE", file.c_str(), 1);
  EXPECT_EQ(rpc::ClientAuth("", false, "")->token, "file-token-0123456789");
  unsetenv("ACTGRID_TOKEN_FILE");
  EXPECT_TRUE(rpc::ClientAuth("", false, "")->token.empty());
  const std::string empty = ::testing::TempDir() + "/empty-token";
  std::ofstream(empty) << "\n";
  EXPECT_TRUE(absl::IsInvalidArgument(rpc::ClientAuth(empty, false, "").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(rpc::ClientAuth(file + "-missing", false, "").status()));
}

// A self-signed certificate for localhost and 127.0.0.1, and its key, as PEM.
using Pem = actgrid::testing::TestCertificate;

Pem MakeCertificate() { return actgrid::testing::MakeTestCertificate(); }

TEST(Auth, TlsServesThoseWhoTrustItsCertificate) {
  const Pem pem = MakeCertificate();
  ASSERT_NE(pem.cert.find("BEGIN CERTIFICATE"), std::string::npos);
  server::CoordinatorOptions options = Options("auth_tls", true);
  options.tls_cert_pem = pem.cert;
  options.tls_key_pem = pem.key;
  auto coordinator = server::Coordinator::Start(options);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();

  rpc::ChannelAuth tls;
  tls.tls = true;
  tls.ca_pem = pem.cert;
  auto trusted = ClientWith(**coordinator, kReader, tls).ListGrids(0);
  EXPECT_TRUE(trusted.ok()) << trusted.status();
  // Without TLS, or trusting only the system's CAs, no call gets through.
  cli::Client plain(rpc::Connect("127.0.0.1:" + std::to_string((*coordinator)->port()), {kReader, false, ""}),
                    std::chrono::seconds(3));
  EXPECT_TRUE(absl::IsUnavailable(plain.ListGrids(0).status()));
  rpc::ChannelAuth system_roots;
  system_roots.tls = true;
  cli::Client untrusted(rpc::Connect("127.0.0.1:" + std::to_string((*coordinator)->port()), system_roots),
                        std::chrono::seconds(3));
  EXPECT_TRUE(absl::IsUnavailable(untrusted.ListGrids(0).status()));
  // TLS does not replace the token.
  EXPECT_TRUE(absl::IsUnauthenticated(ClientWith(**coordinator, "", tls).ListGrids(0).status()));

  server::CoordinatorOptions half = Options("auth_tls_half", true);
  half.tls_cert_pem = pem.cert;
  EXPECT_TRUE(absl::IsInvalidArgument(server::Coordinator::Start(half).status()));
}

}  // namespace
}  // namespace actgrid
