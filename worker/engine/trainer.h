// Trains one trial: builds the network from its TrialSpec, runs the epochs, measures
// every per-epoch and per-layer metric (epoch 0 before any update) and summarizes.
#ifndef ACTGRID_WORKER_ENGINE_TRAINER_H_
#define ACTGRID_WORKER_ENGINE_TRAINER_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "actgrid/v1/metrics.pb.h"
#include "actgrid/v1/spec.pb.h"
#include "worker/engine/dataset.h"

namespace actgrid::engine {

struct TrialHooks {
  // Called after each epoch is measured, in order, on the training thread.
  std::function<void(const v1::EpochMetrics&)> on_epoch;
  // When set and it becomes true, the trial stops within one epoch with Cancelled.
  const std::atomic<bool>* cancel = nullptr;
  // Test hook, for injecting parameter values: called with the epoch number and the
  // network's flat parameter buffer (layout in network.h) after initialization (epoch 0)
  // and after each epoch's updates, before that epoch is measured.
  std::function<void(int epoch, std::vector<float>& params)> on_params;
};

// Trains `spec` on `data` (which must match spec.dataset()). A loss or a parameter that
// becomes NaN or Inf ends the trial as DIVERGED at that epoch: an outcome, not an error
// (EpochMetrics.nonfinite_params counts the parameters). Errors:
// InvalidArgument when spec::ValidateTrialSpec refuses the spec or it does not fit the data;
// Cancelled when hooks.cancel fired.
// The result leaves trial_key empty. Same spec and data: bit-identical metrics
// except the wall-time fields (seconds, steps_per_second).
absl::StatusOr<v1::TrialResult> RunTrial(const v1::TrialSpec& spec, const Dataset& data,
                                         const TrialHooks& hooks = {});

// Mean, standard deviation and count of exact zeros of `count` activations: the
// per-layer probe statistics (exposed for tests). Accumulated in double.
struct ActivationStats {
  double mean = 0.0;
  double std = 0.0;
  long zeros = 0;
};
ActivationStats MeasureActivations(const float* a, size_t count);

}  // namespace actgrid::engine

#endif  // ACTGRID_WORKER_ENGINE_TRAINER_H_
