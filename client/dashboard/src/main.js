// The actgrid dashboard. Live mode: hash routes "#/" (grids) and "#/grid/ID?state" over
// the coordinator's JSON API. Static mode (an `actgrid report` file): the page carries
// <script type="application/json" id="actgrid-report">, and the grid view renders from it
// without a single request.
import { decode, setToken, setUnauthorizedHandler, takeTokenFromUrl } from './api.js';
import { fill, h } from './dom.js';
import { GridView } from './gridview.js';
import { GridsPage } from './gridspage.js';
import { LiveSource, StaticSource } from './sources.js';

// An inline icon: no /favicon.ico request (a 404 there is a console error), no fetch at all.
const ICON = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'><rect width='7' height='7' fill='%231d3f8a'/><rect x='9' width='7' height='7' fill='%234aa7c4'/><rect y='9' width='7' height='7' fill='%238fd0bb'/><rect x='9' y='9' width='7' height='7' fill='%232c6fae'/></svg>";
if (!document.querySelector('link[rel~="icon"]')) {
  document.head.append(h('link', { rel: 'icon', href: `data:image/svg+xml,${ICON}` }));
}

const root = document.getElementById('app') || document.body.appendChild(h('div', { id: 'app' }));
const isStatic = !!document.getElementById('actgrid-report');
// A top bar, then the current view's element.
const app = h('main');
fill(
  root,
  h('div', { class: 'topbar' }, isStatic ? h('span', { class: 'brand' }, 'actgrid') : h('a', { class: 'brand', href: '#/' }, 'actgrid'),
    h('span', { class: 'tagline' }, 'which activation, init, bias and depth work, and by how much')),
  app,
);
let view = null;

function show(next) {
  if (view) view.dispose();
  view = next;
}

function route() {
  takeTokenFromUrl();
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = hash.split('?');
  const m = path.match(/^\/grid\/([^/]+)\/?$/);
  if (m) show(new GridView(app, new LiveSource(decodeURIComponent(m[1])), new URLSearchParams(qs || '')));
  else show(new GridsPage(app));
}

// 401/403: ask for the token once, then load the current view again.
let asking = false;
function askToken(err) {
  if (asking) return;
  asking = true;
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', placeholder: 'bearer token', required: true });
  const dialog = h(
    'div',
    { class: 'overlay' },
    h(
      'form',
      {
        class: 'card token-form',
        onsubmit: (e) => {
          e.preventDefault();
          setToken(input.value.trim());
          dialog.remove();
          asking = false;
          route();
        },
      },
      h('h2', null, 'Token needed'),
      h('p', null, `The coordinator answered: ${err.message}. Enter a token with the reader role (kept in this tab only).`),
      input,
      h('button', { type: 'submit' }, 'use token'),
    ),
  );
  document.body.append(dialog);
  input.focus();
}

function startStatic(el) {
  let report;
  try {
    report = decode(JSON.parse(el.textContent));
  } catch (e) {
    fill(app, h('div', { class: 'card error' }, `This report's data cannot be read: ${e.message}`));
    return;
  }
  document.body.classList.add('static');
  show(new GridView(app, new StaticSource(report)));
}

// Test hooks: read what is drawn (chart options, table DOM), wait for rendering to end.
window.actgrid = {
  async ready() {
    // Let a pending hashchange create its view first, then wait for the view in place.
    await new Promise((r) => setTimeout(r, 0));
    for (;;) {
      const v = view;
      if (!v) return;
      await v.ready();
      if (v === view && v.idle()) return;
    }
  },
  heatmapCells: () => (view && view.heatmapCells ? view.heatmapCells() : []),
  curveSeries: () => (view && view.curveSeries ? view.curveSeries() : []),
  layerSeries: () => (view && view.layerSeries ? view.layerSeries() : []),
  tableRows: () => (view && view.tableRows ? view.tableRows() : []),
  gridHeader: () => (view && view.gridHeader ? view.gridHeader() : null),
};

if (isStatic) {
  startStatic(document.getElementById('actgrid-report'));
} else {
  setUnauthorizedHandler(askToken);
  window.addEventListener('hashchange', route);
  route();
}
