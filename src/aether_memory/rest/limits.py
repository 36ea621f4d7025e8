"""The request body limit, answered in the JSON error shape.

A declared ``Content-Length`` over the limit is refused before the body is read; a chunked
body is counted as it arrives and refused as soon as it passes the limit. (FastAPI's own
``max_body_size`` answers a declared length in plain text, whatever the app's handlers say.)
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aether_memory.rest.errors import ApiError, error_response


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"request body over the limit of {limit} bytes")


class BodyLimit:
    """ASGI middleware: 413 for request bodies over `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > limit:
                    error = _too_large(limit)
                    response = error_response(413, error.code, str(error.detail))
                    await response(scope, receive, send)
                    return
                break
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)  # FastAPI passes it on to the error handlers
            return message

        await self.app(scope, limited, send)
