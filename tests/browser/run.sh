#!/usr/bin/env bash
# Browser tests of the dashboard: Debian's chromium, driven by playwright-core, against
# actgrid-server holding a finished grid, `actgrid run` training a grid, and a static
# report written by `actgrid report`. Screenshots land in $ACTGRID_ARTIFACTS
# (default build/browser-artifacts). Needs a build (build/ or $ACTGRID_BUILD_DIR).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=${ACTGRID_BUILD_DIR:-$root/build}
artifacts=${ACTGRID_ARTIFACTS:-$build/browser-artifacts}
chromium=${CHROMIUM:-/usr/bin/chromium}
cli=$build/client/cli/actgrid
server=$build/server/actgrid-server
started=$(date +%s)

[ -x "$chromium" ] || { echo "error: no browser at $chromium (Debian: apt-get install chromium)" >&2; exit 1; }
for b in "$cli" "$server"; do [ -x "$b" ] || { echo "error: $b is not built" >&2; exit 1; }; done
if [ ! -f client/dashboard/node_modules/playwright-core/package.json ]; then
  (cd client/dashboard && npm ci --no-audit --no-fund --loglevel=error)
fi
mkdir -p "$artifacts"
rm -f "$artifacts"/*.png

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# Starts actgrid-server on a database with gRPC and HTTP on free ports; sets $url.
serve() {
  local db=$1 log=$2
  shift 2
  "$server" --db "$db" --listen 127.0.0.1:0 --http 127.0.0.1:0 "$@" 2>"$log" &
  pids+=($!)
  for _ in $(seq 200); do
    if grep -q "dashboard on" "$log"; then break; fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then cat "$log" >&2; echo "error: actgrid-server exited" >&2; exit 1; fi
    sleep 0.1
  done
  grep -q "dashboard on" "$log" || { cat "$log" >&2; echo "error: actgrid-server did not start" >&2; exit 1; }
  url=$(sed -n 's/.*dashboard on \(http[^ ]*\).*/\1/p' "$log" | head -1)
}

echo "browser tests: training the finished grid"
"$cli" run tests/browser/grid.yaml --db "$tmp/done.db" --no-progress --no-dashboard >/dev/null
"$cli" report browser --db "$tmp/done.db" --out "$artifacts/report.html" >/dev/null
serve "$tmp/done.db" "$tmp/done.log"
done_url=$url
# The live grid runs as a new user runs one: `actgrid run`, which serves the dashboard
# while it trains and prints its address.
"$cli" run tests/browser/live.yaml --db "$tmp/live.db" --workers 1 --http 127.0.0.1:0 --keep-serving \
  --no-progress >/dev/null 2>"$tmp/run.log" &
pids+=($!)
for _ in $(seq 200); do
  grep -q "^dashboard: " "$tmp/run.log" && break
  sleep 0.1
done
grep -q "^dashboard: " "$tmp/run.log" || { cat "$tmp/run.log" >&2; echo "error: actgrid run printed no dashboard" >&2; exit 1; }
live_url=$(sed -n 's/^dashboard: \(http[^#]*\)#\/grid\/\([0-9]*\).*/\1/p' "$tmp/run.log" | head -1)
live_grid=$(sed -n 's/^dashboard: \(http[^#]*\)#\/grid\/\([0-9]*\).*/\2/p' "$tmp/run.log" | head -1)
echo "browser tests: finished grid at $done_url, live grid $live_grid at $live_url"

ACTGRID_URL=$done_url ACTGRID_LIVE_URL=$live_url ACTGRID_LIVE_GRID=$live_grid ACTGRID_CLI=$cli \
  ACTGRID_DB=$tmp/done.db ACTGRID_REPORT=$artifacts/report.html ACTGRID_ARTIFACTS=$artifacts CHROMIUM=$chromium \
  node tests/browser/dashboard.test.mjs
echo "browser tests passed in $(($(date +%s) - started)) s; screenshots in $artifacts"
