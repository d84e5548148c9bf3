// Weight initializations. Each fills a fan_out x fan_in matrix (column-major) from a
// seeded generator; formulas are in init.cc next to each case.
#ifndef ACTGRID_WORKER_ENGINE_INIT_H_
#define ACTGRID_WORKER_ENGINE_INIT_H_

#include <vector>

#include "absl/status/statusor.h"
#include "actgrid/v1/spec.pb.h"
#include "worker/engine/random.h"

namespace actgrid::engine {

// Returns fan_out * fan_in values, column-major (entry (o, i) at i * fan_out + o), or
// InvalidArgument for an init kind without a formula here.
absl::StatusOr<std::vector<double>> InitWeights(const v1::InitSpec& spec, int fan_in, int fan_out,
                                                Rng& rng);

}  // namespace actgrid::engine

#endif  // ACTGRID_WORKER_ENGINE_INIT_H_
