"""Every analysis answers the Python package with the numbers the CLI prints with
--format json for the same query, and a database read with open_db() agrees with the
coordinator that wrote it."""
import io
import json
import math

import pandas as pd
import pytest

import actgrid
from actgrid import _doors, _tables
from conftest import run_cli


def same(a, b):
    """Equal values, where the CLI's null is the package's NaN (or None)."""
    missing = lambda v: v is None or (isinstance(v, float) and math.isnan(v))
    if missing(a) or missing(b):
        return missing(a) and missing(b)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def assert_same(python, cli, what):
    assert same(python, cli), f"{what}: python {python!r} != cli {cli!r}"


def cli_json(server, command, grid, *args):
    _, out, _ = run_cli(command, grid, "--server", server.address, "--format", "json", *args)
    return json.loads(out)


STATS = ["n", "mean", "std", "ci95_low", "ci95_high", "median", "min", "max", "diverged", "missing", "trials"]


@pytest.mark.parametrize("kwargs, args", [
    (dict(by="activation,depth"), ["--by", "activation,depth"]),
    (dict(), []),
    (dict(by=["init"], metric="best_test_acc", sort="-mean"), ["--by", "init", "--metric", "best_test_acc",
                                                               "--sort", "-mean"]),
    (dict(by="activation", metric="test_loss", summary="min", where="depth=8,bias=0|0.1"),
     ["--by", "activation", "--metric", "test_loss", "--summary", "min", "--where", "depth=8,bias=0|0.1"]),
    (dict(by="bias,seed", metric="epochs_to_target", where={"activation": ["sigmoid", "tanh"]}),
     ["--by", "bias,seed", "--metric", "epochs_to_target", "--where", "activation=sigmoid|tanh"]),
])
def test_compare_is_the_clis(server, client, quick, kwargs, args):
    df = client.compare(quick, **kwargs)
    cli = cli_json(server, "compare", str(quick.id), *args)
    assert df.attrs["by"] == cli["by"]
    assert (df.attrs["finished"], df.attrs["trials"]) == (cli["finished"], cli["trials"])
    assert len(df) == len(cli["rows"]) > 0
    for (_, row), want in zip(df.iterrows(), cli["rows"]):
        for factor, value in want["group"].items():
            assert_same(row[factor], value, factor)
        for stat in STATS:
            assert_same(row[stat], want[stat], stat)


def test_compare_raw_is_the_message(client, quick):
    raw = client.compare(quick, by="activation", raw=True)
    assert isinstance(raw, actgrid.v1.analysis_pb2.CompareResponse)
    df = client.compare(quick, by="activation")
    assert [r.mean for r in raw.rows] == df["mean"].tolist()


@pytest.mark.parametrize("kwargs, args", [
    (dict(by="activation"), ["--by", "activation"]),
    (dict(by="depth,init", metric="train_loss", where="activation=tanh"),
     ["--by", "depth,init", "--metric", "train_loss", "--where", "activation=tanh"]),
    (dict(by="activation", metric="dead_fraction", layer=1), ["--by", "activation", "--metric", "dead_fraction",
                                                              "--layer", "1"]),
])
def test_curves_are_the_clis(server, client, quick, kwargs, args):
    df = client.curves(quick, **kwargs)
    cli = cli_json(server, "curves", str(quick.id), *args)
    by = cli["by"]
    groups = list(df.groupby(by if len(by) > 1 else by[0], sort=False))
    assert len(groups) == len(cli["groups"]) > 0
    for (_, g), want in zip(groups, cli["groups"]):
        for factor, value in want["group"].items():
            assert_same(g[factor].iloc[0], value, factor)
        assert_same(g["trials"].iloc[0], want["trials"], "trials")
        for column in ["epoch", "n", "mean", "std", "ci95_low", "ci95_high"]:
            assert_same(g[column].tolist(), want[column], column)


@pytest.mark.parametrize("kwargs, args", [
    (dict(), []),
    (dict(metric="test_acc", summary="last:5", where="depth=2"), ["--metric", "test_acc", "--summary", "last:5",
                                                                  "--where", "depth=2"]),
])
def test_effects_are_the_clis(server, client, quick, kwargs, args):
    e = client.effects(quick, **kwargs)
    cli = cli_json(server, "effects", str(quick.id), *args)
    assert e.error_term == cli["error_term"] and e.per_cell == cli["per_cell"] and e.used == cli["used"]
    levels = [(m["factor"], lv, m["range"]) for m in cli["main_effects"] for lv in m["levels"]]
    assert len(e.main_effects) == len(levels) > 0
    for (_, row), (factor, lv, rng) in zip(e.main_effects.iterrows(), levels):
        assert row["factor"] == factor and same(row["range"], rng)
        # the level's label; the CLI's JSON writes numeric labels as numbers
        assert (row["value"] if isinstance(lv["value"], str) else json.loads(row["value"])) == lv["value"]
        for stat in ["n", "mean", "std", "ci95_low", "ci95_high"]:
            assert_same(row[stat], lv[stat], f"{factor} {stat}")
    assert len(e.anova) == len(cli["anova"]) > 0
    for (_, row), want in zip(e.anova.iterrows(), cli["anova"]):
        assert row["term"] == want["term"]
        for stat in ["ss", "df", "ms", "f", "p", "eta2"]:
            assert_same(row[stat], want[stat], f"{want['term']} {stat}")
    assert e.notes == cli["notes"]


def test_test_is_the_clis(server, client, quick):
    t = client.test(quick, a="activation=relu", b={"activation": "reflu"}, where="depth=8", resamples=2000, seed=7)
    cli = cli_json(server, "test", str(quick.id), "--a", "activation=relu", "--b", "activation=reflu",
                   "--where", "depth=8", "--resamples", "2000", "--seed", "7")
    for name in ("a", "b"):
        for stat in ["n", "missing", "mean", "std", "median"]:
            assert_same(t.groups.loc[name, stat], cli[name][stat], f"{name} {stat}")
    assert t.paired == cli["paired"] and t.pairs == cli["pairs"]
    rows = {"welch_t": ("welch", "t", "mean_diff"), "paired_t": ("paired_t", "t", "mean_diff")}
    for row, (key, statistic, estimate) in rows.items():
        for column, field in (("statistic", statistic), ("df", "df"), ("p", "p"), ("estimate", estimate),
                              ("ci95_low", "ci95_low"), ("ci95_high", "ci95_high")):
            assert_same(t.tests.loc[row, column], cli[key][field], f"{row} {column}")
    mw = cli["mann_whitney"]
    assert_same(t.tests.loc["mann_whitney_u", "statistic"], mw["u"], "u")
    assert_same(t.tests.loc["mann_whitney_u", "z"], mw["z"], "z")
    assert_same(t.tests.loc["mann_whitney_u", "p"], mw["p"], "p")
    assert_same(t.tests.loc["mann_whitney_u", "estimate"], mw["rank_biserial"], "rank-biserial")
    for row in ("mean_diff", "cohens_d"):
        for column in ("estimate", "ci95_low", "ci95_high"):
            assert_same(t.tests.loc[row, column], cli[row][column], f"{row} {column}")
    assert t.assumptions == cli["assumptions"]


@pytest.mark.parametrize("kwargs, args", [
    (dict(by="activation"), ["--by", "activation"]),
    (dict(by="activation,depth", epoch=0, where="init=he_normal"),
     ["--by", "activation,depth", "--epoch", "0", "--where", "init=he_normal"]),
])
def test_layers_are_the_clis(server, client, quick, kwargs, args):
    df = client.layers(quick, **kwargs)
    cli = cli_json(server, "layers", str(quick.id), *args)
    want = []
    for g in cli["groups"]:
        for layer in g["layers"]:
            for metric in ["dead_fraction", "sparsity", "grad_norm", "act_mean", "act_std"]:
                want.append((g["group"], g["trials"], layer["layer"], metric, layer[metric]))
    assert len(df) == len(want) > 0
    for (_, row), (group, trials, layer, metric, stat) in zip(df.iterrows(), want):
        for factor, value in group.items():
            assert_same(row[factor], value, factor)
        assert (row["layer"], row["metric"], row["trials"]) == (layer, metric, trials)
        for column in ["n", "mean", "ci95_low", "ci95_high"]:
            assert_same(row[column], stat[column], f"layer {layer} {metric} {column}")


def jsonl(server, grid, *args):
    _, out, _ = run_cli("export", grid, "--server", server.address, "--format", "jsonl", *args)
    return [json.loads(line) for line in out.splitlines()]


def test_export_trials_is_the_clis(server, client, quick):
    df = client.export(quick, where="activation=relu|sigmoid")
    cli = jsonl(server, str(quick.id), "--where", "activation=relu|sigmoid")
    assert len(df) == len(cli) == 48
    for (_, row), want in zip(df.iterrows(), cli):
        for key in ["trial_id", "trial_key", "position", "cell", "seed_rank", "seed", "state"]:
            assert_same(row[key], want[key], key)
        for factor, value in want["factors"].items():
            assert_same(row[factor], value, factor)
        for key, value in want["summary"].items():
            assert_same(row[key], value, key)
        assert row["spec"]["train"]["lr"] == want["spec"]["train"]["lr"]


def test_export_curves_is_the_clis(server, client, quick):
    df = client.export(quick, content="curves", where="activation=tanh,depth=2,init=he_normal")
    cli = jsonl(server, str(quick.id), "--content", "curves", "--where", "activation=tanh,depth=2,init=he_normal")
    assert len(df) == len(cli) == 6 * 101  # a line per trial and epoch
    for (_, row), e in zip(df.iterrows(), cli):
        assert (row["trial_id"], row["state"]) == (e["trial_id"], e["state"])
        for key in ["epoch", "train_loss", "test_loss", "train_acc", "test_acc", "dead_fraction", "grad_norm_first"]:
            assert_same(row[key], e[key], key)


def test_open_db_agrees_with_the_coordinator(server, client, quick):
    db = actgrid.open_db(server.db)
    pd.testing.assert_frame_equal(db.compare(quick, by="activation,depth"), client.compare(quick, by="activation,depth"))
    pd.testing.assert_frame_equal(db.curves(quick, by="activation"), client.curves(quick, by="activation"))
    pd.testing.assert_frame_equal(db.effects(quick).anova, client.effects(quick).anova)
    pd.testing.assert_frame_equal(db.test(quick, a="depth=2", b="depth=8").tests,
                                  client.test(quick, a="depth=2", b="depth=8").tests)
    pd.testing.assert_frame_equal(db.layers(quick, by="depth"), client.layers(quick, by="depth"))
    pd.testing.assert_frame_equal(db.export(quick).drop(columns="spec"), client.export(quick).drop(columns="spec"))
    assert db.export(quick)["spec"].tolist() == client.export(quick)["spec"].tolist()
    assert db.grid(quick.id).raw == client.grid(quick.id).raw
    assert db.grids()["id"].tolist() == client.grids()["id"].tolist()
    assert db.compare("quick", by="activation", raw=True) == client.compare("quick", by="activation", raw=True)


def test_open_db_is_the_cli_on_the_file(server, quick):
    db = actgrid.open_db(server.db)
    _, out, _ = run_cli("compare", "quick", "--db", server.db, "--by", "init,bias", "--format", "json")
    cli = json.loads(out)
    df = db.compare("quick", by="init,bias")
    assert len(df) == len(cli["rows"]) == 4
    for (_, row), want in zip(df.iterrows(), cli["rows"]):
        for stat in STATS:
            assert_same(row[stat], want[stat], stat)


def test_open_db_reads_only(server, quick, tmp_path):
    db = actgrid.open_db(server.db)
    with pytest.raises(actgrid.Unimplemented, match="read only"):
        db.submit("name: x\n")
    with pytest.raises(actgrid.Unimplemented):
        db.cancel(quick)
    with pytest.raises(actgrid.NotFound, match="no such file"):
        actgrid.open_db(str(tmp_path / "missing.db"))
    not_a_db = tmp_path / "text.db"
    not_a_db.write_text("not a database\n")
    with pytest.raises(actgrid.Error):
        actgrid.open_db(str(not_a_db)).grids()


def test_open_db_export_streams_every_chunk(server, quick):
    chunks = actgrid.open_db(server.db).export(quick, content="curves", raw=True)
    assert chunks[0].factors == ["activation", "init", "bias", "depth"]
    assert sum(len(c.rows) for c in chunks) == 120
    assert all(len(t.epochs) == 101 for c in chunks for t in c.rows)


def test_actgrid_call_answers_in_delimited_protobuf_and_fails_with_a_status(server, quick):
    import subprocess
    from actgrid.v1 import analysis_pb2
    from conftest import CLI
    request = analysis_pb2.CompareRequest(grid=str(quick.id), by=["depth"]).SerializeToString()
    ok = subprocess.run([CLI, "call", "Compare", "--db", server.db], input=request, capture_output=True)
    assert ok.returncode == 0 and ok.stderr == b""
    answer = io.BytesIO(ok.stdout)
    size = _doors._varint(answer.read)
    body = answer.read()
    assert len(body) == size > 0
    assert [r.n for r in analysis_pb2.CompareResponse.FromString(body).rows] == [60, 60]
    test = analysis_pb2.TestRequest(grid=str(quick.id), a=[analysis_pb2.Filter(factor="seed", values=["0"])],
                                    b=[analysis_pb2.Filter(factor="seed", values=["1"])],
                                    where=[analysis_pb2.Filter(factor="activation", values=["relu"]),
                                           analysis_pb2.Filter(factor="init", values=["he_normal"]),
                                           analysis_pb2.Filter(factor="bias", values=["0"]),
                                           analysis_pb2.Filter(factor="depth", values=["2"])])
    for method, data, code, message, exit_code in [
            ("Nope", b"", 3, 'call: "Nope" is not one of GetGrid', 2),
            ("Compare", b"\xff\xff", 3, "call: the request is not a valid actgrid.v1.CompareRequest", 2),
            ("Compare", analysis_pb2.CompareRequest(grid="missing").SerializeToString(), 5, 'no grid "missing"', 2),
            ("Test", test.SerializeToString(), 9, "", 1)]:  # FAILED_PRECONDITION: one value a group
        bad = subprocess.run([CLI, "call", method, "--db", server.db], input=data, capture_output=True)
        assert (bad.returncode, bad.stdout) == (exit_code, b"")
        assert bad.stderr.decode().startswith(f"{code} {message}"), bad.stderr


def test_whole_number_labels_stay_exact_and_mixed_labels_stay_text():
    df = pd.DataFrame({"seed": ["12345678901234567891", "2"], "lr": ["0.1", "1"], "act": ["relu", "2"]})
    df = _tables._typed_factors(df, ["seed", "lr", "act"])
    assert df["seed"].tolist() == [12345678901234567891, 2]
    assert df["lr"].tolist() == [0.1, 1.0]
    assert df["act"].tolist() == ["relu", "2"]


def test_numpy_values_and_ids_are_taken_as_their_numbers(client, quick):
    import numpy as np
    ids = client.grids()["id"]
    assert client.grid(ids[ids == quick.id].iloc[0]).id == quick.id  # an np.int64
    by_array = client.compare(quick, by="depth", where={"depth": np.array([2, 8]), "seed": range(0, 2)})
    by_list = client.compare(quick, by="depth", where={"depth": [2, 8], "seed": [0, 1]})
    pd.testing.assert_frame_equal(by_array, by_list)
    assert by_list["n"].tolist() == [40, 40]
    with pytest.raises(actgrid.InvalidArgument, match="needs a value"):
        client.compare(quick, where={"depth": None})
    with pytest.raises(actgrid.InvalidArgument, match="needs a value"):
        client.compare(quick, where={"depth": []})
