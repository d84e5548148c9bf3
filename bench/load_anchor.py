#!/usr/bin/env python3
"""The anchor of the coordinator load benchmark: Optuna doing the same bookkeeping.

Optuna (Debian's python3-optuna) with SQLite storage and a GridSampler over the same grid
as bench/load_grid.yaml (its factors and seeds), each trial reporting one intermediate
value per epoch (epochs 0..E, as many as actgrid's epoch rows) and then its final value.
Several workers are separate processes sharing the storage, Optuna's own way to spread a
study. No training, like actgrid's simulated workers: what is measured is the storage.

  python3 bench/load_anchor.py --grid bench/load_grid.yaml --workers 1 --trials 400

Prints one line of JSON with the fields actgrid_load_bench prints; the lease latency is
that of study.ask().
"""
import argparse
import json
import math
import multiprocessing
import os
import tempfile
import time

import optuna
import yaml


def search_space(grid_path):
    with open(grid_path) as f:
        doc = yaml.safe_load(f)
    space = {str(k): list(v) for k, v in doc["grid"].items()}
    seeds = doc.get("seeds", 1)
    space["seed"] = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    epochs = int(doc["train"]["epochs"])
    trials = 1
    for values in space.values():
        trials *= len(values)
    return space, epochs, trials


def work(args):
    storage, study_name, space, epochs, count = args
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name, storage=storage,
                              sampler=optuna.samplers.GridSampler(space, seed=1))
    latencies = []
    rows = 0
    first = last = None
    for _ in range(count):
        asked = time.perf_counter()
        trial = study.ask()
        latencies.append((time.perf_counter() - asked) * 1000.0)
        first = asked if first is None else first
        params = {name: trial.suggest_categorical(name, values) for name, values in space.items()}
        rate = 0.05 + 0.01 * (hash(tuple(map(str, params.values()))) % 17)
        value = 0.5
        for e in range(epochs + 1):
            value = 0.5 + 0.45 * (1.0 - math.exp(-rate * e))
            trial.report(value, e)
            rows += 1
        study.tell(trial, value)
        last = time.perf_counter()
    return latencies, rows, first, last


def percentile(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    pos = q * (len(values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default="bench/load_grid.yaml")
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the study")
    parser.add_argument("--trials", type=int, default=0, help="trials in all (default: the whole grid)")
    args = parser.parse_args()
    space, epochs, grid_trials = search_space(args.grid)
    trials = args.trials or grid_trials
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        storage = "sqlite:///" + os.path.join(tmp, "optuna.db")
        optuna.create_study(study_name="load", storage=storage, direction="maximize",
                            sampler=optuna.samplers.GridSampler(space, seed=1))
        shares = [trials // args.workers + (1 if i < trials % args.workers else 0) for i in range(args.workers)]
        jobs = [(storage, "load", space, epochs, n) for n in shares if n > 0]
        start = time.perf_counter()
        if len(jobs) == 1:
            results = [work(jobs[0])]
        else:
            with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
                results = pool.map(work, jobs)
        wall = time.perf_counter() - start
        study = optuna.load_study(study_name="load", storage=storage)
        complete = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    latencies = [x for r in results for x in r[0]]
    rows = sum(r[1] for r in results)
    first = min(r[2] for r in results)
    last = max(r[3] for r in results)
    seconds = last - first
    if complete != trials:
        raise SystemExit(f"error: Optuna stored {complete} of {trials} trials as COMPLETE")
    print(json.dumps({
        "workers": args.workers, "trials": trials, "grid_trials": grid_trials, "rows": rows,
        "seconds": round(seconds, 4), "wall_seconds": round(wall, 4),
        "trials_per_s": round(trials / seconds, 1), "rows_per_s": round(rows / seconds, 1),
        "lease_p50_ms": round(percentile(latencies, 0.5), 3),
        "lease_p99_ms": round(percentile(latencies, 0.99), 3),
    }))


if __name__ == "__main__":
    main()
