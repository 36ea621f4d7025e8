"""Running the MCP server over a transport: stdio, or streamable HTTP under uvicorn.

Over HTTP the server takes the same API keys as the REST server (``AETHER_API_KEYS``, see
`aether_memory.core.access`), as ``Authorization: Bearer <key>`` (or ``X-API-Key``) on every
request: an unknown or missing key gets 401, and a key that does not cover the namespace the
server serves gets 403, so no tool, resource or session is reachable with it. Without keys it
refuses a non-loopback host (unless ``insecure_no_auth``) and answers only requests made on this
machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson
from mcp.server import Server
from mcp.server.runner import serve_dual_era_loop
from mcp.server.stdio import stdio_server
from starlette.types import ASGIApp, Receive, Scope, Send

from aether_memory.core.access import (
    ApiKey,
    KeyRing,
    exposure_problem,
    is_local_request,
    presented_key,
)
from aether_memory.core.errors import ConfigurationError

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8765
HTTP_PATH: Final = "/mcp"
_NOT_STARTED: Final = "the MCP HTTP server did not start; its log above says why"


class ServerNotStarted(RuntimeError):
    """The HTTP server stopped during startup (its log, on stderr, says why)."""


class KeyGuard:
    """ASGI middleware: every HTTP request needs a key that covers `namespace` (or, with no
    keys and not `insecure_no_auth`, must come from this machine)."""

    def __init__(
        self, app: ASGIApp, keys: Sequence[ApiKey], namespace: str, insecure_no_auth: bool
    ) -> None:
        self.app = app
        self.ring = KeyRing(keys)
        self.namespace = namespace
        self.insecure_no_auth = insecure_no_auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await _deny(send, *refusal)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        headers = scope["headers"]
        if not self.ring.enabled:
            if self.insecure_no_auth or is_local_request(
                scope.get("server"), scope.get("client"), headers
            ):
                return None
            return 403, "forbidden", "this server has no API keys; it answers only this machine"
        presented = presented_key(headers)
        if presented is None:
            return 401, "unauthorized", "an API key is required: 'Authorization: Bearer <key>'"
        key = self.ring.find(presented)
        if key is None:
            return 401, "unauthorized", "unknown API key"
        if not key.allows(self.namespace):
            return 403, "forbidden", f"this API key may not use namespace {self.namespace!r}"
        return None


async def _deny(send: Send, status: int, code: str, message: str) -> None:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def serve_stdio(server: Server[Any]) -> None:
    """Serve one client over this process's stdin and stdout until stdin closes.

    While it serves, the SDK points file descriptor 1 at stderr, so a stray ``print`` or a
    library's output cannot corrupt the protocol; logs must go to stderr anyway.

    Raises:
        AetherError: the server's lifespan failed (for instance the store is unreachable).
    """
    # This is `Server.run` with the lifespan entered *before* the transport: once stdio_server()
    # reads stdin (in a worker thread), it cannot stop until stdin closes, and a host keeps stdin
    # open while it waits for an answer, so a server that cannot reach its store would hang
    # instead of exiting with the reason.
    async with server.lifespan(server) as state, stdio_server() as (read_stream, write_stream):
        await serve_dual_era_loop(
            server,
            read_stream,
            write_stream,
            lifespan_state=state,
            init_options=server.create_initialization_options(),
        )


async def serve_http(
    server: Server[Any],
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    namespace: str,
    keys: Sequence[ApiKey] = (),
    insecure_no_auth: bool = False,
    log_level: str = "info",
) -> None:
    """Serve streamable HTTP at ``http://<host>:<port>/mcp`` until SIGINT or SIGTERM.

    The server's lifespan (which opens the memory client) runs once, at startup, and is shared
    by every session. On loopback hosts the SDK turns on DNS-rebinding protection (the ``Host``
    and ``Origin`` headers must name a loopback address).

    Args:
        server: the server to run (`build_server`).
        host: the interface to listen on.
        port: the port.
        namespace: the namespace the server serves; a key must cover it.
        keys: the API keys that may call (see the module docstring).
        insecure_no_auth: serve a non-loopback host without keys, to anyone.
        log_level: uvicorn's log level.

    Raises:
        ConfigurationError: no keys on a non-loopback host without `insecure_no_auth`.
        ServerNotStarted: the lifespan failed (for instance the store is unreachable) or the
            port could not be bound.
    """
    import uvicorn  # a dependency of the SDK; imported here since stdio does not need it
    from uvicorn.config import STARTUP_FAILURE

    problem = exposure_problem(host, tuple(keys), insecure_no_auth)
    if problem is not None:
        raise ConfigurationError(problem)
    app = KeyGuard(
        server.streamable_http_app(streamable_http_path=HTTP_PATH, host=host),
        keys,
        namespace,
        insecure_no_auth,
    )
    # log_config=None: uvicorn's loggers propagate to the root logger the caller set up
    # (stderr), instead of uvicorn installing its own handlers.
    config = uvicorn.Config(app, host=host, port=port, log_config=None, log_level=log_level)
    http = uvicorn.Server(config)
    try:
        await http.serve()
    except SystemExit as exc:
        # uvicorn exits the process (status 3) when its startup fails, lifespan or bind alike.
        if exc.code != STARTUP_FAILURE:
            raise
        raise ServerNotStarted(_NOT_STARTED) from None
    if not http.started:  # uvicorn versions that return instead of exiting
        raise ServerNotStarted(_NOT_STARTED)
