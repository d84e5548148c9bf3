#!/usr/bin/env bash
# actgrid vs PyTorch throughput benchmark (a report, not a test).
#
#   bash bench/run.sh [--quick]      from the repository root, as root on Debian 12
#
# 1. installs what is missing (python3-torch, python3-numpy, libopenblas0-pthread and the
#    build dependencies listed in deps/build-packages.txt);
# 2. builds $BUILD_DIR/bench/actgrid_bench (Release; BUILD_DIR defaults to build-release,
#    a build folder of its own, so the developer's build/ keeps its build type), under
#    flock $BUILD_LOCK (default /tmp/actgrid-build.lock) when flock is there;
# 3. tiny mode: PAIRS rounds (default 5), each running in turn the actgrid engine on one
#    net (actgrid_bench tiny, RunTrial, itself the median of 5 runs), PyTorch eager with
#    one net (bench/torch_bench.py), then for each N in BATCHED_NETS (default "64 1024")
#    actgrid packed with N nets (actgrid_bench packed: packs of 16, as a worker trains
#    them) and PyTorch batched with N nets (bench/torch_batched.py): A, B, C, D, ... in
#    every round; fashion mode: PAIRS
#    rounds of the actgrid engine and PyTorch, alternating. Single-threaded, with the machine's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
#    presets removed for the bench processes so OpenBLAS picks its own kernel;
# 4. prints medians over the rounds with their ranges, the ratios and the targets, and
#    saves the raw JSON lines to bench/out/results.jsonl.
#
# The full run takes about half an hour on a 2-core machine (PyTorch batched with 1,024
# nets is about 5 minutes a round at 400 epochs); --quick (100 tiny epochs) about 8 minutes.
#
# Exit status: 0 when every run finished (whether or not the targets are met), 1 when a
# side crashed or printed no result, 2 on a usage error or failed install / build.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

QUICK=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "usage: bash bench/run.sh [--quick]" >&2; exit 2 ;;
  esac
done

# Fashion-MNIST runs several seeds on each side: the accuracy of one initialization varies
# by about half a point, so the comparison is between means over seeds.
if (( QUICK )); then TINY_EPOCHS=100; FASHION_EPOCHS=1; FASHION_SEEDS=1; else TINY_EPOCHS=400; FASHION_EPOCHS=3; FASHION_SEEDS=3; fi
# Tiny mode: rounds of the alternation, and the N of the batched PyTorch side.
PAIRS=${PAIRS:-5}
BATCHED_NETS=${BATCHED_NETS:-64 1024}
[[ $PAIRS =~ ^[1-9][0-9]*$ ]] || { echo "error: PAIRS must be a positive integer" >&2; exit 2; }
for n in $BATCHED_NETS; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "error: BATCHED_NETS must list positive integers" >&2; exit 2; }
done
BUILD_DIR=${BUILD_DIR:-build-release}
BUILD_LOCK=${BUILD_LOCK:-/tmp/actgrid-build.lock}

# Debian's python3 (python3-torch lives there), not whatever python3 is first on PATH.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)

# ------------------------------------------------------------------ 1. packages

# The build packages, one a line in deps/build-packages.txt (the list the README's
# commands and docker/Dockerfile install).
[[ -f deps/build-packages.txt ]] || { echo "error: deps/build-packages.txt missing; run from the repository root" >&2; exit 2; }
BUILD_DEPS=$(tr -s ' \t' '\n' < deps/build-packages.txt | grep -E '^[a-z0-9][a-z0-9.+-]+$' || true)
[[ -n $BUILD_DEPS ]] || { echo "error: deps/build-packages.txt lists no packages" >&2; exit 2; }
PACKAGES="python3-torch python3-numpy libopenblas0-pthread $BUILD_DEPS"

missing=()
for pkg in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if (( ${#missing[@]} )); then
  echo "== installing: ${missing[*]}" >&2
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "error: run as root to install ${missing[*]}" >&2; exit 2; }
    SUDO=(sudo)
  fi
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || exit 2
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >&2 || exit 2
fi

# ------------------------------------------------------------------ 2. build

echo "== building $BUILD_DIR/bench/actgrid_bench (Release)" >&2
LOCK=()
command -v flock >/dev/null && LOCK=(flock "$BUILD_LOCK")
"${LOCK[@]}" sh -c 'cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
  cmake --build "$1" --target actgrid_bench -j2 >/dev/null' sh "$BUILD_DIR" || {
  echo "error: building actgrid_bench failed (rerun: cmake --build $BUILD_DIR --target actgrid_bench)" >&2
  exit 2
}
BENCH=$BUILD_DIR/bench/actgrid_bench
[[ -x $BENCH ]] || BENCH=$(find "$BUILD_DIR" -type f -name actgrid_bench -perm -u+x | head -n1)
[[ -n $BENCH ]] || { echo "error: $BUILD_DIR/…/actgrid_bench not found" >&2; exit 2; }

# ------------------------------------------------------------------ 3. runs

OUT_DIR=$ROOT/bench/out
RESULTS=$OUT_DIR/results.jsonl
mkdir -p "$OUT_DIR"
: >"$RESULTS"

# The bench processes only: drop the machine's OpenBLAS presets, one thread.
bench_env() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$@"; }

failed=0
run_side() {  # run_side ROUND LABEL COMMAND...: appends the JSON line, with its round, to results.jsonl
  local round=$1 label=$2 out rc=0
  shift 2
  echo "== round $round, $label: $*" >&2
  out=$(bench_env "$@") || rc=$?
  local line
  line=$(printf '%s\n' "$out" | grep -E '^\{' | tail -n1 || true)
  if (( rc != 0 )) || [[ -z $line ]] ||
     ! line=$(printf '%s' "$line" | "$PY" -c 'import json,sys; r=json.loads(sys.stdin.read()); r["round"]=int(sys.argv[1]); print(json.dumps(r))' "$round" 2>/dev/null); then
    echo "error: $label failed (exit $rc); output: $out" >&2
    failed=1
    return 0
  fi
  printf '%s\n' "$line" >>"$RESULTS"
}

# Tiny: the sides alternate, round after round, each a process of its own.
for (( round = 1; round <= PAIRS; round++ )); do
  run_side "$round" "actgrid tiny" "$BENCH" tiny "$TINY_EPOCHS" 1
  run_side "$round" "pytorch eager tiny" "$PY" bench/torch_bench.py tiny "$TINY_EPOCHS" 1
  for n in $BATCHED_NETS; do
    run_side "$round" "actgrid packed tiny, $n nets" "$BENCH" packed "$TINY_EPOCHS" "$n"
    run_side "$round" "pytorch batched tiny, $n nets" "$PY" bench/torch_batched.py --nets "$n" \
      --epochs "$TINY_EPOCHS" --repeats 1 --warmup 5
  done
done
# Fashion-MNIST: the sides alternate too, round after round (several seeds each).
for (( round = 1; round <= PAIRS; round++ )); do
  run_side "$round" "actgrid fashion" "$BENCH" fashion "$FASHION_EPOCHS" "$FASHION_SEEDS"
  run_side "$round" "pytorch fashion" "$PY" bench/torch_bench.py fashion "$FASHION_EPOCHS" "$FASHION_SEEDS"
done

# ------------------------------------------------------------------ 4. report

CPU=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^model name[[:space:]]*:[[:space:]]*//')
export CPU QUICK RESULTS
export DATE=$(date '+%Y-%m-%d %H:%M:%S %Z')
export NPROC=$(nproc) LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)

"$PY" - <<'EOF'
import json, os, statistics

rows = [json.loads(l) for l in open(os.environ["RESULTS"]) if l.strip()]

print()
print("actgrid vs PyTorch%s" % (" (--quick)" if os.environ["QUICK"] == "1" else ""))
print("date: %s" % os.environ["DATE"])
print("cpu:  %s (%s cores visible, load %s)" % (os.environ["CPU"], os.environ["NPROC"], os.environ["LOADAVG"]))
torch_v = next((r.get("torch_version") for r in rows if r["side"].startswith("pytorch")), None)
if torch_v:
    print("torch: %s" % torch_v)
print("single-threaded; OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset for the bench processes")

def blas(r):
    return r["blas_core"] + (" (%s)" % r["blas_library"] if r.get("blas_library") else "")

def med_range(values, fmt):
    return "%s (%s-%s)" % (fmt % statistics.median(values), fmt % min(values), fmt % max(values))

verdicts = []

# ---- tiny: rounds of alternating runs; medians over the rounds with their ranges.
tiny_sides = [("actgrid", None, "actgrid engine, one net (RunTrial)")]
tiny_sides.append(("pytorch", None, "PyTorch eager, one net per loop"))
packed_nets = sorted({r["nets"] for r in rows if r["side"] == "actgrid-packed"})
for n in packed_nets:
    tiny_sides.append(("actgrid-packed", n, "actgrid packed, {:,} nets".format(n)))
batched_nets = sorted({r["nets"] for r in rows if r["side"] == "pytorch-batched"})
for n in batched_nets:
    tiny_sides.append(("pytorch-batched", n, "PyTorch batched, {:,} nets".format(n)))
runs = {}
for r in rows:
    if r["mode"] == "tiny":
        runs.setdefault((r["side"], r.get("nets")), {})[r["round"]] = r
rounds = sorted({r["round"] for r in rows if r["mode"] == "tiny"})
epochs = next((r["epochs"] for r in rows if r["mode"] == "tiny"), "-")
print()
print("tiny: circle 2-8-8-8-2 ReLU, batch 10, SGD, %s epochs; %d rounds alternating the sides "
      "(actgrid: each run itself the median of 5)" % (epochs, len(rounds)))
print("network-steps/s = nets x steps / seconds of the timed loop; median over the rounds (min-max)")
fmt = "%-34s %4s %30s %10s  %s"
print(fmt % ("side", "runs", "network-steps/s", "test acc", "BLAS core"))
for side, nets, label in tiny_sides:
    got = runs.get((side, nets), {})
    if not got:
        print(fmt % (label, 0, "-", "-", "FAILED (no result)"))
        continue
    sps = [r["steps_per_second"] for r in got.values()]
    acc = statistics.median(r["final_test_acc"] for r in got.values())
    any_run = next(iter(got.values()))
    print(fmt % (label, len(got), med_range(sps, "%.0f"), "%.4f" % acc, blas(any_run)))
print("  test acc: seed 0's final test accuracy (actgrid one net, eager); the mean over the nets, seeds 0..N-1 (packed, batched)")
print("  per-epoch work: actgrid (both) and eager compute train/test loss and accuracy and the probe metrics;")
print("  batched computes the test accuracy of every net only")

def ratio_line(num_key, den_key, label, target=None):
    a, b = runs.get(num_key, {}), runs.get(den_key, {})
    if not (a and b):
        print("  %s: a side has no result" % label)
        return None
    ratio = statistics.median(r["steps_per_second"] for r in a.values()) / \
        statistics.median(r["steps_per_second"] for r in b.values())
    per_round = [a[k]["steps_per_second"] / b[k]["steps_per_second"] for k in sorted(set(a) & set(b))]
    text = "  %-44s %8.2fx   per round %.2f-%.2fx" % (label, ratio, min(per_round), max(per_round))
    ok = None
    if target is not None:
        ok = ratio >= target
        text += "   target >= %gx   %s" % (target, "PASS" if ok else "FAIL")
    print(text)
    return ok

print()
print("  ratios of the medians (network-steps/s):")
ok = ratio_line(("actgrid", None), ("pytorch", None), "actgrid engine / PyTorch eager", 100)
verdicts.append(("tiny", bool(ok)))
for n in batched_nets:
    ratio_line(("actgrid", None), ("pytorch-batched", n), "actgrid one net / PyTorch batched, {:,} nets".format(n))
for n in packed_nets:
    ok = ratio_line(("actgrid-packed", n), ("actgrid", None), "actgrid packed, {:,} nets / one net".format(n),
                    10 if n == max(packed_nets) else None)
    if n == max(packed_nets):
        verdicts.append(("packed vs one net", bool(ok)))
    if n in batched_nets:
        ok = ratio_line(("actgrid-packed", n), ("pytorch-batched", n),
                        "actgrid packed / PyTorch batched, {:,} nets".format(n), 50 if n == 1024 else None)
        if n == 1024:
            verdicts.append(("packed vs PyTorch batched", bool(ok)))

# ---- fashion: rounds of alternating runs; medians over the rounds with their ranges.
fr = {}
for r in rows:
    if r["mode"] == "fashion":
        fr.setdefault(r["side"], {})[r["round"]] = r
print()
fashion_epochs = next((r["epochs"] for r in rows if r["mode"] == "fashion"), "-")
fashion_seeds = next((r.get("seeds", 1) for r in rows if r["mode"] == "fashion"), "-")
print("fashion: 784-256-256-10 ReLU MLP, Adam, %s epoch(s) x %s seed(s) per run; %d rounds alternating the sides"
      % (fashion_epochs, fashion_seeds, len({k for side in fr.values() for k in side})))
fmt = "%-34s %4s %30s %10s  %s"
print(fmt % ("side", "runs", "samples/s", "test acc", "BLAS core"))
for side, label in (("actgrid", "actgrid engine"), ("pytorch", "PyTorch eager")):
    got = fr.get(side, {})
    if not got:
        print(fmt % (label, 0, "-", "-", "FAILED (no result)"))
        continue
    sps = [r["samples_per_second"] for r in got.values()]
    acc = statistics.median(r["final_test_acc"] for r in got.values())
    print(fmt % (label, len(got), med_range(sps, "%.1f"), "%.4f" % acc, blas(next(iter(got.values())))))
a, p = fr.get("actgrid", {}), fr.get("pytorch", {})
if not (a and p):
    print("  fashion: a side has no result: FAIL")
    verdicts.append(("fashion", False))
else:
    ratio = statistics.median(r["samples_per_second"] for r in a.values()) / \
        statistics.median(r["samples_per_second"] for r in p.values())
    per_round = [a[k]["samples_per_second"] / p[k]["samples_per_second"] for k in sorted(set(a) & set(p))]
    diff = 100.0 * (statistics.median(r["final_test_acc"] for r in a.values()) -
                    statistics.median(r["final_test_acc"] for r in p.values()))
    ok_ratio, ok_acc = ratio >= 1, abs(diff) <= 1.0
    print("  ratio of the medians actgrid/pytorch (samples/s): %.2fx   per round %.2f-%.2fx   target >= 1x   %s"
          % (ratio, min(per_round), max(per_round), "PASS" if ok_ratio else "FAIL"))
    print("  median test acc actgrid - pytorch: %+.2f points   target |diff| <= 1   %s" % (diff, "PASS" if ok_acc else "FAIL"))
    verdicts.append(("fashion", ok_ratio and ok_acc))

print()
print("overall: " + ", ".join("%s %s" % (m, "PASS" if ok else "FAIL") for m, ok in verdicts))
print("raw results: %s" % os.path.relpath(os.environ["RESULTS"]))
EOF

exit "$failed"
