// The metrics the dashboard offers, and which direction of each one is "good".

// Per-trial summary metrics (heatmap, comparison table, effects).
// better: 'higher' | 'lower' | null (no better direction: colored low -> high).
export const SUMMARY_METRICS = [
  ['final_test_acc', 'final test accuracy', 'higher'],
  ['best_test_acc', 'best test accuracy', 'higher'],
  ['auc_test_acc', 'mean test accuracy over epochs (AUC)', 'higher'],
  ['final_test_loss', 'final test loss', 'lower'],
  ['final_train_loss', 'final train loss', 'lower'],
  ['epochs_to_target', 'epochs to target accuracy', 'lower'],
  ['best_epoch', 'epoch of best test accuracy', null],
  ['init_dead_fraction', 'dead fraction at init', 'lower'],
  ['final_dead_fraction', 'final dead fraction', 'lower'],
  ['max_dead_fraction', 'max dead fraction', 'lower'],
  ['born_dead', 'share born dead (a dead layer at init)', 'lower'],
  ['init_sparsity', 'sparsity at init', null],
  ['final_sparsity', 'final sparsity', null],
  ['grad_ratio', 'gradient ratio first/last layer (epoch 0)', null],
  ['steps_per_second', 'steps per second', 'higher'],
  ['seconds', 'seconds per trial', 'lower'],
];

// Per-epoch metrics (learning curves of the whole network).
export const EPOCH_METRICS = [
  ['test_acc', 'test accuracy'],
  ['train_acc', 'train accuracy'],
  ['test_loss', 'test loss'],
  ['train_loss', 'train loss'],
  ['dead_fraction', 'dead fraction'],
  ['sparsity', 'sparsity'],
  ['grad_norm_first', 'gradient norm, first layer'],
  ['grad_norm_last', 'gradient norm, last layer'],
];

// Per-layer metrics (curves of one hidden layer).
export const LAYER_METRICS = [
  ['dead_fraction', 'dead fraction'],
  ['sparsity', 'sparsity'],
  ['grad_norm', 'gradient norm'],
  ['act_mean', 'activation mean'],
  ['act_std', 'activation std'],
];

const BETTER = new Map(SUMMARY_METRICS.map(([m, , b]) => [m, b]));

/** 'higher', 'lower' or null for a summary metric. */
export function better(metric) {
  return BETTER.get(metric) ?? (/acc/.test(metric) ? 'higher' : /loss|dead/.test(metric) ? 'lower' : null);
}

/** Curves of losses and gradient norms read best on a log axis. */
export function logByDefault(metric) {
  return /loss|grad_norm/.test(metric);
}

/** The human name of a metric (falls back to the field name). */
export function metricLabel(metric) {
  for (const list of [SUMMARY_METRICS, EPOCH_METRICS, LAYER_METRICS]) {
    const m = list.find(([name]) => name === metric);
    if (m) return m[1];
  }
  return metric;
}

/**
 * The range a per-epoch (or per-layer) metric can take: [low, high], null where open.
 * Curves clip their 95% bands there (a t-interval over few seeds can reach past 1 or below 0).
 */
export function curveBounds(metric) {
  if (/_acc$|dead_fraction|sparsity/.test(metric)) return [0, 1];
  if (metric === 'act_mean') return [null, null];
  return [0, null]; // losses, gradient norms, activation std
}
