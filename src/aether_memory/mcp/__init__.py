"""The MCP server: an agent's memory tools and identity documents for any MCP host.

Run it (``pip install 'aether-memory[mcp]'``)::

    python -m aether_memory.mcp --url redis://localhost:6379/0 --agent planner   # stdio
    python -m aether_memory.mcp --transport http --port 8765        # http://127.0.0.1:8765/mcp

or build it in code and run it on a transport::

    server = build_server("planner", url="redis://localhost:6379/0")
    anyio.run(serve_stdio, server)

Over HTTP it takes the REST server's API keys (``AETHER_API_KEYS``) as bearer tokens, and
without keys it refuses a non-loopback host unless ``--insecure-no-auth``.

The eleven tools come from `aether_memory.tools.definitions` (one definition for function calling,
REST and MCP); calls run through `AsyncTools.run`; an `AetherError` comes back as a tool result
with ``isError`` set. Identity documents are the resources ``identity://<agent>/<name>``.

Built on the official ``mcp`` SDK, version 2: every import of it is absolute, so this package
(``aether_memory.mcp``) never stands in for it.
"""

from __future__ import annotations

from importlib import metadata

_NEEDS = "the MCP server needs the mcp package, version 2: pip install 'aether-memory[mcp]'"

try:
    _sdk_version = metadata.version("mcp")
except metadata.PackageNotFoundError:
    raise ImportError(_NEEDS) from None
if int(_sdk_version.split(".", 1)[0]) < 2:
    raise ImportError(f"{_NEEDS} (mcp {_sdk_version} is installed)")

from aether_memory.mcp._serve import (  # noqa: E402  (after the SDK check, on purpose)
    DEFAULT_HOST,
    DEFAULT_PORT,
    HTTP_PATH,
    ServerNotStarted,
    serve_http,
    serve_stdio,
)
from aether_memory.mcp._server import (  # noqa: E402
    DEFAULT_AGENT,
    IDENTITY_MIME_TYPE,
    SERVER_NAME,
    ServerState,
    build_server,
    identity_uri,
    tool_error,
    tool_result,
)

__all__ = [
    "DEFAULT_AGENT",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "HTTP_PATH",
    "IDENTITY_MIME_TYPE",
    "SERVER_NAME",
    "ServerNotStarted",
    "ServerState",
    "build_server",
    "identity_uri",
    "serve_http",
    "serve_stdio",
    "tool_error",
    "tool_result",
]
