"""Request body limits, answered in the JSON error shape: size and time.

A declared ``Content-Length`` over the size limit is refused before the body is read; a chunked
body is counted as it arrives and refused as soon as it passes the limit. (FastAPI's own
``max_body_size`` answers a declared length in plain text, whatever the app's handlers say.)

A body must also arrive within `timeout` seconds of the first read: a client that sends the
headers and half a body, then waits (or drips a byte at a time), gets 408 and the connection is
closed, instead of holding a worker and its memory client forever. uvicorn times out only idle
keep-alive connections, never a body in progress.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aether_memory.rest.errors import ApiError, error_response


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"request body over the limit of {limit} bytes")


def _too_slow(timeout: float) -> ApiError:
    # Connection: close, since the rest of the body may still be on its way.
    return ApiError(
        408,
        "timeout",
        f"the request body did not arrive within {timeout:g} seconds",
        {"Connection": "close"},
    )


class BodyLimit:
    """ASGI middleware: 413 for request bodies over `max_bytes`, 408 for bodies that take
    longer than `timeout` seconds to arrive."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

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
        deadline: float | None = None
        done = False
        loop = asyncio.get_running_loop()

        async def limited() -> Message:
            nonlocal seen, deadline, done
            if done:  # the body is in; later reads wait for a disconnect, untimed
                return await receive()
            if deadline is None:
                deadline = loop.time() + self.timeout
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _too_slow(self.timeout) from None  # FastAPI passes it on to its handlers
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)
                done = not message.get("more_body", False)
            return message

        await self.app(scope, limited, send)
