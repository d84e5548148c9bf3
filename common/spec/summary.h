// A trial's summary from its curve: what the worker reports with a finished trial and
// what the coordinator recomputes to check it (both call this one function).
#ifndef ACTGRID_COMMON_SPEC_SUMMARY_H_
#define ACTGRID_COMMON_SPEC_SUMMARY_H_

#include <vector>

#include "actgrid/v1/metrics.pb.h"
#include "actgrid/v1/spec.pb.h"

namespace actgrid::spec {

// Whether an epoch lets the trial go on: its training loss, its test loss (when the
// set has a test split) and every parameter are finite. The first epoch that is not is
// the one the trial diverges at.
bool EpochIsFinite(const v1::EpochMetrics& m);

// The trial summary of a curve (epoch 0 first). Leaves the fields only the trainer
// knows (wall time, steps per second, parameter count) unset.
v1::TrialSummary Summarize(const v1::TrialSpec& spec, const std::vector<v1::EpochMetrics>& epochs);

}  // namespace actgrid::spec

#endif  // ACTGRID_COMMON_SPEC_SUMMARY_H_
