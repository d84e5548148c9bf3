// Range checks of a canonical TrialSpec, shared by the grid parser (on every expanded
// spec), the coordinator (on specs from the wire) and the engine (before it loads data
// or trains), so all of them reject the same trials with the same messages. The bounds
// are here and nowhere else.
#ifndef ACTGRID_COMMON_SPEC_VALIDATE_H_
#define ACTGRID_COMMON_SPEC_VALIDATE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "actgrid/v1/spec.pb.h"

namespace actgrid::spec {

// Samples of the training split that per-layer metrics are measured on (at most).
inline constexpr int kProbeSamples = 1000;
// Samples a synthetic dataset may ask its generator for.
inline constexpr int kMinSyntheticSamples = 4;
inline constexpr int kMaxSyntheticSamples = 10'000'000;
inline constexpr double kMaxNoise = 10.0;
// Layers, and the memory one trial may ask for: hidden units (maxout pieces counted),
// weights between hidden layers, and pre-activations, activations and derivatives of
// a training batch and the probe set.
inline constexpr int kMaxDepth = 256;
inline constexpr int kMaxWidth = 4096;
inline constexpr int64_t kMaxHiddenUnits = 65536;
inline constexpr int64_t kMaxHiddenWeights = 50'000'000;
inline constexpr int64_t kMaxActivationValues = 100'000'000;

// OK, or InvalidArgument whose message has one "path: problem" line per problem,
// with grid-file paths ("train.lr: must be a finite number > 0, got -1",
// "model.depth: must be in 1..256, got 300"). Every problem is reported.
absl::Status ValidateTrialSpec(const v1::TrialSpec& spec);

// The size of each hidden layer of a trial: model.hidden, or depth layers of model.width
// (none when depth is out of its bound, so an unchecked spec never allocates billions).
std::vector<int> HiddenSizes(const v1::TrialSpec& spec);

}  // namespace actgrid::spec

#endif  // ACTGRID_COMMON_SPEC_VALIDATE_H_
