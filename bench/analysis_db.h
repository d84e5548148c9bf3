// Synthetic databases for the analysis benchmark: a grid of finished trials written
// through the store's own write path (lease, epoch reports, end of attempt), with
// summaries and curves whose values depend on the cell and seed.
#ifndef ACTGRID_BENCH_ANALYSIS_DB_H_
#define ACTGRID_BENCH_ANALYSIS_DB_H_

#include <string>

#include "absl/status/status.h"

namespace actgrid::bench {

struct SyntheticGrid {
  std::string name;
  int activations = 10;  // factor levels: activation x init x bias x depth
  int inits = 4;
  int biases = 5;
  int depths = 5;        // depth levels 1..depths
  int seeds = 100;
  int epochs = 0;        // epochs 0..epochs are stored for every trial
};

// Creates and fills the grid in the database at `path` (created when absent).
absl::Status WriteSyntheticGrid(const std::string& path, const SyntheticGrid& grid);

}  // namespace actgrid::bench

#endif  // ACTGRID_BENCH_ANALYSIS_DB_H_
