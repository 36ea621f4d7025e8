"""Where a LangGraph checkpointer's records live (the source of `_sync/checkpoints.py`).

A thread is one session of the saver's agent: each checkpoint is a key of its working memory,
and the key ``["latest", ns]`` holds a copy of the newest one, so reading the latest (or any
one) checkpoint never reads the whole thread. The pending writes of one checkpoint are a session
of their own (of the agent ``<agent>-writes``), read in one round trip beside it (`list` reads
those of every checkpoint it returns together). Records are
plain JSON dicts here; `aether_memory.integrations.langgraph` builds and reads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from aether_memory.client._async.memory import AsyncMemory
from aether_memory.integrations._async.threads import AsyncThreadStore

Record = dict[str, Any]


def checkpoint_key(ns: str, checkpoint_id: str) -> str:
    """The key of a checkpoint in its thread (a JSON array: unambiguous for any ns and id)."""
    return orjson.dumps(["c", ns, checkpoint_id]).decode()


def latest_key(ns: str) -> str:
    """The key of the copy of a namespace's newest checkpoint."""
    return orjson.dumps(["latest", ns]).decode()


def writes_thread(thread_id: str, ns: str, checkpoint_id: str) -> str:
    """The thread that holds one checkpoint's pending writes."""
    return orjson.dumps([thread_id, ns, checkpoint_id]).decode()


def is_checkpoint(record: Any) -> bool:
    return isinstance(record, dict) and record.get("k") == "c"


class AsyncCheckpointStore:
    """Checkpoints and pending writes of LangGraph threads, on an `AsyncMemory`."""

    def __init__(self, memory: AsyncMemory, agent: str, ttl: float | None = None) -> None:
        self.threads = AsyncThreadStore(memory, agent, ttl)
        self.writes = AsyncThreadStore(memory, f"{agent}-writes", ttl)

    async def get(
        self, thread_id: str, ns: str, checkpoint_id: str | None
    ) -> tuple[Record, list[Record]] | None:
        """A checkpoint (the newest when `checkpoint_id` is None) and its writes."""
        key = latest_key(ns) if not checkpoint_id else checkpoint_key(ns, checkpoint_id)
        record = await self.threads.get(thread_id, key)
        if not is_checkpoint(record):
            return None
        writes = await self.writes.load(writes_thread(thread_id, ns, record["id"]))
        return record, list(writes.values())

    async def checkpoints(self, thread_id: str | None) -> list[Record]:
        """Every checkpoint of a thread (of every thread when `thread_id` is None)."""
        if thread_id is not None:
            loaded = [await self.threads.load(thread_id)]
        else:
            loaded = await self.threads.load_sessions(await self.threads.sessions())
        return [
            record
            for records in loaded
            for key, record in records.items()
            if is_checkpoint(record) and not key.startswith('["latest"')
        ]

    async def writes_of(self, records: Sequence[Record]) -> list[list[Record]]:
        """The pending writes of each checkpoint record, in their order, read together."""
        found = await self.writes.load_many(
            [writes_thread(r["t"], r["ns"], r["id"]) for r in records]
        )
        return [list(writes.values()) for writes in found]

    async def put(self, thread_id: str, record: Record) -> None:
        """Store a checkpoint and make it its namespace's newest, in one write."""
        ns = record["ns"]
        await self.threads.save(
            thread_id, {checkpoint_key(ns, record["id"]): record, latest_key(ns): record}
        )

    async def put_writes(
        self, thread_id: str, ns: str, checkpoint_id: str, records: Mapping[str, Record]
    ) -> None:
        """Store pending writes of one checkpoint (same key: replaced)."""
        await self.writes.save(writes_thread(thread_id, ns, checkpoint_id), records)

    async def delete(self, thread_id: str) -> None:
        """Remove a thread's checkpoints and their writes."""
        for record in await self.checkpoints(thread_id):
            await self.writes.clear(writes_thread(thread_id, record["ns"], record["id"]))
        await self.threads.clear(thread_id)
