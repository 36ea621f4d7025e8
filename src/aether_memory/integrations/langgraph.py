"""LangGraph on aether memory: a checkpointer (`AetherSaver`, `AsyncAetherSaver`) and a
long-term store (`AetherStore`), on every backend.

    from aether_memory import Memory
    from aether_memory.integrations.langgraph import AetherSaver

    with Memory.open("redis://localhost:6379/0") as mem:
        graph = builder.compile(checkpointer=AetherSaver(mem))
        graph.invoke(inputs, {"configurable": {"thread_id": "t1"}})

A LangGraph thread is one aether session of the agent ``langgraph`` (configurable): each
checkpoint is one key of that session's working memory, beside a copy of the newest, and a
checkpoint's pending writes are a session of their own (see `_async/checkpoints.py`), all kept
forever unless a `ttl` is given. Whatever the thread's length, reading a checkpoint by id is one
round trip (it and its writes), the newest one when this saver put it (else two); `list` in a
thread is two: the thread's keys alone, then the page it returns with the writes of each (a
metadata `filter` reads the candidates first). Checkpoints and writes go through LangGraph's
own serializer (its ``serde``, JSON + msgpack, pickle off) and are stored as its bytes.

Each saver's storage methods are written once, async, in `_async/saver.py` (the sync twin is
generated from it); this module adds the other half of LangGraph's API to each: a sync saver's
async methods run it in a worker thread, an async saver's sync methods run on its event loop.

Both savers implement the optional capabilities too (``copy_thread``, ``delete_for_runs``,
``prune``) and pass every test of LangGraph's checkpointer conformance suite
(``langgraph-checkpoint-conformance``) on every backend (Redis with and without modules,
Redis 7, Redis Cluster, SQLite). Needs
``pip install 'aether-memory[langgraph]'``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from aether_memory.core.errors import InvalidInput
from aether_memory.integrations._common import needs

try:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import CheckpointTuple
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(needs("langgraph", "langgraph")) from exc

from aether_memory.client._async.memory import AsyncMemory
from aether_memory.integrations._async.saver import AsyncSaverCore
from aether_memory.integrations._checkpoint_records import DEFAULT_AGENT, PRUNE_STRATEGIES
from aether_memory.integrations._sync.saver import SaverCore
from aether_memory.integrations.langgraph_store import AetherStore

__all__ = ["DEFAULT_AGENT", "PRUNE_STRATEGIES", "AetherSaver", "AetherStore", "AsyncAetherSaver"]

# The methods each saver writes once (in `_async/saver.py`) and gets the other form of here.
_METHODS = (
    "get_tuple", "put", "put_writes", "delete_thread", "delete_for_runs", "copy_thread", "prune",
)  # fmt: skip


def _in_thread(name: str) -> Callable[..., Any]:
    """The async method ``a<name>`` of a sync saver: its `name` in a worker thread."""

    async def method(self: AetherSaver, /, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self, name), *args, **kwargs)

    method.__name__ = method.__qualname__ = f"a{name}"
    method.__doc__ = f"`{name}` in a worker thread."
    return method


def _on_loop(name: str) -> Callable[..., Any]:
    """The sync method `name` of an async saver: its ``a<name>`` run on the saver's loop."""

    def method(self: AsyncAetherSaver, /, *args: Any, **kwargs: Any) -> Any:
        return self._run(getattr(self, f"a{name}")(*args, **kwargs))

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"`a{name}` on the saver's event loop (from another thread)."
    return method


class AetherSaver(SaverCore):
    """A LangGraph checkpointer on a `Memory` (sync graphs; the async methods run the sync
    ones in a worker thread, so ``ainvoke`` works too).

    Args:
        memory: an open `Memory`; the saver uses its connection and never closes it.
        agent: the aether agent whose sessions hold the threads.
        ttl: seconds a thread is kept after its last write (default: forever).
        serde: LangGraph's serializer (default: its JSON + msgpack serializer).
    """

    async def alist(
        self, config: RunnableConfig | None, **options: Any
    ) -> AsyncIterator[CheckpointTuple]:
        """`list` (``filter``, ``before``, ``limit``) in a worker thread."""

        def collect() -> list[CheckpointTuple]:
            return list(self.list(config, **options))

        for item in await asyncio.to_thread(collect):
            yield item


class AsyncAetherSaver(AsyncSaverCore):
    """A LangGraph checkpointer on an `AsyncMemory` (``ainvoke``, ``astream``).

    The sync methods work from other threads (LangGraph runs sync nodes in a thread pool):
    they run on the event loop the saver was created on. Called on that loop itself they
    would deadlock, so they raise `InvalidInput` there.

    Args: as `AetherSaver` (``agent``, ``ttl``, ``serde``), with an `AsyncMemory`.
    """

    def __init__(self, memory: AsyncMemory, **options: Any) -> None:
        super().__init__(memory, **options)
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    def _run(self, coro: Any) -> Any:
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            coro.close()
            raise InvalidInput(
                "AsyncAetherSaver's sync methods run on its event loop from another thread; "
                "use the graph's async methods (ainvoke, astream) or AetherSaver on a Memory"
            )
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def list(self, config: RunnableConfig | None, **options: Any) -> Iterator[CheckpointTuple]:
        """`alist` (``filter``, ``before``, ``limit``) on the saver's event loop."""

        async def collect() -> list[CheckpointTuple]:
            return [t async for t in self.alist(config, **options)]

        yield from self._run(collect())


for _name in _METHODS:
    setattr(AetherSaver, f"a{_name}", _in_thread(_name))
    setattr(AsyncAetherSaver, _name, _on_loop(_name))
