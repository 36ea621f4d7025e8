"""Errors as JSON: the one table from `AetherError.code` to an HTTP status.

Every error response has the same shape, whatever raised it::

    {"error": {"code": "not_found", "message": "session 's1' has no checkpoint 3"}}

Library errors are mapped from their ``code`` only (`STATUS_BY_CODE`); FastAPI's request
validation errors become ``invalid_input`` / 400 like the library's own; HTTP-level errors
(unknown route, wrong method, body over the limit or too slow, auth) keep their status and
get a code from `CODE_BY_STATUS`. Anything else is a bug: 500 ``internal``, logged with its
traceback, with a message that reveals nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from aether_memory.core.errors import AetherError
from aether_memory.core.ids import NAME_RULE

log = logging.getLogger("aether_memory.rest")

STATUS_BY_CODE: dict[str, int] = {
    "invalid_input": 400,
    "too_large": 413,
    "not_found": 404,
    "conflict": 409,
    "lease_lost": 409,
    # The store cannot be configured or reached: the server is not ready, not broken.
    "configuration": 503,
    "unavailable": 503,
    "closed": 503,
    # Redis is full: the request was fine, the server cannot store it (WebDAV's 507).
    "storage_full": 507,
    # Stored bytes this version cannot decode, a damaged file: a fault on the server's side.
    "serialization": 500,
    "damaged": 500,
    # A feed position older than the feed keeps: that history is gone for good.
    "feed_truncated": 410,
    # Applied on the primary, not yet on a replica (durability="replicated"): retry later.
    "not_replicated": 503,
}
"""HTTP status for each `AetherError.code`; codes not listed are 500."""

CODE_BY_STATUS: dict[int, str] = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    500: "internal",
    503: "unavailable",
    507: "storage_full",
}
"""Error code for HTTP-level errors that do not come from the library."""

RETRY_AFTER_SECONDS = "1"


class ErrorDetail(BaseModel):
    """What went wrong: a stable ``code`` for programs and a ``message`` for people."""

    code: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class ApiError(HTTPException):
    """An HTTP error raised by the server itself (auth, missing item), with its code."""

    def __init__(
        self, status_code: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.code = code


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON response for one error."""
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _aether_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AetherError)
    status = STATUS_BY_CODE.get(exc.code, 500)
    if status == 500:
        log.error("%s %s: %s", request.method, request.url.path, exc, exc_info=exc)
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if status == 503 else None
    return error_response(status, exc.code, str(exc), headers)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(400, "invalid_input", describe(exc.errors()))


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = getattr(exc, "code", None) or CODE_BY_STATUS.get(exc.status_code, "http_error")
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, code, str(exc.detail), headers)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal", "internal server error (see the server's log)")


def describe(errors: Any) -> str:
    """One line from pydantic's error list: ``body.k: Input should be a valid integer; ...``."""
    parts = []
    for error in errors:
        kind, ctx = error.get("type"), error.get("ctx") or {}
        if kind == "json_invalid":  # loc is ("body", position)
            parts.append(f"body: invalid JSON ({ctx.get('error', 'malformed')})")
            continue
        where = ".".join(str(p) for p in error.get("loc", ())) or "request"
        message = error.get("msg", "invalid")
        if kind == "string_pattern_mismatch":  # the only pattern in this API is the name rule
            message = f"not a valid name: use {NAME_RULE}"
        parts.append(f"{where}: {message}")
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into the JSON shape above."""
    app.add_exception_handler(AetherError, _aether_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Invalid input (a bad name, value or argument); nothing was written"),
        (401, "Missing or unknown API key"),
        (403, "The API key may not use this namespace"),
        (404, "Not found"),
        (413, "Request body or value too large"),
        (503, "The store is unreachable or not configured; retry later"),
        ("default", "Any other error"),
    )
}
"""The error responses of the API's operations, for the OpenAPI schema (``default`` also
keeps FastAPI from documenting a 422 that this server never sends)."""
