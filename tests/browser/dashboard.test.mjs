// Browser test of the dashboard: a headless Chromium (playwright-core) reads what the
// dashboard draws and compares it with what the actgrid CLI answers from the database.
// Plain Node script (Node 18+): exit code 0 = every check passed. Run by tests/browser/run.sh:
//   ACTGRID_URL        coordinator dashboard holding a finished grid named "browser"
//   ACTGRID_LIVE_URL   coordinator dashboard running grid ACTGRID_LIVE_GRID right now
//   ACTGRID_LIVE_GRID  that grid's id
//   ACTGRID_CLI        the actgrid CLI;  ACTGRID_DB  the finished grid's database
//   ACTGRID_REPORT     a static report of the finished grid (opened as file://)
//   ACTGRID_ARTIFACTS  where screenshots go;  CHROMIUM  the browser executable
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const started = Date.now();
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(repo, 'client', 'dashboard', 'package.json'));
const { chromium } = require('playwright-core');

function env(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`FAIL: environment variable ${name} is not set`);
    process.exit(2);
  }
  return v;
}
const URL_DONE = env('ACTGRID_URL').replace(/\/?$/, '/');
const URL_LIVE = env('ACTGRID_LIVE_URL').replace(/\/?$/, '/');
const LIVE_GRID = env('ACTGRID_LIVE_GRID');
const CLI = env('ACTGRID_CLI');
const DB = env('ACTGRID_DB');
const REPORT = env('ACTGRID_REPORT');
const ARTIFACTS = env('ACTGRID_ARTIFACTS');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
mkdirSync(ARTIFACTS, { recursive: true });

const GRID = 'browser';
const WAIT_MS = 20000; // one view's rendering
const LIVE_MS = 75000; // the live grid, start to DONE

// The whole run stays well under two minutes; never hang a CI job.
const watchdog = setTimeout(() => {
  console.error('FAIL: the browser test ran out of time (110 s)');
  process.exit(1);
}, 110000);
watchdog.unref();

// ---------- helpers ----------

class CheckError extends Error {}
function assert(cond, message) {
  if (!cond) throw new CheckError(message);
}

/** The CLI's JSON answer from the finished grid's database. */
function cli(...args) {
  const out = execFileSync(CLI, [...args, '--db', DB, '--format', 'json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(out);
}

/** A dashboard label ("0.1", "4") against the CLI's JSON value (0.1, 4, "relu"). */
function sameLabel(label, value) {
  if (String(value) === label) return true;
  return typeof value === 'number' && label.trim() !== '' && Number(label) === value;
}

/** Equal within 1e-9 (relative for large values); NaN (no value) equals a null mean. */
function sameMean(drawn, cliMean) {
  if (cliMean === null || cliMean === undefined) return Number.isNaN(drawn);
  return Number.isFinite(drawn) && Math.abs(drawn - cliMean) <= 1e-9 * Math.max(1, Math.abs(cliMean));
}

async function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckError(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until the dashboard rendered the latest refresh. */
async function ready(page, what = 'dashboard ready()') {
  await within(page.waitForFunction(() => window.actgrid && typeof window.actgrid.ready === 'function', null, { timeout: WAIT_MS }), WAIT_MS, what);
  await within(page.evaluate(() => window.actgrid.ready()), WAIT_MS, what);
}

const hook = (page, name) => page.evaluate((n) => window.actgrid[n](), name);

/** Heatmap cells against CLI compare rows grouped by activation and depth. */
function compareHeatmap(cells, rows, what) {
  assert(cells.length === rows.length, `${what}: ${cells.length} heatmap cells drawn, the CLI has ${rows.length} groups`);
  for (const r of rows) {
    const found = cells.filter((c) => sameLabel(c.y, r.group.activation) && sameLabel(c.x, r.group.depth));
    const name = `activation=${r.group.activation} depth=${r.group.depth}`;
    assert(found.length === 1, `${what}: ${found.length} heatmap cells for ${name} (want 1)`);
    assert(found[0].n === r.n, `${what}: ${name}: n drawn ${found[0].n}, CLI ${r.n}`);
    assert(sameMean(found[0].mean, r.mean), `${what}: ${name}: mean drawn ${found[0].mean}, CLI ${r.mean}`);
  }
}

/** Curve series against CLI curve groups grouped by activation: same groups, same last points. */
function compareCurves(series, groups, what) {
  assert(series.length === groups.length, `${what}: ${series.length} curves drawn, the CLI has ${groups.length} groups`);
  for (const g of groups) {
    const s = series.find((v) => sameLabel(v.name, g.group.activation));
    assert(s, `${what}: no curve named ${g.group.activation} (drawn: ${series.map((v) => v.name).join(', ')})`);
    const last = s.points[s.points.length - 1];
    const epoch = g.epoch[g.epoch.length - 1];
    const mean = g.mean[g.mean.length - 1];
    assert(last && last[0] === epoch, `${what}: ${s.name}: last epoch drawn ${last && last[0]}, CLI ${epoch}`);
    assert(sameMean(last[1], mean), `${what}: ${s.name}: last mean drawn ${last[1]}, CLI ${mean}`);
  }
}

// Console errors and page errors of every page. A 4xx of Analysis/Effects is expected
// while a grid is partial (FAILED_PRECONDITION: no balanced design yet), and Chromium logs
// every non-2xx fetch as "Failed to load resource": that one message is allowed, nothing else.
const problems = [];
function watchPage(page, label) {
  page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = (msg.location() && msg.location().url) || '';
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text()) && /\/api\/actgrid\.v1\.Analysis\/Effects$/.test(where)) return;
    problems.push(`${label}: console error: ${msg.text()}${where ? ` (${where})` : ''}`);
  });
}

/**
 * Follows the live grid in its own tab from the start, while the other checks run, so the
 * live grid may be short: samples the header every 100 ms, screenshots it midway, and
 * after DONE waits for the final refresh. Resolves to {detail} or {error}; closes the tab.
 */
async function followLive(context) {
  const live = await context.newPage();
  watchPage(live, 'live');
  try {
    await live.goto(`${URL_LIVE}#/grid/${LIVE_GRID}`);
    await within(live.waitForFunction(() => window.actgrid && window.actgrid.gridHeader() && window.actgrid.gridHeader().trials > 0, null, { timeout: WAIT_MS }), WAIT_MS, 'live grid header');
    await live.evaluate(() => {
      window.__noReload = true;
    });
    const seen = [];
    let header = null;
    let midShot = false;
    const deadline = Date.now() + LIVE_MS;
    for (;;) {
      header = await hook(live, 'gridHeader');
      if (!seen.length || header.finished !== seen[seen.length - 1]) seen.push(header.finished);
      if (!midShot && seen.length >= 2 && header.state !== 'DONE') {
        midShot = true;
        await live.screenshot({ path: join(ARTIFACTS, 'live.png'), fullPage: true });
      }
      if (header.state === 'DONE') break;
      assert(Date.now() < deadline, `the live grid did not end within ${LIVE_MS / 1000} s (shows ${JSON.stringify(header)})`);
      await live.waitForTimeout(100);
    }
    if (!midShot) await live.screenshot({ path: join(ARTIFACTS, 'live.png'), fullPage: true });
    const rises = seen.filter((v, i) => i > 0 && v > seen[i - 1]).length;
    assert(rises >= 2, `the finished count rose ${rises} time(s) (${seen.join(' → ')}); want two or more: is the live grid long enough?`);
    assert(header.finished === header.trials, `DONE shows ${header.finished} of ${header.trials} trials finished`);
    await ready(live, 'live grid final refresh');
    assert(await live.evaluate(() => window.__noReload === true), 'the page reloaded');
    const cells = await hook(live, 'heatmapCells');
    assert(cells.length > 0 && cells.every((c) => c.n > 0 && Number.isFinite(c.mean)), `after DONE, heatmap cells without a value: ${JSON.stringify(cells.filter((c) => !(c.n > 0)))}`);
    return { detail: `finished ${seen.join(' → ')}, ${cells.length} cells filled` };
  } catch (error) {
    return { error };
  } finally {
    await live.close().catch(() => {});
  }
}

let failures = 0;
let passed = 0;
async function check(n, title, fn) {
  const t0 = Date.now();
  try {
    const detail = await fn();
    console.log(`ok ${n} - ${title}${detail ? `: ${detail}` : ''} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    passed++;
    return true;
  } catch (e) {
    failures++;
    console.log(`FAIL ${n} - ${title}: ${e instanceof CheckError ? e.message : e.stack || e}`);
    return false;
  }
}

// ---------- the checks ----------

// The finished grid as the CLI reads it, by every factor: one row per cell.
let all;
try {
  all = cli('compare', GRID);
} catch (e) {
  console.log(`FAIL: the CLI cannot read grid "${GRID}" from ${DB}: ${String(e.stderr || e.message || e).trim()}`);
  process.exit(1);
}
process.on('unhandledRejection', (e) => {
  console.log(`FAIL: unexpected error: ${(e && e.stack) || e}`);
  process.exit(1);
});

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // The live grid runs now: follow it in a second tab while checks 1 to 5 run.
  const liveRun = followLive(context);
  const page = await context.newPage();
  watchPage(page, 'dashboard');
  const shot = (name, target = page) => target.screenshot({ path: join(ARTIFACTS, name), ...(target === page ? { fullPage: true } : {}) });

  const factors = all.by;
  let gridId = null;
  let heatmapCells = null;
  let curveCount = null;

  await check(1, `grids page lists "${GRID}" as DONE with its trials`, async () => {
    await page.goto(URL_DONE + '#/');
    await ready(page);
    const row = page.locator(`#grids-table tbody tr[data-name="${GRID}"]`).first();
    assert((await row.count()) === 1, `no row for grid "${GRID}" in #grids-table`);
    const [state, trials, id, text] = await Promise.all([row.getAttribute('data-state'), row.getAttribute('data-trials'), row.getAttribute('data-grid'), row.innerText()]);
    assert(state === 'DONE', `grid "${GRID}" shows state ${state}, want DONE`);
    assert(Number(trials) === all.trials, `grid "${GRID}" shows ${trials} trials, the CLI counts ${all.trials}`);
    assert(/\bDONE\b/.test(text) && text.includes(String(all.trials)), `the row reads "${text.replace(/\s+/g, ' ')}": no DONE or ${all.trials}`);
    gridId = id;
    await shot('grids.png');
    return `grid ${id}, ${trials} trials`;
  });

  const gridUrl = () => `${URL_DONE}#/grid/${gridId || GRID}`;

  await check(2, 'heatmap activation x depth equals `actgrid compare --by activation,depth`', async () => {
    assert(factors.includes('activation') && factors.includes('depth'), `grid "${GRID}" needs factors activation and depth (has ${factors.join(', ')})`);
    // Through the link, as a person would.
    await page.locator(`#grids-table tbody tr[data-name="${GRID}"] a`).first().click();
    await page.waitForFunction(() => location.hash.startsWith('#/grid/'), null, { timeout: WAIT_MS });
    await ready(page);
    const header = await hook(page, 'gridHeader');
    assert(header && header.state === 'DONE' && header.finished === all.finished && header.trials === all.trials, `grid header reads ${JSON.stringify(header)}, want DONE ${all.finished}/${all.trials}`);
    assert((await page.locator('#grid-engines').count()) === 1, 'the grid header has no #grid-engines line');
    const engines = (await page.locator('#grid-engines').textContent()) || '';
    assert(/^measured by engine \d+, rev \S+, (native|portable) \(\d+ trials?\)/.test(engines), `the header does not say what measured the trials: "${engines}"`);
    const rows = cli('compare', GRID, '--by', 'activation,depth', '--metric', 'final_test_acc').rows;
    heatmapCells = await hook(page, 'heatmapCells');
    compareHeatmap(heatmapCells, rows, 'heatmap');
    await shot('heatmap.png', page.locator('#heatmap'));
    return `${heatmapCells.length} cells`;
  });

  await check(3, 'learning curves equal `actgrid curves --by activation --metric test_acc`', async () => {
    const groups = cli('curves', GRID, '--by', 'activation', '--metric', 'test_acc').groups;
    const series = await hook(page, 'curveSeries');
    compareCurves(series, groups, 'curves');
    curveCount = series.length;
    await page.locator('#curves').scrollIntoViewIfNeeded();
    await shot('curves.png', page.locator('#curves'));
    return `${series.length} series`;
  });

  await check(4, 'a bias filter re-queries heatmap, curves and table', async () => {
    const boxes = page.locator('#filters [data-factor="bias"] input[type="checkbox"]');
    const levels = await boxes.evaluateAll((els) => els.map((e) => e.value));
    assert(levels.length >= 2, `the bias filter offers ${levels.length} level(s); the grid needs two or more`);
    const keep = levels[levels.length - 1];
    const before = await hook(page, 'curveSeries');
    const tableBefore = await hook(page, 'tableRows');
    for (let i = 0; i < levels.length; i++) {
      if (levels[i] !== keep) await boxes.nth(i).uncheck();
    }
    await ready(page);
    const where = `bias=${keep}`;
    compareHeatmap(await hook(page, 'heatmapCells'), cli('compare', GRID, '--by', 'activation,depth', '--metric', 'final_test_acc', '--where', where).rows, `heatmap with ${where}`);
    const after = await hook(page, 'curveSeries');
    compareCurves(after, cli('curves', GRID, '--by', 'activation', '--metric', 'test_acc', '--where', where).groups, `curves with ${where}`);
    const changed = after.some((s) => {
      const b = before.find((v) => v.name === s.name);
      return !b || b.points[b.points.length - 1][1] !== s.points[s.points.length - 1][1];
    });
    assert(changed, `curves with ${where} are the same as without the filter`);
    const table = await hook(page, 'tableRows');
    const want = cli('compare', GRID, '--metric', 'final_test_acc', '--where', where).rows;
    assert(table.length === want.length && table.length < tableBefore.length, `table with ${where}: ${table.length} rows (before ${tableBefore.length}), the CLI has ${want.length}`);
    const bi = factors.indexOf('bias');
    assert(table.every((r) => r.labels[bi] === keep), `table with ${where} shows rows of other bias levels`);
    for (const w of want) {
      const r = table.find((t) => factors.every((f, i) => sameLabel(t.labels[i], w.group[f])));
      assert(r && r.n === w.n && sameMean(r.mean, w.mean), `table with ${where}: row ${JSON.stringify(w.group)} drawn ${JSON.stringify(r)}, CLI n=${w.n} mean=${w.mean}`);
    }
    assert(/where=bias/.test(await page.evaluate(() => location.hash)), 'the filter is not kept in the URL');
    return `kept bias ${keep}: ${table.length} rows`;
  });

  await check(5, 'layer chart, comparison table and effects', async () => {
    await page.goto(gridUrl());
    await ready(page);
    const layers = cli('layers', GRID, '--by', 'activation').groups;
    const series = await hook(page, 'layerSeries');
    assert(series.length === layers.length, `${series.length} layer series drawn, the CLI has ${layers.length} groups`);
    const table = await hook(page, 'tableRows');
    assert(table.length === all.rows.length, `the comparison table has ${table.length} rows, the grid ${all.rows.length} cells`);
    const best = [...all.rows].filter((r) => r.mean !== null).sort((a, b) => b.mean - a.mean)[0];
    assert(best && sameMean(table[0].mean, best.mean), `the first table row (mean ${table[0].mean}) is not the best (${best && best.mean})`);
    const anova = await page.locator('#effects table.anova tbody tr').count();
    assert(anova > 0, 'the effects section shows no ANOVA table');
    await page.locator('#layers').scrollIntoViewIfNeeded();
    await shot('layers.png', page.locator('#layers'));
    await page.locator('#compare-table').scrollIntoViewIfNeeded();
    await shot('table.png', page.locator('#compare-table'));
    return `${series.length} layer series, ${table.length} table rows, ${anova} ANOVA rows`;
  });

  await check(6, `live grid ${LIVE_GRID}: progress rises without reload and ends DONE`, async () => {
    const r = await liveRun;
    if (r.error) throw r.error;
    return r.detail;
  });

  await check(7, 'static report renders the same heatmap offline', async () => {
    const report = await context.newPage();
    watchPage(report, 'report');
    const requests = [];
    report.on('request', (r) => requests.push(r.url()));
    try {
      await report.goto(pathToFileURL(resolve(REPORT)).href);
      await ready(report, 'static report ready()');
      const cells = await hook(report, 'heatmapCells');
      assert(heatmapCells, 'no heatmap from check 2 to compare with');
      assert(cells.length === heatmapCells.length, `report: ${cells.length} heatmap cells, the dashboard drew ${heatmapCells.length}`);
      for (const c of heatmapCells) {
        const r = cells.find((v) => v.x === c.x && v.y === c.y);
        assert(r && r.n === c.n && (r.mean === c.mean || sameMean(r.mean, c.mean)), `report cell ${c.y}/${c.x}: ${JSON.stringify(r)}, dashboard ${JSON.stringify(c)}`);
      }
      const series = await hook(report, 'curveSeries');
      assert(series.length === curveCount, `report: ${series.length} curves, the dashboard drew ${curveCount}`);
      assert((await report.locator('#grid-engines').count()) === 1, 'the report has no #grid-engines line');
      const engines = (await report.locator('#grid-engines').textContent()) || '';
      assert(/^measured by engine \d+/.test(engines), `the report does not say what measured the trials: "${engines}"`);
      const outside = requests.filter((u) => !/^(file|data):/.test(u));
      assert(!outside.length, `the report made network requests: ${outside.join(', ')}`);
      await report.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
      return `${cells.length} cells, ${series.length} curves, ${requests.length} request(s), all file:/data:`;
    } finally {
      await report.close();
    }
  });

  await check(8, 'no console errors and no page errors', async () => {
    assert(!problems.length, `\n  ${problems.join('\n  ')}`);
  });
} catch (e) {
  failures++;
  console.log(`FAIL: ${e instanceof CheckError ? e.message : e.stack || e}`);
} finally {
  await browser.close();
}

console.log(`${failures || passed !== 8 ? 'FAIL' : 'PASS'}: ${passed}/8 checks passed in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${ARTIFACTS}`);
process.exit(failures || passed !== 8 ? 1 : 0);
