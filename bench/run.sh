#!/usr/bin/env bash
# actgrid vs PyTorch throughput benchmark (a report, not a test).
#
#   bash bench/run.sh [--quick]      from the repository root, as root on Debian 12
#
# 1. installs what is missing (python3-torch, python3-numpy, libopenblas0-pthread and the
#    build dependencies listed in deps/build-packages.txt);
# 2. builds build/bench/actgrid_bench (Release);
# 3. runs for each mode (tiny, fashion) the C++ side (actgrid_bench) and the PyTorch side
#    (bench/torch_bench.py) one after the other, single-threaded, with the machine's
#    OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE presets removed so OpenBLAS picks its own kernel;
# 4. prints a table with the ratios and the targets, and saves the raw JSON lines to
#    bench/out/results.jsonl.
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
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "usage: bash bench/run.sh [--quick]" >&2; exit 2 ;;
  esac
done

# Fashion-MNIST runs several seeds on each side: the accuracy of one initialization varies
# by about half a point, so the comparison is between means over seeds.
if (( QUICK )); then TINY_EPOCHS=100; FASHION_EPOCHS=1; FASHION_SEEDS=1; else TINY_EPOCHS=400; FASHION_EPOCHS=3; FASHION_SEEDS=3; fi

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

echo "== building actgrid_bench" >&2
{ cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null &&
  cmake --build build --target actgrid_bench -j2 >/dev/null; } || {
  echo "error: building actgrid_bench failed (rerun: cmake --build build --target actgrid_bench)" >&2
  exit 2
}
BENCH=build/bench/actgrid_bench
[[ -x $BENCH ]] || BENCH=$(find build -type f -name actgrid_bench -perm -u+x | head -n1)
[[ -n $BENCH ]] || { echo "error: build/…/actgrid_bench not found" >&2; exit 2; }

# ------------------------------------------------------------------ 3. runs

OUT_DIR=$ROOT/bench/out
RESULTS=$OUT_DIR/results.jsonl
mkdir -p "$OUT_DIR"
: >"$RESULTS"

# The bench processes only: drop the machine's OpenBLAS presets, one thread.
bench_env() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$@"; }

failed=0
run_side() {  # run_side LABEL COMMAND...: appends the JSON line to results.jsonl
  local label=$1 out rc=0
  shift
  echo "== $label: $*" >&2
  out=$(bench_env "$@") || rc=$?
  local line
  line=$(printf '%s\n' "$out" | grep -E '^\{' | tail -n1 || true)
  if (( rc != 0 )) || [[ -z $line ]] || ! printf '%s' "$line" | "$PY" -c 'import json,sys; json.loads(sys.stdin.read())' 2>/dev/null; then
    echo "error: $label failed (exit $rc); output: $out" >&2
    failed=1
    return 0
  fi
  printf '%s\n' "$line" >>"$RESULTS"
}

for mode in tiny fashion; do
  if [[ $mode == tiny ]]; then epochs=$TINY_EPOCHS; seeds=1; else epochs=$FASHION_EPOCHS; seeds=$FASHION_SEEDS; fi
  run_side "actgrid $mode" "$BENCH" "$mode" "$epochs" "$seeds"
  run_side "pytorch $mode" "$PY" bench/torch_bench.py "$mode" "$epochs" "$seeds"
done

# ------------------------------------------------------------------ 4. report

CPU=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^model name[[:space:]]*:[[:space:]]*//')
export CPU QUICK RESULTS
export DATE=$(date '+%Y-%m-%d %H:%M:%S %Z')
export NPROC=$(nproc) LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)

"$PY" - <<'EOF'
import json, os

rows = [json.loads(l) for l in open(os.environ["RESULTS"]) if l.strip()]
get = {(r["mode"], r["side"]): r for r in rows}

print()
print("actgrid vs PyTorch%s" % (" (--quick)" if os.environ["QUICK"] == "1" else ""))
print("date: %s" % os.environ["DATE"])
print("cpu:  %s (%s cores visible, load %s)" % (os.environ["CPU"], os.environ["NPROC"], os.environ["LOADAVG"]))
torch_v = next((r.get("torch_version") for r in rows if r["side"] == "pytorch"), None)
if torch_v:
    print("torch: %s" % torch_v)
print("single-threaded; OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset for the bench processes")

fmt = "%-8s %-8s %6s %5s %8s %10s %12s %12s %9s  %s"
verdicts = []
for mode, key, unit in (("tiny", "steps_per_second", "steps/s"),
                        ("fashion", "samples_per_second", "samples/s")):
    print()
    print(fmt % ("mode", "side", "epochs", "seeds", "steps", "seconds", "steps/s", "samples/s", "test acc", "BLAS core"))
    for side in ("actgrid", "pytorch"):
        r = get.get((mode, side))
        if r is None:
            print(fmt % (mode, side, "-", "-", "-", "-", "-", "-", "-", "FAILED (no result)"))
            continue
        blas = r["blas_core"] + (" (%s)" % r["blas_library"] if r.get("blas_library") else "")
        print(fmt % (mode, side, r["epochs"], r.get("seeds", 1), r["steps"], "%.3f" % r["seconds"],
                     "%.1f" % r["steps_per_second"], "%.1f" % r["samples_per_second"],
                     "%.4f" % r["final_test_acc"], blas))
        if r.get("seeds", 1) > 1:
            print("%-17s test acc per seed: %s" % ("", ", ".join("%.4f" % x for x in r["test_acc_per_seed"])))
    a, p = get.get((mode, "actgrid")), get.get((mode, "pytorch"))
    if not (a and p):
        print("  %s: a side has no result: FAIL" % mode)
        verdicts.append((mode, False))
        continue
    ratio = a[key] / p[key] if p[key] > 0 else float("inf")
    if mode == "tiny":
        ok = ratio >= 100
        print("  ratio actgrid/pytorch (%s): %.1fx   target >= 100x   %s" % (unit, ratio, "PASS" if ok else "FAIL"))
    else:
        diff = 100.0 * (a["final_test_acc"] - p["final_test_acc"])
        ok_ratio, ok_acc = ratio >= 1, abs(diff) <= 1.0
        ok = ok_ratio and ok_acc
        print("  ratio actgrid/pytorch (%s): %.2fx   target >= 1x   %s" % (unit, ratio, "PASS" if ok_ratio else "FAIL"))
        print("  mean test acc actgrid - pytorch: %+.2f points   target |diff| <= 1   %s" % (diff, "PASS" if ok_acc else "FAIL"))
    verdicts.append((mode, ok))

print()
print("overall: " + ", ".join("%s %s" % (m, "PASS" if ok else "FAIL") for m, ok in verdicts))
print("raw results: %s" % os.path.relpath(os.environ["RESULTS"]))
EOF

exit "$failed"
