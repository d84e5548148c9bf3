// The grids page: every grid, newest first, polled every 2 s while the page is visible,
// and the workers the coordinator has seen.
import { call } from './api.js';
import { fill, h } from './dom.js';
import { gridsTable, workersTable } from './tables.js';

const POLL_MS = 2000;

export class GridsPage {
  constructor(root) {
    this.root = root;
    this.disposed = false;
    this.loading = true;
    this.waiters = [];
    this.gridsEl = h('div', { class: 'table-wrap' });
    this.workersEl = h('div', { class: 'table-wrap' });
    this.errorEl = h('div');
    document.title = 'actgrid · grids';
    fill(
      root,
      h('section', { class: 'card', id: 'grids-table' }, h('h2', null, 'Grids', h('span', { class: 'sub' }, ' · newest first, live')), this.errorEl, this.gridsEl),
      h('section', { class: 'card small-card', id: 'workers' }, h('h2', null, 'Workers'), this.workersEl),
      h('footer', null, 'every number from the Analysis service'),
    );
    this.onVisible = () => !document.hidden && this.poll();
    document.addEventListener('visibilitychange', this.onVisible);
    this.poll();
  }

  dispose() {
    this.disposed = true;
    clearTimeout(this.timer);
    document.removeEventListener('visibilitychange', this.onVisible);
    this.settle();
  }

  idle() {
    return this.disposed || !this.loading;
  }

  ready() {
    return this.idle() ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  settle() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((r) => r());
  }

  async poll() {
    clearTimeout(this.timer);
    if (this.disposed || this.polling) return;
    this.polling = true;
    try {
      const [grids, workers] = await Promise.all([call('Grids/ListGrids', { limit: 100 }), call('Grids/ListWorkers', {})]);
      if (this.disposed) return;
      fill(this.errorEl);
      fill(this.gridsEl, gridsTable(grids.grids || []));
      fill(this.workersEl, workersTable(workers.workers || []));
    } catch (e) {
      if (this.disposed) return;
      fill(this.errorEl, h('p', { class: 'note error' }, `Cannot list grids: ${e.message}`));
      if (e.unauthorized) this.stopped = true; // the token form reloads the page's view
    } finally {
      this.polling = false;
      this.loading = false;
      this.settle();
      // Poll on while visible; a hidden page polls again when it becomes visible.
      if (!this.disposed && !this.stopped && !document.hidden) this.timer = setTimeout(() => this.poll(), POLL_MS);
    }
  }
}
