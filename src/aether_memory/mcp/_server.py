"""The MCP server of one agent, built on the official SDK's low-level `Server`.

The tool list is generated from `aether_memory.tools.definitions.TOOLS` (names, titles,
descriptions, strict input schemas and the read-only / destructive / idempotent annotations
exactly as `ToolSpec.as_format("mcp")` gives them) and every call runs through
`AsyncTools.run`, so a tool is defined once for function calling, REST and MCP alike. The
agent's identity documents are resources (``identity://<agent>/<name>``, ``text/markdown``).

One `AsyncMemory` is opened in the server's lifespan and closed when it ends: nothing
connects when this module is imported, and the HTTP transport shares the one client between
its sessions.

Every ``mcp`` import here is absolute (``from mcp.server... import``) and names the SDK, never
this package (``aether_memory.mcp``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

import orjson
from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from opentelemetry.trace import SpanKind

from aether_memory.client._async.agent import AsyncAgent
from aether_memory.client._async.memory import DEFAULT_TOOLS_AGENT, AsyncMemory
from aether_memory.core import telemetry
from aether_memory.core.errors import AetherError, InvalidInput
from aether_memory.core.ids import check_name
from aether_memory.tools._async.runner import AsyncTools
from aether_memory.tools.definitions import BY_NAME, TOOLS

log = logging.getLogger("aether_memory.mcp")

SERVER_NAME: Final = "aether-memory"
DEFAULT_AGENT: Final = DEFAULT_TOOLS_AGENT
IDENTITY_SCHEME: Final = "identity"
IDENTITY_MIME_TYPE: Final = "text/markdown"
INSTRUCTIONS: Final = (
    "Persistent memory that survives restarts and is shared with other agents. Before answering "
    "from scratch, search_memory (or get_context for a whole prompt block); store_memory what is "
    "worth keeping; keep the task's state in working memory and checkpoints so that another "
    "process can resume it. The identity://<agent>/<name> resources are who you are."
)

MemoryOpener = Callable[[], AbstractAsyncContextManager[AsyncMemory]]
"""What the lifespan enters to get its `AsyncMemory` (and leaves to close it)."""


@dataclass(frozen=True)
class ServerState:
    """What the lifespan yields and every handler reads (``ctx.lifespan_context``).

    Attributes:
        memory: the client opened for this server.
        agent: the agent whose memory is served.
        tools: that agent's memory tools.
    """

    memory: AsyncMemory
    agent: AsyncAgent
    tools: AsyncTools


def build_server(
    agent: str = DEFAULT_AGENT,
    *,
    url: str | None = None,
    namespace: str | None = None,
    memory: AsyncMemory | None = None,
    version: str = "",
) -> Server[ServerState]:
    """Make the MCP server of one agent (no I/O: the store is reached when the server runs).

    Args:
        agent: the agent whose memory the tools and resources act on.
        url: the store's URL; without it, the environment decides (see `AsyncMemory.open`).
        namespace: the tenant (default ``AETHER_NAMESPACE``, else ``default``).
        memory: an open client to use instead of opening one from `url` and `namespace`; the
            server then leaves it open when it stops (it closes only what it opened).
        version: reported to clients as the server's version.

    Returns:
        The SDK's low-level server; run it with `serve_stdio` or `serve_http`, or connect to it
        in-process with ``mcp.Client(server)``.

    Raises:
        InvalidInput: `agent` is not a valid id.
    """
    agent_id = check_name(agent, "agent id")
    if memory is not None and (url is not None or namespace is not None):
        raise InvalidInput("pass either memory or url/namespace, not both")
    opener: MemoryOpener = _borrow(memory) if memory is not None else _open(url, namespace)

    @asynccontextmanager
    async def lifespan(_: Server[ServerState]) -> AsyncIterator[ServerState]:
        async with opener() as mem:
            handle = mem.agent(agent_id)
            log.info("serving agent %s in namespace %s", agent_id, mem.namespace)
            yield ServerState(memory=mem, agent=handle, tools=handle.tools)

    return Server(
        SERVER_NAME,
        version=version,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        get_tool_input_schema=_input_schema,
        on_list_tools=_list_tools,
        on_call_tool=_call_tool,
        on_list_resources=_list_resources,
        on_read_resource=_read_resource,
    )


def _open(url: str | None, namespace: str | None) -> MemoryOpener:
    @asynccontextmanager
    async def opener() -> AsyncIterator[AsyncMemory]:
        memory = await AsyncMemory.open(url, namespace=namespace)
        async with memory:
            yield memory

    return opener


def _borrow(memory: AsyncMemory) -> MemoryOpener:
    @asynccontextmanager
    async def opener() -> AsyncIterator[AsyncMemory]:
        yield memory

    return opener


# -- tools -------------------------------------------------------------------------------------

# Built once: the definitions are constants, and `as_format("mcp")` is the wire shape already.
_TOOLS: Final = [types.Tool.model_validate(spec.as_format("mcp")) for spec in TOOLS]


def _input_schema(name: str) -> dict[str, Any] | None:
    spec = BY_NAME.get(name)
    return None if spec is None else spec.schema()


async def _list_tools(
    ctx: ServerRequestContext[ServerState], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return types.ListToolsResult(tools=[tool.model_copy(deep=True) for tool in _TOOLS])


async def _call_tool(
    ctx: ServerRequestContext[ServerState], params: types.CallToolRequestParams
) -> types.CallToolResult:
    """Run one tool; an `AetherError` (unknown tool and bad arguments included) becomes a
    result with ``isError`` that the model reads, never a protocol error."""
    state = ctx.lifespan_context
    attributes = {
        "mcp.method.name": "tools/call", "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": params.name, "aether.namespace": state.memory.namespace,
        "aether.agent": state.agent.id,
    }  # fmt: skip
    with telemetry.span(f"tools/call {params.name}", SpanKind.SERVER, attributes) as span:
        try:
            result = await state.tools.run(params.name, params.arguments or {})
        except AetherError as exc:
            # %r keeps text that came from the caller on one line.
            log.info("tool %r failed: %s: %r", params.name, exc.code, str(exc))
            if span is not None:  # answered as a result, but the call failed
                telemetry.record_error(span, exc)
            return tool_error(exc)
        return tool_result(result)


def tool_result(result: Any) -> types.CallToolResult:
    """A tool's result as JSON text plus the same value as structured content.

    Structured content must be a JSON object before protocol 2026-07-28, so a result that is not
    one (``search_memory``'s list) is wrapped as ``{"result": ...}`` in both.
    """
    payload = result if isinstance(result, dict) else {"result": result}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=_json(payload))],
        structured_content=payload,
    )


def tool_error(exc: AetherError) -> types.CallToolResult:
    """An error as a tool result: ``{"error": {"code", "message", "retryable"}}``, as the
    ``AsyncTools.call`` results have it, with ``isError`` set."""
    payload = {"error": {"code": exc.code, "message": str(exc), "retryable": exc.retryable}}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=_json(payload))],
        structured_content=payload,
        is_error=True,
    )


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


# -- identity resources ------------------------------------------------------------------------


def identity_uri(agent: str, name: str) -> str:
    """The resource URI of an identity document: ``identity://<agent>/<name>``."""
    return f"{IDENTITY_SCHEME}://{agent}/{name}"


async def _list_resources(
    ctx: ServerRequestContext[ServerState], params: types.PaginatedRequestParams | None
) -> types.ListResourcesResult:
    agent = ctx.lifespan_context.agent
    docs = await agent.identity.all()
    return types.ListResourcesResult(
        resources=[
            types.Resource(
                uri=identity_uri(agent.id, name),
                name=name,
                description=f"Identity document {name!r} of agent {agent.id!r}.",
                mime_type=IDENTITY_MIME_TYPE,
                size=len(text.encode()),
            )
            for name, text in docs.items()
        ]
    )


async def _read_resource(
    ctx: ServerRequestContext[ServerState], params: types.ReadResourceRequestParams
) -> types.ReadResourceResult:
    """Read one identity document; an unknown URI is a protocol error (INVALID_PARAMS, with the
    URI in ``data``), as the MCP specification asks of a resource that does not exist."""
    agent = ctx.lifespan_context.agent
    uri = str(params.uri)
    prefix = identity_uri(agent.id, "")
    text = None
    if uri.startswith(prefix):
        try:
            text = await agent.identity.get(uri.removeprefix(prefix))
        except InvalidInput:
            text = None  # not a valid document name: no such resource
    if text is None:
        raise MCPError(types.INVALID_PARAMS, f"Resource not found: {uri}", {"uri": uri})
    return types.ReadResourceResult(
        contents=[types.TextResourceContents(uri=uri, mime_type=IDENTITY_MIME_TYPE, text=text)]
    )
