#!/usr/bin/env bash
# The coordinator load benchmark (a report, not a test): bench/load_grid.yaml (8,000
# trials x 50 epoch rows) through a real actgrid-server on a fresh database, driven by
# actgrid_load_bench with 1, 10 and 100 simulated workers (each its own gRPC connection);
# then the anchor in the same run: Optuna with SQLite storage and a GridSampler over the
# same grid, each trial reporting the same 50 intermediate values, in 1 and 10 processes.
#
#   bash bench/load.sh                     from the repository root, after building build/
#   ROUNDS=3 bash bench/load.sh            more rounds (default 1); medians are reported
#   OPTUNA_TRIALS=200 bash bench/load.sh   trials per Optuna run (default 100; the whole
#                                          grid would take Optuna about an hour)
#
# Everything runs on this machine: the simulated workers share its cores with the
# coordinator. Prints a table and the ratios to Optuna; raw JSON lines go to
# bench/out/load.jsonl.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=build
ROUNDS=${ROUNDS:-1}
OPTUNA_TRIALS=${OPTUNA_TRIALS:-100}
GRID=bench/load_grid.yaml
WORKERS=(1 10 100)
OPTUNA_WORKERS=(1 10)
for b in server/actgrid-server bench/actgrid_load_bench; do
  [[ -x $BIN/$b ]] || { echo "error: $BIN/$b missing; build first (see README)" >&2; exit 2; }
done
/usr/bin/python3 -c 'import optuna' 2>/dev/null ||
  { echo "error: Optuna missing: apt-get install python3-optuna" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
mkdir -p bench/out
OUT=bench/out/load.jsonl
: > "$OUT"

ours() {  # $1 = simulated workers; prints the bench's JSON line plus the server's CPU seconds
  local port=$((20000 + RANDOM % 20000)) db=$TMP/load.db
  rm -f "$db" "$db-wal" "$db-shm" "$db.lock"
  $BIN/server/actgrid-server --listen 127.0.0.1:$port --db "$db" 2>"$TMP/server.log" &
  local server=$!
  for _ in $(seq 50); do
    $BIN/client/cli/actgrid health --server 127.0.0.1:$port --timeout 1 >/dev/null 2>&1 && break
    sleep 0.1
  done
  local line
  line=$($BIN/bench/actgrid_load_bench --server 127.0.0.1:$port --grid "$GRID" --workers "$1") ||
    { cat "$TMP/server.log" >&2; exit 1; }
  local cpu
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$server/stat")
  kill -TERM $server
  wait $server 2>/dev/null || true
  echo "${line%\}}, \"system\": \"actgrid\", \"server_cpu_s\": $cpu}"
}

optuna() {  # $1 = processes
  local line
  line=$(/usr/bin/python3 bench/load_anchor.py --grid "$GRID" --workers "$1" --trials "$OPTUNA_TRIALS")
  echo "${line%\}}, \"system\": \"optuna\"}"
}

echo "grid: $GRID (8,000 trials x 50 epoch rows); coordinator and simulated workers share this machine ($(nproc) cores)"
echo "rounds: $ROUNDS; Optuna runs $OPTUNA_TRIALS trials of the same grid per run"
for round in $(seq "$ROUNDS"); do
  for w in "${WORKERS[@]}"; do ours "$w" | tee -a "$OUT" >&2; done
  for w in "${OPTUNA_WORKERS[@]}"; do optuna "$w" | tee -a "$OUT" >&2; done
done

/usr/bin/python3 - "$OUT" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
def med(system, workers, key):
    values = [r[key] for r in runs if r["system"] == system and r["workers"] == workers]
    return statistics.median(values) if values else float("nan")
print()
print(f"{'system':8} {'workers':>7} {'trials/s':>10} {'epoch rows/s':>13} {'lease p50 ms':>13} {'lease p99 ms':>13}")
for system in ("actgrid", "optuna"):
    for workers in sorted({r["workers"] for r in runs if r["system"] == system}):
        print(f"{system:8} {workers:>7} {med(system, workers, 'trials_per_s'):>10.1f} "
              f"{med(system, workers, 'rows_per_s'):>13.0f} {med(system, workers, 'lease_p50_ms'):>13.2f} "
              f"{med(system, workers, 'lease_p99_ms'):>13.2f}")
best = max(med("actgrid", w, "trials_per_s") for w in (1, 10, 100))
best_rows = max(med("actgrid", w, "rows_per_s") for w in (1, 10, 100))
optuna_best = max(med("optuna", w, "trials_per_s") for w in (1, 10))
print()
for w in (1, 10):
    print(f"ratio, {w} worker(s) each: actgrid / Optuna = "
          f"{med('actgrid', w, 'trials_per_s') / med('optuna', w, 'trials_per_s'):.0f}x trials/s")
print(f"ratio, best of each: actgrid {best:.0f} / Optuna {optuna_best:.1f} trials/s = {best / optuna_best:.0f}x")
print(f"targets: >= 2,000 trials/s: {best:.0f} ({'met' if best >= 2000 else 'not met'}); "
      f">= 100,000 epoch rows/s: {best_rows:.0f} ({'met' if best_rows >= 100000 else 'not met'})")
PY
