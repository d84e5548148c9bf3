"""The package installs from the repository with pip, offline, into a virtual
environment over Debian's packages, and works there with stubs generated while
installing."""
import os
import shutil
import subprocess
import sys

from conftest import CLI, REPO


def test_pip_installs_the_package_offline(tmp_path, server, quick):
    # A copy of the two folders it needs, so that building leaves nothing in the tree.
    shutil.copytree(os.path.join(REPO, "client", "python"), tmp_path / "client" / "python",
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    shutil.copytree(os.path.join(REPO, "proto"), tmp_path / "proto", ignore=shutil.ignore_patterns("CMakeLists.txt"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")}
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-build-isolation", "--no-index",
                              "--disable-pip-version-check", str(tmp_path / "client" / "python")],
                             capture_output=True, text=True, env=env, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    script = ("import actgrid, sys\n"
              "print(actgrid.__file__)\n"
              f"c = actgrid.connect({server.address!r})\n"
              f"print(c.compare({quick.id}, by='depth')['n'].tolist())\n"
              f"print(actgrid.open_db({server.db!r}, cli={CLI!r}).grid({quick.id}).state)\n")
    run = subprocess.run([str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True, env=env,
                         cwd=str(tmp_path), timeout=60)
    assert run.returncode == 0, run.stderr
    where, counts, state = run.stdout.splitlines()
    assert where.startswith(str(venv)), where
    assert (counts, state) == ("[60, 60]", "done")
