"""Typed errors: every failed call raises a subclass of :class:`Error`.

Each carries the gRPC status code (``.code``, a :class:`grpc.StatusCode`) and the
coordinator's message (``.message``), the same words the ``actgrid`` command prints.
A database opened with :func:`actgrid.open_db` raises the same classes.
"""
import grpc


class Error(Exception):
    """A call to a coordinator (or a database) failed."""

    code = grpc.StatusCode.UNKNOWN

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self):
        return f"{self.code.name}: {self.message}"


class InvalidArgument(Error):
    """A bad grid file, metric, factor, filter value or option; the message says which."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(Error):
    """No grid of that id or name."""

    code = grpc.StatusCode.NOT_FOUND


class FailedPrecondition(Error):
    """The question cannot be answered yet, e.g. no balanced design for effects."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(Error):
    """A limit was reached: a grid with too many trials, too many streams, a full disk."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unauthenticated(Error):
    """The coordinator wants a token, or did not accept the one given."""

    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(Error):
    """The token's role may not make this call (a reader submitting, for example)."""

    code = grpc.StatusCode.PERMISSION_DENIED


class Unavailable(Error):
    """The coordinator could not be reached, or the database file could not be read."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(Error):
    """The call took longer than its timeout."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Cancelled(Error):
    """The call was cancelled."""

    code = grpc.StatusCode.CANCELLED


class Unimplemented(Error):
    """The other side does not offer this call (a database file takes no submissions)."""

    code = grpc.StatusCode.UNIMPLEMENTED


class Internal(Error):
    """The coordinator failed; its message says how."""

    code = grpc.StatusCode.INTERNAL


_BY_CODE = {cls.code: cls for cls in (InvalidArgument, NotFound, FailedPrecondition, ResourceExhausted,
                                      Unauthenticated, PermissionDenied, Unavailable, DeadlineExceeded,
                                      Cancelled, Unimplemented, Internal)}
_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def from_code(code, message):
    """The error of gRPC status `code` (a grpc.StatusCode or its number)."""
    if not isinstance(code, grpc.StatusCode):
        code = _BY_NUMBER.get(int(code), grpc.StatusCode.UNKNOWN)
    return _BY_CODE.get(code, Error)(message, code)


def from_rpc_error(error):
    """The typed error of a failed gRPC call."""
    code = error.code() if callable(getattr(error, "code", None)) else grpc.StatusCode.UNKNOWN
    details = error.details() if callable(getattr(error, "details", None)) else str(error)
    return from_code(code or grpc.StatusCode.UNKNOWN, details or "")
