// The grid file (see docs/grid-file.md): YAML in, validated and expanded out.
// A grid is the cartesian product of its `grid:` lists times its seeds; each
// element is a canonical TrialSpec (every default filled in) with its trial key.
#ifndef ACTGRID_CLIENT_GRID_GRID_FILE_H_
#define ACTGRID_CLIENT_GRID_GRID_FILE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "actgrid/v1/grids.pb.h"
#include "actgrid/v1/spec.pb.h"

namespace actgrid::grid {

// The bounds of a grid file, each checked before any work that grows with it, so
// that any file is refused or expanded within a second and a few hundred MB.
inline constexpr size_t kMaxGridFileBytes = 1 << 20;  // 1 MiB of YAML text
// YAML aliases (*name): at most this many, and the text with every alias replaced
// by the value it names (scalar bytes, plus one per value) at most this large.
inline constexpr int kMaxYamlAliases = 1000;
inline constexpr int64_t kMaxYamlExpandedBytes = 2 << 20;  // 2 MiB
inline constexpr int kMaxYamlDepth = 32;  // lists and maps inside each other
// Values (scalars, lists and maps, aliases expanded): room for the longest list a
// grid can use (kMaxGridTrials values) and the rest of the file.
inline constexpr int64_t kMaxYamlValues = 250'000;
// Cells x seeds. The coordinator's default limit per grid (its --max-trials) is the
// same, so a grid this client expands is one a default coordinator accepts.
inline constexpr int64_t kMaxGridTrials = 200'000;
// Formulas the `activations:` section may define (each is bounded by common/spec/formula.h).
inline constexpr int kMaxFormulas = 32;
// Problems listed in an error; the rest are counted ("... and 12 more problems").
inline constexpr size_t kMaxErrorsListed = 20;
// No line of an error is longer than this (values in it are cut at kMaxEchoBytes).
inline constexpr size_t kMaxErrorLineBytes = 1024;

// One trial of a grid: its spec, key, and the value of each grid factor.
struct GridTrial {
  v1::TrialSpec spec;
  std::string key;                  // spec::TrialKey(spec) (common/spec/trial_key.h)
  int cell = 0;                     // index of the factor combination, 0..cells-1
  int seed_rank = 0;                // index of spec.seed in Grid::seeds
  std::vector<std::string> values;  // labels, parallel to Grid::factors ("relu", "0.1")
};

struct Grid {
  std::string name;
  std::vector<std::string> factors;  // canonical paths in file order: "activation", "train.lr"
  int cells = 0;                     // product of the factor list sizes
  std::vector<uint64_t> seeds;
  std::vector<GridTrial> trials;     // seed-major: every cell of seeds[0], then seeds[1], ...
};

// A file may define activations as formulas in a top-level `activations:` section (read
// before `model` and `grid`, wherever it stands), each a map {f: TEXT, params: {NAME:
// VALUE, ...}, learnable: [NAME, ...]}; model.activation and grid.activation then name
// them like built-ins, defaults overridable: "bent", "bent(a=0.5)".
//
// Parses and expands a grid file, with the digests of its dataset files attached
// (AttachDatasetDigests; ParseGridText leaves them out). On any error nothing is expanded and the
// InvalidArgument status lists the problems found, one per line, each naming the
// field path and the bad value, with the nearest valid name where there is one:
//   grid.activation[2]: unknown activation "relux"; did you mean "relu"?
// At most kMaxErrorsListed lines are listed, then "... and N more problems"; values
// are shown escaped and cut (echo.h). A file past one of the bounds above is refused
// with one line naming the bound. Cancelled as soon as `cancel` (when given) is
// true, checked throughout parsing and expansion.
absl::StatusOr<Grid> ParseGridFile(const std::string& path, const std::atomic<bool>* cancel = nullptr);
absl::StatusOr<Grid> ParseGridText(const std::string& yaml_text, const std::atomic<bool>* cancel = nullptr);

// The Grids.SubmitGrid request that queues `grid` (or only validates it: dry_run).
v1::SubmitGridRequest ToSubmitRequest(const Grid& grid, bool dry_run);

// A grid file's text as a coordinator receives it (SubmitGridRequest.grid_file):
// parsed, validated and expanded as ParseGridText does, into the request
// ToSubmitRequest makes, with the same errors. A grid on a dataset read from files is
// refused (InvalidArgument naming dataset.name): its content digest would come from
// the coordinator's files, not the submitter's; `actgrid submit` attaches those.
absl::StatusOr<v1::SubmitGridRequest> SubmitRequestFromText(const std::string& text, bool dry_run,
                                                            const std::atomic<bool>* cancel = nullptr);

// Sets dataset.digest on every trial whose dataset is read from files (the content
// digest of those files, engine::DatasetDigest) and recomputes its key. ParseGridFile
// does it; a caller of ParseGridText must before it submits. Errors name dataset.path.
absl::Status AttachDatasetDigests(Grid* grid);

}  // namespace actgrid::grid

#endif  // ACTGRID_CLIENT_GRID_GRID_FILE_H_
