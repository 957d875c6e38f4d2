"""
oast.errors — the exceptions the Python client raises.

The server answers every failure with an HTTP status and the body
``{"error": {"code": "snake_case_code", "message": "a sentence"}}``. The
client turns that into one exception class per code, all subclasses of
:class:`OastError`, so callers can catch exactly what they expect
(``except oast.NotFound``) or everything (``except oast.OastError``). The
table below mirrors the server's error table (include/oast/error.h); a
code the client does not know still raises :class:`OastError` with the
code and message the server sent.
"""

import json


class OastError(Exception):
    """A failed call.

    Attributes:
        status: the HTTP status (0 when the server could not be reached).
        code: the server's snake_case error code, e.g. ``"not_found"``.
        message: the server's sentence for a person.
        body: the whole decoded error body (a dict), or None.
    """

    status = 0
    code = "internal"

    def __init__(self, status, code, message, body=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.body = body

    def __str__(self):
        if self.status:
            return "%s (%d): %s" % (self.code, self.status, self.message)
        return "%s: %s" % (self.code, self.message)


class BadRequest(OastError):
    """400: malformed JSON, a missing field, a bad value or name."""


class Unauthenticated(OastError):
    """401: no credential, or a wrong, deleted or expired one."""


class Forbidden(OastError):
    """403: the caller's role in the project lacks the right."""


class NotFound(OastError):
    """404: no such thing, or a project the caller is not a member of."""


class MethodNotAllowed(OastError):
    """405: the path exists but not with this method."""


class Conflict(OastError):
    """409: the request conflicts with the current state."""


class AlreadyExists(Conflict):
    """409: the thing to create exists already."""


class TooLarge(OastError):
    """413: the request body is over the server's cap."""


class ValidationFailed(OastError):
    """422: the data broke the rules; ``body`` holds the report."""


class InternalError(OastError):
    """500: the server failed."""


class ServerIOError(InternalError):
    """500: the server hit an input/output error."""


class Unavailable(OastError):
    """503: the service is unavailable."""


class Timeout(OastError):
    """504: the operation timed out."""


class ConnectionFailed(Unavailable):
    """The server could not be reached, or the connection broke mid-call."""


_BY_CODE = {
    "bad_request": BadRequest,
    "unauthenticated": Unauthenticated,
    "forbidden": Forbidden,
    "not_found": NotFound,
    "method_not_allowed": MethodNotAllowed,
    "already_exists": AlreadyExists,
    "conflict": Conflict,
    "too_large": TooLarge,
    "validation_failed": ValidationFailed,
    "internal": InternalError,
    "io_error": ServerIOError,
    "unavailable": Unavailable,
    "timeout": Timeout,
    "connection_failed": ConnectionFailed,
}

_BY_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "validation_failed",
    500: "internal",
    503: "unavailable",
    504: "timeout",
}


def connection_failed(message):
    """A ConnectionFailed (status 0) with `message`."""
    return ConnectionFailed(0, "connection_failed", message)


def error_class(code):
    """The exception class for a server error code (OastError if unknown)."""
    return _BY_CODE.get(code, OastError)


def from_response(status, raw):
    """Builds the exception for a failed response.

    ``raw`` is the response body (bytes). A well-formed error body gives
    the code and message; anything else gets the code that matches the
    status and the body's text (shortened) as message.
    """
    body = None
    code = None
    message = None
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        if isinstance(err.get("code"), str):
            code = err["code"]
        if isinstance(err.get("message"), str):
            message = err["message"]
    if code is None:
        code = _BY_STATUS.get(status, "internal" if status >= 500 else "bad_request")
    if not message:
        text = raw.decode("utf-8", "replace").strip() if raw else ""
        message = text[:500] if text else "the server answered HTTP %d" % status
    return error_class(code)(status, code, message, body)
