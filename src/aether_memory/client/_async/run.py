"""`AsyncAgentRun`: memory for any agent loop, in one `async with` (document 001's Layer 6).

    async with agent.run(task="Summarise the Q3 report", cacheable={"web_search"}) as run:
        context = await run.context("Q3 report")
        pages = await run.tool("web_search", search, query="Q3 revenue")
        await run.fact("Q3 revenue grew 12%", importance=0.8)
        await run.checkpoint({"pages": len(pages)})

Every tool call becomes an event (input, output, latency, outcome); tools named cacheable
reuse a cached result for the same arguments; on exit the run is saved as an episode, with
success or the error that ended it. Source of `client/_sync/run.py` (generated).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aether_memory.core.codec import dumps
from aether_memory.core.errors import InvalidInput
from aether_memory.core.types import Episode, Event, MemoryRecord
from aether_memory.core.validate import check_seconds, check_strings, check_text

if TYPE_CHECKING:
    from aether_memory.client._async.agent import AsyncAgent
    from aether_memory.client._async.session import AsyncSession

MAX_RECORDED_CHARS = 4000


def _recordable(value: Any) -> Any:
    """`value` if it can be stored as JSON, else a bounded repr (the call still happened)."""
    try:
        dumps(value)
    except InvalidInput:
        return {"repr": repr(value)[:MAX_RECORDED_CHARS]}
    return value


class AsyncAgentRun:
    """One task of an agent, recorded as it happens; build it with `AsyncAgent.run`."""

    def __init__(
        self,
        agent: AsyncAgent,
        session: AsyncSession,
        task: str | None,
        cacheable: Iterable[str] = (),
        cache_ttl: float | None = None,
    ) -> None:
        self.agent = agent
        self.session = session
        self.task = f"run in session {session.id}" if not task else check_text(task, "task")
        self.cacheable = frozenset(check_strings(cacheable, "cacheable"))
        self.cache_ttl = None if cache_ttl is None else check_seconds(cache_ttl, "cache_ttl")
        self.outcome: str | None = None  # set it to describe the result in the episode
        self.episode: Episode | None = None
        self._started = 0.0

    async def __aenter__(self) -> AsyncAgentRun:
        self._started = time.monotonic()
        await self.agent.state.set(status="working", current_task=self.task)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        success = exc is None
        outcome = self.outcome or ("done" if success else f"{type(exc).__name__}: {exc}")
        self.episode = await self.session.save_episode(
            self.task, outcome, success, duration_seconds=time.monotonic() - self._started
        )
        await self.agent.state.set(status="idle", current_task=None)

    async def tool(self, name: str, fn: Callable[..., Any], /, **arguments: Any) -> Any:
        """Call `fn(**arguments)` as the tool `name`, recording it; cacheable tools reuse
        a stored result for the same arguments. Exceptions are recorded, then re-raised."""
        cache = self.agent.memory.cache
        cacheable = name in self.cacheable
        start = time.perf_counter()
        if cacheable:
            hit, value = await cache.lookup(name, arguments)
            if hit:
                await self._record(name, arguments, value, "success", start, cached=True)
                return value
        try:
            value = fn(**arguments)
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            error = {"error": f"{type(exc).__name__}: {exc}"[:MAX_RECORDED_CHARS]}
            await self._record(name, arguments, error, "failure", start, cached=False)
            raise
        await self._record(name, arguments, value, "success", start, cached=False)
        if cacheable:
            await cache.put(name, arguments, value, ttl=self.cache_ttl)
        return value

    async def _record(
        self, name: str, arguments: dict[str, Any], output: Any, outcome: str, start: float,
        *, cached: bool,
    ) -> Event:  # fmt: skip
        data = {
            "tool": name,
            "input": _recordable(arguments),
            "output": _recordable(output),
            "cached": cached,
        }
        latency = round((time.perf_counter() - start) * 1000, 3)
        return await self.session.record("tool_call", data, outcome=outcome, latency_ms=latency)

    async def step(
        self, action: str, observation: Any, reasoning: str | None = None, success: bool = True
    ) -> Event:
        """Record one reasoning step."""
        return await self.session.add_step(action, observation, reasoning, success)

    async def fact(self, content: str, **fields: Any) -> MemoryRecord:
        """Remember something for the long term, attributed to this session."""
        fields.setdefault("source", "run")
        return await self.agent.remember(content, session=self.session.id, **fields)

    async def context(self, query: str, budget_tokens: int = 2000) -> str:
        """The prompt block for `query`, this session's working memory and steps included."""
        return await self.agent.context(query, budget_tokens=budget_tokens, session=self.session)

    async def checkpoint(self, state: Any) -> int:
        """Save the task's state; `session.restore()` brings it back in any process."""
        return await self.session.checkpoint(state)
