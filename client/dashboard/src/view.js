// Shared rules about a grid's factors and groups.

/**
 * The default view of a grid (the static report follows the same rule):
 *   rows y    = "activation" if it is a factor, else the first factor;
 *   columns x = "depth" if it is a factor other than y, else the first factor other than y;
 *               "" with a single factor (one column); both "" with no factors (one cell);
 *   by        = the factor curves and layer charts group by: y.
 */
export function defaultView(factors) {
  const f = factors || [];
  const y = f.includes('activation') ? 'activation' : f[0] || '';
  const x = f.includes('depth') && y !== 'depth' ? 'depth' : f.find((v) => v !== y) || '';
  return { x, y, by: y };
}

/** The label of a group's value for `factor` ("" when the group does not name it). */
export function groupValue(group, factor) {
  const g = (group || []).find((v) => v.factor === factor);
  return g ? g.value : '';
}

/** A group's name for legends: "relu", or "relu · 4" with several factors. */
export function groupLabel(group) {
  const g = group || [];
  return g.length ? g.map((v) => v.value).join(' \u00b7 ') : 'all trials';
}

/**
 * The levels of every factor in first-appearance order, from a CompareResponse grouped by
 * all factors (one row per cell in the grid's cell order).
 */
export function levelsOf(compare, factors) {
  const levels = new Map(factors.map((f) => [f, []]));
  for (const row of compare.rows || []) {
    for (const { factor, value } of row.group || []) {
      const l = levels.get(factor);
      if (l && !l.includes(value)) l.push(value);
    }
  }
  return levels;
}

/** The request's "where" from the filter state: factors whose levels are not all checked. */
export function whereOf(filters, levels) {
  const where = [];
  for (const [factor, checked] of filters) {
    const all = levels.get(factor) || [];
    if (checked.size && checked.size < all.length) {
      where.push({ factor, values: all.filter((v) => checked.has(v)) });
    }
  }
  return where;
}

/** Finished trials: succeeded or diverged. */
export function finishedOf(grid) {
  const c = grid.counts || {};
  return (c.succeeded || 0) + (c.diverged || 0);
}

/** "DONE" from "GRID_STATE_DONE". */
export function stateName(state) {
  return String(state || 'GRID_STATE_UNSPECIFIED').replace(/^GRID_STATE_/, '');
}

export function gridEnded(grid) {
  const s = stateName(grid.state);
  return s === 'DONE' || s === 'CANCELLED';
}
