#!/usr/bin/env bash
# The service benchmark (a report, not a test): bench/service_grid.yaml through a real
# coordinator (actgrid-server) and one actgrid-worker process over TCP loopback, once
# with 1 worker thread and once with N (default: all cores), each on a fresh database.
#
#   bash bench/service.sh [N]        from the repository root, after building build/
#   ROUNDS=5 bash bench/service.sh   more rounds (default 3)
#
# Prints (medians over the rounds) the wall time, the grid's trials per second, and the CPU seconds of the
# coordinator and of the worker (from /proc), then the figures the targets speak of:
#   scaling    = throughput(N threads) / throughput(1 thread)   target >= 0.9 * N
#   overhead   = coordinator CPU / worker CPU                   target <= 5%
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=build
N=${1:-$(nproc)}
ROUNDS=${ROUNDS:-3}
GRID=bench/service_grid.yaml
for b in client/cli/actgrid server/actgrid-server worker/runner/actgrid-worker; do
  [[ -x $BIN/$b ]] || { echo "error: $BIN/$b missing; build first (see README)" >&2; exit 2; }
done
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT

cpu_seconds() {  # utime + stime of a live process, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}

run() {  # $1 = worker threads; prints "wall trials server_cpu worker_cpu"
  local threads=$1 port=$((20000 + RANDOM % 20000))
  local db=$TMP/bench-$threads.db
  rm -f "$db" "$db-wal" "$db-shm"  # a fresh database: nothing to reuse
  $BIN/server/actgrid-server --listen 127.0.0.1:$port --db "$db" 2>"$TMP/server.log" &
  local server=$!
  $BIN/worker/runner/actgrid-worker --coordinator 127.0.0.1:$port --threads "$threads" 2>"$TMP/worker.log" &
  local worker=$!
  sleep 0.5
  local start end
  start=$(date +%s.%N)
  $BIN/client/cli/actgrid submit "$GRID" --server 127.0.0.1:$port --watch --no-progress >/dev/null 2>"$TMP/submit.log" || {
    cat "$TMP/submit.log" "$TMP/server.log" "$TMP/worker.log" >&2; exit 1; }
  end=$(date +%s.%N)
  local scpu wcpu
  scpu=$(cpu_seconds $server)
  wcpu=$(cpu_seconds $worker)
  kill -TERM $worker $server
  wait $worker $server 2>/dev/null || true
  local trials
  trials=$(grep -o '[0-9]* trials' "$TMP/submit.log" | head -1 | cut -d' ' -f1)
  echo "$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}') $trials $scpu $wcpu"
}

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "grid: $GRID; coordinator and worker are separate processes over TCP loopback"
echo "rounds: $ROUNDS, alternating 1 and $N threads (this machine's speed drifts; medians are reported)"
: > "$TMP/r1"; : > "$TMP/rN"
# The machine's own ceiling: N independent single-threaded `actgrid run` processes (each
# with its embedded coordinator) at once, against one alone. Shared hosts often give
# less than N x; the scaling above is judged against N but read next to this.
ceiling() {
  local start mid end i
  start=$(date +%s.%N)
  $BIN/client/cli/actgrid run "$GRID" --db "$TMP/alone.db" --workers 1 --no-progress >/dev/null 2>&1
  mid=$(date +%s.%N)
  for ((i = 0; i < N; i++)); do
    $BIN/client/cli/actgrid run "$GRID" --db "$TMP/c$i.db" --workers 1 --no-progress >/dev/null 2>&1 &
  done
  wait
  end=$(date +%s.%N)
  rm -f "$TMP"/alone.db* "$TMP"/c*.db*
  awk -v s="$start" -v m="$mid" -v e="$end" -v n="$N" 'BEGIN {print n * (m - s) / (e - m)}'
}
: > "$TMP/ceil"
for ((i = 0; i < ROUNDS; i++)); do
  run 1 >> "$TMP/r1"
  run "$N" >> "$TMP/rN"
  ceiling >> "$TMP/ceil"
done
col() { cut -d' ' -f"$2" "$1" | median; }
wall1=$(col "$TMP/r1" 1); trials=$(col "$TMP/r1" 2); scpu1=$(col "$TMP/r1" 3); wcpu1=$(col "$TMP/r1" 4)
wallN=$(col "$TMP/rN" 1); scpuN=$(col "$TMP/rN" 3); wcpuN=$(col "$TMP/rN" 4)
ceil=$(median < "$TMP/ceil")
awk -v ceil="$ceil" -v w1="$wall1" -v wn="$wallN" -v t="$trials" -v s1="$scpu1" -v c1="$wcpu1" -v sn="$scpuN" -v cn="$wcpuN" -v n="$N" 'BEGIN {
  printf "%-10s %8s %10s %14s %12s %10s\n", "threads", "wall s", "trials/s", "coordinator s", "worker s", "overhead"
  printf "%-10d %8.2f %10.2f %14.2f %12.2f %9.2f%%\n", 1, w1, t / w1, s1, c1, 100 * s1 / c1
  printf "%-10d %8.2f %10.2f %14.2f %12.2f %9.2f%%\n", n, wn, t / wn, sn, cn, 100 * sn / cn
  printf "scaling: %.2fx with %d threads (target >= %.1fx); this machine ran %d independent single-threaded runs %.2fx as fast as one\n", w1 / wn, n, 0.9 * n, n, ceil
  printf "coordinator CPU / worker CPU: %.2f%% with 1 thread, %.2f%% with %d (target <= 5%%)\n", 100 * s1 / c1, 100 * sn / cn, n
}'
