// IsLegalTransition and friends (see transitions.h).
#include "server/scheduler/transitions.h"

#include "absl/strings/str_cat.h"

namespace actgrid::scheduler {

bool IsLegalTransition(v1::TrialState from, v1::TrialState to) {
  using v1::TrialState;
  switch (from) {
    case v1::TRIAL_STATE_PENDING:
      return to == v1::TRIAL_STATE_LEASED || to == v1::TRIAL_STATE_CANCELLED;
    case v1::TRIAL_STATE_LEASED:
      return to == v1::TRIAL_STATE_SUCCEEDED || to == v1::TRIAL_STATE_DIVERGED ||
             to == v1::TRIAL_STATE_FAILED || to == v1::TRIAL_STATE_PENDING ||
             to == v1::TRIAL_STATE_CANCELLED;
    case v1::TRIAL_STATE_FAILED:
    case v1::TRIAL_STATE_CANCELLED:
      return to == v1::TRIAL_STATE_PENDING;
    default:
      return false;
  }
}

absl::Status CheckTransition(v1::TrialState from, v1::TrialState to) {
  if (IsLegalTransition(from, to)) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("illegal trial transition ", StateName(from), " -> ", StateName(to)));
}

bool IsTerminal(v1::TrialState state) {
  return state == v1::TRIAL_STATE_SUCCEEDED || state == v1::TRIAL_STATE_DIVERGED ||
         state == v1::TRIAL_STATE_FAILED || state == v1::TRIAL_STATE_CANCELLED;
}

const char* StateName(v1::TrialState state) {
  switch (state) {
    case v1::TRIAL_STATE_PENDING: return "PENDING";
    case v1::TRIAL_STATE_LEASED: return "LEASED";
    case v1::TRIAL_STATE_SUCCEEDED: return "SUCCEEDED";
    case v1::TRIAL_STATE_DIVERGED: return "DIVERGED";
    case v1::TRIAL_STATE_FAILED: return "FAILED";
    case v1::TRIAL_STATE_CANCELLED: return "CANCELLED";
    default: return "UNSPECIFIED";
  }
}

}  // namespace actgrid::scheduler
