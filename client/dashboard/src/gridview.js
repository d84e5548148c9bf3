// One grid: header (live progress), filters, heatmap, learning curves, layer health,
// comparison table and factor effects. Renders live answers (LiveSource) and static
// reports (StaticSource) with the same code.
import { stream } from './api.js';
import { LAYER_CHARTS, colorOf, curvesOption, heatmapCellsOf, heatmapOption, layerOption, lineSeriesOf, linkBandsToLegend, makeChart } from './charts.js';
import { fill, h, labelled, select } from './dom.js';
import { dateTime, int } from './format.js';
import { better, curveBounds, logByDefault, metricLabel } from './metrics.js';
import { compareTable, effectsView, partialNote, progressBar, stateBadge } from './tables.js';
import { defaultView, finishedOf, gridEnded, groupLabel, levelsOf, stateName, whereOf } from './view.js';

/** The report's ISO time as local date and time ("2026-11-25 18:00"), else as written. */
function generatedAt(iso) {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? dateTime(ms) : iso || 'at an unknown time';
}

const ALL_PARTS = ['heatmap', 'curves', 'layers', 'table', 'effects'];
const MIN_REFRESH_MS = 1000; // live refreshes: at most one per second

/** What makes the views change: the trials that ended, and the grid's state. */
// What measured the finished trials: "measured by engine 3, rev 0123456789ab, native
// (120 trials)". Trials of an older engine are shown too: they are never mixed up with
// new ones by reuse, but a grid may hold both.
function engineLine(engines) {
  if (!engines || !engines.length) return null;
  return h(
    'div',
    { class: 'engines', id: 'grid-engines' },
    'measured by ',
    engines.map((e, i) => [
      i ? '; ' : '',
      h('span', { class: 'engine' }, e.build || `engine ${int(e.engine_version)}, build not recorded`),
      ` (${int(e.trials)} ${Number(e.trials) === 1 ? 'trial' : 'trials'})`,
    ]),
  );
}

function progressKey(grid) {
  const c = grid.counts || {};
  return [c.succeeded, c.diverged, c.failed, c.cancelled, grid.state].join('/');
}

export class GridView {
  /**
   * root: the element to render into; source: LiveSource | StaticSource;
   * query: URLSearchParams of the hash route (live) holding the view state.
   */
  constructor(root, source, query) {
    this.root = root;
    this.source = source;
    this.query = query || new URLSearchParams();
    this.abort = new AbortController();
    this.disposed = false;
    this.charts = [];
    this.levels = new Map();
    this.filters = new Map(); // factor -> Set of checked labels
    this.maxLayers = 0;
    this.lastCurves = null;
    this.lastLayers = null;
    // Refresh scheduling: wanted parts, one run in flight, at most one per second unless
    // the user asked (urgent).
    this.want = new Set();
    this.urgent = false;
    this.inFlight = false;
    this.timer = 0;
    this.lastRun = 0;
    this.booting = true;
    this.waiters = [];
    this.start();
  }

  // ---------- lifecycle ----------

  dispose() {
    this.disposed = true;
    this.abort.abort();
    clearTimeout(this.timer);
    this.charts.forEach((c) => c.dispose());
    this.charts = [];
    this.settle(true);
  }

  idle() {
    return this.disposed || (!this.booting && !this.inFlight && !this.want.size && !this.timer);
  }

  /** Resolves once nothing is loading or scheduled (after the latest refresh). */
  ready() {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  settle(force) {
    if (!force && !this.idle()) return;
    const w = this.waiters;
    this.waiters = [];
    w.forEach((r) => r());
  }

  async start() {
    try {
      this.grid = await this.source.grid();
      if (this.disposed) return;
      this.header = h('header', { class: 'card gridhead', id: 'grid-header' });
      this.renderHeader();
      if (!this.source.static && (this.grid.factors || []).length) {
        const answer = await this.source.levels(this.grid);
        if (this.disposed) return;
        this.levels = levelsOf(answer, this.grid.factors);
      }
      this.initState();
      this.layout();
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      fill(this.root, h('div', { class: 'card error' }, `Cannot load grid: ${e.message}`), h('p', null, h('a', { href: '#/' }, '← all grids')));
      this.booting = false;
      this.settle();
      return;
    }
    this.booting = false;
    this.request(ALL_PARTS, true);
    if (!this.source.static && !gridEnded(this.grid)) this.watch();
  }

  /** Follows WatchGrid; reconnects after a dropped stream until the grid has ended. */
  async watch() {
    while (!this.disposed && !gridEnded(this.grid)) {
      try {
        await stream('Grids/WatchGrid', { grid: String(this.grid.id) }, (ev) => ev.grid && this.onGrid(ev.grid, ev.errors), this.abort.signal);
      } catch (e) {
        if (this.disposed || (e && e.name === 'AbortError') || (e && e.unauthorized)) return;
        this.showErrors([`progress stream: ${e.message}; retrying`]);
      }
      if (!gridEnded(this.grid)) await new Promise((r) => setTimeout(r, 2000));
    }
  }

  onGrid(grid, errors) {
    if (this.disposed) return;
    const changed = progressKey(grid) !== progressKey(this.grid);
    this.grid = grid;
    this.renderHeader();
    if (errors && errors.length) this.showErrors(errors);
    // Views follow the finished trials; a last refresh once the grid has ended.
    if (changed || gridEnded(grid)) this.request(ALL_PARTS, false);
  }

  // ---------- refresh scheduling ----------

  request(parts, urgent) {
    parts.forEach((p) => this.want.add(p));
    this.urgent = this.urgent || urgent;
    this.kick();
  }

  kick() {
    if (this.disposed || this.booting || this.inFlight) return;
    if (!this.want.size) return this.settle();
    const wait = this.urgent ? 0 : this.lastRun + MIN_REFRESH_MS - Date.now();
    if (wait > 0) {
      if (!this.timer) {
        this.timer = setTimeout(() => {
          this.timer = 0;
          this.kick();
        }, wait);
      }
      return;
    }
    clearTimeout(this.timer);
    this.timer = 0;
    this.run();
  }

  async run() {
    const parts = new Set(this.want);
    this.want.clear();
    this.urgent = false;
    this.inFlight = true;
    this.lastRun = Date.now();
    try {
      await this.load(parts);
    } finally {
      this.inFlight = false;
      this.kick();
    }
  }

  /** Queries the wanted parts together and renders each as its answer arrives. */
  load(parts) {
    const where = whereOf(this.filters, this.levels);
    const s = this.state;
    const factors = this.grid.factors || [];
    const jobs = [];
    const job = (part, query, render) => {
      if (!parts.has(part)) return;
      jobs.push(
        query().then(
          (answer) => !this.disposed && render(answer),
          (err) => !this.disposed && err.name !== 'AbortError' && this.sectionError(part, err),
        ),
      );
    };
    job('heatmap', () => this.source.heatmap({ metric: s.metric, x: s.x, y: s.y, where }), (a) => this.renderHeatmap(a));
    job('curves', () => this.source.curves({ metric: s.cmetric, by: s.by, layer: s.layer, where }), (a) => this.renderCurves(a));
    job('layers', () => this.source.layers({ by: s.by, where, epoch: s.epoch }), (a) => this.renderLayers(a));
    job('table', () => this.source.table({ metric: s.metric, where, factors }), (a) => this.renderTable(a));
    job('effects', () => this.source.effects({ metric: s.metric, where }), (a) => this.renderEffects(a));
    return Promise.all(jobs);
  }

  // ---------- view state (and its place in the URL) ----------

  initState() {
    const factors = this.grid.factors || [];
    const q = this.query;
    const d = this.source.static ? this.source.view : defaultView(factors);
    const pick = (v, allowed, fallback) => (v !== null && allowed.includes(v) ? v : fallback);
    const summary = this.source.summaryMetrics();
    const y = this.source.static ? d.y : pick(q.get('y'), factors, d.y);
    let x = this.source.static ? d.x : pick(q.get('x'), ['', ...factors], d.x);
    if (x && x === y) x = d.x !== y ? d.x : factors.find((f) => f !== y) || '';
    const layer = this.source.static ? '' : pick(q.get('layer'), Array.from({ length: 64 }, (_, k) => String(k)), '');
    const curveMetrics = this.source.curveMetrics(layer);
    const cmetric = pick(q.get('cm'), curveMetrics, curveMetrics.includes('test_acc') ? 'test_acc' : curveMetrics[0] || 'test_acc');
    const log = q.has('log') ? q.get('log') === '1' : logByDefault(cmetric);
    this.state = {
      metric: pick(q.get('metric'), summary, summary.includes('final_test_acc') ? 'final_test_acc' : summary[0] || 'final_test_acc'),
      x,
      y,
      by: this.source.static ? d.by : pick(q.get('by'), factors, d.by),
      cmetric,
      layer,
      log,
      epoch: this.source.static || !/^\d+$/.test(q.get('epoch') || '') ? '' : q.get('epoch'),
    };
    // Filters: "where=bias:0.1|0.2" (values URI-encoded); unknown labels are ignored.
    for (const f of factors) this.filters.set(f, new Set(this.levels.get(f) || []));
    for (const w of q.getAll('where')) {
      const i = w.indexOf(':');
      const f = w.slice(0, i);
      if (!this.filters.has(f)) continue;
      const wanted = w.slice(i + 1).split('|').map(decodeURIComponent).filter((v) => this.levels.get(f).includes(v));
      if (wanted.length) this.filters.set(f, new Set(wanted));
    }
  }

  /** Mirrors the view state into the hash route, so the view can be linked. */
  saveState() {
    if (this.source.static) return;
    const s = this.state;
    const d = defaultView(this.grid.factors);
    const q = new URLSearchParams();
    if (s.metric !== 'final_test_acc') q.set('metric', s.metric);
    if (s.x !== d.x) q.set('x', s.x);
    if (s.y !== d.y) q.set('y', s.y);
    for (const w of whereOf(this.filters, this.levels)) q.append('where', `${w.factor}:${w.values.map(encodeURIComponent).join('|')}`);
    if (s.cmetric !== 'test_acc') q.set('cm', s.cmetric);
    if (s.by !== d.by) q.set('by', s.by);
    if (s.layer !== '') q.set('layer', s.layer);
    if (s.log !== logByDefault(s.cmetric)) q.set('log', s.log ? '1' : '0');
    if (s.epoch !== '') q.set('epoch', s.epoch);
    const qs = q.toString();
    history.replaceState(null, '', `#/grid/${this.grid.id}${qs ? `?${qs}` : ''}`);
  }

  // ---------- layout ----------

  layout() {
    const isStatic = this.source.static;
    document.title = `actgrid · ${this.grid.name}`;
    const section = (id, title, ...body) => h('section', { class: 'card', id }, h('h2', null, title), ...body);

    this.heatmapControls = h('div', { class: 'controls' });
    this.heatmapEl = h('div', { class: 'chart heatmap-chart' });
    this.heatmapNote = h('div', { class: 'notes-line' });
    this.curvesControls = h('div', { class: 'controls' });
    this.curvesEl = h('div', { class: 'chart curves-chart' });
    this.curvesNote = h('div', { class: 'notes-line' });
    this.layersControls = h('div', { class: 'controls' });
    this.layersLegend = h('div', { class: 'html-legend' });
    this.layerEls = LAYER_CHARTS.map(() => h('div', { class: 'chart layer-chart' }));
    this.layersNote = h('div', { class: 'notes-line' });
    this.tableBody = h('div', { class: 'table-wrap' });
    this.tableNote = h('div', { class: 'notes-line' });
    this.effectsBody = h('div', { class: 'effects-body' });
    this.effectsTitle = h('span', { class: 'sub' });
    this.curvesTitle = h('span', { class: 'sub' });
    this.layersTitle = h('span', { class: 'sub' });
    this.tableTitle = h('span', { class: 'sub' });

    fill(
      this.root,
      isStatic
        ? h('div', { class: 'banner' }, `static report generated ${generatedAt(this.source.generated)}; open the dashboard for filters and other views`)
        : h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, '← all grids')),
      this.header,
      isStatic || !(this.grid.factors || []).length ? null : this.filterBar(),
      section('heatmap', 'Heatmap', this.heatmapControls, this.heatmapEl, this.heatmapNote),
      section('curves', ['Learning curves', this.curvesTitle], this.curvesControls, this.curvesEl, this.curvesNote),
      section(
        'layers',
        ['Layer health', this.layersTitle],
        isStatic ? null : this.layersControls,
        this.layersLegend,
        h('div', { class: 'layer-charts' }, LAYER_CHARTS.map(([, title], i) => h('div', { class: 'layer-cell' }, h('h3', null, title), this.layerEls[i]))),
        this.layersNote,
      ),
      section('compare-table', ['Comparison', this.tableTitle], this.tableBody, this.tableNote),
      section('effects', ['Factor effects', this.effectsTitle], this.effectsBody),
      h('footer', null, 'every number from the Analysis service'),
    );

    this.heatmap = makeChart(this.heatmapEl);
    this.curves = makeChart(this.curvesEl);
    linkBandsToLegend(this.curves);
    this.layerCharts = this.layerEls.map((el) => makeChart(el));
    this.charts = [this.heatmap, this.curves, ...this.layerCharts];
    this.renderControls();
  }

  renderHeader() {
    const g = this.grid;
    const c = g.counts || {};
    const count = (label, v, cls) => (v ? h('span', { class: `count ${cls || ''}` }, `${label} ${int(v)}`) : null);
    fill(
      this.header,
      h('div', { class: 'title-row' }, h('h1', null, g.name), h('span', { class: 'gid' }, `#${g.id}`), h('span', { id: 'grid-state', dataset: { state: stateName(g.state) } }, stateBadge(g.state)),
        h('span', { class: 'factors' }, (g.factors || []).join(' × '))),
      progressBar(g),
      h(
        'div',
        { class: 'counts' },
        h('span', { class: 'count main' }, 'finished ', h('b', { id: 'grid-finished' }, int(finishedOf(g))), ' of ', h('b', { id: 'grid-trials' }, int(g.trials)), ' trials'),
        count('succeeded', c.succeeded, 'ok'),
        count('diverged', c.diverged, 'warn'),
        count('failed', c.failed, 'bad'),
        count('cancelled', c.cancelled),
        count('running', c.leased, 'run'),
        count('pending', c.pending),
        h('span', { class: 'count' }, `${int(g.cells)} cells × ${g.cells ? int(g.trials / g.cells) : 0} seeds`),
      ),
      engineLine(g.engines),
      this.errorsEl || null,
    );
    if (this.source.static) return;
    document.title = `actgrid · ${g.name} · ${stateName(g.state)}`;
  }

  showErrors(errors) {
    this.errorsEl = h('ul', { class: 'errors' }, errors.slice(-5).map((e) => h('li', null, e)));
    this.renderHeader();
  }

  filterBar() {
    this.filtersEl = h('section', { class: 'card filters', id: 'filters' });
    this.renderFilters();
    return this.filtersEl;
  }

  renderFilters() {
    // Built once; syncFilters() updates the boxes in place (keeps focus while clicking).
    this.filterEls = new Map();
    const groups = (this.grid.factors || []).map((f) => {
      const levels = this.levels.get(f) || [];
      const inputs = levels.map((v) => h('input', { type: 'checkbox', value: v, onchange: (e) => this.onFilter(f, v, e.target) }));
      const all = h('button', { type: 'button', class: 'link', onclick: () => this.resetFilter(f) }, 'all');
      const fieldset = h('fieldset', { dataset: { factor: f } }, h('legend', null, f), levels.map((v, i) => h('label', { class: 'check' }, inputs[i], v)), all);
      this.filterEls.set(f, { fieldset, inputs, all });
      return fieldset;
    });
    fill(this.filtersEl, h('span', { class: 'filters-title' }, 'Filter'), groups);
    this.syncFilters();
  }

  syncFilters() {
    for (const [f, { fieldset, inputs, all }] of this.filterEls) {
      const checked = this.filters.get(f);
      inputs.forEach((input) => {
        input.checked = checked.has(input.value);
      });
      const partial = checked.size < inputs.length;
      fieldset.classList.toggle('filtered', partial);
      all.hidden = !partial;
    }
  }

  onFilter(factor, value, input) {
    const set = this.filters.get(factor);
    if (input.checked) set.add(value);
    else if (set.size > 1) set.delete(value);
    else {
      input.checked = true; // every factor keeps one level at least
      return;
    }
    this.filtersChanged();
  }

  resetFilter(factor) {
    this.filters.set(factor, new Set(this.levels.get(factor)));
    this.filtersChanged();
  }

  filtersChanged() {
    this.syncFilters();
    this.saveState();
    this.request(ALL_PARTS, true);
  }

  /** The selects above the heatmap and the curves (factor ones live only). */
  renderControls() {
    const s = this.state;
    const factors = this.grid.factors || [];
    const live = !this.source.static;
    const metricOpts = (list) => list.map((m) => [m, metricLabel(m)]);
    const set = (changes, parts) => {
      Object.assign(this.state, changes);
      this.saveState();
      this.renderControls();
      this.request(parts, true);
    };

    fill(
      this.heatmapControls,
      labelled('metric', select(metricOpts(this.source.summaryMetrics()), s.metric, (v) => set({ metric: v }, ['heatmap', 'table', 'effects']), { name: 'metric' })),
      live && factors.length
        ? labelled('rows', select(factors, s.y, (v) => set({ y: v, x: v === s.x ? s.y : s.x }, ['heatmap']), { name: 'y' }))
        : null,
      live && factors.length > 1
        ? labelled('columns', select([['', '(none)'], ...factors.filter((f) => f !== s.y)], s.x, (v) => set({ x: v }, ['heatmap']), { name: 'x' }))
        : null,
      h('span', { class: 'hint' }, better(s.metric) === 'lower' ? 'lower is better: darker = better' : better(s.metric) === 'higher' ? 'higher is better: darker = better' : 'darker = higher'),
    );

    const layerOpts = [['', 'all layers'], ...Array.from({ length: this.maxLayers }, (_, k) => [String(k), `layer ${k}`])];
    if (s.layer !== '' && Number(s.layer) >= this.maxLayers) layerOpts.push([s.layer, `layer ${s.layer}`]);
    fill(
      this.curvesControls,
      labelled('metric', select(metricOpts(this.source.curveMetrics(s.layer)), s.cmetric, (v) => set({ cmetric: v, log: logByDefault(v) }, ['curves']), { name: 'cmetric' })),
      live && factors.length ? labelled('group by', select(factors, s.by, (v) => set({ by: v }, ['curves', 'layers']), { name: 'by' })) : null,
      live
        ? labelled('layer', select(layerOpts, s.layer, (v) => {
            const metrics = this.source.curveMetrics(v);
            const cmetric = metrics.includes(s.cmetric) ? s.cmetric : metrics[0];
            set({ layer: v, cmetric, log: cmetric === s.cmetric ? s.log : logByDefault(cmetric) }, ['curves']);
          }, { name: 'layer' }))
        : null,
      h('label', { class: 'ctl check' }, h('input', { type: 'checkbox', name: 'log', checked: s.log, onchange: (e) => this.setLog(e.target.checked) }), 'log scale'),
    );
    this.curvesTitle.textContent = ` · ${metricLabel(s.cmetric)}${s.layer !== '' ? ` of hidden layer ${s.layer}` : ''}${s.by ? `, by ${s.by}` : ''}`;
    // Layer health at an epoch ("" = each trial's final one); the curves tell the epochs.
    if (live) {
      const input = h('input', {
        type: 'number', name: 'epoch', min: 0, max: this.maxEpoch || undefined, step: 1, value: s.epoch, placeholder: 'final',
        onchange: (e) => {
          const v = e.target.value.trim();
          const epoch = v === '' || !(Number(v) >= 0) ? '' : String(Math.floor(Number(v)));
          if (epoch !== this.state.epoch) set({ epoch }, ['layers']);
        },
      });
      fill(this.layersControls, labelled('epoch', input), h('span', { class: 'hint' }, 'empty = each trial\u2019s final epoch'));
    }
    const at = s.epoch === '' ? 'final epoch' : `epoch ${s.epoch}`;
    this.layersTitle.textContent = s.by ? ` · by ${s.by}, ${at}` : ` · ${at}`;
    this.tableTitle.textContent = ` · ${metricLabel(s.metric)}, by every factor, best first`;
    this.effectsTitle.textContent = ` · ${metricLabel(s.metric)}`;
  }

  /** The log toggle only redraws the curves already loaded. */
  setLog(on) {
    this.state.log = on;
    this.saveState();
    if (this.lastCurves) this.renderCurves(this.lastCurves);
  }

  // ---------- sections ----------

  sectionError(part, err) {
    const precondition = err.status === 'FAILED_PRECONDITION';
    const msg = h('p', { class: precondition ? 'note' : 'note error' }, precondition ? err.message : `${err.status || 'error'}: ${err.message}`);
    if (part === 'heatmap') {
      this.heatmap.clear();
      fill(this.heatmapNote, msg);
    } else if (part === 'curves') {
      this.curves.clear();
      fill(this.curvesNote, msg);
    } else if (part === 'layers') {
      this.layerCharts.forEach((c) => c.clear());
      fill(this.layersNote, msg);
    } else if (part === 'table') {
      fill(this.tableBody);
      fill(this.tableNote, msg);
    } else if (part === 'effects') {
      fill(this.effectsBody, msg);
    }
  }

  renderHeatmap(answer) {
    const { option, height } = heatmapOption(answer, { x: this.state.x, y: this.state.y, metric: this.state.metric, better: better(this.state.metric), levels: this.levels });
    if (this.heatmapEl.style.height !== `${height}px`) {
      this.heatmapEl.style.height = `${height}px`;
      this.heatmap.resize();
    }
    this.heatmap.setOption(option, true);
    const empty = (answer.rows || []).filter((r) => !(r.n > 0)).length;
    fill(
      this.heatmapNote,
      partialNote(answer),
      empty ? h('p', { class: 'note' }, `${empty} grey cell(s): no finished trial with a value yet`) : null,
    );
  }

  renderCurves(answer) {
    this.lastCurves = answer;
    let maxEpoch = 0;
    for (const g of answer.groups || []) for (const p of g.points || []) maxEpoch = Math.max(maxEpoch, p.epoch);
    if (maxEpoch > (this.maxEpoch || 0) && this.layersControls) {
      this.maxEpoch = maxEpoch;
      const input = this.layersControls.querySelector('input[name=epoch]');
      if (input) input.max = String(maxEpoch);
    }
    const { option, skipped } = curvesOption(answer, { metric: metricLabel(this.state.cmetric), log: this.state.log, bounds: curveBounds(this.state.cmetric) });
    this.curves.setOption(option, true);
    const diverged = (answer.groups || []).reduce((n, g) => n + (g.diverged || 0), 0);
    fill(
      this.curvesNote,
      h('p', { class: 'note' }, 'Line: mean over seeds; shaded: 95% confidence band (t).'),
      skipped ? h('p', { class: 'note' }, `${skipped} value(s) ≤ 0 not drawn on the log axis.`) : null,
      diverged ? h('p', { class: 'note' }, `${diverged} diverged trial(s) stop contributing at the epoch they diverged.`) : null,
      partialNote(answer),
    );
  }

  renderLayers(answer) {
    this.lastLayers = answer;
    const groups = answer.groups || [];
    let depth = 0;
    for (const g of groups) depth = Math.max(depth, (g.layers || []).length);
    if (depth > this.maxLayers) {
      this.maxLayers = depth; // offer these layers in the curves' layer select
      this.renderControls();
    }
    let skipped = 0;
    LAYER_CHARTS.forEach(([field, , log], i) => {
      const r = layerOption(answer, field, log);
      skipped += r.skipped;
      this.layerCharts[i].setOption(r.option, true);
    });
    fill(
      this.layersLegend,
      groups.map((g, i) => h('span', { class: 'legend-item' }, h('i', { style: { background: colorOf(i) } }), groupLabel(g.group))),
    );
    fill(
      this.layersNote,
      h('p', { class: 'note' }, `Means over the trials of each group at ${this.state.epoch === '' ? 'their final epoch' : `epoch ${this.state.epoch}`}; hover for 95% CIs.`),
      skipped ? h('p', { class: 'note' }, `${skipped} gradient norm(s) ≤ 0 not drawn on the log axis.`) : null,
      partialNote(answer),
    );
  }

  renderTable(answer) {
    fill(this.tableBody, compareTable(answer, this.grid.factors || [], better(this.state.metric)));
    fill(this.tableNote, partialNote(answer));
  }

  renderEffects(answer) {
    fill(this.effectsBody, partialNote(answer), effectsView(answer));
  }

  // ---------- test hooks: what is drawn ----------

  heatmapCells() {
    return this.heatmap ? heatmapCellsOf(this.heatmap) : [];
  }

  curveSeries() {
    return this.curves ? lineSeriesOf(this.curves) : [];
  }

  layerSeries() {
    return this.layerCharts ? lineSeriesOf(this.layerCharts[0]).map((s) => ({ name: s.name, points: s.points })) : [];
  }

  tableRows() {
    return [...this.root.querySelectorAll('#compare-table tbody tr')].map((tr) => ({
      labels: [...tr.querySelectorAll('td.label')].map((td) => td.textContent),
      n: Number(tr.dataset.n),
      mean: Number(tr.dataset.mean),
    }));
  }

  gridHeader() {
    const text = (id) => (this.root.querySelector(`#${id}`) || {}).textContent || '';
    return {
      state: text('grid-state').trim(),
      finished: Number(text('grid-finished').replace(/,/g, '')),
      trials: Number(text('grid-trials').replace(/,/g, '')),
    };
  }
}
