// `actgrid run GRID.yaml`: the embedded default. Starts a coordinator on a database
// file and in-process workers that lease from it over the Workers protocol, submits
// the grid, serves the dashboard, shows progress, then prints the comparison table.
#ifndef ACTGRID_CLIENT_CLI_RUN_COMMAND_H_
#define ACTGRID_CLIENT_CLI_RUN_COMMAND_H_

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

namespace actgrid::cli {

struct RunOptions {
  std::string grid_path;
  std::string db_path = "actgrid.db";     // every curve lands here; finished trials are reused
  std::string listen;                     // also serve on this address while running
  std::string tokens_file;                // who may call on `listen` (server/grpc/auth.h)
  int workers = 0;                        // 0 = every hardware thread
  std::string metric = "final_test_acc";  // summary metric of the table
  std::string jsonl_path;                 // when set, each finished trial is appended as JSON
  bool dry_run = false;                   // validate and count, train nothing
  bool progress = true;
  // The dashboard's address while the grid runs; empty = no dashboard. When the default
  // port is taken, a free one is used instead (an address given by the user must bind).
  std::string http = std::string(kDefaultHttp);
  // Without tokens, host names the dashboard also answers to (server/http/host_rule.h).
  std::vector<std::string> http_allowed_hosts;
  bool keep_serving = false;              // after the table, serve the dashboard until Ctrl-C
  static constexpr const char* kDefaultHttp = "127.0.0.1:7080";
};

// Returns the process exit code: 0 when every trial finished (succeeded or diverged),
// 1 when some trial failed or the database cannot be used, 2 for an invalid grid file
// or option, 130 when cancelled (`cancel` is also watched while the grid file is read
// and expanded). Writes the table to `out`, progress and errors to `err`.
int RunGrid(const RunOptions& options, std::FILE* out, std::FILE* err, const std::atomic<bool>* cancel);

}  // namespace actgrid::cli

#endif  // ACTGRID_CLIENT_CLI_RUN_COMMAND_H_
