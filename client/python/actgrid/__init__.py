"""actgrid from Python: submit grid files, follow them, and read every analysis as a
pandas DataFrame, from a coordinator or straight from a database file.

    import actgrid
    ag = actgrid.connect("127.0.0.1:7070")        # token: $ACTGRID_TOKEN / $ACTGRID_TOKEN_FILE
    grid = ag.submit("examples/quick.yaml", watch=True)
    ag.compare(grid, by="activation,depth")        # a DataFrame, one row per group

    db = actgrid.open_db("actgrid.db")             # the same calls, no coordinator
"""
from . import errors
from ._client import Client, Submitted
from ._doors import Database, Remote
from ._tables import Effects, GridInfo, TestResult
from .errors import (Cancelled, DeadlineExceeded, Error, FailedPrecondition, Internal, InvalidArgument, NotFound,
                     PermissionDenied, ResourceExhausted, Unauthenticated, Unavailable, Unimplemented)

__version__ = "0.1.0"

__all__ = ["connect", "open_db", "Client", "Submitted", "GridInfo", "Effects", "TestResult", "errors", "Error",
           "InvalidArgument", "NotFound", "FailedPrecondition", "ResourceExhausted", "Unauthenticated",
           "PermissionDenied", "Unavailable", "DeadlineExceeded", "Cancelled", "Unimplemented", "Internal"]


def connect(address=None, token=None, tls_ca=None, *, token_file=None, tls=False, timeout=30.0, wait=10.0):
    """A Client of the coordinator at `address` (host:port; default $ACTGRID_SERVER or
    127.0.0.1:7070).

    The bearer token comes from `token`, else `token_file`, else $ACTGRID_TOKEN, else
    the file named by $ACTGRID_TOKEN_FILE, as for the actgrid command. TLS is used with
    `tls_ca` (a CA certificate file, else $ACTGRID_TLS_CA) or with tls=True (the
    system's CAs). `timeout` is each call's deadline in seconds; connect() waits up to
    `wait` seconds for the coordinator and raises Unavailable when it does not answer
    (wait=0: do not wait)."""
    return Client(Remote(address, token=token, token_file=token_file, tls=tls, tls_ca=tls_ca, timeout=timeout,
                         wait=wait))


def open_db(path, cli=None):
    """A read-only Client of a database file, with no coordinator: grids, grid,
    workers, compare, curves, effects, test, layers and export answer as a coordinator
    on that file would (submit, watch and cancel raise Unimplemented).

    It reads through the `actgrid` program (`cli`, else $ACTGRID_CLI, else the one
    this package was built with, else `actgrid` on PATH)."""
    return Client(Database(path, cli=cli))
