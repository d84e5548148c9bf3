// Builds the dashboard: `node build.mjs [OUTDIR]` (default: dist) writes exactly
// OUTDIR/app.js (one minified IIFE, ES2020) and OUTDIR/app.css.
// Works with Node 18 and later; uses only esbuild's JS API.
import { build } from 'esbuild';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] || join(here, 'dist'));

await mkdir(outdir, { recursive: true });
// Only app.js and app.css belong in OUTDIR: drop leftovers of an earlier build.
await Promise.all(['app.js', 'app.css', 'app.js.map', 'app.css.map'].map((f) => rm(join(outdir, f), { force: true })));

const common = {
  bundle: true,
  minify: true,
  target: 'es2020',
  logLevel: 'warning',
  legalComments: 'eof',
  sourcemap: false,
  absWorkingDir: here,
};

await Promise.all([
  build({
    ...common,
    entryPoints: [join(here, 'src/main.js')],
    outfile: join(outdir, 'app.js'),
    format: 'iife',
    platform: 'browser',
    // echarts reads these to strip its development-only checks and warnings.
    define: { 'process.env.NODE_ENV': '"production"' },
    // The page is served as a plain classic <script> (and inlined in the static report).
    charset: 'utf8',
  }),
  build({
    ...common,
    entryPoints: [join(here, 'src/app.css')],
    outfile: join(outdir, 'app.css'),
    loader: { '.css': 'css' },
  }),
]);
