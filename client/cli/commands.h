// The CLI's commands that talk to a coordinator (--server) or read a database file
// directly (--db): submit, watch, status, cancel, grids, workers, and the analyses
// compare, curves, effects, test, layers, export.
#ifndef ACTGRID_CLIENT_CLI_COMMANDS_H_
#define ACTGRID_CLIENT_CLI_COMMANDS_H_

#include <atomic>
#include <cstdio>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace actgrid::cli {

struct Target {
  std::string server;  // coordinator address; empty = $ACTGRID_SERVER or the default
  std::string db;      // when set, read this database file instead (queries only)
  std::string token_file;  // bearer token file (else $ACTGRID_TOKEN or $ACTGRID_TOKEN_FILE)
  bool tls = false;        // TLS with the system's CA certificates
  std::string tls_ca;      // TLS with this CA certificate file (else $ACTGRID_TLS_CA)
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
  std::string summary;                // for per-epoch metrics: final, best, min, max, last:K, epoch:N
  std::vector<std::string> where;     // "depth=8,init=he_normal" (each may hold several)
  std::string sort;
  std::string format = "table";
  int layer = -1;                     // curves: a hidden layer's metric when >= 0
  int epoch = -1;                     // layers: this epoch instead of the final one when >= 0
  std::vector<std::string> a, b;      // test: the two groups, as --where
  int resamples = 10000;
  uint64_t seed = 0;
  std::string content = "trials";     // export: trials | curves
};

// What a command sends is checked against these bounds before anything is sent, so
// that a long value is refused here with a message that names the bound.
inline constexpr size_t kMaxFilterValueBytes = 1024;  // one --where/--a/--b value
inline constexpr size_t kMaxFilterValues = 1000;      // values of one flag, all items together
inline constexpr size_t kMaxOptionBytes = 256;        // a factor, metric, summary or sort key

// "depth=8,init=he_normal" (and "depth=4|8", "depth=4,depth=8") as filters: commas
// inside parentheses belong to the label ("reflu(left=0.1, right=1)"). Values of one
// factor named more than once are merged. InvalidArgument for an item without "=",
// and for a factor longer than kMaxOptionBytes, a value longer than
// kMaxFilterValueBytes or more than kMaxFilterValues values.
absl::StatusOr<std::vector<std::pair<std::string, std::vector<std::string>>>> ParseFilters(
    const std::vector<std::string>& items, const std::string& flag);

// A grid reference as the coordinator knows grids: an id, or a name of 1 to 64
// characters of [a-z0-9_-]. InvalidArgument (the value shown cut) otherwise.
absl::Status CheckGridRef(const std::string& ref);

// Prints why the grid file at `path` was not read and returns the exit code: 130
// when it was cancelled (a signal), 2 for a file that is invalid or cannot be read.
int GridFileFailure(std::FILE* err, const std::string& path, const absl::Status& status);

// Each returns the process exit code: 0 success; 1 the coordinator or database
// failed, or (submit --watch, watch) some trial failed; 2 bad input (grid file,
// unknown grid, metric or factor; a value past a bound above); 130 interrupted.
int SubmitCommand(const CommandOptions& o, std::FILE* out, std::FILE* err, const std::atomic<bool>* stop);
int WatchCommand(const CommandOptions& o, std::FILE* out, std::FILE* err, const std::atomic<bool>* stop);
int StatusCommand(const CommandOptions& o, std::FILE* out, std::FILE* err);
int CancelCommand(const CommandOptions& o, std::FILE* out, std::FILE* err);
int GridsCommand(const CommandOptions& o, std::FILE* out, std::FILE* err);
int WorkersCommand(const CommandOptions& o, std::FILE* out, std::FILE* err);
int CompareCommand(const CommandOptions& o, std::FILE* out, std::FILE* err);
int CurvesCommand(const CommandOptions& o, std::FILE* out, std::FILE* err);
int EffectsCommand(const CommandOptions& o, std::FILE* out, std::FILE* err);
int TestCommand(const CommandOptions& o, std::FILE* out, std::FILE* err);
int LayersCommand(const CommandOptions& o, std::FILE* out, std::FILE* err);
// Asks the coordinator's gRPC health service; 0 when it is serving, 1 otherwise. For
// container healthchecks and probes: needs no token.
int HealthCommand(const CommandOptions& o, std::FILE* out, std::FILE* err);
// Writes a self-contained HTML report of the grid (the dashboard's charts and tables
// with their data inline) to `out_path`, replacing it only once it is complete.
int ReportCommand(const CommandOptions& o, const std::string& out_path, std::FILE* out, std::FILE* err);
int ExportCommand(const CommandOptions& o, std::FILE* out, std::FILE* err, const std::atomic<bool>* stop);

// The door for programs to a database file (the Python package's open_db): reads one
// request message of `method` (binary protobuf, as the gRPC method of that name takes
// it: GetGrid, ListGrids, ListWorkers, Compare, Curves, Effects, Test, Layers, Export)
// from `in`, answers it from the database o.target.db as the coordinator would, and
// writes the response (for Export every chunk) to `out`, each message prefixed by its
// size as a varint (protobuf's delimited form). On failure nothing more is written to
// `out`, `err` gets one line "CODE MESSAGE" (CODE the gRPC status code as a number)
// and the exit code is 2 for bad input and 1 otherwise, as for the other commands.
int CallCommand(const CommandOptions& o, const std::string& method, std::FILE* in, std::FILE* out, std::FILE* err,
                const std::atomic<bool>* stop);

}  // namespace actgrid::cli

#endif  // ACTGRID_CLIENT_CLI_COMMANDS_H_
