#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz/ (every library instrumented,
# with AddressSanitizer and UndefinedBehaviorSanitizer) and runs them.
#
#   bash tests/fuzz/run.sh                      the test command's run: deterministic
#   bash tests/fuzz/run.sh --explore SECONDS [TARGET...]
#
# The default run replays every input in tests/fuzz/regressions/<target>/ (inputs that
# once failed), then fuzzes each target for the fixed number of executions that
# tests/fuzz/targets gives it, from a fixed seed and a fresh copy of the committed
# corpus (tests/fuzz/corpus/<target>/): the same inputs on every run, so the same
# verdict. --explore fuzzes each target (or the ones named) for SECONDS with a random
# seed, growing the corpus kept in build-fuzz/corpus/<target>/ across explorations.
# Either exits non-zero when an input crashes, leaks, hangs (10 s) or needs more than
# 2 GiB, leaving it in build-fuzz/findings/<target>/ (add it to regressions/ once fixed).
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=ci
seconds=0
if [ "${1:-}" = "--explore" ]; then
  mode=explore
  seconds="${2:?--explore needs SECONDS}"
  shift 2
elif [ $# -gt 0 ]; then
  echo "usage: bash tests/fuzz/run.sh [--explore SECONDS [TARGET...]]" >&2
  exit 2
fi

declare -A runs
targets=()
while read -r name count; do
  case "$name" in ''|'#'*) continue ;; esac
  targets+=("$name")
  runs[$name]=$count
done < tests/fuzz/targets
if [ "$mode" = explore ] && [ $# -gt 0 ]; then
  for t in "$@"; do
    [ -n "${runs[$t]:-}" ] || { echo "unknown target $t (tests/fuzz/targets lists ${targets[*]})" >&2; exit 2; }
  done
  targets=("$@")
fi

if ! command -v clang++ >/dev/null || ! compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang libclang-rt-14-dev >/dev/null
fi
if [ ! -f build-fuzz/CMakeCache.txt ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DACTGRID_FUZZ=ON -DACTGRID_BUILD_TESTS=OFF \
    -DACTGRID_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/%/_fuzz}" >/dev/null

limits=(-rss_limit_mb=2048 -timeout=10 -print_final_stats=1)
status=0
for t in "${targets[@]}"; do
  bin="build-fuzz/tests/fuzz/${t}_fuzz"
  findings="build-fuzz/findings/$t"
  mkdir -p "$findings"
  if compgen -G "tests/fuzz/regressions/$t/*" >/dev/null; then
    if ! "$bin" "${limits[@]}" tests/fuzz/regressions/"$t"/* >"$findings/regressions.log" 2>&1; then
      echo "$t: a regression input fails again (see $findings/regressions.log)"
      status=1
    fi
  fi
  if [ "$mode" = ci ]; then
    work="build-fuzz/ci-corpus/$t"  # the committed corpus, fresh every run
    rm -rf "$work"
    mkdir -p "$work"
    cp tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
    how=(-seed=1 -runs="${runs[$t]}")
    what="${runs[$t]} executions from seed 1"
  else
    work="build-fuzz/corpus/$t"
    mkdir -p "$work"
    cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
    how=(-max_total_time="$seconds")
    what="${seconds}s with a random seed"
  fi
  log="$findings/fuzz.log"
  if "$bin" "${how[@]}" "${limits[@]}" -artifact_prefix="$findings/" "$work" >"$log" 2>&1; then
    executed=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")
    edges=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+' || echo "?")
    echo "$t: $what: $executed executions, $edges edges covered, no crash"
  else
    echo "$t: FAILED ($what), see $log and the input in $findings/"
    grep -E "ERROR|SUMMARY" "$log" | head -5 || true
    status=1
  fi
done
exit $status
