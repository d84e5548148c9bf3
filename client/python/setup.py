"""Installs the actgrid Python package from the repository, offline:

    python3 -m venv --system-site-packages .venv
    .venv/bin/pip install --no-build-isolation --no-index ./client/python

The messages and stubs are generated from the repository's proto/ while building
(protoc and grpc_python_plugin, from Debian's protobuf-compiler and
protobuf-compiler-grpc); set ACTGRID_PROTO_DIR to build from elsewhere."""
import glob
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.environ.get("ACTGRID_PROTO_DIR") or os.path.normpath(os.path.join(HERE, "..", "..", "proto"))


class BuildWithStubs(build_py):
    """build_py, then the messages and stubs of proto/ into the build."""

    def run(self):
        super().run()
        protos = sorted(glob.glob(os.path.join(PROTO, "actgrid", "v1", "*.proto")))
        if not protos:
            raise SystemExit(f"no actgrid/v1/*.proto under {PROTO}: install from the actgrid repository "
                             "(./client/python) or set ACTGRID_PROTO_DIR")
        protoc, plugin = shutil.which("protoc"), shutil.which("grpc_python_plugin")
        if not protoc or not plugin:
            raise SystemExit("protoc and grpc_python_plugin are needed: "
                             "apt-get install protobuf-compiler protobuf-compiler-grpc")
        subprocess.check_call([protoc, "-I", PROTO, f"--python_out={self.build_lib}",
                               f"--grpc_python_out={self.build_lib}",
                               f"--plugin=protoc-gen-grpc_python={plugin}", *protos])


setup(
    name="actgrid",
    version="0.1.0",
    description="Submit actgrid grid files and read every analysis as pandas DataFrames",
    packages=["actgrid", "actgrid.v1"],
    cmdclass={"build_py": BuildWithStubs},
    python_requires=">=3.9",
    install_requires=["grpcio", "protobuf", "pandas", "tqdm"],
)
