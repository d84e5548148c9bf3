// The CLI's commands that talk to a coordinator (--server) or read a database file
// directly (--db): submit, watch, status, cancel, grids, workers, compare.
#ifndef ACTGRID_CLIENT_CLI_COMMANDS_H_
#define ACTGRID_CLIENT_CLI_COMMANDS_H_

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

namespace actgrid::cli {

struct Target {
  std::string server;  // coordinator address; empty = $ACTGRID_SERVER or the default
  std::string db;      // when set, read this database file instead (queries only)
  double timeout_s = 30;
};

struct CommandOptions {
  Target target;
  std::string grid;  // a grid file for submit; a grid id or name otherwise
  bool watch = false;
  bool dry_run = false;
  bool progress = true;
  std::vector<std::string> by;
  std::string metric = "final_test_acc";
  std::string format = "table";
};

// Each returns the process exit code: 0 success; 1 the coordinator or database
// failed, or (submit --watch, watch) some trial failed; 2 bad input (grid file,
// unknown grid, metric or factor); 130 interrupted.
int SubmitCommand(const CommandOptions& o, std::FILE* out, std::FILE* err, const std::atomic<bool>* stop);
int WatchCommand(const CommandOptions& o, std::FILE* out, std::FILE* err, const std::atomic<bool>* stop);
int StatusCommand(const CommandOptions& o, std::FILE* out, std::FILE* err);
int CancelCommand(const CommandOptions& o, std::FILE* out, std::FILE* err);
int GridsCommand(const CommandOptions& o, std::FILE* out, std::FILE* err);
int WorkersCommand(const CommandOptions& o, std::FILE* out, std::FILE* err);
int CompareCommand(const CommandOptions& o, std::FILE* out, std::FILE* err);

}  // namespace actgrid::cli

#endif  // ACTGRID_CLIENT_CLI_COMMANDS_H_
