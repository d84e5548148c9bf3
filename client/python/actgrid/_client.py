"""The Client: the CLI's commands as methods returning DataFrames."""
import numbers
import os
import sys
import time

from . import _tables, errors
from .v1 import analysis_pb2, grids_pb2

MAX_GRID_FILE_BYTES = 1 << 20  # the coordinator refuses larger grid files


def _grid_ref(grid):
    """A grid reference from an id, a name, or a GridInfo / Submitted."""
    if isinstance(grid, (_tables.GridInfo, Submitted)):
        return str(grid.id)
    if isinstance(grid, bool) or not isinstance(grid, (numbers.Integral, str)):
        raise TypeError(f"grid: expected an id, a name, a GridInfo or a Submitted, got {type(grid).__name__}")
    return str(int(grid)) if isinstance(grid, numbers.Integral) else grid


def _split(text, sep):
    """`text` split at `sep` outside parentheses ("reflu(left=0.1, right=1)" stays whole)."""
    parts, depth, cur = [], 0, ""
    for c in text:
        if c == "(":
            depth += 1
        elif c == ")":
            depth = max(0, depth - 1)
        if c == sep and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        cur += c
    parts.append(cur)
    return parts


def _label(value, factor, name):
    if value is None:
        raise errors.InvalidArgument(f"{name}: {factor} needs a value ({factor}=VALUE)")
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "item") and callable(value.item):  # a numpy scalar: its Python value
        value = value.item()
    return str(value)


def _filters(where, name="where"):
    """Filters from {"depth": 8, "activation": ["relu", "tanh"]}, or the CLI's text
    ("depth=8,activation=relu|tanh"), or a list of such texts."""
    if where is None:
        return []
    merged = {}
    if isinstance(where, dict):
        for factor, values in where.items():
            factor = str(factor)
            if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
                values = [values]
            labels = [_label(v, factor, name) for v in values]
            if not labels:
                raise errors.InvalidArgument(f"{name}: {factor} needs a value ({factor}=VALUE)")
            merged.setdefault(factor, []).extend(labels)
    else:
        items = [where] if isinstance(where, str) else list(where)
        for item in items:
            for part in _split(item, ","):
                factor, eq, values = part.partition("=")
                if not eq or not factor:
                    raise errors.InvalidArgument(
                        f"{name}: {part!r} is not FACTOR=VALUE (e.g. depth=8 or activation=relu|tanh)")
                for v in _split(values, "|"):
                    if not v:
                        raise errors.InvalidArgument(f"{name}: {factor} needs a value ({factor}=VALUE)")
                    merged.setdefault(factor, []).append(v)
    return [analysis_pb2.Filter(factor=f, values=v) for f, v in merged.items()]


def _too_large(size):
    return errors.InvalidArgument(f"file: {size} bytes; a grid file may have at most {MAX_GRID_FILE_BYTES} bytes "
                                  "(1 MiB)")


def _read_grid_file(path):
    """The grid file's text, with the CLI's errors; at most one byte past the bound is
    read, so a device or a pipe without end is refused too."""
    if not os.path.exists(path):
        raise errors.NotFound(f"grid file not found: {path}")
    if os.path.isdir(path):
        raise errors.InvalidArgument(f"grid file is a directory: {path}")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_GRID_FILE_BYTES + 1)
    except OSError as e:
        raise errors.InvalidArgument(f"cannot read grid file {path}: {e.strerror}") from None
    if len(data) > MAX_GRID_FILE_BYTES:
        size = os.path.getsize(path) if os.path.isfile(path) else 0
        if size > MAX_GRID_FILE_BYTES:
            raise _too_large(size)
        raise errors.InvalidArgument(f"file: more than {MAX_GRID_FILE_BYTES} bytes; a grid file may have at most "
                                     f"{MAX_GRID_FILE_BYTES} bytes (1 MiB)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.InvalidArgument(f"{path}: not UTF-8 text") from None


def _shown(message, limit=2000):
    """A trial's error message fit for a terminal: no control characters, cut at `limit`."""
    message = "".join(c if c.isprintable() or c == "\n" else "?" for c in message)
    return message if len(message) <= limit else message[:limit] + f" ... (cut; {len(message)} characters)"


def _by(by):
    if by is None:
        return []
    if isinstance(by, str):
        return [b for b in by.split(",") if b]
    return [str(b) for b in by]


class Submitted:
    """What the coordinator said to a submission: id (0 on a dry run), trials, reused
    (identical trials already finished), shared (already queued by another grid),
    errors (a dry run's problems), grid (its GridInfo after watching); raw: the
    SubmitGridResponse."""

    def __init__(self, r: grids_pb2.SubmitGridResponse, dry_run):
        self.id, self.trials, self.reused, self.shared = r.grid_id, r.trials, r.reused, r.shared
        self.errors = list(r.errors)
        self.dry_run = dry_run
        self.grid = None
        self.raw = r

    def __repr__(self):
        if self.dry_run:
            verdict = f"refused: {len(self.errors)} problems" if self.errors else "the coordinator accepts it"
            return f"<dry run: {self.trials} trials, {verdict}>"
        state = f", {self.grid.state}" if self.grid else ""
        return f"<grid {self.id}: {self.trials} trials, {self.reused} reused, {self.shared} shared{state}>"


class Client:
    """A coordinator (from connect()) or a database file (from open_db()).

    Every query method takes the grid (id, name or a returned object) and the options
    of the CLI command of the same name, and returns a pandas DataFrame in long form,
    or the protobuf response with raw=True. Failures raise actgrid.Error subclasses."""

    def __init__(self, door):
        self._door = door

    def __repr__(self):
        return f"<actgrid.Client {self._door.where()}>"

    def close(self):
        self._door.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- grids ----

    def submit(self, path_or_text, watch=False, dry_run=False, progress=True):
        """Submits a grid file: a path (str or os.PathLike) or the file's text (a str
        holding a newline). The coordinator parses, validates and expands it as
        `actgrid submit` does; a bad file raises InvalidArgument with the CLI's
        message. With watch=True, follows the grid until it is done (a tqdm bar
        unless progress=False). With dry_run=True nothing is queued: the result's
        .errors lists every problem."""
        if isinstance(path_or_text, str) and ("\n" in path_or_text or path_or_text.lstrip().startswith("{")):
            text = path_or_text
        elif isinstance(path_or_text, (str, os.PathLike)):
            text = _read_grid_file(os.fspath(path_or_text))
        else:
            raise TypeError(f"submit: expected a path or a grid file's text, got {type(path_or_text).__name__}")
        r = self._door.call("SubmitGrid", grids_pb2.SubmitGridRequest(grid_file=text, dry_run=dry_run))
        submitted = Submitted(r, dry_run)
        if watch and not dry_run:
            try:
                submitted.grid = self.watch(submitted, progress=progress)
            except KeyboardInterrupt:
                print(f"stopped watching; grid {submitted.id} goes on (cancel({submitted.id}) stops it)",
                      file=sys.stderr)
                raise
        return submitted

    def grid(self, grid, raw=False):
        """One grid's state and progress (GridInfo)."""
        g = self._door.call("GetGrid", grids_pb2.GridRef(grid=_grid_ref(grid)))
        return g if raw else _tables.GridInfo(g)

    def grids(self, limit=100, raw=False):
        """The grids, newest first: one row each."""
        r = self._door.call("ListGrids", grids_pb2.ListGridsRequest(limit=limit))
        return r if raw else _tables.grids(r)

    def cancel(self, grid, raw=False):
        """Cancels the grid's pending and running trials; its GridInfo after."""
        g = self._door.call("CancelGrid", grids_pb2.GridRef(grid=_grid_ref(grid)))
        return g if raw else _tables.GridInfo(g)

    def workers(self, raw=False):
        """The workers the coordinator has seen, most recently seen first."""
        r = self._door.call("ListWorkers", grids_pb2.ListWorkersRequest())
        return r if raw else _tables.workers(r)

    def watch(self, grid, progress=True, patience=30.0):
        """Follows the grid until it is done or cancelled and returns its GridInfo. A
        broken stream is reopened while the coordinator comes back within `patience`
        seconds. Interrupting (Ctrl-C) stops watching; the grid goes on."""
        ref = _grid_ref(grid)
        start = self.grid(ref)
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=max(start.epochs_total, 1), unit="epoch", unit_scale=True, dynamic_ncols=True,
                       mininterval=0.5, desc=f"grid {start.name} ({start.id})")

        def show(info):
            if bar is None:
                return
            bar.set_postfix_str(f"{info.finished}/{info.trials} trials, {info.counts['failed']} failed",
                                refresh=False)
            bar.update(info.epochs_done - bar.n)  # redraws at most every mininterval

        # As the CLI: each stream has a long deadline and is reopened; once broken, it is
        # reopened waiting for the coordinator (wait_for_ready) for up to `patience`
        # seconds since the break, which every event resets.
        broken, broken_since = False, 0.0
        request = grids_pb2.GridRef(grid=ref)
        try:
            while True:
                failure = None
                try:
                    for event in self._door.stream("WatchGrid", request, timeout=patience if broken else 600.0,
                                                   wait_for_ready=broken):
                        broken = False
                        for message in event.errors:
                            text = f"trial failed: {_shown(message)}"
                            if bar is not None:
                                bar.write(text, file=sys.stderr)
                            else:
                                print(text, file=sys.stderr)
                        info = _tables.GridInfo(event.grid)
                        show(info)
                        if info.state != "running":
                            return info
                except (errors.Unavailable, errors.DeadlineExceeded) as e:
                    failure = e
                now = time.monotonic()
                if not broken:
                    broken, broken_since = True, now
                if now - broken_since > patience:
                    raise failure or errors.Unavailable(f"the watch of grid {ref} kept ending early")
                time.sleep(0.25)
        finally:
            if bar is not None:
                bar.close()

    # ---- analyses ----

    def compare(self, grid, by=None, metric="final_test_acc", summary=None, where=None, sort=None, raw=False):
        """Groups of finished trials on one metric: a row per group with n, mean, std,
        ci95_low, ci95_high, median, min, max, diverged, missing, trials."""
        r = self._door.call("Compare", analysis_pb2.CompareRequest(
            grid=_grid_ref(grid), by=_by(by), metric=metric or "", summary=summary or "", where=_filters(where),
            sort=sort or ""))
        return r if raw else _tables.compare(r)

    def curves(self, grid, by=None, metric="test_acc", layer=None, where=None, raw=False):
        """Learning curves: a row per group and epoch with the mean and 95% band over
        the group's trials; layer=K for a hidden layer's metric."""
        request = analysis_pb2.CurvesRequest(grid=_grid_ref(grid), by=_by(by), metric=metric or "",
                                             where=_filters(where))
        if layer is not None:
            request.layer = layer
        r = self._door.call("Curves", request)
        return r if raw else _tables.curves(r)

    def effects(self, grid, metric="final_test_acc", summary=None, where=None, raw=False):
        """Main effects and the factorial ANOVA (an Effects with .main_effects and
        .anova DataFrames)."""
        r = self._door.call("Effects", analysis_pb2.EffectsRequest(
            grid=_grid_ref(grid), metric=metric or "", summary=summary or "", where=_filters(where)))
        return r if raw else _tables.Effects(r)

    def test(self, grid, a, b, metric="final_test_acc", summary=None, where=None, resamples=10000, seed=0,
             raw=False):
        """Two groups (a, b: filters, as `where`) on one metric: Welch's t, Mann-Whitney
        U, a paired t when they share seeds, effect sizes with bootstrap intervals (a
        TestResult with .groups and .tests DataFrames)."""
        r = self._door.call("Test", analysis_pb2.TestRequest(
            grid=_grid_ref(grid), metric=metric or "", summary=summary or "", a=_filters(a, "a"),
            b=_filters(b, "b"), where=_filters(where), resamples=resamples, seed=seed))
        return r if raw else _tables.TestResult(r)

    def layers(self, grid, by=None, epoch=None, where=None, raw=False):
        """Per hidden layer: a row per group, layer and statistic (dead_fraction,
        sparsity, grad_norm, act_mean, act_std) with n, mean and 95% CI."""
        request = analysis_pb2.LayersRequest(grid=_grid_ref(grid), by=_by(by), where=_filters(where))
        if epoch is not None:
            request.epoch = epoch
        r = self._door.call("Layers", request)
        return r if raw else _tables.layers(r)

    def export(self, grid, content="trials", where=None, raw=False):
        """The selected trials: a row per trial (ids, factors, state, summary, spec) with
        content="trials", or per trial and epoch with content="curves". raw=True gives
        the list of ExportChunk messages."""
        if content not in ("trials", "curves"):
            raise errors.InvalidArgument(f"content: {content!r} is not one of trials, curves")
        request = analysis_pb2.ExportRequest(
            grid=_grid_ref(grid), where=_filters(where),
            content=analysis_pb2.EXPORT_CONTENT_CURVES if content == "curves" else analysis_pb2.EXPORT_CONTENT_TRIALS)
        chunks = self._door.stream("Export", request, timeout=None)
        if raw:
            return list(chunks)
        return _tables.export(chunks, content == "curves")
