// actgrid-server and two actgrid-worker processes over TCP loopback, driven by the
// actgrid command as a user would type it: submit --watch, then compare --format json,
// status and compare --db on the database file.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "server/store/store.h"
#include "tests/e2e/process_util.h"

namespace {

using namespace actgrid::e2e;  // NOLINT: the process helpers

TEST(Processes, ServerAndTwoWorkersOverLoopback) {
  const std::string dir = ::testing::TempDir();
  const std::string db = dir + "/e2e_processes.db";
  for (const char* s : {"", "-wal", "-shm"}) std::remove((db + s).c_str());
  const std::string grid = dir + "/e2e_processes.yaml";
  std::ofstream(grid) << "name: loopback\n"
                         "dataset: {name: spiral, samples: 200}\n"
                         "model: {width: 6}\n"
                         "train: {epochs: 8}\n"
                         "seeds: 2\n"
                         "grid:\n  activation: [relu, tanh]\n  depth: [1, 2]\n";
  const std::string address = "127.0.0.1:" + std::to_string(FreePort());
  Process server = Process::Start({kBin + "/server/actgrid-server", "--listen", address, "--db", db}, "server");
  Process w1 = Process::Start({kBin + "/worker/runner/actgrid-worker", "--coordinator", address, "--threads", "1",
                               "--id", "w1"},
                              "worker1");
  Process w2 = Process::Start({kBin + "/worker/runner/actgrid-worker", "--coordinator", address, "--threads", "1",
                               "--id", "w2"},
                              "worker2");

  std::string out, err;
  // Both workers have said hello (asked for work) before there is any, so both are
  // listed below however fast the grid trains (a bounded wait).
  bool both = false;
  for (int i = 0; i < 600 && !both; ++i) {
    both = Actgrid({"workers", "--server", address}, "workers_hello", &out, &err) == 0 &&
           out.find("w1") != std::string::npos && out.find("w2") != std::string::npos;
    if (!both) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(both) << out << err;
  // The server may still be starting: submit retries through the channel's backoff.
  int code = ActgridWithRetry({"submit", grid, "--server", address, "--watch", "--no-progress"}, "submit", &out, &err);
  ASSERT_EQ(code, 0) << out << err << Slurp(server.err);
  EXPECT_NE(err.find("8 trials"), std::string::npos) << err;
  EXPECT_NE(out.find("DONE, 8/8 trials"), std::string::npos) << out;

  ASSERT_EQ(Actgrid({"compare", "loopback", "--server", address, "--by", "activation,depth", "--metric",
                     "best_test_acc", "--format", "json"},
                    "compare", &out, &err),
            0)
      << err;
  EXPECT_EQ(out.rfind("{\"grid\": \"loopback\"", 0), 0u) << out;
  EXPECT_NE(out.find("\"by\": [\"activation\", \"depth\"]"), std::string::npos) << out;
  EXPECT_NE(out.find("{\"group\": {\"activation\": \"relu\", \"depth\": 1}, \"n\": 2, \"mean\": "), std::string::npos)
      << out;
  EXPECT_NE(out.find("\"activation\": \"tanh\", \"depth\": 2"), std::string::npos) << out;

  ASSERT_EQ(Actgrid({"workers", "--server", address}, "workers", &out, &err), 0) << err;
  EXPECT_NE(out.find("w1"), std::string::npos) << out;
  EXPECT_NE(out.find("w2"), std::string::npos) << out;

  // SIGTERM: workers and server stop cleanly.
  w1.Kill(SIGTERM);
  w2.Kill(SIGTERM);
  EXPECT_EQ(w1.Wait(std::chrono::seconds(30)), 0) << Slurp(w1.err);
  EXPECT_EQ(w2.Wait(std::chrono::seconds(30)), 0) << Slurp(w2.err);
  server.Kill(SIGTERM);
  EXPECT_EQ(server.Wait(std::chrono::seconds(30)), 0) << Slurp(server.err);

  // The database answers on its own.
  ASSERT_EQ(Actgrid({"compare", "loopback", "--db", db, "--format", "csv"}, "compare_db", &out, &err), 0) << err;
  EXPECT_EQ(out.rfind("activation,depth,n,mean,std,ci95_low,ci95_high,median,min,max,diverged,missing,trials\n", 0), 0u) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 5);
  ASSERT_EQ(Actgrid({"status", "loopback", "--db", db}, "status_db", &out, &err), 0) << err;
  EXPECT_NE(out.find("DONE"), std::string::npos) << out;
}

TEST(Processes, UnreachableCoordinatorIsAClearError) {
  std::string out, err;
  const std::string address = "127.0.0.1:" + std::to_string(FreePort());
  EXPECT_EQ(Actgrid({"grids", "--server", address, "--timeout", "1"}, "unreachable", &out, &err), 1);
  EXPECT_NE(err.find("coordinator " + address), std::string::npos) << err;
}

TEST(Processes, KilledWorkerAndRestartedCoordinatorLoseNothing) {
  const std::string dir = ::testing::TempDir();
  const std::string db = dir + "/e2e_faults.db";
  for (const char* s : {"", "-wal", "-shm"}) std::remove((db + s).c_str());
  const std::string grid = dir + "/e2e_faults.yaml";
  std::ofstream(grid) << "name: faults\n"
                         "dataset: {name: circle, samples: 1000}\n"
                         "train: {epochs: 2000}\n"
                         "seeds: 3\n"
                         "grid:\n  activation: [relu, tanh]\n  depth: [1, 2]\n";
  const std::string address = "127.0.0.1:" + std::to_string(FreePort());
  const std::vector<std::string> server_argv = {kBin + "/server/actgrid-server", "--listen", address, "--db", db,
                                                "--lease-seconds", "1"};
  auto server = std::make_unique<Process>(Process::Start(server_argv, "faults_server"));
  // The doomed worker holds its trial at epoch 10, so the kill always hits a live lease.
  Process doomed = Process::Start({kBin + "/worker/runner/actgrid-worker", "--coordinator", address, "--threads",
                                   "1", "--id", "doomed", "--hold-at-epoch", "10"},
                                  "faults_doomed");
  Process survivor = Process::Start(
      {kBin + "/worker/runner/actgrid-worker", "--coordinator", address, "--threads", "1", "--id", "survivor"},
      "faults_survivor");
  std::string out, err;
  int code = ActgridWithRetry({"submit", grid, "--server", address}, "faults_submit", &out, &err);
  ASSERT_EQ(code, 0) << err;
  // Kill the doomed worker once it holds a trial (`actgrid workers`: its leased column).
  ASSERT_TRUE(WaitUntilHolding(address, "doomed"));
  doomed.Kill(SIGKILL);  // its trial is leased again when the lease expires
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server->Kill(SIGKILL);  // and the coordinator dies too; a new one takes the database
  server = std::make_unique<Process>(Process::Start(server_argv, "faults_server2"));
  code = ActgridWithRetry({"watch", "faults", "--server", address, "--no-progress"}, "faults_watch", &out, &err);
  ASSERT_EQ(code, 0) << out << err << "server:\n" << Slurp(server->err) << "survivor:\n" << Slurp(survivor.err);
  EXPECT_NE(out.find("DONE, 12/12 trials"), std::string::npos) << out;
  survivor.Kill(SIGTERM);
  EXPECT_EQ(survivor.Wait(std::chrono::seconds(30)), 0);
  server->Kill(SIGTERM);
  EXPECT_EQ(server->Wait(std::chrono::seconds(30)), 0);

  // Every trial succeeded once, with epochs 0..2000 stored exactly once.
  actgrid::store::StoreOptions options;
  options.path = db;
  options.read_only = true;
  auto store = actgrid::store::Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  auto workers = (*store)->ListWorkers();
  ASSERT_TRUE(workers.ok());
  for (const auto& w : *workers)
    if (w.worker_id() == "doomed") {
      EXPECT_GE(w.failed(), 1);  // its lease expired: the kill hit a trial
    }
  auto found = (*store)->FindGrid("faults");
  ASSERT_TRUE(found.ok());
  auto rows = (*store)->ListGridTrials(found->id);
  ASSERT_EQ(rows->size(), 12u);
  for (const auto& r : *rows) {
    EXPECT_EQ(r.state, actgrid::v1::TRIAL_STATE_SUCCEEDED);
    auto epochs = (*store)->LoadEpochs(r.trial_id);
    ASSERT_EQ(epochs->size(), 2001u);
    for (size_t e = 0; e < epochs->size(); ++e) ASSERT_EQ((*epochs)[e].epoch(), int(e));
  }
  EXPECT_EQ(IntegrityCheck(db), "ok");
}

}  // namespace

namespace {

using namespace actgrid::e2e;  // NOLINT: the process helpers

// The binaries' flags for tokens: the server's --tokens, a worker's --token-file, the
// CLI's --token-file and $ACTGRID_TOKEN_FILE; no token, no answer; no tokens, no
// address beyond loopback.
TEST(Processes, TokensGuardTheServerAndItsBinariesCarryThem) {
  const std::string dir = ::testing::TempDir();
  const std::string db = dir + "/e2e_tokens.db";
  RemoveDatabase(db);
  std::ofstream(dir + "/tokens") << "submitter submitter-0123456789abcdef\nworker worker-0123456789abcdef\n";
  std::ofstream(dir + "/submitter.token") << "submitter-0123456789abcdef\n";
  std::ofstream(dir + "/worker.token") << "worker-0123456789abcdef\n";
  const std::string grid = dir + "/e2e_tokens.yaml";
  std::ofstream(grid) << "name: tokens\ndataset: {name: xor, samples: 100}\ntrain: {epochs: 3}\nseeds: 2\n";

  const std::string open_address = "0.0.0.0:" + std::to_string(FreePort());
  Process refused = Process::Start({kBin + "/server/actgrid-server", "--listen", open_address, "--db", db},
                                   "tokens_refused");
  EXPECT_EQ(refused.Wait(std::chrono::seconds(30)), 2);
  EXPECT_NE(Slurp(refused.err).find("without tokens"), std::string::npos) << Slurp(refused.err);
  // Tokens off loopback travel in every call: without TLS they are refused, unless the
  // operator says a trusted layer protects them.
  Process plaintext = Process::Start(
      {kBin + "/server/actgrid-server", "--listen", open_address, "--db", db, "--tokens", dir + "/tokens"},
      "tokens_plaintext");
  EXPECT_EQ(plaintext.Wait(std::chrono::seconds(30)), 2);
  EXPECT_NE(Slurp(plaintext.err).find("without TLS"), std::string::npos) << Slurp(plaintext.err);
  EXPECT_NE(Slurp(plaintext.err).find("--allow-plaintext-tokens"), std::string::npos) << Slurp(plaintext.err);
  Process dashboard = Process::Start({kBin + "/server/actgrid-server", "--listen", "127.0.0.1:0", "--http",
                                      "0.0.0.0:0", "--db", db, "--tokens", dir + "/tokens"},
                                     "tokens_plaintext_http");
  EXPECT_EQ(dashboard.Wait(std::chrono::seconds(30)), 2);
  EXPECT_NE(Slurp(dashboard.err).find("without TLS"), std::string::npos) << Slurp(dashboard.err);
  Process allowed = Process::Start({kBin + "/server/actgrid-server", "--listen", open_address, "--db", db,
                                    "--tokens", dir + "/tokens", "--allow-plaintext-tokens"},
                                   "tokens_plaintext_allowed");
  std::string health_out, health_err;
  EXPECT_EQ(ActgridWithRetry({"health", "--server", "127.0.0.1:" + open_address.substr(8)}, "tokens_allowed_health",
                             &health_out, &health_err),
            0)
      << health_err << Slurp(allowed.err);
  allowed.Kill(SIGTERM);
  EXPECT_EQ(allowed.Wait(std::chrono::seconds(30)), 0);

  const std::string address = "127.0.0.1:" + std::to_string(FreePort());
  Process server = Process::Start(
      {kBin + "/server/actgrid-server", "--listen", address, "--db", db, "--tokens", dir + "/tokens"},
      "tokens_server");
  Process worker = Process::Start({kBin + "/worker/runner/actgrid-worker", "--coordinator", address, "--threads",
                                   "1", "--token-file", dir + "/worker.token"},
                                  "tokens_worker");
  std::string out, err;
  ASSERT_EQ(ActgridWithRetry({"submit", grid, "--server", address, "--watch", "--no-progress", "--token-file",
                              dir + "/submitter.token"},
                             "tokens_submit", &out, &err),
            0)
      << err << Slurp(server.err);
  EXPECT_NE(out.find("DONE, 2/2 trials"), std::string::npos) << out;
  EXPECT_EQ(Actgrid({"grids", "--server", address}, "tokens_none", &out, &err), 1);
  EXPECT_NE(err.find("bearer token"), std::string::npos) << err;
  setenv("ACTGRID_TOKEN_FILE", (dir + "/submitter.token").c_str(), 1);
  EXPECT_EQ(Actgrid({"compare", "tokens", "--server", address}, "tokens_env", &out, &err), 0) << err;
  setenv("ACTGRID_TOKEN_FILE", (dir + "/worker.token").c_str(), 1);  // a worker's token may not read
  EXPECT_EQ(Actgrid({"grids", "--server", address}, "tokens_wrong_role", &out, &err), 1);
  EXPECT_NE(err.find("worker token may not"), std::string::npos) << err;
  unsetenv("ACTGRID_TOKEN_FILE");
  EXPECT_NE(Slurp(server.err).find("tokens from"), std::string::npos);
  worker.Kill(SIGTERM);
  EXPECT_EQ(worker.Wait(std::chrono::seconds(30)), 0);
  server.Kill(SIGTERM);
  EXPECT_EQ(server.Wait(std::chrono::seconds(30)), 0);
}

}  // namespace
