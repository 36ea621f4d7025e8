"""Running the MCP server over a transport: stdio, or streamable HTTP under uvicorn."""

from __future__ import annotations

from typing import Any, Final

from mcp.server import Server
from mcp.server.runner import serve_dual_era_loop
from mcp.server.stdio import stdio_server

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8765
HTTP_PATH: Final = "/mcp"
_NOT_STARTED: Final = "the MCP HTTP server did not start; its log above says why"


class ServerNotStarted(RuntimeError):
    """The HTTP server stopped during startup (its log, on stderr, says why)."""


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
    log_level: str = "info",
) -> None:
    """Serve streamable HTTP at ``http://<host>:<port>/mcp`` until SIGINT or SIGTERM.

    The server's lifespan (which opens the memory client) runs once, at startup, and is shared
    by every session. On loopback hosts the SDK turns on DNS-rebinding protection (the ``Host``
    and ``Origin`` headers must name a loopback address).

    Raises:
        ServerNotStarted: the lifespan failed (for instance the store is unreachable) or the
            port could not be bound.
    """
    import uvicorn  # a dependency of the SDK; imported here since stdio does not need it
    from uvicorn.config import STARTUP_FAILURE

    app = server.streamable_http_app(streamable_http_path=HTTP_PATH, host=host)
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
