// The one function that decides which trial state transitions are legal.
#ifndef ACTGRID_SERVER_SCHEDULER_TRANSITIONS_H_
#define ACTGRID_SERVER_SCHEDULER_TRANSITIONS_H_

#include "absl/status/status.h"
#include "actgrid/v1/grids.pb.h"

namespace actgrid::scheduler {

// PENDING -> LEASED | CANCELLED
// LEASED  -> SUCCEEDED | DIVERGED | FAILED | PENDING (expired, released, retried) | CANCELLED
// FAILED | CANCELLED -> PENDING (the trial is submitted again)
// SUCCEEDED and DIVERGED are final; nothing else is legal (UNSPECIFIED never is).
bool IsLegalTransition(v1::TrialState from, v1::TrialState to);

// OK, or FailedPrecondition naming both states.
absl::Status CheckTransition(v1::TrialState from, v1::TrialState to);

// A finished trial: SUCCEEDED, DIVERGED, FAILED or CANCELLED.
bool IsTerminal(v1::TrialState state);

// "PENDING", "LEASED", ...
const char* StateName(v1::TrialState state);

}  // namespace actgrid::scheduler

#endif  // ACTGRID_SERVER_SCHEDULER_TRANSITIONS_H_
