"""Answers as pandas DataFrames in long (tidy) form: one row per group, or per group and
epoch, layer or trial. Factor columns hold the grid file's labels; a factor whose labels
are all numbers ("2", "0.1") becomes a numeric column, as in the CLI's JSON."""
import datetime
import math
import re

import pandas as pd
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor

from .v1 import analysis_pb2, grids_pb2, metrics_pb2

_INTEGER = re.compile(r"^[-+]?\d+$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _numeric_label(label):
    if not _NUMBER.match(label):
        return None
    v = float(label)
    return v if math.isfinite(v) else None


def _typed_factors(df, factors):
    """Factor columns whose every label is a number become numbers: integers when every
    label is written as one ("2", "12345678901234567891"), else floats."""
    for f in factors:
        if f not in df.columns or df.empty:
            continue
        labels = list(df[f])
        if not all(isinstance(v, str) and _numeric_label(v) is not None for v in labels):
            continue
        if all(_INTEGER.match(v) for v in labels):
            df[f] = [int(v) for v in labels]
        else:
            df[f] = [float(v) for v in labels]
    return df


def _where(filters):
    return {f.factor: list(f.values) for f in filters}


def _attrs(df, message, **extra):
    attrs = {}
    for name in ("grid", "grid_id", "metric", "summary", "finished", "trials"):
        if name in message.DESCRIPTOR.fields_by_name:
            attrs[name] = getattr(message, name)
    if "where" in message.DESCRIPTOR.fields_by_name:
        attrs["where"] = _where(message.where)
    if "by" in message.DESCRIPTOR.fields_by_name:
        attrs["by"] = list(message.by)
    if "finished" in attrs:
        attrs["partial"] = attrs["finished"] < attrs["trials"]
    attrs.update(extra)
    df.attrs.update(attrs)
    return df


def compare(r: analysis_pb2.CompareResponse):
    by = list(r.by)
    stats = ["n", "mean", "std", "ci95_low", "ci95_high", "median", "min", "max", "diverged", "missing", "trials"]
    rows = []
    for row in r.rows:
        d = {g.factor: g.value for g in row.group}
        d.update({s: getattr(row, s) for s in stats})
        rows.append(d)
    df = _typed_factors(pd.DataFrame(rows, columns=by + stats), by)
    return _attrs(df, r, sort=r.sort)


def curves(r: analysis_pb2.CurvesResponse):
    by = list(r.by)
    cols = by + ["epoch", "n", "mean", "std", "ci95_low", "ci95_high", "trials", "diverged"]
    rows = []
    for g in r.groups:
        group = {v.factor: v.value for v in g.group}
        for p in g.points:
            d = dict(group)
            d.update(epoch=p.epoch, n=p.n, mean=p.mean, std=p.std, ci95_low=p.ci95_low, ci95_high=p.ci95_high,
                     trials=g.trials, diverged=g.diverged)
            rows.append(d)
    df = _typed_factors(pd.DataFrame(rows, columns=cols), by)
    return _attrs(df, r, layer=r.layer if r.HasField("layer") else None)


class Effects:
    """Main effects and the factorial ANOVA of one metric.

    main_effects: one row per factor level (factor, value, n, mean, std, ci95_low,
    ci95_high, range of the factor); anova: one row per term (term, factors, ss, df, ms,
    f, p, eta2); notes: what was left out and why; raw: the EffectsResponse."""

    def __init__(self, r: analysis_pb2.EffectsResponse):
        rows = []
        for e in r.main_effects:
            for lv in e.levels:
                rows.append(dict(factor=e.factor, value=lv.value, n=lv.n, mean=lv.mean, std=lv.std,
                                 ci95_low=lv.ci95_low, ci95_high=lv.ci95_high, range=e.range))
        self.main_effects = _attrs(pd.DataFrame(rows, columns=["factor", "value", "n", "mean", "std", "ci95_low",
                                                               "ci95_high", "range"]), r)
        self.anova = _attrs(pd.DataFrame(
            [dict(term=a.term, factors=list(a.factors), ss=a.ss, df=a.df, ms=a.ms, f=a.f, p=a.p, eta2=a.eta2)
             for a in r.anova], columns=["term", "factors", "ss", "df", "ms", "f", "p", "eta2"]), r)
        self.factors = list(r.factors)
        self.error_term = r.error_term
        self.per_cell = r.per_cell
        self.seed_ranks = list(r.seed_ranks)
        self.used, self.finished, self.trials = r.used, r.finished, r.trials
        self.notes = list(r.notes)
        self.raw = r

    def __repr__(self):
        notes = "".join(f"\nnote: {n}" for n in self.notes)
        return (f"main effects of {self.raw.metric} ({self.used} trials, {self.per_cell} a cell):\n"
                f"{self.main_effects.to_string(index=False)}\n\nANOVA (error term: {self.error_term}):\n"
                f"{self.anova.to_string(index=False)}{notes}")


class TestResult:
    """Two groups compared on one metric.

    groups: rows "a" and "b" (selection, n, missing, mean, std, median); tests: one row
    per test or interval (test, statistic, df, z, p, estimate, ci95_low, ci95_high):
    welch_t, mann_whitney_u (estimate: rank-biserial), paired_t (when paired),
    mean_diff and cohens_d (bootstrap); paired, pairs, unpaired_reason, assumptions;
    raw: the TestResponse."""

    def __init__(self, r: analysis_pb2.TestResponse):
        nan = float("nan")
        self.groups = _attrs(pd.DataFrame(
            [dict(group=name, selection=_where(s.selection), n=s.n, missing=s.missing, mean=s.mean, std=s.std,
                  median=s.median) for name, s in (("a", r.a), ("b", r.b))]).set_index("group"), r)
        tests = [dict(test="welch_t", statistic=r.welch.t, df=r.welch.df, z=nan, p=r.welch.p,
                      estimate=r.welch.mean_diff, ci95_low=r.welch.ci95_low, ci95_high=r.welch.ci95_high),
                 dict(test="mann_whitney_u", statistic=r.mann_whitney.u, df=nan, z=r.mann_whitney.z,
                      p=r.mann_whitney.p, estimate=r.mann_whitney.rank_biserial, ci95_low=nan, ci95_high=nan)]
        if r.paired:
            t = r.paired_t
            tests.append(dict(test="paired_t", statistic=t.t, df=t.df, z=nan, p=t.p, estimate=t.mean_diff,
                              ci95_low=t.ci95_low, ci95_high=t.ci95_high))
        for name, b in (("mean_diff", r.mean_diff), ("cohens_d", r.cohens_d)):
            tests.append(dict(test=name, statistic=nan, df=nan, z=nan, p=nan, estimate=b.estimate,
                              ci95_low=b.ci95_low, ci95_high=b.ci95_high))
        self.tests = _attrs(pd.DataFrame(tests).set_index("test"), r)
        self.paired, self.pairs = r.paired, r.pairs
        self.unpaired_reason = r.unpaired_reason
        self.mann_whitney_exact = r.mann_whitney.exact
        self.resamples = r.mean_diff.resamples
        self.assumptions = list(r.assumptions)
        self.finished, self.trials = r.finished, r.trials
        self.raw = r

    def __repr__(self):
        return (f"{self.raw.metric}: a vs b ({'paired, ' + str(self.pairs) + ' pairs' if self.paired else 'unpaired'})"
                f"\n{self.groups.to_string()}\n\n{self.tests.to_string()}")


_LAYER_STATS = ["dead_fraction", "sparsity", "grad_norm", "act_mean", "act_std"]


def layers(r: analysis_pb2.LayersResponse):
    by = list(r.by)
    cols = by + ["layer", "metric", "n", "mean", "ci95_low", "ci95_high", "trials"]
    rows = []
    for g in r.groups:
        group = {v.factor: v.value for v in g.group}
        for lr in g.layers:
            for m in _LAYER_STATS:
                s = getattr(lr, m)
                d = dict(group)
                d.update(layer=lr.layer, metric=m, n=s.n, mean=s.mean, ci95_low=s.ci95_low, ci95_high=s.ci95_high,
                         trials=g.trials)
                rows.append(d)
    df = _typed_factors(pd.DataFrame(rows, columns=cols), by)
    return _attrs(df, r, epoch=r.epoch if r.HasField("epoch") else None)


def _scalars(message):
    """The scalar fields of `message` in field order; enums by name."""
    out = {}
    for f in message.DESCRIPTOR.fields:
        if f.label == FieldDescriptor.LABEL_REPEATED or f.type == FieldDescriptor.TYPE_MESSAGE:
            continue
        v = getattr(message, f.name)
        if f.type == FieldDescriptor.TYPE_ENUM:
            v = f.enum_type.values_by_number[v].name if v in f.enum_type.values_by_number else v
        out[f.name] = v
    return out


SUMMARY_COLUMNS = list(_scalars(metrics_pb2.TrialSummary()))
EPOCH_COLUMNS = ["epoch"] + [c for c in _scalars(metrics_pb2.EpochMetrics()) if c != "epoch"]


def export(chunks, curves_content):
    """The export's chunks as one DataFrame: per trial, or per trial and epoch."""
    chunks = iter(chunks)
    first = next(chunks, None)
    factors = list(first.factors) if first else []
    ids = ["trial_id", "trial_key", "position", "cell", "seed_rank", "seed"]
    state = grids_pb2.TrialState
    rows = []
    for chunk in ([first] if first else []) + list(chunks):
        for t in chunk.rows:
            base = {c: getattr(t, c) for c in ids}
            base.update({g.factor: g.value for g in t.factors})
            base["state"] = state.Name(t.state).removeprefix("TRIAL_STATE_")
            if curves_content:
                for e in t.epochs:
                    d = dict(base)
                    d.update({c: v for c, v in _scalars(e).items()})
                    rows.append(d)
            else:
                d = dict(base)
                d.update(_scalars(t.summary) if t.HasField("summary")
                         else {c: None for c in SUMMARY_COLUMNS})
                d["last_error"] = t.last_error
                d["spec"] = json_format.MessageToDict(t.spec, preserving_proto_field_name=True)
                rows.append(d)
    cols = ids + factors + ["state"] + (EPOCH_COLUMNS if curves_content else SUMMARY_COLUMNS + ["last_error", "spec"])
    df = _typed_factors(pd.DataFrame(rows, columns=cols), factors)
    df.attrs.update(grid=first.grid if first else "", grid_id=first.grid_id if first else 0,
                    factors=factors, trials=first.trials if first else 0)
    return df


def _time(ms):
    return pd.Timestamp(ms, unit="ms", tz="UTC") if ms else pd.NaT


def grids(r: grids_pb2.ListGridsResponse):
    cols = ["id", "name", "state", "trials", "cells", "pending", "leased", "succeeded", "diverged", "failed",
            "cancelled", "epochs_done", "epochs_total", "created", "factors"]
    rows = []
    for g in r.grids:
        c = g.counts
        rows.append(dict(id=g.id, name=g.name, state=grid_state(g.state), trials=g.trials, cells=g.cells,
                         pending=c.pending, leased=c.leased, succeeded=c.succeeded, diverged=c.diverged,
                         failed=c.failed, cancelled=c.cancelled, epochs_done=g.epochs_done,
                         epochs_total=g.epochs_total, created=_time(g.created_ms), factors=list(g.factors)))
    return pd.DataFrame(rows, columns=cols)


def workers(r: grids_pb2.ListWorkersResponse):
    cols = ["worker_id", "hostname", "threads", "first_seen", "last_seen", "leased", "completed", "failed"]
    return pd.DataFrame([dict(worker_id=w.worker_id, hostname=w.hostname, threads=w.threads,
                              first_seen=_time(w.first_seen_ms), last_seen=_time(w.last_seen_ms), leased=w.leased,
                              completed=w.completed, failed=w.failed) for w in r.workers], columns=cols)


def grid_state(state):
    return grids_pb2.GridState.Name(state).removeprefix("GRID_STATE_").lower()


class GridInfo:
    """A grid and its progress: id, name, state ("running", "done", "cancelled"),
    factors, cells, trials, counts (per trial state), epochs_done, epochs_total,
    created (UTC), engines; raw: the Grid message."""

    def __init__(self, g: grids_pb2.Grid):
        self.id, self.name, self.state = g.id, g.name, grid_state(g.state)
        self.factors, self.cells, self.trials = list(g.factors), g.cells, g.trials
        self.counts = {f.name: getattr(g.counts, f.name) for f in g.counts.DESCRIPTOR.fields}
        self.epochs_done, self.epochs_total = g.epochs_done, g.epochs_total
        self.created = datetime.datetime.fromtimestamp(g.created_ms / 1000, datetime.timezone.utc)
        self.engines = [dict(engine_version=e.engine_version, build=e.build, trials=e.trials) for e in g.engines]
        self.raw = g

    @property
    def finished(self):
        """Trials that ended: succeeded, diverged, failed or cancelled."""
        c = self.counts
        return c["succeeded"] + c["diverged"] + c["failed"] + c["cancelled"]

    def __repr__(self):
        c = self.counts
        return (f"<grid {self.name} ({self.id}): {self.state}, {self.finished}/{self.trials} trials ended "
                f"({c['succeeded']} succeeded, {c['diverged']} diverged, {c['failed']} failed, "
                f"{c['cancelled']} cancelled)>")
