// The actgrid command: subcommands over grids of activation/init/bias/depth trials.
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "client/cli/run_command.h"

namespace {

std::atomic<bool> g_cancel{false};

void OnSignal(int) {
  if (g_cancel.exchange(true)) std::_Exit(130);  // a second Ctrl-C quits at once
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"actgrid: measured answers about activations, initializations, biases and depth"};
  app.require_subcommand(1);

  actgrid::cli::RunOptions run;
  CLI::App* run_cmd = app.add_subcommand(
      "run", "Train every trial of a grid file on this machine and print the comparison table");
  run_cmd->add_option("grid", run.grid_path, "Grid file (YAML)")->required();
  run_cmd->add_option("--workers,-w", run.workers, "Trials trained in parallel (default: all cores)")
      ->check(CLI::Range(1, 1024));
  run_cmd->add_option("--metric", run.metric, "Summary metric of the table")
      ->default_val("final_test_acc");
  run_cmd->add_option("--jsonl", run.jsonl_path,
                      "Append every finished trial (spec, key, curves, summary) as one JSON line");
  run_cmd->add_flag("--dry-run", run.dry_run, "Validate the grid and count its trials; train nothing");
  bool no_progress = false;
  run_cmd->add_flag("--no-progress", no_progress, "No progress bar");

  CLI11_PARSE(app, argc, argv);

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  run.progress = !no_progress;
  if (*run_cmd) return actgrid::cli::RunGrid(run, stdout, stderr, &g_cancel);
  return 0;
}
