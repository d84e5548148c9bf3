// The actgrid command: subcommands over grids of activation/init/bias/depth trials.
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "client/cli/commands.h"
#include "client/cli/run_command.h"
#include "common/rpc/rpc.h"

namespace {

std::atomic<bool> g_cancel{false};

void OnSignal(int) {
  if (g_cancel.exchange(true)) std::_Exit(130);  // a second Ctrl-C quits at once
}

void AddTarget(CLI::App* cmd, actgrid::cli::Target& t, bool db) {
  cmd->add_option("--server,-s", t.server, "Coordinator address host:port (default: $ACTGRID_SERVER or 127.0.0.1:7070)");
  if (db) cmd->add_option("--db", t.db, "Read this database file directly instead of asking a coordinator");
  cmd->add_option("--token-file", t.token_file,
                  "File holding the bearer token for a coordinator with tokens (else $ACTGRID_TOKEN, "
                  "or the file $ACTGRID_TOKEN_FILE)");
  cmd->add_flag("--tls", t.tls, "Connect with TLS, checking the coordinator against the system's CAs");
  cmd->add_option("--tls-ca", t.tls_ca, "Connect with TLS, checking the coordinator against this CA file "
                                         "(else $ACTGRID_TLS_CA)");
  cmd->add_option("--timeout", t.timeout_s, "Deadline of each call, in seconds")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  actgrid::rpc::InitProcess();
  using namespace actgrid::cli;
  CLI::App app{"actgrid: measured answers about activations, initializations, biases and depth"};
  app.require_subcommand(1);

  RunOptions run;
  CLI::App* run_cmd = app.add_subcommand(
      "run", "Run a grid here: an embedded coordinator and workers, every curve stored in a database");
  run_cmd->add_option("grid", run.grid_path, "Grid file (YAML)")->required();
  run_cmd->add_option("--db", run.db_path, "Database file; trials already finished in it are reused")
      ->capture_default_str();
  run_cmd->add_option("--workers,-w", run.workers, "Trials trained in parallel (default: all cores)")
      ->check(CLI::Range(1, 1024));
  run_cmd->add_option("--metric", run.metric, "Summary metric of the table")->capture_default_str();
  run_cmd->add_option("--jsonl", run.jsonl_path,
                      "Append every finished trial (spec, key, curves, summary) as one JSON line");
  run_cmd->add_option("--listen", run.listen,
                      "Also serve the coordinator on host:port while running (loopback only without --tokens)");
  run_cmd->add_option("--tokens", run.tokens_file,
                      "File of bearer tokens with roles (\"ROLE TOKEN\" a line) for callers on --listen");
  run_cmd->add_option("--http", run.http,
                      "Serve the dashboard here while the grid runs (default 127.0.0.1:7080, or a free port "
                      "when that one is taken; loopback only without --tokens)");
  run_cmd->add_option("--http-allow-host", run.http_allowed_hosts,
                      "Without --tokens, also answer dashboard requests addressed to this host name (NAME or "
                      "NAME:PORT; repeat for several); by default only localhost, 127.0.0.1 and [::1] are")
      ->allow_extra_args(false);
  bool no_dashboard = false;
  run_cmd->add_flag("--no-dashboard", no_dashboard, "Serve no dashboard");
  run_cmd->add_flag("--keep-serving", run.keep_serving,
                    "After the grid, keep serving the dashboard (and --listen) until Ctrl-C");
  run_cmd->add_flag("--dry-run", run.dry_run, "Validate the grid and count its trials; train nothing");
  bool no_progress = false;
  run_cmd->add_flag("--no-progress", no_progress, "No progress bar");

  CommandOptions submit;
  CLI::App* submit_cmd = app.add_subcommand("submit", "Submit a grid file to a coordinator; prints the grid id");
  submit_cmd->add_option("grid", submit.grid, "Grid file (YAML)")->required();
  submit_cmd->add_flag("--watch", submit.watch, "Follow the grid's progress until it is done");
  submit_cmd->add_flag("--dry-run", submit.dry_run, "Let the coordinator validate and count; queue nothing");
  submit_cmd->add_flag("--no-progress", no_progress, "No progress bar");
  AddTarget(submit_cmd, submit.target, false);

  CommandOptions watch, status, cancel, grids, workers, health;
  CLI::App* watch_cmd = app.add_subcommand("watch", "Follow a grid's progress until it is done");
  watch_cmd->add_option("grid", watch.grid, "Grid id or name")->required();
  watch_cmd->add_flag("--no-progress", no_progress, "No progress bar");
  AddTarget(watch_cmd, watch.target, false);
  CLI::App* status_cmd = app.add_subcommand("status", "One line on a grid's state and progress");
  status_cmd->add_option("grid", status.grid, "Grid id or name")->required();
  AddTarget(status_cmd, status.target, true);
  CLI::App* cancel_cmd = app.add_subcommand("cancel", "Cancel a grid's pending and running trials");
  cancel_cmd->add_option("grid", cancel.grid, "Grid id or name")->required();
  AddTarget(cancel_cmd, cancel.target, false);
  CLI::App* grids_cmd = app.add_subcommand("grids", "List grids, newest first");
  AddTarget(grids_cmd, grids.target, true);
  CLI::App* workers_cmd = app.add_subcommand("workers", "List the workers the coordinator has seen");
  AddTarget(workers_cmd, workers.target, true);
  health.target.timeout_s = 5;
  CLI::App* health_cmd = app.add_subcommand(
      "health", "Is the coordinator serving? Exit 0 if so, 1 if not (for healthchecks; needs no token)");
  health_cmd->add_option("--service", health.grid,
                         "A service to ask about (actgrid.v1.Grids, actgrid.v1.Workers, ...; default: the server)");
  AddTarget(health_cmd, health.target, false);
  // The analysis commands share their selection and output options.
  auto add_query = [&](CLI::App* cmd, CommandOptions& o, bool by, bool metric) {
    cmd->add_option("grid", o.grid, "Grid id or name (the newest grid of that name)")->required();
    if (by)
      cmd->add_option("--by", o.by, "Factors to group by, comma-separated (default: every factor); \"seed\" too")
          ->delimiter(',');
    if (metric) {
      cmd->add_option("--metric", o.metric,
                      "A summary metric (final_test_acc, best_test_acc, epochs_to_target, final_dead_fraction, ...) "
                      "or a per-epoch metric (test_acc, train_loss, dead_fraction, ...) with --summary")
          ->capture_default_str();
      cmd->add_option("--summary", o.summary,
                      "How a per-epoch metric becomes one value per trial: final (default), best, min, max, "
                      "last:K (mean of the last K epochs), epoch:N");
    }
    cmd->add_option("--where", o.where,
                    "Only trials with these factor values: depth=8,init=he_normal; depth=4|8 for either")
        ->allow_extra_args(false);
    AddTarget(cmd, o.target, true);
  };
  CommandOptions compare, curves, effects, test, layers, exporting;
  CLI::App* compare_cmd = app.add_subcommand(
      "compare", "Groups of finished trials on one metric: n, mean, std, 95% CI (t), median, min, max, diverged");
  add_query(compare_cmd, compare, true, true);
  compare_cmd->add_option("--sort", compare.sort,
                          "Row order: mean, median, std, n, min, max, ci95_low, ci95_high, diverged or a --by "
                          "factor; -mean for descending (default: the grid's order)");
  compare_cmd->add_option("--format", compare.format,
                          "table | csv | json | matrix (the means by two --by factors as a Markdown table)")
      ->capture_default_str();

  curves.metric = "test_acc";
  CLI::App* curves_cmd = app.add_subcommand(
      "curves", "Learning curves: per group and epoch, the mean and 95% band over seeds of a per-epoch metric");
  add_query(curves_cmd, curves, true, false);
  curves_cmd->add_option("--metric", curves.metric,
                         "Per-epoch metric: train_loss, test_loss, train_acc, test_acc, dead_fraction, sparsity, "
                         "grad_norm_first, grad_norm_last, seconds; with --layer: dead_fraction, sparsity, "
                         "grad_norm, act_mean, act_std")
      ->capture_default_str();
  curves_cmd->add_option("--layer", curves.layer, "Per-layer metric of this hidden layer (0 = first)")
      ->check(CLI::Range(0, 100000));
  curves_cmd->add_option("--format", curves.format, "table | csv | json | svg")->capture_default_str();

  CLI::App* effects_cmd = app.add_subcommand(
      "effects", "Main effect of each factor (level means with CIs) and the factorial ANOVA (SS, F, p, eta²)");
  add_query(effects_cmd, effects, false, true);
  effects_cmd->add_option("--format", effects.format, "table | csv | json")->capture_default_str();

  CLI::App* test_cmd = app.add_subcommand(
      "test", "Two groups on one metric: Welch's t, Mann-Whitney U, paired t when they share seeds, effect sizes");
  add_query(test_cmd, test, false, true);
  test_cmd->add_option("--a", test.a, "The first group: activation=relu (same syntax as --where)")
      ->required()
      ->allow_extra_args(false);
  test_cmd->add_option("--b", test.b, "The second group: activation=reflu")
      ->required()
      ->allow_extra_args(false);
  test_cmd->add_option("--resamples", test.resamples, "Bootstrap resamples of the effect-size intervals")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  test_cmd->add_option("--seed", test.seed, "Seed of the bootstrap (the same seed gives the same intervals)")
      ->capture_default_str();
  test_cmd->add_option("--format", test.format, "table | csv | json")->capture_default_str();

  CLI::App* layers_cmd = app.add_subcommand(
      "layers", "Per hidden layer: dead fraction, sparsity, gradient norm, activation mean and std, by group");
  add_query(layers_cmd, layers, true, false);
  layers_cmd->add_option("--epoch", layers.epoch, "Show this epoch (0 = at initialization; default: the final one)")
      ->check(CLI::Range(0, 100000000));
  layers_cmd->add_option("--format", layers.format, "table | csv | json")->capture_default_str();

  exporting.format = "csv";
  CLI::App* export_cmd = app.add_subcommand(
      "export", "Stream the grid's trials (spec, state, summary) or their curves as CSV or JSON lines");
  add_query(export_cmd, exporting, false, false);
  export_cmd->add_option("--content", exporting.content,
                         "trials: one row per trial; curves: one row per trial and epoch (finished trials)")
      ->capture_default_str();
  export_cmd->add_option("--format", exporting.format, "csv | jsonl")->capture_default_str();

  CommandOptions report;
  std::string report_out;
  CLI::App* report_cmd = app.add_subcommand(
      "report", "Write a self-contained HTML report of a grid: heatmaps, learning curves, layer health, the ranked "
                "table and factor effects, with their data inline (opens in any browser, offline)");
  report_cmd->add_option("grid", report.grid, "Grid id or name (the newest grid of that name)")->required();
  report_cmd->add_option("--out,-o", report_out, "The HTML file to write")->required();
  AddTarget(report_cmd, report.target, true);

  CommandOptions call;
  std::string call_method;
  CLI::App* call_cmd = app.add_subcommand(
      "call", "For programs (the Python package's open_db): answer one request read as binary protobuf on stdin "
              "from a database file, as the coordinator's method of that name would; the response goes to stdout");
  call_cmd->add_option("method", call_method,
                       "GetGrid, ListGrids, ListWorkers, Compare, Curves, Effects, Test, Layers or Export")
      ->required();
  call_cmd->add_option("--db", call.target.db, "The database file to read")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every usage error exits 2, as documented (CLI11's own codes
    // differ by the kind of error: 105 for a value out of range, 109 for extras, ...).
    return app.exit(e) == 0 ? 0 : 2;
  }

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  run.progress = submit.progress = watch.progress = !no_progress;
  if (no_dashboard) run.http.clear();
  if (*run_cmd) return RunGrid(run, stdout, stderr, &g_cancel);
  if (*submit_cmd) return SubmitCommand(submit, stdout, stderr, &g_cancel);
  if (*watch_cmd) return WatchCommand(watch, stdout, stderr, &g_cancel);
  if (*status_cmd) return StatusCommand(status, stdout, stderr);
  if (*cancel_cmd) return CancelCommand(cancel, stdout, stderr);
  if (*grids_cmd) return GridsCommand(grids, stdout, stderr);
  if (*workers_cmd) return WorkersCommand(workers, stdout, stderr);
  if (*health_cmd) return HealthCommand(health, stdout, stderr);
  if (*compare_cmd) return CompareCommand(compare, stdout, stderr);
  if (*curves_cmd) return CurvesCommand(curves, stdout, stderr);
  if (*effects_cmd) return EffectsCommand(effects, stdout, stderr);
  if (*test_cmd) return TestCommand(test, stdout, stderr);
  if (*layers_cmd) return LayersCommand(layers, stdout, stderr);
  if (*report_cmd) return ReportCommand(report, report_out, stdout, stderr);
  if (*export_cmd) return ExportCommand(exporting, stdout, stderr, &g_cancel);
  if (*call_cmd) return CallCommand(call, call_method, stdin, stdout, stderr, &g_cancel);
  return 0;
}
