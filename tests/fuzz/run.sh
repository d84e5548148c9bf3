#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz/ (every library instrumented,
# with AddressSanitizer and UndefinedBehaviorSanitizer), replays every input in
# tests/fuzz/regressions/<target>/ (inputs that once crashed), then fuzzes each target
# for SECONDS (default 20) from the seeds in tests/fuzz/corpus/<target>/. Prints the
# executions of each; exits non-zero when an input crashes, leaks, hangs (10 s) or
# needs more than 2 GiB, leaving it in build-fuzz/findings/<target>/.
#   bash tests/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-20}"
if ! command -v clang++ >/dev/null || ! compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang libclang-rt-14-dev >/dev/null
fi
if [ ! -f build-fuzz/CMakeCache.txt ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DACTGRID_FUZZ=ON -DACTGRID_BUILD_TESTS=OFF \
    -DACTGRID_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
targets=(grid_file idx csv submit_request)
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/%/_fuzz}" >/dev/null
status=0
for t in "${targets[@]}"; do
  bin="build-fuzz/tests/fuzz/${t}_fuzz"
  work="build-fuzz/corpus/$t"
  findings="build-fuzz/findings/$t"
  mkdir -p "$work" "$findings"
  cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  if compgen -G "tests/fuzz/regressions/$t/*" >/dev/null; then
    if ! "$bin" -rss_limit_mb=2048 -timeout=10 tests/fuzz/regressions/"$t"/* >"$findings/regressions.log" 2>&1; then
      echo "$t: a regression input fails again (see $findings/regressions.log)"
      status=1
    fi
  fi
  log="$findings/fuzz.log"
  if "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$findings/" \
      -print_final_stats=1 "$work" >"$log" 2>&1; then
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")
    echo "$t: $runs executions in ${seconds}s, no crash"
  else
    echo "$t: FAILED, see $log and the input in $findings/"
    grep -E "ERROR|SUMMARY" "$log" | head -5 || true
    status=1
  fi
done
exit $status
