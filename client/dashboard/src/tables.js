// The tables: grids, workers, comparison, factor effects.
import { h } from './dom.js';
import { DASH, ago, ci, dateTime, finite, int, percent, pval, sig } from './format.js';
import { finishedOf, groupValue, stateName } from './view.js';

const th = (text, cls) => h('th', { class: cls }, text);
const num = (text, attrs = {}) => h('td', { class: 'num', ...attrs }, text);

/** A state badge: <span class="badge state-done">DONE</span>. */
export function stateBadge(state) {
  const s = stateName(state);
  return h('span', { class: `badge state-${s.toLowerCase()}` }, s);
}

/** A progress bar over epochs, with a caption. */
export function progressBar(grid, compact = false) {
  const total = grid.epochs_total || 0;
  const done = grid.epochs_done || 0;
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const caption = compact
    ? `${percent(frac)} · ${int(finishedOf(grid))}/${int(grid.trials)} trials`
    : `${percent(frac)} of epochs (${int(done)}/${int(total)}) · ${int(finishedOf(grid))}/${int(grid.trials)} trials finished`;
  return h(
    'div',
    { class: 'progress' },
    h('div', { class: 'bar', role: 'progressbar', 'aria-valuenow': Math.round(frac * 100), 'aria-valuemin': 0, 'aria-valuemax': 100 },
      h('div', { class: 'fill', style: { width: `${(frac * 100).toFixed(2)}%` } })),
    h('span', { class: 'caption' }, caption),
  );
}

/** The grids page table, newest first as the server sends them. */
export function gridsTable(grids) {
  if (!grids.length) return h('p', { class: 'note' }, 'No grid yet: submit one with `actgrid submit GRID.yaml` or `actgrid run`.');
  return h(
    'table',
    { class: 'data' },
    h('thead', null, h('tr', null, th('name'), th('id', 'num'), th('factors'), th('cells × seeds / trials', 'num'), th('state'), th('progress'), th('failed', 'num'), th('created'))),
    h(
      'tbody',
      null,
      grids.map((g) => {
        const seeds = g.cells > 0 ? g.trials / g.cells : 0;
        const failed = (g.counts && g.counts.failed) || 0;
        return h(
          'tr',
          { dataset: { grid: g.id, name: g.name, state: stateName(g.state), trials: g.trials, finished: finishedOf(g) } },
          h('td', null, h('a', { href: `#/grid/${g.id}` }, g.name)),
          num(g.id),
          h('td', { class: 'factors' }, (g.factors || []).join(' × ') || DASH),
          num(`${int(g.cells)} × ${Number.isInteger(seeds) ? seeds : sig(seeds, 3)} / ${int(g.trials)}`),
          h('td', null, stateBadge(g.state)),
          h('td', { class: 'progress-cell' }, progressBar(g, true)),
          num(int(failed), { class: failed ? 'num warn' : 'num' }),
          h('td', { class: 'time' }, dateTime(g.created_ms)),
        );
      }),
    ),
  );
}

export function workersTable(workers) {
  if (!workers.length) return h('p', { class: 'note' }, 'No worker has connected yet.');
  return h(
    'table',
    { class: 'data small' },
    h('thead', null, h('tr', null, th('worker'), th('host'), th('threads', 'num'), th('leased', 'num'), th('completed', 'num'), th('failed', 'num'), th('last seen'))),
    h(
      'tbody',
      null,
      workers.map((w) =>
        h('tr', null, h('td', { class: 'mono' }, w.worker_id), h('td', null, w.hostname), num(int(w.threads)), num(int(w.leased)), num(int(w.completed)), num(int(w.failed)), h('td', { class: 'time' }, ago(w.last_seen_ms))),
      ),
    ),
  );
}

/**
 * The comparison table of a CompareResponse grouped by every factor, in the answer's
 * order (ranked best first). The best group (highest mean, or lowest for a
 * lower-is-better metric) is highlighted. Each row carries data-n and data-mean (full
 * precision) for the test hooks.
 */
export function compareTable(resp, factors, better) {
  const rows = resp.rows || [];
  let best = -1;
  rows.forEach((r, i) => {
    if (!(r.n > 0) || !finite(r.mean)) return;
    if (best < 0) best = i;
    else if (better === 'lower' ? r.mean < rows[best].mean : r.mean > rows[best].mean) best = i;
  });
  let rank = 0;
  return h(
    'table',
    { class: 'data compare' },
    h('thead', null, h('tr', null, th('#', 'num'), factors.map((f) => th(f)), th('n', 'num'), th('mean', 'num'), th('95% CI', 'num'), th('std', 'num'), th('median', 'num'), th('min', 'num'), th('max', 'num'), th('diverged', 'num'), th('missing', 'num'))),
    h(
      'tbody',
      null,
      rows.map((r, i) => {
        const has = r.n > 0 && finite(r.mean);
        return h(
          'tr',
          { class: i === best ? 'best' : has ? '' : 'empty', dataset: { n: r.n, mean: has ? String(r.mean) : 'NaN' } },
          num(has ? ++rank : DASH),
          factors.map((f) => h('td', { class: 'label' }, groupValue(r.group, f))),
          num(`${int(r.n)}${r.trials && r.trials !== r.n ? `/${int(r.trials)}` : ''}`),
          num(sig(r.mean, 4), { class: 'num strong' }),
          num(ci(r.ci95_low, r.ci95_high)),
          num(sig(r.std, 3)),
          num(sig(r.median, 4)),
          num(sig(r.min, 4)),
          num(sig(r.max, 4)),
          num(int(r.diverged), { class: r.diverged ? 'num warn' : 'num' }),
          num(int(r.missing)),
        );
      }),
    ),
  );
}

/** "partial answer: 40 of 120 trials finished" when an answer covers fewer trials. */
export function partialNote(resp) {
  if (!resp || !(resp.trials > 0) || resp.finished >= resp.trials) return null;
  return h('p', { class: 'note partial' }, `partial answer: ${int(resp.finished)} of ${int(resp.trials)} selected trials finished`);
}

/** The factor-effects section body: main effects, ANOVA, design facts and notes. */
export function effectsView(resp) {
  const mains = (resp.main_effects || []).map((m) => {
    const means = (m.levels || []).map((l) => l.mean).filter(finite);
    const top = Math.max(...means);
    return h(
      'div',
      { class: 'effect', dataset: { factor: m.factor } },
      h('h4', null, m.factor, h('span', { class: 'range' }, `range ${sig(m.range, 3)}`)),
      h(
        'table',
        { class: 'data small' },
        h('thead', null, h('tr', null, th('level'), th('n', 'num'), th('mean ± 95% CI', 'num'))),
        h(
          'tbody',
          null,
          (m.levels || []).map((l) =>
            h(
              'tr',
              { class: finite(l.mean) && l.mean === top && means.length > 1 ? 'top' : '' },
              h('td', { class: 'label' }, l.value),
              num(int(l.n)),
              num(finite(l.ci95_low) ? `${sig(l.mean, 4)} ± ${sig((l.ci95_high - l.ci95_low) / 2, 2)}` : sig(l.mean, 4)),
            ),
          ),
        ),
      ),
    );
  });
  const anova = (resp.anova || []).length
    ? h(
        'table',
        { class: 'data anova' },
        h('thead', null, h('tr', null, th('term'), th('df', 'num'), th('SS', 'num'), th('MS', 'num'), th('F', 'num'), th('p', 'num'), th('η²', 'num'))),
        h(
          'tbody',
          null,
          resp.anova.map((r) =>
            h(
              'tr',
              { class: r.term === 'total' ? 'total' : finite(r.p) && r.p < 0.05 ? 'significant' : '' },
              h('td', { class: 'label' }, r.term),
              num(Number.isInteger(r.df) ? String(r.df) : sig(r.df, 3)),
              num(sig(r.ss, 3)),
              num(sig(r.ms, 3)),
              num(sig(r.f, 3)),
              num(pval(r.p)),
              num(finite(r.eta2) ? percent(r.eta2) : DASH),
            ),
          ),
        ),
      )
    : h('p', { class: 'note' }, 'No ANOVA: fewer than two levels in every factor.');
  const facts = [
    `error term: ${resp.error_term || DASH}`,
    `${int(resp.per_cell)} trial(s) per cell`,
    `${int(resp.used)} trials used of ${int(resp.finished)} finished (${int(resp.trials)} selected)`,
  ];
  return [
    h('div', { class: 'effects-main' }, mains),
    h('h4', null, 'Factorial ANOVA'),
    anova,
    h('p', { class: 'facts' }, facts.join(' · ')),
    (resp.notes || []).length ? h('ul', { class: 'notes' }, resp.notes.map((n) => h('li', null, n))) : null,
  ];
}
