// A curve's summary (summary.h).
#include "common/spec/summary.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace actgrid::spec {

// A saturating unit can keep the losses finite around an infinite weight: the
// parameters are checked too.
bool EpochIsFinite(const v1::EpochMetrics& m) {
  return m.nonfinite_params() == 0 && std::isfinite(m.train_loss()) &&
         (std::isnan(m.test_acc()) || std::isfinite(m.test_loss()));
}

v1::TrialSummary Summarize(const v1::TrialSpec& spec, const std::vector<v1::EpochMetrics>& epochs) {
  v1::TrialSummary s;
  s.set_epochs_to_target(-1);
  s.set_diverged_epoch(-1);
  if (epochs.empty()) return s;
  const v1::EpochMetrics& first = epochs.front();
  const v1::EpochMetrics& last = epochs.back();
  s.set_epochs_run(last.epoch());
  s.set_diverged(!EpochIsFinite(last));
  s.set_outcome(s.diverged() ? v1::TRIAL_OUTCOME_DIVERGED : v1::TRIAL_OUTCOME_SUCCEEDED);
  if (s.diverged()) s.set_diverged_epoch(last.epoch());
  s.set_final_test_acc(last.test_acc());
  s.set_final_test_loss(last.test_loss());
  s.set_final_train_loss(last.train_loss());
  s.set_init_sparsity(first.sparsity());
  s.set_final_sparsity(last.sparsity());
  s.set_init_dead_fraction(first.dead_fraction());
  s.set_final_dead_fraction(last.dead_fraction());
  s.set_best_test_acc(first.test_acc());
  double max_dead = first.dead_fraction(), area = 0.0;
  for (size_t i = 0; i < epochs.size(); ++i) {
    const v1::EpochMetrics& m = epochs[i];
    if (m.test_acc() > s.best_test_acc()) {
      s.set_best_test_acc(m.test_acc());
      s.set_best_epoch(m.epoch());
    }
    if (s.epochs_to_target() < 0 && m.test_acc() >= spec.train().target_accuracy())
      s.set_epochs_to_target(m.epoch());
    max_dead = std::max(max_dead, m.dead_fraction());
    if (i > 0) area += 0.5 * (m.test_acc() + epochs[i - 1].test_acc());
  }
  s.set_max_dead_fraction(max_dead);
  for (const v1::LayerMetrics& layer : first.layers())
    if (layer.dead_fraction() == 1.0) s.set_born_dead(true);
  s.set_auc_test_acc(epochs.size() > 1 ? area / double(epochs.size() - 1) : first.test_acc());
  const double gf = first.grad_norm_first(), gl = first.grad_norm_last();
  s.set_grad_ratio(gl > 0 ? gf / gl : (gf > 0 ? std::numeric_limits<double>::infinity()
                                              : std::numeric_limits<double>::quiet_NaN()));
  return s;
}

}  // namespace actgrid::spec
