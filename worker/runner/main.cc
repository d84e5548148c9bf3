// actgrid-worker: pulls trials from a coordinator and trains them on a oneTBB pool.
// SIGTERM/SIGINT: stop leasing, let running trials finish (up to --grace seconds),
// release the rest; a second signal releases at once.
#include <csignal>
#include <cstdio>
#include <ctime>

#include <CLI/CLI.hpp>

#include "common/rpc/rpc.h"
#include "worker/runner/local_pool.h"
#include "worker/runner/remote_worker.h"

namespace {

std::atomic<bool> g_stop{false}, g_stop_now{false};

void OnSignal(int) {
  if (g_stop.exchange(true)) g_stop_now = true;
}

void Log(const std::string& message) {
  char when[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  std::fprintf(stderr, "%s actgrid-worker: %s\n", when, message.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  actgrid::rpc::InitProcess();
  CLI::App app{"actgrid-worker: trains trials leased from an actgrid coordinator"};
  std::string coordinator;
  int threads = 0;
  double grace = 30;
  std::string worker_id;
  app.add_option("--coordinator,-c", coordinator,
                 "Coordinator address host:port (default: $ACTGRID_SERVER or 127.0.0.1:7070)");
  app.add_option("--threads,-t", threads, "Trials trained in parallel (default: all cores)")
      ->envname("ACTGRID_WORKER_THREADS")
      ->check(CLI::Range(1, 1024));
  app.add_option("--grace", grace, "Seconds running trials get to finish on SIGTERM before they are released")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--id", worker_id, "Worker id shown by `actgrid workers` (default host:pid:0)");
  std::vector<std::string> data_dirs = {"/usr/share/datasets"};
  app.add_option("--data-dir", data_dirs,
                 "Directory dataset files may be read from (repeat for several); a trial naming a file "
                 "elsewhere fails")
      ->capture_default_str();
  std::string health_file;
  app.add_option("--health-file", health_file,
                 "Rewrite this file at least every 5 s while the worker runs (a liveness probe checks its age)");
  std::string token_file, tls_ca;
  bool tls = false;
  app.add_option("--token-file", token_file,
                 "File holding this worker's bearer token (else $ACTGRID_TOKEN, or the file $ACTGRID_TOKEN_FILE)");
  app.add_flag("--tls", tls, "Connect with TLS, checking the coordinator against the system's CAs");
  app.add_option("--tls-ca", tls_ca, "Connect with TLS, checking the coordinator against this CA file "
                                     "(else $ACTGRID_TLS_CA)");
  int hold_at_epoch = -1;
  app.add_option("--hold-at-epoch", hold_at_epoch,
                 "For fault tests: every trial stops after this epoch until its lease is lost or cancelled")
      ->group("");  // not in --help: a test's tool, not an operator's
  CLI11_PARSE(app, argc, argv);
  const auto auth = actgrid::rpc::ClientAuth(token_file, tls, tls_ca);
  if (!auth.ok()) {
    std::fprintf(stderr, "actgrid-worker: %s\n", std::string(auth.status().message()).c_str());
    return 2;
  }

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  const std::string address = actgrid::rpc::ServerAddress(coordinator);
  actgrid::runner::WorkerOptions options;
  options.threads = threads;
  options.worker_id = worker_id;
  options.grace = std::chrono::milliseconds(long(grace * 1000));
  options.log = Log;
  options.data_dirs = data_dirs;
  options.health_file = health_file;
  options.hold_at_epoch = hold_at_epoch;
  Log("coordinator " + address + (auth->tls ? " (TLS)" : "") + (auth->token.empty() ? "" : " with a token") + ", " + std::to_string(actgrid::runner::EffectiveThreads(threads)) +
      " trial slots");
  actgrid::runner::RemoteWorker worker(actgrid::rpc::Connect(address, *auth), options);
  const auto stats = worker.Run(g_stop, &g_stop_now);
  Log("stopped: " + std::to_string(stats.leased) + " leased, " + std::to_string(stats.completed) +
      " completed, " + std::to_string(stats.failed) + " failed, " + std::to_string(stats.released) +
      " released, " + std::to_string(stats.dropped) + " dropped (lease lost or cancelled)");
  return stats.refused.empty() ? 0 : 1;
}
