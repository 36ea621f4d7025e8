"""``python -m aether_memory.mcp``: serve an agent's memory over MCP (stdio or HTTP).

Also the entry point of ``aether mcp``: `main` takes the same arguments.
In stdio mode nothing but the protocol is written to stdout; logs go to stderr.

Over HTTP the keys come from ``AETHER_API_KEYS`` (the REST server's format, see
`aether_memory.core.access`); without them a non-loopback ``--host`` is refused unless
``--insecure-no-auth`` (or ``AETHER_INSECURE_NO_AUTH=1``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import signal
import sys
from collections.abc import Sequence

import anyio

from aether_memory.core.access import ApiKey, parse_api_keys
from aether_memory.core.config import Settings
from aether_memory.core.errors import AetherError, ConfigurationError
from aether_memory.mcp._serve import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    HTTP_PATH,
    ServerNotStarted,
    serve_http,
    serve_stdio,
)
from aether_memory.mcp._server import DEFAULT_AGENT, build_server

LOG_LEVELS = ("debug", "info", "warning", "error")


def parser() -> argparse.ArgumentParser:
    """The command line of the MCP server."""
    p = argparse.ArgumentParser(
        prog="aether mcp",
        description="Serve an agent's memory (eleven tools, identity resources) over MCP.",
    )
    p.add_argument(
        "--transport",
        choices=("stdio", "http"),
        default="stdio",
        help="stdio (default: for a host that starts this process) or streamable HTTP",
    )
    p.add_argument(
        "--url",
        default=None,
        help="Redis URL (default: AETHER_URL & co., then the server of `aether up`)",
    )
    p.add_argument(
        "--namespace", default=None, help="namespace (default: AETHER_NAMESPACE, else default)"
    )
    p.add_argument("--agent", default=DEFAULT_AGENT, help=f"agent id (default: {DEFAULT_AGENT})")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"HTTP host (default: {DEFAULT_HOST})")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"HTTP port (default: {DEFAULT_PORT})"
    )
    p.add_argument(
        "--insecure-no-auth",
        action="store_true",
        default=os.environ.get("AETHER_INSECURE_NO_AUTH", "").lower() in ("1", "true", "yes"),
        help="over HTTP, allow a non-loopback --host without API keys (AETHER_API_KEYS)",
    )
    p.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=None,
        help="stderr log level (default: warning for stdio, info for http)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the MCP server until its client leaves (stdio) or it is stopped (HTTP).

    Over HTTP, SIGINT and SIGTERM stop it gracefully (the memory client is closed). Over stdio
    the normal stop is the client closing stdin; SIGTERM keeps its default action there, since
    the SDK's stdin reader cannot be interrupted.

    Returns:
        The exit status: 0 after a normal stop, 1 if the server could not start, 2 for a bad
        command line (argparse exits with 2 itself).
    """
    args = parser().parse_args(argv)
    level = args.log_level or ("warning" if args.transport == "stdio" else "info")
    logging.basicConfig(
        stream=sys.stderr,
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        namespace = args.namespace or Settings().namespace
        keys = _api_keys() if args.transport == "http" else ()
        server = build_server(args.agent, url=args.url, namespace=namespace)
    except AetherError as exc:
        print(f"aether mcp: error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.transport == "stdio":
            anyio.run(serve_stdio, server)
        else:
            _stop_on_sigterm()
            logging.getLogger("aether_memory.mcp").info(
                "MCP endpoint: http://%s:%d%s", args.host, args.port, HTTP_PATH
            )
            serve = functools.partial(
                serve_http, server, args.host, args.port, namespace=namespace, keys=keys,
                insecure_no_auth=args.insecure_no_auth, log_level=level,
            )  # fmt: skip
            anyio.run(serve)
    except KeyboardInterrupt:
        return 0
    except ConfigurationError as exc:
        print(f"aether mcp: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        cause = _startup_error(exc)
        if cause is None:
            raise
        print(f"aether mcp: error: {cause}", file=sys.stderr)
        return 1
    return 0


def _api_keys() -> tuple[ApiKey, ...]:
    """The keys of ``AETHER_API_KEYS`` (empty when unset)."""
    return parse_api_keys(os.environ.get("AETHER_API_KEYS", ""))


def _stop_on_sigterm() -> None:
    """Treat SIGTERM as Ctrl-C, so that ``docker stop`` or a process manager stops the HTTP
    server through uvicorn's graceful path (sessions closed, lifespan exit) and exits with 0."""
    # ValueError: not the main thread; leave signals to whoever owns them.
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def _startup_error(exc: BaseException) -> BaseException | None:
    """The error that stopped the server from starting, looked for inside task-group groups."""
    if isinstance(exc, AetherError | ServerNotStarted):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _startup_error(inner)
            if found is not None:
                return found
    return None


if __name__ == "__main__":
    sys.exit(main())
