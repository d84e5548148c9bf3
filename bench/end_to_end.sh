#!/usr/bin/env bash
# End to end: `actgrid run` of 1,024 tiny trials on one worker thread, this build against
# a base build (a report, not a test).
#
#   bash bench/end_to_end.sh [PAIRS]        from the repository root (default 5 pairs)
#
# Grids (bench/grids/; GRIDS="..." for a subset): tiny-1024.yaml (one cell x 1,024
# seeds) and tiny-mixed.yaml (4 inits x 2 biases x 128 seeds), the tiny MLP of the
# engine benchmarks, 100 epochs; tiny-lone.yaml (64 cells of different shapes, one seed
# each: every trial trains alone, the case packing cannot help).
# Each run is the whole command as a user types it, on a fresh database:
#   actgrid run GRID --db DB --workers 1 --no-dashboard
# (coordinator, in-process worker, every per-epoch metric stored in SQLite). The two
# builds alternate (base, this, base, this ...) PAIRS times per grid; network-steps are
# counted from what ran (the epochs_run of every stored summary x steps per epoch), and
# the report gives medians over the runs with their ranges, and the ratio per pair.
#
# The base build: BASE_ACTGRID=/path/to/actgrid, or else BASE_REV (default d761866, the
# last revision that trains one trial per thread) built Release in build-base/ from a git
# worktree. This build: build-release/client/cli/actgrid (built Release if missing).
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset for the runs; both sides link the same
# OpenBLAS, which the tiny MLP does not use on either.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
PAIRS=${1:-5}
[[ $PAIRS =~ ^[1-9][0-9]*$ ]] || { echo "usage: bash bench/end_to_end.sh [PAIRS]" >&2; exit 2; }
LOCK=()
command -v flock >/dev/null && LOCK=(flock "${BUILD_LOCK:-/tmp/actgrid-build.lock}")

NEW=$ROOT/build-release/client/cli/actgrid
if [[ ! -x $NEW ]]; then
  "${LOCK[@]}" sh -c 'cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null &&
    cmake --build build-release --target actgrid -j2 >/dev/null'
fi
BASE=${BASE_ACTGRID:-}
if [[ -z $BASE ]]; then
  BASE_REV=${BASE_REV:-d761866}
  if [[ ! -x build-base/client/cli/actgrid ]]; then
    rm -rf build-base/src
    git worktree add -f --detach build-base/src "$BASE_REV" >/dev/null
    "${LOCK[@]}" sh -c 'cmake -S build-base/src -B build-base -DCMAKE_BUILD_TYPE=Release -DACTGRID_BUILD_TESTS=OFF \
      -DACTGRID_BUILD_BENCH=OFF >/dev/null && cmake --build build-base --target actgrid -j2 >/dev/null'
  fi
  BASE=$ROOT/build-base/client/cli/actgrid
fi
[[ -x $BASE && -x $NEW ]] || { echo "error: missing build ($BASE, $NEW)" >&2; exit 2; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
RESULTS=$ROOT/bench/out/end_to_end.jsonl
mkdir -p "$(dirname "$RESULTS")"
: >"$RESULTS"

run_one() {  # run_one SIDE BINARY GRID PAIR
  local side=$1 bin=$2 grid=$3 pair=$4 db="$WORK/run.db" start end
  rm -f "$db" "$db-wal" "$db-shm"
  echo "== pair $pair, $side: $(basename "$grid")" >&2
  start=$(date +%s.%N)
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$bin" run "$grid" --db "$db" --workers 1 --no-dashboard \
    >"$WORK/out" 2>"$WORK/err" || { echo "error: $side failed:" >&2; cat "$WORK/err" >&2; exit 1; }
  end=$(date +%s.%N)
  "$PY" - "$side" "$(basename "$grid" .yaml)" "$pair" "$start" "$end" "$db" "$bin" >>"$RESULTS" <<'EOF'
import json, sqlite3, sys
side, grid, pair, start, end, db, binary = sys.argv[1:]
con = sqlite3.connect(db)
trials, epochs = con.execute("SELECT COUNT(*), SUM(epochs_run) FROM summaries").fetchone()
steps_per_epoch = 50  # 500 training samples, batch 10
seconds = float(end) - float(start)
print(json.dumps({"side": side, "grid": grid, "pair": int(pair), "trials": trials, "epochs": epochs,
                  "steps": epochs * steps_per_epoch, "seconds": seconds,
                  "steps_per_second": epochs * steps_per_epoch / seconds, "binary": binary}))
EOF
}

for grid in ${GRIDS:-bench/grids/tiny-1024.yaml bench/grids/tiny-mixed.yaml bench/grids/tiny-lone.yaml}; do
  for (( pair = 1; pair <= PAIRS; pair++ )); do
    run_one base "$BASE" "$grid" "$pair"
    run_one this "$NEW" "$grid" "$pair"
  done
done

"$PY" - "$RESULTS" "$BASE" "$NEW" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print()
print("actgrid run end to end, one worker thread, small MLPs on the circle (100 epochs), fresh database")
print("base: %s\nthis: %s" % (sys.argv[2], sys.argv[3]))
for grid in sorted({r["grid"] for r in rows}):
    got = {s: {r["pair"]: r for r in rows if r["grid"] == grid and r["side"] == s} for s in ("base", "this")}
    print()
    print(grid)
    for side, label in (("base", "base build (one trial per thread)"), ("this", "this build (packed)")):
        secs = [r["seconds"] for r in got[side].values()]
        sps = [r["steps_per_second"] for r in got[side].values()]
        trials = {r["trials"] for r in got[side].values()}
        print("  %-36s %7.2f s (%.2f-%.2f)  %9.0f network-steps/s (%.0f-%.0f)  trials %s" % (
            label, statistics.median(secs), min(secs), max(secs), statistics.median(sps), min(sps), max(sps),
            "/".join(map(str, sorted(trials)))))
    pairs = sorted(set(got["base"]) & set(got["this"]))
    per_pair = [got["base"][p]["seconds"] / got["this"][p]["seconds"] for p in pairs]
    target = 1 if grid == "tiny-lone" else 5  # trials alone: today's speed or better
    print("  speed-up this / base: %.2fx (per pair %.2f-%.2fx)   target >= %dx   %s" % (
        statistics.median(per_pair), min(per_pair), max(per_pair), target,
        "PASS" if statistics.median(per_pair) >= target else "FAIL"))
EOF
