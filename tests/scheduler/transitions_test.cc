// The legal trial transitions, checked exhaustively over every pair of states.
#include <gtest/gtest.h>

#include "server/scheduler/transitions.h"

namespace actgrid::scheduler {
namespace {

TEST(Transitions, ExactlyTheDocumentedOnesAreLegal) {
  using S = v1::TrialState;
  const std::set<std::pair<S, S>> legal = {
      {v1::TRIAL_STATE_PENDING, v1::TRIAL_STATE_LEASED},     {v1::TRIAL_STATE_PENDING, v1::TRIAL_STATE_CANCELLED},
      {v1::TRIAL_STATE_LEASED, v1::TRIAL_STATE_SUCCEEDED},   {v1::TRIAL_STATE_LEASED, v1::TRIAL_STATE_DIVERGED},
      {v1::TRIAL_STATE_LEASED, v1::TRIAL_STATE_FAILED},      {v1::TRIAL_STATE_LEASED, v1::TRIAL_STATE_PENDING},
      {v1::TRIAL_STATE_LEASED, v1::TRIAL_STATE_CANCELLED},   {v1::TRIAL_STATE_FAILED, v1::TRIAL_STATE_PENDING},
      {v1::TRIAL_STATE_CANCELLED, v1::TRIAL_STATE_PENDING},
  };
  int checked = 0;
  for (int from = v1::TrialState_MIN; from <= v1::TrialState_MAX; ++from) {
    for (int to = v1::TrialState_MIN; to <= v1::TrialState_MAX; ++to) {
      const auto f = static_cast<S>(from), t = static_cast<S>(to);
      const bool expected = legal.count({f, t}) > 0;
      EXPECT_EQ(IsLegalTransition(f, t), expected) << StateName(f) << " -> " << StateName(t);
      EXPECT_EQ(CheckTransition(f, t).ok(), expected);
      if (!expected) {
        EXPECT_TRUE(absl::IsFailedPrecondition(CheckTransition(f, t)));
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 49);
}

TEST(Transitions, FinishedStatesAreTerminalAndSucceededIsFinal) {
  EXPECT_FALSE(IsTerminal(v1::TRIAL_STATE_PENDING));
  EXPECT_FALSE(IsTerminal(v1::TRIAL_STATE_LEASED));
  for (auto s : {v1::TRIAL_STATE_SUCCEEDED, v1::TRIAL_STATE_DIVERGED, v1::TRIAL_STATE_FAILED,
                 v1::TRIAL_STATE_CANCELLED})
    EXPECT_TRUE(IsTerminal(s));
  for (int to = v1::TrialState_MIN; to <= v1::TrialState_MAX; ++to) {
    EXPECT_FALSE(IsLegalTransition(v1::TRIAL_STATE_SUCCEEDED, static_cast<v1::TrialState>(to)));
    EXPECT_FALSE(IsLegalTransition(v1::TRIAL_STATE_DIVERGED, static_cast<v1::TrialState>(to)));
  }
}

}  // namespace
}  // namespace actgrid::scheduler
