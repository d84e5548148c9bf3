"""Fixtures of the Python package's tests: a real actgrid-server started for the session
(with in-process workers), the actgrid CLI to compare answers with, and a grid trained
on it. CTest sets PYTHONPATH (the package assembled by the build), ACTGRID_CLI and
ACTGRID_SERVER_BIN; see tests/python/CMakeLists.txt."""
import os
import socket
import subprocess
import time

import pytest

import actgrid

# The tests choose their own coordinators and tokens: none from the caller's environment,
# cleared before any fixture connects.
for _name in ("ACTGRID_TOKEN", "ACTGRID_TOKEN_FILE", "ACTGRID_TLS_CA", "ACTGRID_SERVER"):
    os.environ.pop(_name, None)

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
QUICK = os.path.join(REPO, "examples", "quick.yaml")


def _binary(env, default):
    path = os.path.abspath(os.environ.get(env) or os.path.join(REPO, "build", *default))
    if not os.access(path, os.X_OK):
        pytest.exit(f"{path} is not built (set {env})", returncode=1)
    return path


CLI = _binary("ACTGRID_CLI", ["client", "cli", "actgrid"])
SERVER = _binary("ACTGRID_SERVER_BIN", ["server", "actgrid-server"])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """An actgrid-server on a free loopback port (`address`, or another one when it is
    taken), stopped at the end."""

    def __init__(self, directory, *args, address=None):
        self.directory, self.args = directory, args
        self.db = os.path.join(directory, "actgrid.db")
        self.log = open(os.path.join(directory, "server.log"), "ab")
        for attempt in range(5):  # a port found free may be taken before the server binds it
            self.address = address or f"127.0.0.1:{free_port()}"
            if self._start():
                return
        raise RuntimeError(f"actgrid-server did not start; see {self.log.name}")

    def _start(self):
        self.proc = subprocess.Popen([SERVER, "--listen", self.address, "--db", self.db, *self.args],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(self.address.split(":"), timeout=0.2):
                    return True
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("actgrid-server did not listen within 20 s")
                time.sleep(0.05)

    def restart(self):
        """Stops the server and starts it again on the same address and database."""
        self.proc.terminate()
        self.proc.wait(timeout=20)
        if not self._start():
            raise RuntimeError(f"actgrid-server did not start again; see {self.log.name}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def run_cli(*args, check=True, env=None):
    """The actgrid command's (returncode, stdout, stderr)."""
    proc = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, env=env, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"actgrid {' '.join(map(str, args))} exited {proc.returncode}: {proc.stderr}")
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("server")), "--local-workers", "2")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def client(server):
    with actgrid.connect(server.address) as c:
        yield c


@pytest.fixture(scope="session")
def quick(client):
    """examples/quick.yaml, submitted and watched to the end."""
    submitted = client.submit(QUICK, watch=True, progress=False)
    assert submitted.grid.state == "done"
    return submitted
