#!/usr/bin/env bash
# The analysis benchmark beside its anchor: actgrid's compare and curves (coordinator
# over gRPC, and the database read directly) against pandas answering the same
# questions from a flat SQLite table. Run after building build/ (see README.md).
#   bash bench/analysis.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-7}"
if ! /usr/bin/python3 -c "import pandas" 2>/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-pandas >/dev/null
fi
cmake --build build --target actgrid_analysis_bench -j"$(nproc)" >/dev/null
mkdir -p bench/out
./build/bench/actgrid_analysis_bench bench/out "$rounds" | tee bench/out/analysis.txt
/usr/bin/python3 bench/analysis_anchor.py bench/out/analysis-100k.db bench/out/analysis-curves.db "$rounds" \
  > bench/out/analysis-anchor.jsonl
/usr/bin/python3 - <<'PY'
import json
ours = [json.loads(l) for l in open("bench/out/analysis.txt") if l.startswith("{")]
anchor = [json.loads(l) for l in open("bench/out/analysis-anchor.jsonl")]
print("\nagainst the anchor (median ms; ratio = anchor / actgrid, above 1 is faster)")
for query in ("compare", "curves"):
    for a in (x for x in anchor if x["query"] == query):
        for o in (x for x in ours if x["query"] == query):
            print(f"  {query:8s} {o['path']:32s} {o['ms']:8.1f}   {a['anchor']:28s} {a['ms']:8.1f}   {a['ms'] / o['ms']:6.2f}x")
PY
