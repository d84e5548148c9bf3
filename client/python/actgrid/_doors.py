"""The two ways in: a coordinator over gRPC, and a database file read by `actgrid call`.

Both answer the same method names with the same protobuf messages, so everything above
them (tables, errors) is shared.
"""
import io
import os
import shutil
import subprocess

import grpc
from google.protobuf.message import DecodeError

from . import errors
from .v1 import analysis_pb2, analysis_pb2_grpc, grids_pb2, grids_pb2_grpc

DEFAULT_SERVER = "127.0.0.1:7070"
MAX_MESSAGE_BYTES = 256 << 20  # as the coordinator and the CLI

_GRIDS_METHODS = {"SubmitGrid", "GetGrid", "ListGrids", "WatchGrid", "CancelGrid", "ListWorkers"}

# The response message of each method (a stream's for WatchGrid and Export).
RESPONSES = {
    "SubmitGrid": grids_pb2.SubmitGridResponse,
    "GetGrid": grids_pb2.Grid,
    "ListGrids": grids_pb2.ListGridsResponse,
    "WatchGrid": grids_pb2.GridEvent,
    "CancelGrid": grids_pb2.Grid,
    "ListWorkers": grids_pb2.ListWorkersResponse,
    "Compare": analysis_pb2.CompareResponse,
    "Curves": analysis_pb2.CurvesResponse,
    "Effects": analysis_pb2.EffectsResponse,
    "Test": analysis_pb2.TestResponse,
    "Layers": analysis_pb2.LayersResponse,
    "Export": analysis_pb2.ExportChunk,
}


def _read_token_file(path):
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as e:
        raise errors.InvalidArgument(f"token file {path}: {e.strerror}") from None
    if not token:
        raise errors.InvalidArgument(f"token file {path} is empty")
    return token


def resolve_token(token=None, token_file=None):
    """The bearer token as the CLI finds it: `token`, else `token_file`, else
    $ACTGRID_TOKEN, else the file $ACTGRID_TOKEN_FILE; None without one."""
    if token:
        return token.strip()
    if token_file:
        return _read_token_file(token_file)
    if os.environ.get("ACTGRID_TOKEN"):
        return os.environ["ACTGRID_TOKEN"].strip()
    if os.environ.get("ACTGRID_TOKEN_FILE"):
        return _read_token_file(os.environ["ACTGRID_TOKEN_FILE"])
    return None


class Remote:
    """A coordinator reached over gRPC."""

    def __init__(self, address=None, token=None, token_file=None, tls=False, tls_ca=None, timeout=30.0,
                 wait=10.0):
        self.address = address or os.environ.get("ACTGRID_SERVER") or DEFAULT_SERVER
        self.timeout = timeout
        token = resolve_token(token, token_file)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        tls_ca = tls_ca or os.environ.get("ACTGRID_TLS_CA") or None
        # As the CLI's channel: a ping every 10 s declares a silent connection dead within
        # 15 s (long watches and exports stay open on them); quick reconnects.
        options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.keepalive_time_ms", 10000), ("grpc.keepalive_timeout_ms", 5000),
                   ("grpc.http2.max_pings_without_data", 0), ("grpc.keepalive_permit_without_calls", 1),
                   ("grpc.initial_reconnect_backoff_ms", 200), ("grpc.max_reconnect_backoff_ms", 2000)]
        if tls or tls_ca:
            root = None
            if tls_ca:
                try:
                    with open(tls_ca, "rb") as f:
                        root = f.read()
                except OSError as e:
                    raise errors.InvalidArgument(f"CA certificate file {tls_ca}: {e.strerror}") from None
            self._channel = grpc.secure_channel(self.address, grpc.ssl_channel_credentials(root), options)
        else:
            self._channel = grpc.insecure_channel(self.address, options)
        self._grids = grids_pb2_grpc.GridsStub(self._channel)
        self._analysis = analysis_pb2_grpc.AnalysisStub(self._channel)
        if wait:
            try:
                grpc.channel_ready_future(self._channel).result(timeout=wait)
            except grpc.FutureTimeoutError:
                self._channel.close()
                raise errors.Unavailable(f"could not reach the coordinator at {self.address} within {wait:g} s") from None

    def where(self):
        return f"coordinator {self.address}"

    def _method(self, method):
        return getattr(self._grids if method in _GRIDS_METHODS else self._analysis, method)

    def call(self, method, request):
        try:
            return self._method(method)(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e) from None

    def stream(self, method, request, timeout=None, wait_for_ready=False):
        """The messages of a server stream; `timeout` bounds the whole stream (None: none);
        with wait_for_ready it waits for an unreachable coordinator until then."""
        responses = self._method(method)(request, timeout=timeout, metadata=self._metadata,
                                         wait_for_ready=wait_for_ready)
        try:
            yield from responses
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e) from None
        finally:
            responses.cancel()

    def close(self):
        self._channel.close()


def find_cli(cli=None):
    """The `actgrid` program: `cli`, else $ACTGRID_CLI, else the one this package was
    built beside, else `actgrid` on PATH."""
    if cli:
        return cli
    if os.environ.get("ACTGRID_CLI"):
        return os.environ["ACTGRID_CLI"]
    try:
        from ._build import ACTGRID_CLI  # written by the CMake build
        if os.access(ACTGRID_CLI, os.X_OK):
            return ACTGRID_CLI
    except ImportError:
        pass
    found = shutil.which("actgrid")
    if found:
        return found
    raise errors.Unavailable("the actgrid program was not found: open_db reads a database through it; "
                             "pass cli=PATH, set $ACTGRID_CLI, or put actgrid on PATH")


def _varint(read):
    """A varint read through `read(n)`; None at the end of the input."""
    shift = value = 0
    while True:
        b = read(1)
        if not b:
            if shift:
                raise errors.Internal("the answer from actgrid call ends inside a message size")
            return None
        value |= (b[0] & 0x7F) << shift
        if b[0] < 0x80:
            return value
        shift += 7
        if shift > 63:
            raise errors.Internal("the answer from actgrid call has a bad message size")


def _read_message(method, read):
    """The next delimited response of `method` through `read(n)`; None at the end."""
    size = _varint(read)
    if size is None:
        return None
    data = read(size)
    if len(data) != size:
        raise errors.Internal(f"the answer from actgrid call ends inside a message ({len(data)} of {size} bytes)")
    try:
        return RESPONSES[method].FromString(data)
    except DecodeError as e:
        raise errors.Internal(f"the answer from actgrid call is not a {RESPONSES[method].DESCRIPTOR.full_name}: "
                              f"{e}") from None


def _failure(returncode, stderr):
    text = stderr.decode("utf-8", "replace").strip()
    first, _, rest = text.partition(" ")
    if first.isdigit():
        return errors.from_code(int(first), rest)
    return errors.Internal(f"actgrid call exited with {returncode}: {text}")


class Database:
    """A database file, read through `actgrid call --db`: the same answers as a
    coordinator on that file, with no coordinator (the file is opened read-only)."""

    def __init__(self, path, cli=None):
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise errors.NotFound(f"database file {path}: no such file")
        self.path = path
        self.cli = find_cli(cli)

    def where(self):
        return f"database {self.path}"

    def _unsupported(self, method):
        if method not in ("GetGrid", "ListGrids", "ListWorkers", "Compare", "Curves", "Effects", "Test", "Layers",
                          "Export"):
            raise errors.Unimplemented(f"{method}: a database file is read only; connect() to a coordinator to "
                                       "submit, watch or cancel grids")

    def _start(self, method):
        try:
            return subprocess.Popen([self.cli, "call", method, "--db", self.path], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as e:
            raise errors.Unavailable(f"could not start {self.cli}: {e.strerror}") from None

    def call(self, method, request):
        self._unsupported(method)
        proc = self._start(method)
        try:
            out, err = proc.communicate(request.SerializeToString())
        finally:
            if proc.poll() is None:  # interrupted: leave no reader behind
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            raise _failure(proc.returncode, err)
        answer = io.BytesIO(out)
        message = _read_message(method, answer.read)
        if message is None:
            raise errors.Internal("actgrid call gave no answer")
        return message

    def stream(self, method, request, timeout=None, wait_for_ready=False):
        self._unsupported(method)
        proc = self._start(method)
        try:
            try:
                proc.stdin.write(request.SerializeToString())
                proc.stdin.close()
            except BrokenPipeError:  # it stopped before reading: its stderr says why
                pass
            while True:
                message = _read_message(method, proc.stdout.read)
                if message is None:
                    break
                yield message
            proc.stdout.close()
            err = proc.stderr.read()
            if proc.wait() != 0:
                raise _failure(proc.returncode, err)
        finally:
            if proc.poll() is None:  # the caller stopped early
                proc.kill()
                proc.wait()
            for f in (proc.stdin, proc.stdout, proc.stderr):
                if f and not f.closed:
                    f.close()

    def close(self):
        pass
