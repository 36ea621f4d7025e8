"""Framework threads kept in aether sessions (the source of `integrations/_sync/threads.py`).

A thread — a LangGraph thread, an OpenAI Agents session, a LangChain conversation — is one
aether session of one agent, and its records are that session's working-memory keys. Working
memory here never expires unless a TTL is given (see `durable`). Every method is one round
trip, on every backend (the batch reads: one per `MAX_BATCH` threads).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aether_memory.client._async.memory import AsyncMemory
from aether_memory.client._async.session import AsyncSession
from aether_memory.client.common import MAX_BATCH
from aether_memory.core.ids import new_id
from aether_memory.integrations._common import durable, session_id

DEFAULT_THREADS_LIMIT = 10_000
ITEM_PREFIX = "item:"


class AsyncThreadStore:
    """Records by key inside threads of one agent; records are JSON values."""

    def __init__(self, memory: AsyncMemory, agent: str, ttl: float | None = None) -> None:
        self.memory = durable(memory, ttl)
        self.agent = self.memory.agent(agent)

    def session(self, thread_id: str) -> AsyncSession:
        """The aether session that holds `thread_id` (no I/O)."""
        return self.agent.session(session_id(thread_id))

    async def load(self, thread_id: str) -> dict[str, Any]:
        """Every record of the thread, by key."""
        return await self.session(thread_id).working.all()

    async def load_session(self, sid: str) -> dict[str, Any]:
        """Every record of the thread held by session `sid` (see `sessions`)."""
        return await self.agent.session(sid).working.all()

    async def load_many(self, thread_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Every record of each thread, in their order (one round trip per `MAX_BATCH`)."""
        return await self.load_sessions([session_id(t) for t in thread_ids])

    async def load_sessions(self, sids: Sequence[str]) -> list[dict[str, Any]]:
        """`load_session` of each of `sids`, in their order (one round trip per `MAX_BATCH`)."""
        loaded: list[dict[str, Any]] = []
        for start in range(0, len(sids), MAX_BATCH):
            loaded += await self.agent.working_of(sids[start : start + MAX_BATCH])
        return loaded

    async def get(self, thread_id: str, key: str) -> Any:
        """One record, or None."""
        return await self.session(thread_id).working.get(key)

    async def save(self, thread_id: str, records: Mapping[str, Any]) -> None:
        """Write several records in one atomic write (others are kept)."""
        await self.session(thread_id).working.update(records)

    async def append(
        self, thread_id: str, values: Sequence[Any], prefix: str = ITEM_PREFIX
    ) -> None:
        """Append values to the thread's list, in order, in one write (keys are sortable ids,
        increasing within a process)."""
        if values:
            await self.save(thread_id, {prefix + new_id(): value for value in values})

    async def items(self, thread_id: str, prefix: str = ITEM_PREFIX) -> list[tuple[str, Any]]:
        """The thread's list as ``(key, value)`` pairs, oldest first."""
        records = await self.load(thread_id)
        return sorted((k, v) for k, v in records.items() if k.startswith(prefix))

    async def delete(self, thread_id: str, keys: Sequence[str]) -> int:
        """Remove some records; returns how many existed."""
        return await self.session(thread_id).working.delete(*keys)

    async def clear(self, thread_id: str) -> None:
        """Remove every record of the thread."""
        await self.session(thread_id).working.clear()

    async def sessions(self, limit: int = DEFAULT_THREADS_LIMIT) -> list[str]:
        """Ids of the sessions that hold this agent's threads, most recently active first."""
        return [info.id for info in await self.agent.sessions(limit)]

    async def keys(self, thread_id: str) -> list[str]:
        """The keys of the thread's records, sorted, without reading the records."""
        return await self.session(thread_id).working.keys()

    def read(self, thread_id: str, keys: Sequence[str] | None = None) -> tuple[str, str, Any]:
        """A read of some records of the thread (every record when `keys` is None), for
        `AsyncMemory.read_working` (no I/O)."""
        return (self.agent.id, session_id(thread_id), None if keys is None else list(keys))
