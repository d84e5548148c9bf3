#!/usr/bin/env python3
"""The anchor of the analysis benchmark: the same two questions answered the way one
would without actgrid, with pandas (Debian's python3-pandas) over a flat SQLite table
of the same trials (one column per factor, the metric, and for curves the epoch).

  analysis_anchor.py COMPARE_DB CURVES_DB [ROUNDS]

COMPARE_DB and CURVES_DB are the databases actgrid_analysis_bench builds. Their trials
are first copied into flat tables in a scratch file next to them (not timed); then each
round times (a) pd.read_sql of the flat tables plus the groupby, and (b) the groupby
alone on DataFrames already in memory. Prints one JSON line per figure:
{"query": ..., "anchor": ..., "ms": median}.

Each groupby computes the statistics actgrid's answer holds (server/analysis/analysis.cc),
no more and no fewer:
- compare, per group: n, mean, sample std, 95% t CI of the mean, median, min, max, and
  the counts diverged, missing (trials without a value) and trials;
- curves, per group and epoch: n, mean, sample std, 95% t CI of the mean (no median, min
  or max: actgrid's curves does not compute them); per group: trials and diverged.
NaN values are skipped on both sides (actgrid's curves skips any non-finite value; these
synthetic databases hold none).
"""
import functools
import json
import math
import os
import sqlite3
import statistics
import struct
import sys
import time

import pandas as pd


def decode_list(text):
    """grid_trials.vals: each element as "<byte length>:<bytes>"."""
    out, i, data = [], 0, text.encode()
    while i < len(data):
        colon = data.index(b":", i)
        n = int(data[i:colon])
        out.append(data[colon + 1:colon + 1 + n].decode())
        i = colon + 1 + n
    return out


@functools.lru_cache(maxsize=None)
def t975(df):
    """t(0.975, df) by bisection on the regularized incomplete beta (no scipy needed);
    cached per df, as actgrid caches it."""
    from math import lgamma, exp, log

    def betacf(a, b, x):
        c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
        d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        f = d
        for m in range(1, 300):
            m2 = 2 * m
            for num in (m * (b - m) * x / ((a + m2 - 1) * (a + m2)),
                        -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))):
                d = 1.0 + num * d
                c = 1.0 + num / c
                d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
                c = c if abs(c) > 1e-300 else 1e-300
                f *= d * c
            if abs(d * c - 1) < 1e-15:
                break
        return f

    def ibeta(a, b, x):
        front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(1 - x))
        if x < (a + 1) / (a + b + 2):
            return front * betacf(a, b, x) / a
        return 1 - front * betacf(b, a, 1 - x) / b

    lo, hi = 0.0, 1000.0
    for _ in range(100):
        mid = (lo + hi) / 2
        cdf = 1 - 0.5 * ibeta(df / 2, 0.5, df / (df + mid * mid))
        lo, hi = (mid, hi) if cdf < 0.975 else (lo, mid)
    return (lo + hi) / 2


EXTENDED_RECORD = 1 << 30  # kRecordExtended in server/store/rows.h


def chunk_test_acc(data):
    """(epoch, test_acc) of every record of an epoch chunk: int32 epoch, int32 layers,
    9 doubles (test_acc is the fourth), an int64 count of non-finite parameters when the
    layer count has EXTENDED_RECORD set, then 44 bytes a layer, little-endian."""
    at = 0
    while at < len(data):
        epoch, layers = struct.unpack_from("<ii", data, at)
        extra = 0
        if layers & EXTENDED_RECORD:
            layers &= ~EXTENDED_RECORD
            extra = 8
        yield epoch, struct.unpack_from("<d", data, at + 8 + 3 * 8)[0]
        at += 8 + 9 * 8 + extra + 44 * layers


def flat_tables_current(scratch):
    """A scratch file of this script's layout (older ones lack the diverged columns)."""
    conn = sqlite3.connect(scratch)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
        columns = {r[1] for r in conn.execute("PRAGMA table_info(results)")}
        return {"results", "epochs", "curve_trials"} <= tables and "diverged" in columns
    finally:
        conn.close()


def flat_tables(compare_db, curves_db, scratch):
    if os.path.exists(scratch):
        if flat_tables_current(scratch):
            return
        os.remove(scratch)
    out = sqlite3.connect(scratch)
    src = sqlite3.connect(compare_db)
    factors = decode_list(src.execute("SELECT factors FROM grids ORDER BY id DESC LIMIT 1").fetchone()[0])
    columns = ", ".join(f + " TEXT" for f in factors)
    rows = src.execute("SELECT m.vals, s.final_test_acc, s.diverged FROM grid_trials m LEFT JOIN summaries s "
                       "ON s.trial_id = m.trial_id ORDER BY m.grid_id, m.position").fetchall()
    out.execute("CREATE TABLE results(%s, final_test_acc REAL, diverged INTEGER)" % columns)
    out.executemany("INSERT INTO results VALUES(%s)" % ", ".join("?" * (len(factors) + 2)),
                    [decode_list(v) + [acc, int(bool(d))] for v, acc, d in rows])
    src = sqlite3.connect(curves_db)
    # One row per trial of the curves grid: curves counts each group's trials and diverged.
    trials = src.execute("SELECT m.vals, s.diverged FROM grid_trials m LEFT JOIN summaries s "
                         "ON s.trial_id = m.trial_id ORDER BY m.grid_id, m.position").fetchall()
    out.execute("CREATE TABLE curve_trials(%s, diverged INTEGER)" % columns)
    out.executemany("INSERT INTO curve_trials VALUES(%s)" % ", ".join("?" * (len(factors) + 1)),
                    [decode_list(v) + [int(bool(d))] for v, d in trials])
    rows = src.execute("SELECT m.vals, e.epoch, e.test_acc FROM grid_trials m JOIN epochs e "
                       "ON e.trial_id = m.trial_id ORDER BY m.grid_id, m.position, e.epoch").fetchall()
    has_chunks = src.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'epoch_chunks'").fetchone()[0]
    if has_chunks:  # schema 3: epochs packed in chunks (see AppendEpochRecord in server/store/rows.h)
        for vals, data in src.execute("SELECT m.vals, c.data FROM grid_trials m JOIN epoch_chunks c "
                                      "ON c.trial_id = m.trial_id ORDER BY m.grid_id, m.position, c.seq"):
            rows.extend((vals, epoch, acc) for epoch, acc in chunk_test_acc(data))
    out.execute("CREATE TABLE epochs(%s, epoch INTEGER, test_acc REAL)" % ", ".join(f + " TEXT" for f in factors))
    out.executemany("INSERT INTO epochs VALUES(%s)" % ", ".join("?" * (len(factors) + 2)),
                    [decode_list(v) + [e, acc] for v, e, acc in rows])
    out.commit()
    out.close()


def add_ci95(out):
    """mean -/+ t(0.975, n-1)·std/√n, NaN below n = 2 (as analysis::DescribeSample)."""
    t = out["count"].map(lambda n: t975(n - 1) if n > 1 else float("nan"))
    half = t * out["std"] / out["count"].map(math.sqrt)
    out["ci95_low"] = out["mean"] - half
    out["ci95_high"] = out["mean"] + half
    return out


def compare_stats(frame, by, column):
    """actgrid compare's row: n, mean, std, CI, median, min, max, diverged, missing, trials."""
    g = frame.groupby(by, sort=False)
    out = add_ci95(g[column].agg(["count", "mean", "std", "median", "min", "max", "size"]))
    out["diverged"] = g["diverged"].sum()
    out["missing"] = out["size"] - out["count"]
    return out


def curves_stats(epochs, trials, by, column):
    """actgrid curves: per group and epoch n, mean, std, CI; per group trials, diverged."""
    points = add_ci95(epochs.groupby(by + ["epoch"], sort=False)[column].agg(["count", "mean", "std"]))
    groups = trials.groupby(by, sort=False)["diverged"].agg(["size", "sum"])
    return points, groups


def timed(rounds, fn):
    ms = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ms)


def main():
    compare_db, curves_db = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    scratch = os.path.join(os.path.dirname(compare_db), "analysis-anchor-flat.db")
    flat_tables(compare_db, curves_db, scratch)
    conn = sqlite3.connect(scratch)
    by = ["activation", "depth"]

    def read_compare():
        return pd.read_sql("SELECT activation, depth, final_test_acc, diverged FROM results", conn)

    def read_curves():
        return (pd.read_sql("SELECT activation, depth, epoch, test_acc FROM epochs", conn),
                pd.read_sql("SELECT activation, depth, diverged FROM curve_trials", conn))

    results, (epochs, trials) = read_compare(), read_curves()
    figures = [
        ("compare", "pandas: read_sql + groupby", timed(rounds, lambda: compare_stats(read_compare(), by, "final_test_acc"))),
        ("compare", "pandas: groupby in memory", timed(rounds, lambda: compare_stats(results, by, "final_test_acc"))),
        ("curves", "pandas: read_sql + groupby", timed(rounds, lambda: curves_stats(*read_curves(), by, "test_acc"))),
        ("curves", "pandas: groupby in memory", timed(rounds, lambda: curves_stats(epochs, trials, by, "test_acc"))),
    ]
    for query, anchor, ms in figures:
        print(json.dumps({"query": query, "anchor": anchor, "ms": ms}))


if __name__ == "__main__":
    main()
