"""LangGraph on aether memory: a checkpointer (`AetherSaver`, `AsyncAetherSaver`) and a
long-term store (`AetherStore`), on every backend.

    from aether_memory import Memory
    from aether_memory.integrations.langgraph import AetherSaver

    with Memory.open("redis://localhost:6379/0") as mem:
        graph = builder.compile(checkpointer=AetherSaver(mem))
        graph.invoke(inputs, {"configurable": {"thread_id": "t1"}})

A LangGraph thread is one aether session of the agent ``langgraph`` (configurable); each
checkpoint and each pending write is one key of that session's working memory, kept forever
unless a `ttl` is given. Checkpoints and writes go through LangGraph's own serializer (its
``serde``, JSON + msgpack, pickle off) and are stored as that serializer's bytes.

Both savers pass LangGraph's checkpointer conformance suite (``langgraph-checkpoint-conformance``)
on Redis with and without modules and on SQLite. Needs ``pip install 'aether-memory[langgraph]'``.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
from aether_memory.integrations._async.threads import AsyncThreadStore
from aether_memory.integrations._sync.threads import ThreadStore
from aether_memory.integrations.langgraph_store import AetherStore

DEFAULT_AGENT = "langgraph"

__all__ = ["DEFAULT_AGENT", "AetherSaver", "AetherStore", "AsyncAetherSaver"]


# -- records (pure: how checkpoints and writes become working-memory keys and back) ---------
def _checkpoint_key(ns: str, checkpoint_id: str) -> str:
    # A JSON array: unambiguous whatever the namespace and ids contain ("|" and ":" included).
    return orjson.dumps(["c", ns, checkpoint_id]).decode()


def _write_key(ns: str, checkpoint_id: str, task_id: str, idx: int) -> str:
    return orjson.dumps(["w", ns, checkpoint_id, task_id, idx]).decode()


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


@dataclass
class _Thread:
    """One thread's records, grouped: checkpoints by (ns, id), writes by (ns, checkpoint id)."""

    checkpoints: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    writes: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, records: Mapping[str, Any]) -> _Thread:
        thread = cls()
        for record in records.values():
            if not isinstance(record, dict):
                continue  # not ours: a key someone else put in the session
            if record.get("k") == "c":
                thread.checkpoints[(record["ns"], record["id"])] = record
            elif record.get("k") == "w":
                thread.writes.setdefault((record["ns"], record["cid"]), []).append(record)
        return thread

    def tuple(
        self, serde: SerializerProtocol, record: dict[str, Any], metadata: Any = None
    ) -> CheckpointTuple:
        thread_id, ns, cid = record["t"], record["ns"], record["id"]
        writes = sorted(
            self.writes.get((ns, cid), ()),
            key=lambda w: writes_sort_key(w["path"], w["task"], w["idx"]),
        )
        parent = record["parent"]
        return CheckpointTuple(
            config=_config(thread_id, ns, cid),
            checkpoint=_untyped(serde, record["cp"]),
            metadata=_untyped(serde, record["md"]) if metadata is None else metadata,
            parent_config=_config(thread_id, ns, parent) if parent else None,
            pending_writes=[(w["task"], w["ch"], _untyped(serde, w["v"])) for w in writes],
        )

    def latest(self, ns: str) -> dict[str, Any] | None:
        ids = [cid for (ns_, cid) in self.checkpoints if ns_ == ns]
        return self.checkpoints[(ns, max(ids))] if ids else None

    def select(
        self,
        serde: SerializerProtocol,
        ns: str | None,
        checkpoint_id: str | None,
        filter: Mapping[str, Any] | None,
        before_id: str | None,
    ) -> Iterator[CheckpointTuple]:
        """Matching checkpoints, newest first within each namespace (as LangGraph lists)."""
        for (ns_, cid), record in sorted(
            self.checkpoints.items(), key=lambda item: (item[0][0], item[0][1]), reverse=True
        ):
            if ns is not None and ns_ != ns:
                continue
            if checkpoint_id and cid != checkpoint_id:
                continue
            if before_id and cid >= before_id:
                continue
            metadata = _untyped(serde, record["md"])
            if filter and not all(metadata.get(k) == v for k, v in filter.items()):
                continue
            yield self.tuple(serde, record, metadata)


def _checkpoint_record(
    serde: SerializerProtocol,
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
) -> tuple[str, str, str, dict[str, Any]]:
    conf = config["configurable"]
    thread_id, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
    record = {
        "k": "c",
        "t": thread_id,
        "ns": ns,
        "id": checkpoint["id"],
        "parent": conf.get("checkpoint_id"),
        "cp": _typed(serde, checkpoint),
        "md": _typed(serde, get_checkpoint_metadata(config, metadata)),
    }
    return thread_id, ns, _checkpoint_key(ns, checkpoint["id"]), record


def _write_records(
    serde: SerializerProtocol,
    config: RunnableConfig,
    writes: Sequence[tuple[str, Any]],
    task_id: str,
    task_path: str,
) -> tuple[str, dict[str, Any]]:
    conf = config["configurable"]
    ns, cid = str(conf.get("checkpoint_ns", "")), str(conf["checkpoint_id"])
    records: dict[str, Any] = {}
    for idx, (channel, value) in enumerate(writes):
        # Special channels (errors, interrupts...) have fixed negative slots, replaced on
        # each write; ordinary writes are numbered by position, so a retry rewrites the same
        # keys instead of adding copies.
        slot = WRITES_IDX_MAP.get(channel, idx)
        records[_write_key(ns, cid, task_id, slot)] = {
            "k": "w",
            "ns": ns,
            "cid": cid,
            "task": task_id,
            "path": task_path,
            "idx": slot,
            "ch": channel,
            "v": _typed(serde, value),
        }
    return str(conf["thread_id"]), records


def _thread_id(config: RunnableConfig | None) -> str | None:
    if not config:
        return None
    value = config.get("configurable", {}).get("thread_id")
    return None if value is None else str(value)


def _ns_of(config: RunnableConfig | None) -> str | None:
    return None if not config else config.get("configurable", {}).get("checkpoint_ns")


def _limited(found: Iterator[CheckpointTuple], limit: int | None) -> Iterator[CheckpointTuple]:
    for n, item in enumerate(found):
        if limit is not None and n >= limit:
            return
        yield item


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
        self.threads = ThreadStore(memory, agent, ttl)

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint `config` names (its ``checkpoint_id``, else the thread's latest)."""
        thread_id = _thread_id(config)
        if thread_id is None:
            return None
        return _get(self.serde, thread_id, config, self.threads.load(thread_id))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first: of one thread (or all), filtered by metadata values."""
        thread_id = _thread_id(config)
        if thread_id is not None:
            loaded = [self.threads.load(thread_id)]
        else:
            loaded = [self.threads.load_session(sid) for sid in self.threads.sessions()]
        yield from _limited(_select(self.serde, loaded, config, filter, before), limit)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint; returns the config that names it."""
        thread_id, ns, key, record = _checkpoint_record(self.serde, config, checkpoint, metadata)
        self.threads.save(thread_id, {key: record})
        return _config(thread_id, ns, checkpoint["id"])

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes for the checkpoint `config` names (one write)."""
        thread_id, records = _write_records(self.serde, config, writes, task_id, task_path)
        if records:
            self.threads.save(thread_id, records)

    def delete_thread(self, thread_id: str) -> None:
        """Remove every checkpoint and write of the thread."""
        self.threads.clear(str(thread_id))

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
        self.threads = AsyncThreadStore(memory, agent, ttl)
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint `config` names (its ``checkpoint_id``, else the thread's latest)."""
        thread_id = _thread_id(config)
        if thread_id is None:
            return None
        return _get(self.serde, thread_id, config, await self.threads.load(thread_id))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Checkpoints newest first: of one thread (or all), filtered by metadata values."""
        thread_id = _thread_id(config)
        if thread_id is not None:
            loaded = [await self.threads.load(thread_id)]
        else:
            loaded = [await self.threads.load_session(sid) for sid in await self.threads.sessions()]
        for item in _limited(_select(self.serde, loaded, config, filter, before), limit):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint; returns the config that names it."""
        thread_id, ns, key, record = _checkpoint_record(self.serde, config, checkpoint, metadata)
        await self.threads.save(thread_id, {key: record})
        return _config(thread_id, ns, checkpoint["id"])

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes for the checkpoint `config` names (one write)."""
        thread_id, records = _write_records(self.serde, config, writes, task_id, task_path)
        if records:
            await self.threads.save(thread_id, records)

    async def adelete_thread(self, thread_id: str) -> None:
        """Remove every checkpoint and write of the thread."""
        await self.threads.clear(str(thread_id))

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


def _get(
    serde: SerializerProtocol, thread_id: str, config: RunnableConfig, records: dict[str, Any]
) -> CheckpointTuple | None:
    thread = _Thread.parse(records)
    ns = str(config["configurable"].get("checkpoint_ns", ""))
    checkpoint_id = get_checkpoint_id(config)
    record = thread.checkpoints.get((ns, checkpoint_id)) if checkpoint_id else thread.latest(ns)
    return None if record is None else thread.tuple(serde, record)


def _select(
    serde: SerializerProtocol,
    loaded: Sequence[dict[str, Any]],
    config: RunnableConfig | None,
    filter: Mapping[str, Any] | None,
    before: RunnableConfig | None,
) -> Iterator[CheckpointTuple]:
    ns = _ns_of(config)
    checkpoint_id = get_checkpoint_id(config) if config else None
    before_id = get_checkpoint_id(before) if before else None
    for records in loaded:
        yield from _Thread.parse(records).select(serde, ns, checkpoint_id, filter, before_id)
