"""The OpenAI Agents SDK on aether memory: a `Session` for conversation history and the memory
tools as SDK function tools.

    from agents import Agent, Runner
    from aether_memory import AsyncMemory
    from aether_memory.integrations.openai_agents import AetherSession, memory_tools

    mem = await AsyncMemory.open("redis://localhost:6379/0")
    session = AetherSession("user-42", mem)
    tools = memory_tools(mem.agent("assistant").tools.bound("user-42"))
    agent = Agent(name="assistant", tools=tools)
    result = await Runner.run(agent, "hello", session=session)

A session's items are the working-memory keys of one aether session (of the agent
``openai-agents`` by default), named by sortable ids so they read back in the order they were
added, and kept until cleared unless a `ttl` is given. The function tools use the strict
schemas of `aether_memory.tools.definitions`, which build under the SDK's strict default.
Needs ``pip install 'aether-memory[openai-agents]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from aether_memory.integrations._async.threads import AsyncThreadStore
from aether_memory.integrations._common import needs
from aether_memory.tools import definitions as d

try:
    from agents import FunctionTool, RunContextWrapper
    from agents.memory import SessionSettings
    from agents.memory.session_settings import resolve_session_limit
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(needs("openai-agents", "openai-agents")) from exc

if TYPE_CHECKING:
    from agents.items import TResponseInputItem

    from aether_memory.client._async.memory import AsyncMemory
    from aether_memory.tools._async.runner import AsyncTools

DEFAULT_AGENT = "openai-agents"
_MAX_POP_RETRIES = 16

__all__ = ["DEFAULT_AGENT", "AetherSession", "memory_tools"]


class AetherSession:
    """Conversation history of one SDK session, kept in aether memory (the SDK's `Session`
    protocol: ``get_items``, ``add_items``, ``pop_item``, ``clear_session``).

    Args:
        session_id: the SDK's session id (any string).
        memory: an open `AsyncMemory`; the session uses its connection and never closes it.
        agent: the aether agent whose sessions hold the conversations.
        ttl: seconds a conversation is kept after its last write (default: until cleared).
        session_settings: the SDK's settings (``limit``: how many items `get_items` returns).
    """

    def __init__(
        self,
        session_id: str,
        memory: AsyncMemory,
        *,
        agent: str = DEFAULT_AGENT,
        ttl: float | None = None,
        session_settings: SessionSettings | None = None,
    ) -> None:
        self.session_id = session_id
        self.session_settings = session_settings
        self._threads = AsyncThreadStore(memory, agent, ttl)

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The conversation, oldest first; with `limit`, only its last `limit` items."""
        items = await self._threads.items(self.session_id)
        limit = resolve_session_limit(limit, self.session_settings)
        if limit is not None:
            items = items[-limit:] if limit > 0 else []
        return [value for _, value in items]

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Append items, in order, in one write."""
        await self._threads.append(self.session_id, items)

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove and return the newest item (None when the conversation is empty).

        Two processes popping at once never get the same item: the one whose delete removes
        nothing looks again.
        """
        for _ in range(_MAX_POP_RETRIES):
            items = await self._threads.items(self.session_id)
            if not items:
                return None
            key, item = items[-1]
            if await self._threads.delete(self.session_id, [key]):
                popped: TResponseInputItem = item
                return popped
        return None

    async def clear_session(self) -> None:
        """Remove every item of the conversation."""
        await self._threads.clear(self.session_id)


def memory_tools(tools: AsyncTools) -> list[FunctionTool]:
    """The memory tools as SDK function tools, strict (the SDK's default).

    Pass ``agent.tools.bound(session)`` so the model never has to give a session id. Each
    call returns the JSON of ``tools.call``: ``{"ok": true, "result": ...}`` or
    ``{"ok": false, "error": {...}}`` for a bad call, which the model reads and can correct.
    """
    bound = tools.session is not None
    return [_function_tool(tools, spec, bound) for spec in d.TOOLS]


def _function_tool(tools: AsyncTools, spec: d.ToolSpec, bound: bool) -> FunctionTool:
    async def invoke(ctx: RunContextWrapper[Any], arguments: str) -> str:
        return orjson.dumps(await tools.call(spec.name, arguments)).decode()

    return FunctionTool(
        name=spec.name,
        description=spec.description,
        params_json_schema=spec.schema(bound),
        on_invoke_tool=invoke,
        strict_json_schema=True,
    )
