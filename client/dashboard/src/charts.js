// The charts: ECharts, tree-shaken (only the heatmap and line charts, the components they
// use and the SVG renderer are bundled), and the option builders for each view.
import * as echarts from 'echarts/core';
import { HeatmapChart, LineChart } from 'echarts/charts';
import {
  GridComponent,
  TooltipComponent,
  LegendScrollComponent,
  VisualMapContinuousComponent,
} from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';
import { DASH, ci, finite, int, sig } from './format.js';
import { groupLabel, groupValue } from './view.js';

echarts.use([HeatmapChart, LineChart, GridComponent, TooltipComponent, LegendScrollComponent, VisualMapContinuousComponent, SVGRenderer]);

// Group colors (Tableau 10): lines, bands and layer markers of a group share one.
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
export const colorOf = (i) => PALETTE[i % PALETTE.length];

// Heatmap ramp from bad to good: "good" is always the dark blue end.
const RAMP = ['#fbf6d9', '#d5ecb4', '#8fd0bb', '#4aa7c4', '#2c6fae', '#1d3f8a'];
const EMPTY_COLOR = '#eceff3';
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const TEXT = '#1f2933';
const MUTED = '#6b7785';

const live = new Set();
let resizeTimer = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => live.forEach((c) => c.resize()), 100);
});

/** A chart drawn as SVG into `el`; dispose() it when its view goes away. */
export function makeChart(el) {
  const chart = echarts.init(el, null, { renderer: 'svg' });
  live.add(chart);
  const dispose = chart.dispose.bind(chart);
  chart.dispose = () => {
    live.delete(chart);
    dispose();
  };
  return chart;
}

export function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const baseText = { fontFamily: FONT, color: TEXT };

/** Axis tick labels: short ("0.9", "1e−4"), no padded zeros. */
function tick(v) {
  if (!finite(v) || v === 0) return v === 0 ? '0' : '';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(0).replace('e-', 'e\u2212').replace('e+', 'e');
  return String(parseFloat(v.toPrecision(4)));
}

/** The visualMap's end labels, with as many digits as it takes to tell them apart. */
function endLabels(lo, hi) {
  let d = 3;
  while (d < 6 && sig(lo, d) === sig(hi, d)) d++;
  return [sig(hi, d), sig(lo, d)];
}

/** The labels of `factor` in the rows, ordered as in `levels` (then first appearance). */
function axisLabels(rows, factor, levels) {
  if (!factor) return [''];
  const seen = [];
  for (const r of rows) {
    const v = groupValue(r.group, factor);
    if (!seen.includes(v)) seen.push(v);
  }
  const order = (levels && levels.get(factor)) || [];
  return [...order.filter((v) => seen.includes(v)), ...seen.filter((v) => !order.includes(v))];
}

/**
 * Heatmap of a CompareResponse grouped by [y, x]: one cell per group, label = mean.
 * Series 0 ("cells") holds every group: value [xIndex, yIndex, mean] ("-" when n = 0, not
 * drawn); series 1 draws the groups without a finished trial as grey boxes.
 * Returns {option, height} (height in px fitting the rows).
 */
export function heatmapOption(resp, { x, y, metric, better, levels }) {
  const rows = resp.rows || [];
  const xs = axisLabels(rows, x, levels);
  const ys = axisLabels(rows, y, levels);
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of rows) {
    if (r.n > 0 && finite(r.mean)) {
      lo = Math.min(lo, r.mean);
      hi = Math.max(hi, r.mean);
    }
  }
  const any = lo <= hi;
  if (!any) [lo, hi] = [0, 1];
  if (lo === hi) [lo, hi] = [lo - Math.abs(lo) * 0.01 - 1e-9, hi + Math.abs(hi) * 0.01 + 1e-9];
  const ramp = better === 'lower' ? [...RAMP].reverse() : RAMP;

  const cells = [];
  const empty = [];
  for (const r of rows) {
    const xi = x ? xs.indexOf(groupValue(r.group, x)) : 0;
    const yi = y ? ys.indexOf(groupValue(r.group, y)) : 0;
    const info = {
      n: r.n, trials: r.trials, std: r.std, lo: r.ci95_low, hi: r.ci95_high,
      diverged: r.diverged, missing: r.missing, mean: r.mean,
    };
    if (r.n > 0 && finite(r.mean)) {
      // Dark cells get white labels: position on the ramp, flipped for lower-is-better.
      const t = (r.mean - lo) / (hi - lo);
      const dark = (better === 'lower' ? 1 - t : t) > 0.55;
      cells.push({ value: [xi, yi, r.mean], ...info, label: { color: dark ? '#fff' : TEXT } });
    } else {
      cells.push({ value: [xi, yi, '-'], ...info });
      empty.push({ value: [xi, yi, 0], ...info });
    }
  }

  const name = (v, f) => (f ? `${escapeHtml(f)} = <b>${escapeHtml(v)}</b>` : '');
  const tooltip = (p) => {
    const d = p.data;
    const [xi, yi] = d.value;
    const head = [name(ys[yi], y), name(xs[xi], x)].filter(Boolean).join(', ') || 'all trials';
    if (!(d.n > 0)) {
      return `${head}<br>no finished trial yet<br>trials: ${int(d.trials)}${d.missing ? `, without a value: ${int(d.missing)}` : ''}`;
    }
    return [
      head,
      `${escapeHtml(metric)}: mean <b>${sig(d.mean, 4)}</b> (n = ${int(d.n)})`,
      `95% CI ${ci(d.lo, d.hi)}, std ${sig(d.std, 3)}`,
      `diverged ${int(d.diverged)}, missing ${int(d.missing)}, trials ${int(d.trials)}`,
    ].join('<br>');
  };

  const option = {
    animation: false,
    textStyle: baseText,
    tooltip: { trigger: 'item', formatter: tooltip, confine: true },
    grid: { left: 10, right: 100, top: 34, bottom: 34 },
    xAxis: {
      type: 'category', data: xs, name: x, nameLocation: 'middle', nameGap: 26,
      nameTextStyle: { color: MUTED }, splitArea: { show: false }, axisTick: { show: false },
      position: 'top', axisLabel: { color: TEXT }, axisLine: { show: false },
    },
    yAxis: {
      type: 'category', data: ys, name: y, inverse: true, nameLocation: 'start',
      nameTextStyle: { color: MUTED, align: 'right' }, axisTick: { show: false },
      axisLabel: { color: TEXT }, axisLine: { show: false },
    },
    visualMap: {
      type: 'continuous', show: any, seriesIndex: 0, dimension: 2, min: lo, max: hi,
      calculable: false, orient: 'vertical', right: 4, top: 'middle', itemHeight: 140,
      inRange: { color: ramp }, text: endLabels(lo, hi), textGap: 6, textStyle: { color: MUTED },
    },
    series: [
      {
        id: 'cells', name: metric, type: 'heatmap', data: cells,
        label: { show: true, formatter: (p) => sig(p.data.value[2], 3), fontSize: 13 },
        itemStyle: { borderColor: '#fff', borderWidth: 2 },
        emphasis: { itemStyle: { borderColor: '#1f2933', borderWidth: 2 } },
      },
      {
        id: 'empty', name: 'no finished trial yet', type: 'heatmap', data: empty,
        itemStyle: { color: EMPTY_COLOR, borderColor: '#fff', borderWidth: 2 },
        label: { show: true, formatter: 'no trial yet', color: MUTED, fontSize: 11 },
        emphasis: { disabled: true },
      },
    ],
  };
  return { option, height: Math.max(220, 70 + 44 * ys.length) };
}

/** The cells a heatmap chart draws, read back from its option (test hook). */
export function heatmapCellsOf(chart) {
  if (!chart) return [];
  const opt = chart.getOption();
  const xs = opt.xAxis[0].data;
  const ys = opt.yAxis[0].data;
  const s = opt.series.find((v) => v.id === 'cells');
  return (s ? s.data : []).map((d) => ({
    x: String(xs[d.value[0]] ?? ''),
    y: String(ys[d.value[1]] ?? ''),
    mean: typeof d.value[2] === 'number' ? d.value[2] : NaN,
    n: d.n,
  }));
}

/** [value or "-"]: a value the (log) axis can draw; counts what a log axis skips. */
function drawable(v, log, skipped) {
  if (!finite(v)) return '-';
  if (log && v <= 0) {
    skipped.count++;
    return '-';
  }
  return v;
}

const legendRight = (names) => ({
  type: 'scroll', orient: 'vertical', right: 0, top: 8, bottom: 8, data: names,
  textStyle: { color: TEXT, width: 150, overflow: 'truncate' }, tooltip: { show: true },
  itemWidth: 18, itemHeight: 10,
});

/**
 * Learning curves of a CurvesResponse: one line per group, and its 95% band drawn as a
 * stacked pair of helper series ("band:lo:NAME" invisible lower edge, "band:NAME" filled
 * up to the upper edge), both named "band:..." and left out of legend and tooltip.
 * Returns {option, skipped} (points a log axis could not draw).
 */
export function curvesOption(resp, { metric, log, bounds = [null, null] }) {
  const [lo, hi] = bounds;
  const skipped = { count: 0 };
  const groups = resp.groups || [];
  const names = groups.map((g) => groupLabel(g.group));
  const series = [];
  const byName = new Map();
  groups.forEach((g, i) => {
    const name = names[i];
    const color = colorOf(i);
    const pts = g.points || [];
    byName.set(name, pts);
    const lows = pts.map((p) => (finite(p.ci95_low) && finite(p.ci95_high) && (!log || p.ci95_low > 0) ? p : null));
    series.push(
      {
        id: `band:lo:${name}`, name: `band:lo:${name}`, type: 'line', stack: `band${i}`,
        data: pts.map((p, k) => [p.epoch, lows[k] ? lows[k].ci95_low : '-']),
        lineStyle: { opacity: 0 }, symbol: 'none', silent: true, tooltip: { show: false },
        emphasis: { disabled: true }, z: 1,
      },
      {
        id: `band:${name}`, name: `band:${name}`, type: 'line', stack: `band${i}`,
        data: pts.map((p, k) => [p.epoch, lows[k] ? lows[k].ci95_high - lows[k].ci95_low : '-']),
        lineStyle: { opacity: 0 }, symbol: 'none', silent: true, tooltip: { show: false },
        areaStyle: { color, opacity: 0.16 }, emphasis: { disabled: true }, z: 1,
      },
    );
    series.push({
      id: `curve:${name}`, name, type: 'line', color, showSymbol: pts.length < 2, symbolSize: 5,
      data: pts.map((p) => [p.epoch, drawable(p.mean, log, skipped)]),
      lineStyle: { width: 2 }, emphasis: { focus: 'series' }, z: 3,
    });
  });

  const tooltip = (params) => {
    const list = (Array.isArray(params) ? params : [params]).filter((p) => !p.seriesName.startsWith('band:'));
    if (!list.length) return '';
    const epoch = list[0].value[0];
    const lines = list.map((p) => {
      const pt = (byName.get(p.seriesName) || [])[p.dataIndex];
      const band = pt && finite(pt.ci95_low) ? ` ${ci(pt.ci95_low, pt.ci95_high, 3)}` : '';
      return `${p.marker}${escapeHtml(p.seriesName)}: <b>${pt ? sig(pt.mean, 4) : DASH}</b>${band}${pt ? ` n=${pt.n}` : ''}`;
    });
    return [`epoch ${epoch}`, ...lines].join('<br>');
  };

  const option = {
    animation: false,
    textStyle: baseText,
    tooltip: { trigger: 'axis', formatter: tooltip, confine: true, axisPointer: { type: 'line' } },
    legend: legendRight(names),
    grid: { left: 10, right: 180, top: 16, bottom: 30 },
    xAxis: { type: 'value', name: 'epoch', nameLocation: 'middle', nameGap: 24, min: 0, max: 'dataMax', minInterval: 1, nameTextStyle: { color: MUTED } },
    yAxis: {
      type: log ? 'log' : 'value', scale: !log, axisLabel: { formatter: tick },
      // A wide band (few seeds) is cut at the metric's bounds, not the scale stretched.
      min: log || lo === null ? undefined : (v) => (v.min < lo ? lo : undefined),
      max: hi === null ? undefined : (v) => (v.max > hi ? hi : undefined),
    },
    series,
  };
  return { option, skipped: skipped.count };
}

/** Hides or shows a group's band with the group (legend clicks). */
export function linkBandsToLegend(chart) {
  chart.on('legendselectchanged', (e) => {
    const opt = chart.getOption();
    const update = opt.series
      .filter((s) => s.id.startsWith('band:') && !s.id.startsWith('band:lo:'))
      .map((s) => {
        const group = s.id.slice('band:'.length);
        return { id: s.id, areaStyle: { opacity: e.selected[group] === false ? 0 : 0.16 } };
      });
    chart.setOption({ series: update });
  });
}

/** Line series (band helpers excluded) as [{name, points: [[x, y], ...]}] (test hook). */
export function lineSeriesOf(chart) {
  if (!chart) return [];
  return chart
    .getOption()
    .series.filter((s) => !String(s.id).startsWith('band:') && !String(s.name).startsWith('band:'))
    .map((s) => ({
      name: s.name,
      points: s.data.map((d) => [Number(d[0]), typeof d[1] === 'number' ? d[1] : NaN]),
    }));
}

// The three layer charts: which LayerRow field, its title, and the axis kind.
export const LAYER_CHARTS = [
  ['dead_fraction', 'dead fraction', false],
  ['sparsity', 'sparsity', false],
  ['grad_norm', 'gradient norm (log)', true],
];

/**
 * One layer-health chart of a LayersResponse: x = hidden layer index, one line with
 * markers per group. Returns {option, skipped}.
 */
export function layerOption(resp, field, log) {
  const skipped = { count: 0 };
  const groups = resp.groups || [];
  let depth = 0;
  for (const g of groups) for (const l of g.layers || []) depth = Math.max(depth, l.layer + 1);
  const series = groups.map((g, i) => {
    const name = groupLabel(g.group);
    return {
      id: `layer:${name}`, name, type: 'line', color: colorOf(i), symbol: 'circle', symbolSize: 7,
      data: (g.layers || []).map((l) => [String(l.layer), drawable(l[field] && l[field].mean, log, skipped)]),
      lineStyle: { width: 1.5 }, emphasis: { focus: 'series' },
      stats: (g.layers || []).map((l) => l[field]),
    };
  });
  const tooltip = (params) => {
    const list = Array.isArray(params) ? params : [params];
    if (!list.length) return '';
    const lines = list.map((p) => {
      const st = series[p.seriesIndex].stats[p.dataIndex] || {};
      return `${p.marker}${escapeHtml(p.seriesName)}: <b>${sig(st.mean, 3)}</b> ${finite(st.ci95_low) ? ci(st.ci95_low, st.ci95_high, 3) : ''} n=${int(st.n)}`;
    });
    return [`layer ${list[0].name}`, ...lines].join('<br>');
  };
  const option = {
    animation: false,
    textStyle: baseText,
    tooltip: { trigger: 'axis', formatter: tooltip, confine: true },
    grid: { left: 8, right: 14, top: 14, bottom: 28 },
    xAxis: {
      type: 'category', name: 'hidden layer', nameLocation: 'middle', nameGap: 24, boundaryGap: false,
      data: Array.from({ length: depth }, (_, k) => String(k)), nameTextStyle: { color: MUTED },
    },
    yAxis: {
      type: log ? 'log' : 'value', min: log ? undefined : 0,
      // Fractions: at least 0..0.1, so a flat zero line does not look like a full scale.
      max: log ? undefined : (v) => (v.max < 0.1 ? 0.1 : undefined),
      axisLabel: { formatter: tick },
    },
    series: series.map(({ stats, ...s }) => s),
  };
  return { option, skipped: skipped.count };
}
