// Where the grid view's answers come from: the live API, or the JSON of a static report.
// Both offer the same calls, so the grid view renders either with the same code.
import { ApiError, call } from './api.js';
import { EPOCH_METRICS, LAYER_METRICS, SUMMARY_METRICS, better } from './metrics.js';

const names = (list) => list.map(([m]) => m);

/** Answers from the coordinator's Grids and Analysis services. */
export class LiveSource {
  constructor(gridId) {
    this.gridId = String(gridId);
    this.static = false;
  }

  grid() {
    return call('Grids/GetGrid', { grid: this.gridId });
  }

  /** Compare by every factor: one row per cell, even before any trial finished. */
  levels(grid) {
    return call('Analysis/Compare', { grid: this.gridId, by: grid.factors, metric: 'final_test_acc' });
  }

  summaryMetrics() {
    return names(SUMMARY_METRICS);
  }

  curveMetrics(layer) {
    return names(layer === '' ? EPOCH_METRICS : LAYER_METRICS);
  }

  heatmap({ metric, x, y, where }) {
    return call('Analysis/Compare', { grid: this.gridId, by: [y, x].filter(Boolean), metric, where });
  }

  /** By every factor, best first (ascending means for lower-is-better metrics). */
  table({ metric, where, factors }) {
    const sort = better(metric) === 'lower' ? 'mean' : '-mean';
    return call('Analysis/Compare', { grid: this.gridId, by: factors, metric, where, sort });
  }

  effects({ metric, where }) {
    return call('Analysis/Effects', { grid: this.gridId, metric, where });
  }

  curves({ metric, by, layer, where }) {
    const req = { grid: this.gridId, by: by ? [by] : [], metric, where };
    if (layer !== '') req.layer = Number(layer);
    return call('Analysis/Curves', req);
  }

  layers({ by, where, epoch }) {
    const req = { grid: this.gridId, by: by ? [by] : [], where };
    if (epoch !== undefined && epoch !== '') req.epoch = Number(epoch);
    return call('Analysis/Layers', req);
  }
}

/**
 * Answers stored in a static report (see the spec of `actgrid report`): one answer per
 * metric, no filters, fixed axes and grouping.
 */
export class StaticSource {
  constructor(report) {
    this.report = report;
    this.static = true;
    this.generated = report.generated || '';
    this.view = {
      x: (report.heatmap && report.heatmap.x) || '',
      y: (report.heatmap && report.heatmap.y) || '',
      by: (report.curves && report.curves.by) || '',
    };
  }

  grid() {
    return Promise.resolve(this.report.grid);
  }

  levels() {
    return Promise.resolve(null);
  }

  /** The metrics the report holds, in the dashboard's usual order. */
  static ordered(answers, known) {
    const keys = Object.keys(answers || {});
    return [...known.filter((m) => keys.includes(m)), ...keys.filter((m) => !known.includes(m))];
  }

  summaryMetrics() {
    return StaticSource.ordered(this.report.heatmap && this.report.heatmap.answers, names(SUMMARY_METRICS));
  }

  curveMetrics() {
    return StaticSource.ordered(this.report.curves && this.report.curves.answers, names(EPOCH_METRICS));
  }

  answer(section, metric) {
    const s = this.report[section];
    const a = s && s.answers && s.answers[metric];
    if (!a) return Promise.reject(new ApiError(0, 'NOT_FOUND', `the report holds no ${section} answer for ${metric}`));
    if (a.error) return Promise.reject(new ApiError(0, a.error.status, a.error.message, a.error.code));
    return Promise.resolve(a);
  }

  heatmap({ metric }) {
    return this.answer('heatmap', metric);
  }

  table({ metric }) {
    return this.answer('table', metric);
  }

  effects({ metric }) {
    return this.answer('effects', metric);
  }

  curves({ metric }) {
    return this.answer('curves', metric);
  }

  layers() {
    const a = this.report.layers && this.report.layers.answer;
    return a ? Promise.resolve(a) : Promise.reject(new ApiError(0, 'NOT_FOUND', 'the report holds no layer answer'));
  }
}
