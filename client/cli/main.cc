// The actgrid command: subcommands over grids of activation/init/bias/depth trials.
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "client/cli/commands.h"
#include "client/cli/run_command.h"

namespace {

std::atomic<bool> g_cancel{false};

void OnSignal(int) {
  if (g_cancel.exchange(true)) std::_Exit(130);  // a second Ctrl-C quits at once
}

void AddTarget(CLI::App* cmd, actgrid::cli::Target& t, bool db) {
  cmd->add_option("--server,-s", t.server, "Coordinator address host:port (default: $ACTGRID_SERVER or 127.0.0.1:7070)");
  if (db) cmd->add_option("--db", t.db, "Read this database file directly instead of asking a coordinator");
  cmd->add_option("--timeout", t.timeout_s, "Deadline of each call, in seconds")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
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
  run_cmd->add_option("--listen", run.listen, "Also serve the coordinator on host:port while running");
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

  CommandOptions watch, status, cancel, grids, workers, compare;
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
  CLI::App* compare_cmd = app.add_subcommand(
      "compare", "Compare groups of a grid's finished trials on a summary metric: n, mean, std, 95% CI, min, max");
  compare_cmd->add_option("grid", compare.grid, "Grid id or name")->required();
  compare_cmd->add_option("--by", compare.by, "Factors to group by, comma-separated (default: every factor)")
      ->delimiter(',');
  compare_cmd->add_option("--metric", compare.metric, "Summary metric (final_test_acc, best_test_acc, ...)")
      ->capture_default_str();
  compare_cmd->add_option("--format", compare.format, "table | csv | json")->capture_default_str();
  AddTarget(compare_cmd, compare.target, true);

  CLI11_PARSE(app, argc, argv);

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  run.progress = submit.progress = watch.progress = !no_progress;
  if (*run_cmd) return RunGrid(run, stdout, stderr, &g_cancel);
  if (*submit_cmd) return SubmitCommand(submit, stdout, stderr, &g_cancel);
  if (*watch_cmd) return WatchCommand(watch, stdout, stderr, &g_cancel);
  if (*status_cmd) return StatusCommand(status, stdout, stderr);
  if (*cancel_cmd) return CancelCommand(cancel, stdout, stderr);
  if (*grids_cmd) return GridsCommand(grids, stdout, stderr);
  if (*workers_cmd) return WorkersCommand(workers, stdout, stderr);
  if (*compare_cmd) return CompareCommand(compare, stdout, stderr);
  return 0;
}
