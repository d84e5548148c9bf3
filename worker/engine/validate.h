// Range checks of a canonical TrialSpec, shared by the grid parser (on every expanded
// spec) and the coordinator (on specs from the wire), so both reject the same trials.
#ifndef ACTGRID_WORKER_ENGINE_VALIDATE_H_
#define ACTGRID_WORKER_ENGINE_VALIDATE_H_

#include <vector>

#include "absl/status/status.h"
#include "actgrid/v1/spec.pb.h"

namespace actgrid::engine {

// OK, or InvalidArgument whose message has one "path: problem" line per problem,
// with grid-file paths ("train.lr: must be a finite number > 0, got -1",
// "model.depth: must be in 1..256, got 300"). Every problem is reported.
absl::Status ValidateTrialSpec(const v1::TrialSpec& spec);

// The size of each hidden layer of a trial: model.hidden, or depth layers of model.width
// (none when depth is out of its bound, so an unchecked spec never allocates billions).
std::vector<int> HiddenSizes(const v1::TrialSpec& spec);

}  // namespace actgrid::engine

#endif  // ACTGRID_WORKER_ENGINE_VALIDATE_H_
