// Which trials can train together in one pack (worker/engine/packed_trainer.h): a spec
// question, so that the coordinator can lease a worker compatible trials together and
// the engine can check them with the same rule.
#ifndef ACTGRID_COMMON_SPEC_PACK_H_
#define ACTGRID_COMMON_SPEC_PACK_H_

#include <string>

#include "actgrid/v1/spec.pb.h"

namespace actgrid::spec {

// Hidden layers wider than this keep the BLAS path (one trial per thread).
inline constexpr int kMaxPackedUnits = 64;

// Whether a trial trains packed: a synthetic dataset (TF-Playground's circle, xor,
// gauss or spiral: two features), a built-in activation other than maxout, at least
// one hidden layer and none of more than kMaxPackedUnits units.
bool Packable(const v1::TrialSpec& spec);

// Trials with equal pack keys can share a pack: the same dataset, network shape,
// activation (with its parameters), batch size and optimizer kind. Seeds, inits,
// biases, learning rates, L2, momentum, Adam's constants and epoch limits may differ.
std::string PackKey(const v1::TrialSpec& spec);

}  // namespace actgrid::spec

#endif  // ACTGRID_COMMON_SPEC_PACK_H_
