"""Submitting, watching, cancelling and failing: the coordinator's answers as the
package's objects and typed errors, with the CLI's messages."""
import os
import subprocess
import sys

import pytest

import actgrid
from conftest import CLI, QUICK, REPO, Server, free_port, run_cli


def test_submit_watches_a_grid_file_to_the_end(client, quick):
    assert quick.trials == 120 and quick.id > 0
    info = quick.grid
    assert (info.state, info.trials, info.counts["succeeded"]) == ("done", 120, 120)
    assert info.epochs_done == info.epochs_total == 120 * 101
    assert client.grid("quick").id == quick.id
    grids = client.grids()
    assert quick.id in grids["id"].tolist()
    assert grids.set_index("id").loc[quick.id, "state"] == "done"


def test_submit_takes_the_text_too_and_reuses_finished_trials(client, quick):
    with open(QUICK, encoding="utf-8") as f:
        text = f.read()
    again = client.submit(text.replace("name: quick", "name: quick_text"), watch=True, progress=False)
    assert again.trials == again.reused == 120
    assert again.grid.name == "quick_text" and again.grid.state == "done"


def test_dry_run_counts_and_queues_nothing(client, quick):
    before = len(client.grids())
    dry = client.submit(QUICK, dry_run=True)
    assert (dry.id, dry.trials, dry.errors) == (0, 120, [])
    assert len(client.grids()) == before
    _, _, err = run_cli("submit", QUICK, "--dry-run", "--server", client._door.address)
    assert "dry run: 120 trials" in err


@pytest.mark.parametrize("text", [
    "name: typo\ndataset: {name: circle}\ngrid:\n  activaton: [relu, tanh]\n",
    "name: bad\ndataset: {name: circle}\ntrain: {lr: -1}\ngrid:\n  activation: [relu]\n",
    "name: yaml\ngrid: [unclosed\n",
])
def test_a_malformed_grid_file_gives_the_clis_message(client, tmp_path, text):
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    code, _, err = run_cli("submit", str(path), "--server", client._door.address, check=False)
    assert code == 2
    prefix = f"error: {path}: "
    assert err.startswith(prefix), err
    cli_message = err[len(prefix):].rstrip("\n")
    for given in (str(path), text):
        with pytest.raises(actgrid.InvalidArgument) as raised:
            client.submit(given)
        assert raised.value.message == cli_message
        assert raised.value.code.name == "INVALID_ARGUMENT"


def test_a_grid_on_dataset_files_is_refused_over_the_wire(client):
    # The CLI reads dataset files itself and sends their digests; a grid file's text
    # would make the coordinator read its own files, so it is refused with a reason.
    with pytest.raises(actgrid.InvalidArgument, match="read from files"):
        client.submit("name: files\ndataset: {name: fashion_mnist}\ngrid:\n  activation: [relu]\n")


def test_unknown_grids_metrics_and_factors_are_typed(client, quick):
    with pytest.raises(actgrid.NotFound) as raised:
        client.compare("no_such_grid")
    _, _, err = run_cli("compare", "no_such_grid", "--server", client._door.address, check=False)
    assert err.startswith(f"error: {raised.value.message}")
    with pytest.raises(actgrid.InvalidArgument, match="unknown metric"):
        client.compare(quick, metric="nope")
    with pytest.raises(actgrid.InvalidArgument):
        client.compare(quick, by="activaton")
    with pytest.raises(actgrid.InvalidArgument, match="FACTOR=VALUE"):
        client.compare(quick, where="depth")
    with pytest.raises(actgrid.FailedPrecondition):
        client.test(quick, a="activation=relu,depth=2,init=he_normal,bias=0,seed=0",
                    b="activation=tanh,depth=2,init=he_normal,bias=0,seed=0")


def test_cancel_stops_a_grid_and_watch_returns(client):
    with open(QUICK, encoding="utf-8") as f:
        text = f.read().replace("name: quick", "name: long").replace("epochs: 100", "epochs: 100000")
    submitted = client.submit(text)
    info = client.cancel(submitted)
    assert info.state == "cancelled"
    assert client.watch(submitted, progress=False).state == "cancelled"
    assert client.grid("long").counts["cancelled"] > 0


def test_workers_lists_the_in_process_workers(client, quick):
    workers = client.workers()
    assert workers["completed"].sum() >= 120
    assert set(workers.columns) >= {"worker_id", "hostname", "threads", "last_seen", "leased"}


def test_watch_shows_a_progress_bar(server, quick, tmp_path):
    script = ("import actgrid, sys\n"
              f"c = actgrid.connect({server.address!r})\n"
              f"print(c.watch({quick.id}).state)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"
    assert "grid quick" in proc.stderr and "120/120 trials" in proc.stderr


def test_an_unreachable_coordinator_is_unavailable():
    with pytest.raises(actgrid.Unavailable, match="could not reach"):
        actgrid.connect(f"127.0.0.1:{free_port()}", wait=0.5)
    c = actgrid.connect(f"127.0.0.1:{free_port()}", wait=0, timeout=2)
    with pytest.raises(actgrid.Unavailable):
        c.grids()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A coordinator with tokens: a reader and a submitter."""
    directory = tmp_path_factory.mktemp("guarded")
    tokens = directory / "tokens"
    tokens.write_text("reader reader-token-0123456789abcdef\nsubmitter submitter-token-0123456789abcdef\n")
    os.chmod(tokens, 0o600)
    s = Server(str(directory), "--tokens", str(tokens))
    yield s
    s.stop()


def test_auth_errors_are_typed(guarded, monkeypatch, tmp_path):
    # no token
    c = actgrid.connect(guarded.address)
    with pytest.raises(actgrid.Unauthenticated) as raised:
        c.grids()
    assert raised.value.code.name == "UNAUTHENTICATED" and raised.value.message
    _, _, err = run_cli("grids", "--server", guarded.address, check=False,
                        env={k: v for k, v in os.environ.items() if not k.startswith("ACTGRID_TOKEN")})
    assert raised.value.message in err
    # a wrong token
    with pytest.raises(actgrid.Unauthenticated):
        actgrid.connect(guarded.address, token="wrong-token-0123456789abcdef").grids()
    # a reader may read but not submit
    monkeypatch.setenv("ACTGRID_TOKEN", "reader-token-0123456789abcdef")
    reader = actgrid.connect(guarded.address)
    assert reader.grids().empty
    with pytest.raises(actgrid.PermissionDenied) as denied:
        reader.submit(QUICK, dry_run=True)
    assert denied.value.message
    monkeypatch.delenv("ACTGRID_TOKEN")
    # the submitter's token from $ACTGRID_TOKEN_FILE
    token_file = tmp_path / "token"
    token_file.write_text("submitter-token-0123456789abcdef\n")
    monkeypatch.setenv("ACTGRID_TOKEN_FILE", str(token_file))
    assert actgrid.connect(guarded.address).submit(QUICK, dry_run=True).trials == 120
    # an explicit token wins over the environment
    with pytest.raises(actgrid.Unauthenticated):
        actgrid.connect(guarded.address, token="wrong-token-0123456789abcdef").grids()
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(actgrid.InvalidArgument, match="is empty"):
        actgrid.connect(guarded.address, token_file=str(empty))


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A coordinator serving TLS with a self-signed certificate for 127.0.0.1."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    s = Server(str(directory), "--tls-cert", str(cert), "--tls-key", str(key))
    s.ca = str(cert)
    yield s
    s.stop()


def test_tls_with_the_coordinators_ca(tls_server, monkeypatch):
    assert actgrid.connect(tls_server.address, tls_ca=tls_server.ca).grids().empty
    monkeypatch.setenv("ACTGRID_TLS_CA", tls_server.ca)
    assert actgrid.connect(tls_server.address).grids().empty
    monkeypatch.delenv("ACTGRID_TLS_CA")
    # plaintext to a TLS port, and TLS checked against the system's CAs, both fail
    for plain_or_system_cas in (dict(), dict(tls=True)):
        c = actgrid.connect(tls_server.address, wait=0, timeout=3, **plain_or_system_cas)
        with pytest.raises(actgrid.Unavailable):
            c.grids()
    with pytest.raises(actgrid.InvalidArgument, match="CA certificate file"):
        actgrid.connect(tls_server.address, tls_ca="/nonexistent/ca.pem")


def test_grid_files_are_read_as_the_cli_reads_them(client, tmp_path):
    missing = tmp_path / "missing.yaml"
    with pytest.raises(actgrid.NotFound) as raised:
        client.submit(missing)
    _, _, err = run_cli("submit", str(missing), "--server", client._door.address, check=False)
    assert err == f"error: {missing}: {raised.value.message}\n"
    with pytest.raises(actgrid.InvalidArgument, match="grid file is a directory"):
        client.submit(str(tmp_path))
    # a device without end is refused after reading one byte past the bound
    with pytest.raises(actgrid.InvalidArgument, match="more than 1048576 bytes"):
        client.submit("/dev/zero")
    big = tmp_path / "big.yaml"
    big.write_text("name: big\n" + "#" * (1 << 20))
    with pytest.raises(actgrid.InvalidArgument, match="bytes; a grid file may have at most 1048576") as raised:
        client.submit(big)
    _, _, err = run_cli("submit", str(big), "--server", client._door.address, check=False)
    assert err == f"error: {big}: {raised.value.message}\n"


def test_one_line_flow_yaml_is_text(client):
    dry = client.submit("{name: flow, dataset: {name: circle}, grid: {activation: [relu, tanh]}}", dry_run=True)
    assert (dry.trials, dry.errors) == (2, [])


def test_trial_errors_are_shown_cleaned_and_cut():
    from actgrid._client import _shown
    assert _shown("bad\x1b[31m red\x07") == "bad?[31m red?"
    assert _shown("x" * 5000).endswith("... (cut; 5000 characters)")


def test_watch_rides_out_a_coordinator_restart_long_after_it_began(tmp_path):
    """The patience counts from the break, not from the start of the watch."""
    import threading
    import time
    s = Server(str(tmp_path), "--local-workers", "1")
    try:
        c = actgrid.connect(s.address)
        with open(QUICK, encoding="utf-8") as f:
            text = f.read().replace("name: quick", "name: restart").replace("epochs: 100", "epochs: 100000")
        submitted = c.submit(text)
        result = {}

        def watch():
            try:
                result["info"] = c.watch(submitted, progress=False, patience=6)
            except actgrid.Error as e:
                result["error"] = e

        watcher = threading.Thread(target=watch)
        watcher.start()
        time.sleep(7)  # longer than the patience
        s.restart()  # about 2 s without a coordinator
        deadline = time.monotonic() + 20
        while True:  # the channel reconnects within its backoff (at most 2 s)
            try:
                c.cancel(submitted)
                break
            except actgrid.Unavailable:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert "error" not in result, result
        watcher.join(timeout=60)
        assert result["info"].state == "cancelled"
    finally:
        s.stop()
