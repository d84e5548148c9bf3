// actgrid-server: the coordinator daemon. Serves Grids, Workers and Analysis over
// gRPC, keeps everything in one SQLite database, and optionally trains trials on
// in-process workers that speak the same Workers protocol as remote ones.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>

#include <CLI/CLI.hpp>

#include "client/grid/grid_file.h"
#include "common/rpc/rpc.h"
#include "server/grpc/coordinator.h"
#include "server/http/http_server.h"
#include "worker/runner/remote_worker.h"

namespace {

void Log(const std::string& message) {
  char when[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  std::fprintf(stderr, "%s actgrid-server: %s\n", when, message.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  actgrid::rpc::InitProcess();
  CLI::App app{"actgrid-server: the actgrid coordinator (gRPC, SQLite, optional in-process workers, dashboard)"};
  actgrid::server::CoordinatorOptions options;
  options.listen = actgrid::rpc::kDefaultServer;
  // SubmitGrid with a grid file's text (Python, notebooks, any gRPC client): parsed by
  // the grid file's own parser, with its bounds, as `actgrid submit` parses it.
  options.parse_grid_file = [](const std::string& text, bool dry_run) {
    return actgrid::grid::SubmitRequestFromText(text, dry_run);
  };
  int local_workers = 0;
  double lease_seconds = 30;
  app.add_option("--listen,-l", options.listen, "Address to serve on, host:port")->capture_default_str();
  app.add_option("--db", options.db_path, "SQLite database file (created when absent)")->capture_default_str();
  app.add_option("--local-workers", local_workers, "Trials trained in parallel inside the server (0 = none)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--lease-seconds", lease_seconds, "A lease expires after this long without a report")
      ->check(CLI::Range(0.5, 86400.0))
      ->capture_default_str();
  app.add_option("--max-attempts", options.scheduler.max_attempts,
                 "Failed or expired attempts before a trial is FAILED")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--max-trials", options.scheduler.max_trials_per_grid, "Most trials a grid may have")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  std::vector<std::string> data_dirs = {"/usr/share/datasets"};
  app.add_option("--data-dir", data_dirs,
                 "With --local-workers: directory dataset files may be read from (repeat for several)")
      ->capture_default_str();
  double max_db_mb = 0;
  app.add_option("--max-db-mb", max_db_mb,
                 "Largest the database may grow, in MiB (0 = no limit): past it, writes fail as on a full disk")
      ->check(CLI::Range(0.0, 1e9));
  std::string tokens_file, tls_cert, tls_key;
  app.add_option("--tokens", tokens_file,
                 "File of bearer tokens with roles, one \"ROLE TOKEN\" a line: reader, submitter, worker, admin "
                 "(else $ACTGRID_TOKENS). Without tokens the server listens on loopback only");
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain: serve TLS (with --tls-key)");
  app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert");
  app.add_flag("--allow-plaintext-tokens", options.allow_plaintext_tokens,
               "Serve tokens on a non-loopback address without TLS (only where a layer you trust, such as a VPN "
               "or a service mesh, encrypts the traffic)");
  app.add_option("--max-streams", options.max_streams,
                 "Most WatchGrid and Export streams open at once (gRPC); past it, RESOURCE_EXHAUSTED")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--max-worker-streams", options.max_worker_streams,
                 "Most worker report streams open at once (one per worker process); past it, RESOURCE_EXHAUSTED")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  actgrid::server::HttpOptions http;
  app.add_option("--http", http.listen,
                 "Also serve the dashboard and the JSON API on host:port (port 0 picks one; loopback only "
                 "without tokens; HTTPS with --tls-cert)");
  app.add_option("--http-allow-host", http.allowed_hosts,
                 "With --http and no tokens: also answer requests addressed to this host name (NAME or NAME:PORT; "
                 "repeat for several); by default only localhost, 127.0.0.1 and [::1] are, so that no other web "
                 "site can read the dashboard through a name of its own")
      ->allow_extra_args(false);
  app.add_option("--dashboard-dir", http.dashboard_dir,
                 "With --http: serve index.html, app.js and app.css from this directory instead of the built-in "
                 "dashboard (for front-end work)");
  CLI11_PARSE(app, argc, argv);
  options.scheduler.lease_ms = int64_t(lease_seconds * 1000);
  options.scheduler.log = [](const std::string& message) { Log(message); };
  options.max_db_bytes = int64_t(max_db_mb * 1024 * 1024);
  if (tokens_file.empty())
    if (const char* env = std::getenv("ACTGRID_TOKENS"); env && *env) tokens_file = env;
  auto fail = [](const absl::Status& status) {
    std::fprintf(stderr, "actgrid-server: %s\n", std::string(status.message()).c_str());
    return 2;
  };
  if (!tokens_file.empty()) {
    auto auth = actgrid::server::Authorizer::FromFile(tokens_file);
    if (!auth.ok()) return fail(auth.status());
    options.auth = std::make_shared<const actgrid::server::Authorizer>(*std::move(auth));
  }
  if (tls_cert.empty() != tls_key.empty()) return fail(absl::InvalidArgumentError("--tls-cert and --tls-key go together"));
  if (!tls_cert.empty()) {
    auto cert = actgrid::rpc::ReadFileText(tls_cert, "TLS certificate");
    if (!cert.ok()) return fail(cert.status());
    auto key = actgrid::rpc::ReadFileText(tls_key, "TLS key");
    if (!key.ok()) return fail(key.status());
    options.tls_cert_pem = *std::move(cert);
    options.tls_key_pem = *std::move(key);
  }

  // Signals are taken by sigwait below, not by whichever thread they hit.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto coordinator = actgrid::server::Coordinator::Start(options);
  if (!coordinator.ok()) {
    std::fprintf(stderr, "actgrid-server: %s\n", std::string(coordinator.status().message()).c_str());
    return absl::IsInvalidArgument(coordinator.status()) ? 2 : 1;
  }
  std::unique_ptr<actgrid::server::HttpServer> dashboard;
  if (!http.listen.empty() && options.auth && tls_cert.empty() && !actgrid::server::IsLoopback(http.listen) &&
      !options.allow_plaintext_tokens) {
    (*coordinator)->Shutdown();
    return fail(absl::InvalidArgumentError(
        "refusing to serve the dashboard on " + http.listen +
        " with tokens but without TLS: every API call would carry its bearer token in plaintext; give "
        "--tls-cert and --tls-key, or --allow-plaintext-tokens when a layer you trust encrypts the traffic"));
  }
  if (!http.listen.empty()) {
    http.auth = options.auth;
    http.tls_cert_file = tls_cert;
    http.tls_key_file = tls_key;
    auto started = actgrid::server::HttpServer::Start(&(*coordinator)->scheduler(), http);
    if (!started.ok()) {
      (*coordinator)->Shutdown();
      return fail(started.status());
    }
    dashboard = *std::move(started);
  }
  std::string bound = options.listen;
  if (const size_t colon = bound.rfind(':'); colon != std::string::npos && bound.substr(colon + 1) == "0")
    bound = bound.substr(0, colon + 1) + std::to_string((*coordinator)->port());
  Log("serving on " + bound + (options.tls_cert_pem.empty() ? "" : " with TLS") + " (database " +
      options.db_path + ")");
  if (dashboard) Log("dashboard on " + dashboard->url());
  if (options.auth) {
    std::string counts;
    for (const auto& [role, n] : options.auth->Counts())
      counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " " + role;
    Log("tokens from " + tokens_file + ": " + counts);
  } else {
    Log("no tokens configured: every caller is trusted, so only this machine (loopback) is served");
  }
  std::atomic<bool> stop{false}, stop_now{false};
  std::thread local;
  if (local_workers > 0) {
    Log(std::to_string(local_workers) + " in-process worker slots");
    local = std::thread([&] {
      actgrid::runner::WorkerOptions w;
      w.threads = local_workers;
      w.worker_id = actgrid::scheduler::kInProcessWorkerId;
      w.grace = std::chrono::milliseconds(0);  // the server is going away: release at once
      w.log = [](const std::string& m) { Log("local worker: " + m); };
      w.data_dirs = data_dirs;
      actgrid::runner::RemoteWorker worker((*coordinator)->InProcessChannel(), w);
      worker.Run(stop, &stop_now);
    });
  }
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  Log(std::string("stopping (") + (signal_number == SIGINT ? "SIGINT" : "SIGTERM") + ")");
  stop = true;
  if (local.joinable()) local.join();
  if (dashboard) dashboard->Shutdown();
  (*coordinator)->Shutdown();
  Log("stopped");
  return 0;
}
