#!/usr/bin/env python3
"""Executes a notebook headless (nbclient) against a fresh actgrid-server started for it,
with $ACTGRID_SERVER pointing there, in the notebook's folder.

    run_notebook.py examples/notebook.ipynb          # executes it; fails on any error
    run_notebook.py --write examples/notebook.ipynb  # and saves the outputs into it

Needs PYTHONPATH with the package (build/python), and ACTGRID_SERVER_BIN / ACTGRID_CLI
or a build in build/."""
import argparse
import os
import sys
import tempfile

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import Server  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook")
    parser.add_argument("--write", action="store_true", help="save the executed outputs into the notebook")
    parser.add_argument("--timeout", type=int, default=600, help="seconds a cell may run")
    args = parser.parse_args()
    nb = nbformat.read(args.notebook, as_version=4)
    with tempfile.TemporaryDirectory(prefix="actgrid-notebook-") as directory:
        server = Server(directory, "--local-workers", "2")
        try:
            # the kernel inherits these; it runs in the notebook's folder
            os.environ["ACTGRID_SERVER"] = server.address
            os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # no debugger warnings
            os.environ["PYTHONPATH"] = os.pathsep.join(
                os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)
            NotebookClient(nb, timeout=args.timeout, kernel_name="python3", record_timing=False,
                           resources={"metadata": {"path": os.path.dirname(os.path.abspath(args.notebook))}}
                           ).execute()
        finally:
            server.stop()
    if args.write:
        nbformat.write(nb, args.notebook)
    print(f"{args.notebook}: {sum(c.cell_type == 'code' for c in nb.cells)} code cells executed"
          + (", outputs written" if args.write else ""))


if __name__ == "__main__":
    main()
