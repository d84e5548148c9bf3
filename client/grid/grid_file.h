// The grid file (see README "Grid file"): YAML in, validated and expanded out.
// A grid is the cartesian product of its `grid:` lists times its seeds; each
// element is a canonical TrialSpec (every default filled in) with its trial key.
#ifndef ACTGRID_CLIENT_GRID_GRID_FILE_H_
#define ACTGRID_CLIENT_GRID_GRID_FILE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "actgrid/v1/grids.pb.h"
#include "actgrid/v1/spec.pb.h"

namespace actgrid::grid {

// One trial of a grid: its spec, key, and the value of each grid factor.
struct GridTrial {
  v1::TrialSpec spec;
  std::string key;                  // TrialKey(spec)
  int cell = 0;                     // index of the factor combination, 0..cells-1
  std::vector<std::string> values;  // labels, parallel to Grid::factors ("relu", "0.1")
};

struct Grid {
  std::string name;
  std::vector<std::string> factors;  // canonical paths in file order: "activation", "train.lr"
  int cells = 0;                     // product of the factor list sizes
  std::vector<uint64_t> seeds;
  std::vector<GridTrial> trials;     // seed-major: every cell of seeds[0], then seeds[1], ...
};

// Parses and expands a grid file. On any error nothing is expanded and the
// InvalidArgument status lists every problem found, one per line, each naming the
// field path and the bad value, with the nearest valid name where there is one:
//   grid.activation[2]: unknown activation "relux"; did you mean "relu"?
absl::StatusOr<Grid> ParseGridFile(const std::string& path);
absl::StatusOr<Grid> ParseGridText(const std::string& yaml_text);

// The Grids.SubmitGrid request that queues `grid` (or only validates it: dry_run).
v1::SubmitGridRequest ToSubmitRequest(const Grid& grid, bool dry_run);

// Hex SHA-256 of the deterministic serialization of a canonical TrialSpec.
std::string TrialKey(const v1::TrialSpec& spec);

}  // namespace actgrid::grid

#endif  // ACTGRID_CLIENT_GRID_GRID_FILE_H_
