// Faults injected into real processes and the store: a worker paused past its lease
// whose late reports are refused, a worker that starts before its coordinator, and a
// database that fills up. After each, every trial ended exactly once with each of its
// epochs stored once, and the database passes PRAGMA integrity_check.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "client/cli/client.h"
#include "client/grid/grid_file.h"
#include "common/rpc/rpc.h"
#include "server/grpc/coordinator.h"
#include "server/store/store.h"
#include "tests/e2e/process_util.h"

namespace {

using namespace actgrid::e2e;  // NOLINT: the process helpers
using actgrid::v1::TrialState;

std::unique_ptr<actgrid::store::Store> OpenReadOnly(const std::string& db) {
  actgrid::store::StoreOptions options;
  options.path = db;
  options.read_only = true;
  auto store = actgrid::store::Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

// The trials of `grid` all SUCCEEDED with epochs 0..epochs stored exactly once.
void ExpectEveryTrialOnce(actgrid::store::Store& store, const std::string& grid, size_t trials, int epochs) {
  auto found = store.FindGrid(grid);
  ASSERT_TRUE(found.ok()) << found.status();
  auto rows = store.ListGridTrials(found->id);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), trials);
  for (const auto& r : *rows) {
    EXPECT_EQ(r.state, actgrid::v1::TRIAL_STATE_SUCCEEDED) << r.trial_id;
    auto stored = store.LoadEpochs(r.trial_id);
    ASSERT_TRUE(stored.ok());
    ASSERT_EQ(stored->size(), size_t(epochs) + 1) << r.trial_id;
    for (size_t e = 0; e < stored->size(); ++e) ASSERT_EQ((*stored)[e].epoch(), int(e));
  }
}

TEST(Faults, PausedWorkerPastItsLeaseHasItsLateReportsRefused) {
  const std::string db = ::testing::TempDir() + "/fault_pause.db";
  RemoveDatabase(db);
  const std::string grid = ::testing::TempDir() + "/fault_pause.yaml";
  std::ofstream(grid) << "name: pause\n"
                         "dataset: {name: circle, samples: 1000}\n"
                         "train: {epochs: 1500}\n"
                         "seeds: 1\n"
                         "grid:\n  activation: [relu, tanh]\n";
  const std::string address = "127.0.0.1:" + std::to_string(FreePort());
  Process server = Process::Start(
      {kBin + "/server/actgrid-server", "--listen", address, "--db", db, "--lease-seconds", "1"}, "pause_server");
  // The paused worker holds its trials at epoch 50 (until it is told they are no longer
  // its own), so it cannot finish one before the pause however fast this machine is.
  Process sleepy = Process::Start({kBin + "/worker/runner/actgrid-worker", "--coordinator", address, "--threads",
                                   "1", "--id", "sleepy", "--hold-at-epoch", "50"},
                                  "pause_sleepy");
  std::string out, err;
  ASSERT_EQ(ActgridWithRetry({"submit", grid, "--server", address}, "fault_submit", &out, &err), 0) << err;
  ASSERT_TRUE(WaitUntilHolding(address, "sleepy"));
  sleepy.Kill(SIGSTOP);  // it keeps its trial but stops reporting: the lease expires
  Process other = Process::Start(
      {kBin + "/worker/runner/actgrid-worker", "--coordinator", address, "--threads", "2", "--id", "other"},
      "pause_other");
  ASSERT_EQ(Actgrid({"watch", "pause", "--server", address, "--no-progress"}, "pause_watch", &out, &err), 0) << err;
  EXPECT_NE(out.find("DONE, 2/2 trials"), std::string::npos) << out;
  sleepy.Kill(SIGCONT);  // it wakes up holding a stale attempt and reports
  bool told = false;      // ...and is told the attempt is no longer its own (a bounded wait)
  for (int i = 0; i < 1200 && !told; ++i) {
    told = Slurp(sleepy.err).find("no longer ours") != std::string::npos;
    if (!told) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(told) << Slurp(sleepy.err);
  sleepy.Kill(SIGTERM);
  EXPECT_EQ(sleepy.Wait(std::chrono::seconds(30)), 0);
  other.Kill(SIGTERM);
  EXPECT_EQ(other.Wait(std::chrono::seconds(30)), 0);
  server.Kill(SIGTERM);
  EXPECT_EQ(server.Wait(std::chrono::seconds(30)), 0);
  // The paused worker's attempt was dropped, never completed.
  const std::string sleepy_log = Slurp(sleepy.err);
  EXPECT_NE(sleepy_log.find("0 completed"), std::string::npos) << sleepy_log;
  EXPECT_EQ(sleepy_log.find(" 0 dropped"), std::string::npos) << sleepy_log;

  auto store = OpenReadOnly(db);
  ASSERT_NE(store, nullptr);
  ExpectEveryTrialOnce(*store, "pause", 2, 1500);
  auto workers = store->ListWorkers();
  ASSERT_TRUE(workers.ok());
  for (const auto& w : *workers) {
    if (w.worker_id() == "sleepy") {
      EXPECT_EQ(w.completed(), 0);
      EXPECT_GE(w.failed(), 1);  // its expired lease
    }
  }
  store.reset();
  EXPECT_EQ(IntegrityCheck(db), "ok");
}

TEST(Faults, WorkerStartedBeforeItsCoordinatorWaitsForIt) {
  const std::string db = ::testing::TempDir() + "/fault_late_server.db";
  RemoveDatabase(db);
  const std::string grid = ::testing::TempDir() + "/fault_late_server.yaml";
  std::ofstream(grid) << "name: late\n"
                         "dataset: {name: xor, samples: 200}\n"
                         "train: {epochs: 20}\n"
                         "seeds: 2\n"
                         "grid:\n  activation: [relu, tanh]\n";
  const std::string address = "127.0.0.1:" + std::to_string(FreePort());
  Process worker = Process::Start(
      {kBin + "/worker/runner/actgrid-worker", "--coordinator", address, "--threads", "1", "--id", "early"},
      "late_worker");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  Process server = Process::Start({kBin + "/server/actgrid-server", "--listen", address, "--db", db}, "late_server");
  std::string out, err;
  ASSERT_EQ(ActgridWithRetry({"submit", grid, "--server", address}, "fault_submit", &out, &err), 0) << err;
  ASSERT_EQ(Actgrid({"watch", "late", "--server", address, "--no-progress"}, "late_watch", &out, &err), 0) << err;
  EXPECT_NE(out.find("DONE, 4/4 trials"), std::string::npos) << out;
  worker.Kill(SIGTERM);
  EXPECT_EQ(worker.Wait(std::chrono::seconds(30)), 0);
  // The worker that waited for the coordinator trained the grid (it is the only one).
  const std::string log = Slurp(worker.err);
  EXPECT_NE(log.find("4 completed"), std::string::npos) << log;
  server.Kill(SIGTERM);
  EXPECT_EQ(server.Wait(std::chrono::seconds(30)), 0);
  auto store = OpenReadOnly(db);
  ASSERT_NE(store, nullptr);
  ExpectEveryTrialOnce(*store, "late", 4, 20);
  store.reset();
  EXPECT_EQ(IntegrityCheck(db), "ok");
}

// A database that cannot grow: the write that does not fit fails with a clear
// error, everything committed before it stays, and the file stays sound.
TEST(Faults, FullDatabaseRefusesWritesClearlyAndStaysSound) {
  const std::string db = ::testing::TempDir() + "/fault_full.db";
  RemoveDatabase(db);
  actgrid::server::CoordinatorOptions options;
  options.db_path = db;
  options.max_db_bytes = 2 << 20;
  std::string first_error;
  {
    auto coordinator = actgrid::server::Coordinator::Start(options);
    ASSERT_TRUE(coordinator.ok()) << coordinator.status();
    actgrid::cli::Client client((*coordinator)->InProcessChannel());
    auto small = actgrid::grid::ParseGridText("name: small\ndataset: {name: xor, samples: 100}\ntrain: {epochs: 2}\n");
    ASSERT_TRUE(small.ok());
    ASSERT_TRUE(client.Submit(actgrid::grid::ToSubmitRequest(*small, false)).ok());
    // Grids until one does not fit: each submission is one transaction, all or nothing.
    for (int i = 0; i < 200 && first_error.empty(); ++i) {
      auto big = actgrid::grid::ParseGridText("name: big" + std::to_string(i) +
                                              "\ndataset: {name: xor, samples: 100}\ntrain: {epochs: 2}\nseeds: 400\n"
                                              "grid:\n  depth: [1, 2, 3]\n");
      ASSERT_TRUE(big.ok());
      auto submitted = client.Submit(actgrid::grid::ToSubmitRequest(*big, false));
      if (!submitted.ok()) first_error = std::string(submitted.status().message());
    }
    ASSERT_FALSE(first_error.empty()) << "the database never filled";
    EXPECT_NE(first_error.find("full"), std::string::npos) << first_error;
    // Reads still answer.
    EXPECT_TRUE(client.GetGrid("small").ok());
  }
  EXPECT_EQ(IntegrityCheck(db), "ok");
  // Without the limit, the database opens and holds every grid committed before.
  options.max_db_bytes = 0;
  auto reopened = actgrid::server::Coordinator::Start(options);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  actgrid::cli::Client client((*reopened)->InProcessChannel());
  auto grids = client.ListGrids(0);
  ASSERT_TRUE(grids.ok());
  EXPECT_GE(grids->size(), 2u);
  for (const auto& g : *grids) EXPECT_EQ(g.trials(), g.name() == "small" ? 1 : 1200) << g.name();
}

// A database that fills up while workers report: that is the coordinator's trouble, not
// the workers'. No lease expires for it (with --max-attempts 1, a single lost attempt
// would fail a trial), the log says "database full", the WAL stays inside the cap, and
// once there is room (here: a restart without the cap) the grid finishes with every
// epoch stored once.
TEST(Faults, FullDatabaseWhileWorkersReportLosesNoAttemptAndResumes) {
  const std::string db = ::testing::TempDir() + "/fault_full_reports.db";
  RemoveDatabase(db);
  const std::string grid = ::testing::TempDir() + "/fault_full_reports.yaml";
  std::ofstream(grid) << "name: filling\n"
                         "dataset: {name: circle, samples: 200}\n"
                         "train: {epochs: 3000}\n"
                         "seeds: 2\n"
                         "grid:\n  activation: [relu, tanh]\n  depth: [1, 2]\n";
  const std::string address = "127.0.0.1:" + std::to_string(FreePort());
  const std::vector<std::string> argv = {kBin + "/server/actgrid-server", "--listen", address, "--db", db,
                                         "--max-attempts", "1"};
  // Short leases while full: a lease the coordinator let expire would show at once.
  std::vector<std::string> capped = argv;
  capped.insert(capped.end(), {"--max-db-mb", "1", "--lease-seconds", "1"});
  auto server = std::make_unique<Process>(Process::Start(capped, "full_reports_server"));
  Process worker = Process::Start(
      {kBin + "/worker/runner/actgrid-worker", "--coordinator", address, "--threads", "2", "--id", "filler"},
      "full_reports_worker");
  std::string out, err;
  ASSERT_EQ(ActgridWithRetry({"submit", grid, "--server", address}, "full_reports_submit", &out, &err), 0) << err;
  // Wait until the coordinator says the database is full (a bounded wait).
  bool full = false;
  for (int i = 0; i < 1200 && !full; ++i) {
    full = Slurp(server->err).find("database full") != std::string::npos;
    if (!full) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(full) << Slurp(server->err);
  // Stay full for several lease periods: with the old behaviour every held lease expired
  // here. The cap covers the WAL: the two files stay within it (plus one report batch).
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    struct stat main_file {}, wal {};
    stat(db.c_str(), &main_file);
    stat((db + "-wal").c_str(), &wal);
    EXPECT_LE(main_file.st_size + wal.st_size, (1 << 20) + (256 << 10)) << "database and WAL past the cap";
  }
  server->Kill(SIGTERM);
  ASSERT_EQ(server->Wait(std::chrono::seconds(60)), 0) << Slurp(server->err);
  const std::string full_log = Slurp(server->err);
  // Room again: the restarted coordinator has no cap (and the default 30 s leases, so the
  // worker's retry backoff finds its leases waiting).
  server = std::make_unique<Process>(Process::Start(argv, "full_reports_server2"));
  ASSERT_EQ(ActgridWithRetry({"watch", "filling", "--server", address, "--no-progress"}, "full_reports_watch", &out,
                             &err),
            0)
      << out << err << Slurp(server->err);
  EXPECT_NE(out.find("DONE, 8/8 trials"), std::string::npos) << out;
  worker.Kill(SIGTERM);
  EXPECT_EQ(worker.Wait(std::chrono::seconds(60)), 0);
  server->Kill(SIGTERM);
  EXPECT_EQ(server->Wait(std::chrono::seconds(60)), 0);
  EXPECT_EQ(full_log.find("lease expired"), std::string::npos) << full_log;
  const std::string worker_log = Slurp(worker.err);
  EXPECT_NE(worker_log.find(" 0 dropped"), std::string::npos) << worker_log;
  EXPECT_EQ(worker_log.find("no longer ours"), std::string::npos) << worker_log;

  auto store = OpenReadOnly(db);
  ASSERT_NE(store, nullptr);
  ExpectEveryTrialOnce(*store, "filling", 8, 3000);
  auto found = store->FindGrid("filling");
  ASSERT_TRUE(found.ok());
  auto rows = store->ListGridTrials(found->id);
  ASSERT_TRUE(rows.ok());
  for (const auto& r : *rows) EXPECT_EQ(store->GetTrial(r.trial_id)->attempt, 1) << "trial " << r.trial_id;
  store.reset();
  EXPECT_EQ(IntegrityCheck(db), "ok");
}

// A database its coordinator may not write (a read-only file in a read-only
// directory): the coordinator refuses to start, saying which file and why, and the
// file is untouched. As root, the check runs in a child that gives up root first.
TEST(Faults, ReadOnlyDatabaseIsRefusedClearly) {
  const std::string dir = ::testing::TempDir() + "/fault_read_only_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string db = dir + "/ro.db";
  {
    actgrid::store::StoreOptions options;
    options.path = db;
    auto store = actgrid::store::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->CreateGrid({"kept", {}, 1, {}, 1}).ok());
  }
  std::filesystem::remove(db + "-wal");
  std::filesystem::remove(db + "-shm");
  chmod(db.c_str(), 0444);
  chmod(dir.c_str(), 0555);
  const std::string message_file = ::testing::TempDir() + "/fault_read_only.msg";
  const pid_t pid = fork();
  if (pid == 0) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
    actgrid::server::CoordinatorOptions options;
    options.db_path = db;
    auto coordinator = actgrid::server::Coordinator::Start(options);
    std::ofstream(message_file) << (coordinator.ok() ? "started" : std::string(coordinator.status().message()));
    _exit(coordinator.ok() ? 1 : 0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  chmod(dir.c_str(), 0755);
  chmod(db.c_str(), 0644);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_NE(WEXITSTATUS(status), 3) << "could not give up root";
  const std::string message = Slurp(message_file);
  EXPECT_EQ(WEXITSTATUS(status), 0) << message;
  EXPECT_NE(message.find(db), std::string::npos) << message;  // names the file...
  EXPECT_TRUE(message.find("readonly") != std::string::npos || message.find("cannot") != std::string::npos ||
              message.find("unable to open") != std::string::npos)
      << message;  // ...and why
  EXPECT_EQ(IntegrityCheck(db), "ok");
  auto store = OpenReadOnly(db);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->FindGrid("kept").ok());
  store.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
