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
forever unless a `ttl` is given. Reading a checkpoint is two round trips whatever the thread's
length; `list` is two: the thread's checkpoints, then the writes of all those it returns at once.
Checkpoints and writes go through LangGraph's own serializer (its
``serde``, JSON + msgpack, pickle off) and are stored as that serializer's bytes.

Both savers pass LangGraph's checkpointer conformance suite (``langgraph-checkpoint-conformance``)
on Redis with and without modules and on SQLite. Needs ``pip install 'aether-memory[langgraph]'``.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import orjson

from aether_memory.core.errors import InvalidInput
from aether_memory.integrations._common import needs

try:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import (
        WRITES_IDX_MAP,
        BaseCheckpointSaver,
        ChannelVersions,
        Checkpoint,
        CheckpointMetadata,
        CheckpointTuple,
        get_checkpoint_id,
        get_checkpoint_metadata,
        writes_sort_key,
    )
    from langgraph.checkpoint.serde.base import SerializerProtocol
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(needs("langgraph", "langgraph")) from exc

from aether_memory.client._async.memory import AsyncMemory
from aether_memory.client._sync.memory import Memory
from aether_memory.integrations._async.checkpoints import AsyncCheckpointStore
from aether_memory.integrations._sync.checkpoints import CheckpointStore
from aether_memory.integrations.langgraph_store import AetherStore

DEFAULT_AGENT = "langgraph"

__all__ = ["DEFAULT_AGENT", "AetherSaver", "AetherStore", "AsyncAetherSaver"]


# -- records (pure: how checkpoints and writes become JSON records and back) ----------------
def _typed(serde: SerializerProtocol, value: Any) -> list[str]:
    kind, data = serde.dumps_typed(value)
    return [kind, base64.b64encode(data).decode("ascii")]


def _untyped(serde: SerializerProtocol, stored: Sequence[str]) -> Any:
    return serde.loads_typed((stored[0], base64.b64decode(stored[1])))


def _config(thread_id: str, ns: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint_id,
        }
    }


def _tuple(
    serde: SerializerProtocol,
    record: dict[str, Any],
    writes: Sequence[dict[str, Any]],
    metadata: Any = None,
) -> CheckpointTuple:
    thread_id, ns, cid, parent = record["t"], record["ns"], record["id"], record["parent"]
    ordered = sorted(writes, key=lambda w: writes_sort_key(w["path"], w["task"], w["idx"]))
    return CheckpointTuple(
        config=_config(thread_id, ns, cid),
        checkpoint=_untyped(serde, record["cp"]),
        metadata=_untyped(serde, record["md"]) if metadata is None else metadata,
        parent_config=_config(thread_id, ns, parent) if parent else None,
        pending_writes=[(w["task"], w["ch"], _untyped(serde, w["v"])) for w in ordered],
    )


def _select(
    serde: SerializerProtocol,
    records: Sequence[dict[str, Any]],
    config: RunnableConfig | None,
    filter: Mapping[str, Any] | None,
    before: RunnableConfig | None,
    limit: int | None,
) -> list[tuple[dict[str, Any], Any]]:
    """The checkpoints `list` returns, with their decoded metadata: newest first within each
    thread and namespace, as LangGraph's own savers list them."""
    ns = _ns_of(config)
    checkpoint_id = get_checkpoint_id(config) if config else None
    before_id = get_checkpoint_id(before) if before else None
    chosen: list[tuple[dict[str, Any], Any]] = []
    for record in sorted(records, key=lambda r: (r["t"], r["ns"], r["id"]), reverse=True):
        if limit is not None and len(chosen) >= limit:
            break
        if ns is not None and record["ns"] != ns:
            continue
        if checkpoint_id and record["id"] != checkpoint_id:
            continue
        if before_id and record["id"] >= before_id:
            continue
        metadata = _untyped(serde, record["md"])
        if filter and not all(metadata.get(k) == v for k, v in filter.items()):
            continue
        chosen.append((record, metadata))
    return chosen


def _checkpoint_record(
    serde: SerializerProtocol,
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
) -> tuple[str, dict[str, Any]]:
    conf = config["configurable"]
    thread_id = str(conf["thread_id"])
    return thread_id, {
        "k": "c",
        "t": thread_id,
        "ns": str(conf.get("checkpoint_ns", "")),
        "id": checkpoint["id"],
        "parent": conf.get("checkpoint_id"),
        "cp": _typed(serde, checkpoint),
        "md": _typed(serde, get_checkpoint_metadata(config, metadata)),
    }


def _write_records(
    serde: SerializerProtocol,
    config: RunnableConfig,
    writes: Sequence[tuple[str, Any]],
    task_id: str,
    task_path: str,
) -> tuple[str, str, str, dict[str, Any]]:
    conf = config["configurable"]
    ns, cid = str(conf.get("checkpoint_ns", "")), str(conf["checkpoint_id"])
    records: dict[str, Any] = {}
    for idx, (channel, value) in enumerate(writes):
        # Special channels (errors, interrupts...) have fixed negative slots, replaced on
        # each write; ordinary writes are numbered by position, so a retry rewrites the same
        # keys instead of adding copies.
        slot = WRITES_IDX_MAP.get(channel, idx)
        records[orjson.dumps([task_id, slot]).decode()] = {
            "k": "w",
            "task": task_id,
            "path": task_path,
            "idx": slot,
            "ch": channel,
            "v": _typed(serde, value),
        }
    return str(conf["thread_id"]), ns, cid, records


def _thread_id(config: RunnableConfig | None) -> str | None:
    if not config:
        return None
    value = config.get("configurable", {}).get("thread_id")
    return None if value is None else str(value)


def _ns_of(config: RunnableConfig | None) -> str | None:
    return None if not config else config.get("configurable", {}).get("checkpoint_ns")


def _wanted(config: RunnableConfig) -> tuple[str, str | None]:
    return str(config["configurable"].get("checkpoint_ns", "")), get_checkpoint_id(config)


# -- the savers ---------------------------------------------------------------------------------
class AetherSaver(BaseCheckpointSaver[int]):
    """A LangGraph checkpointer on a `Memory` (sync graphs; the async methods run the sync
    ones in a worker thread, so ``ainvoke`` works too).

    Args:
        memory: an open `Memory`; the saver uses its connection and never closes it.
        agent: the aether agent whose sessions hold the threads.
        ttl: seconds a thread is kept after its last write (default: forever).
        serde: LangGraph's serializer (default: its JSON + msgpack serializer).
    """

    def __init__(
        self,
        memory: Memory,
        *,
        agent: str = DEFAULT_AGENT,
        ttl: float | None = None,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(serde=serde)
        self.store = CheckpointStore(memory, agent, ttl)

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint `config` names (its ``checkpoint_id``, else the thread's latest)."""
        thread_id = _thread_id(config)
        if thread_id is None:
            return None
        found = self.store.get(thread_id, *_wanted(config))
        return None if found is None else _tuple(self.serde, *found)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first: of one thread (or all), filtered by metadata values."""
        records = self.store.checkpoints(_thread_id(config))
        chosen = _select(self.serde, records, config, filter, before, limit)
        writes = self.store.writes_of([record for record, _ in chosen])
        for (record, metadata), pending in zip(chosen, writes, strict=True):
            yield _tuple(self.serde, record, pending, metadata)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint; returns the config that names it."""
        thread_id, record = _checkpoint_record(self.serde, config, checkpoint, metadata)
        self.store.put(thread_id, record)
        return _config(thread_id, record["ns"], checkpoint["id"])

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes for the checkpoint `config` names (one write)."""
        thread_id, ns, cid, records = _write_records(self.serde, config, writes, task_id, task_path)
        if records:
            self.store.put_writes(thread_id, ns, cid, records)

    def delete_thread(self, thread_id: str) -> None:
        """Remove every checkpoint and write of the thread."""
        self.store.delete(str(thread_id))

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        def collect() -> list[CheckpointTuple]:
            return list(self.list(config, filter=filter, before=before, limit=limit))

        for item in await asyncio.to_thread(collect):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)


class AsyncAetherSaver(BaseCheckpointSaver[int]):
    """A LangGraph checkpointer on an `AsyncMemory` (``ainvoke``, ``astream``).

    The sync methods work from other threads (LangGraph runs sync nodes in a thread pool):
    they run on the event loop the saver was created on. Called on that loop itself they
    would deadlock, so they raise `InvalidInput` there.

    Args: as `AetherSaver`, with an `AsyncMemory`.
    """

    def __init__(
        self,
        memory: AsyncMemory,
        *,
        agent: str = DEFAULT_AGENT,
        ttl: float | None = None,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(serde=serde)
        self.store = AsyncCheckpointStore(memory, agent, ttl)
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint `config` names (its ``checkpoint_id``, else the thread's latest)."""
        thread_id = _thread_id(config)
        if thread_id is None:
            return None
        found = await self.store.get(thread_id, *_wanted(config))
        return None if found is None else _tuple(self.serde, *found)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Checkpoints newest first: of one thread (or all), filtered by metadata values."""
        records = await self.store.checkpoints(_thread_id(config))
        chosen = _select(self.serde, records, config, filter, before, limit)
        writes = await self.store.writes_of([record for record, _ in chosen])
        for (record, metadata), pending in zip(chosen, writes, strict=True):
            yield _tuple(self.serde, record, pending, metadata)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint; returns the config that names it."""
        thread_id, record = _checkpoint_record(self.serde, config, checkpoint, metadata)
        await self.store.put(thread_id, record)
        return _config(thread_id, record["ns"], checkpoint["id"])

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes for the checkpoint `config` names (one write)."""
        thread_id, ns, cid, records = _write_records(self.serde, config, writes, task_id, task_path)
        if records:
            await self.store.put_writes(thread_id, ns, cid, records)

    async def adelete_thread(self, thread_id: str) -> None:
        """Remove every checkpoint and write of the thread."""
        await self.store.delete(str(thread_id))

    # -- sync methods, from threads other than the loop's ----------------------------------------
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

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        result: CheckpointTuple | None = self._run(self.aget_tuple(config))
        return result

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        async def collect() -> list[CheckpointTuple]:
            return [t async for t in self.alist(config, filter=filter, before=before, limit=limit)]

        yield from self._run(collect())

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        result: RunnableConfig = self._run(self.aput(config, checkpoint, metadata, new_versions))
        return result

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._run(self.aput_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._run(self.adelete_thread(thread_id))
