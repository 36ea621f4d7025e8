"""The SQLite store: the kernel and long-term tables of one file, behind the storage protocol.

SQLite calls block, so the async store runs each operation in a worker thread (one
transaction each); the generated sync twin calls them directly.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aether_memory.backends.sqlite.db import KERNEL_SCHEMA, Database
from aether_memory.backends.sqlite.kernel import Kernel
from aether_memory.backends.sqlite.longterm import LONGTERM_SCHEMA, LongTerm
from aether_memory.backends.sqlite.outbox import OUTBOX_SCHEMA, Outbox
from aether_memory.core.config import Options, SessionTTLs
from aether_memory.core.keys import SessionKeys
from aether_memory.core.query import Filters
from aether_memory.core.types import Capabilities
from aether_memory.storage._async.store import AsyncLongTermStore, EventRow, HashKind
from aether_memory.storage.rows import Candidate, Row


class AsyncSqliteLongTerm:
    """The long-term memory role of the SQLite store."""

    def __init__(self, tables: LongTerm) -> None:
        self._tables = tables

    @property
    def indexed(self) -> bool:
        return self._tables.indexed

    async def setup(self, ns: str, dims: int, model: str) -> None:
        return await asyncio.to_thread(self._tables.setup, ns, dims, model)

    async def find_existing(
        self, ns: str, hashes: Sequence[str], vectors: Sequence[bytes], scope: Filters
    ) -> tuple[list[str | None], list[tuple[str, float, float] | None]]:
        return await asyncio.to_thread(self._tables.find_existing, ns, hashes, vectors, scope)

    async def put(self, ns: str, rows: Sequence[tuple[str, Row, int | None]]) -> None:
        return await asyncio.to_thread(self._tables.put, ns, rows)

    async def reinforce(self, ns: str, items: Sequence[tuple[str, float]], now_ms: int) -> None:
        return await asyncio.to_thread(self._tables.reinforce, ns, items, now_ms)

    async def search(
        self, ns: str, scope: Filters, vector: bytes, codes: Sequence[str], n: int
    ) -> dict[str, Candidate]:
        return await asyncio.to_thread(self._tables.search, ns, scope, vector, codes, n)

    async def fetch(
        self, ns: str, ids: Sequence[str], now_ms: int | None = None
    ) -> list[Row | None]:
        return await asyncio.to_thread(self._tables.fetch, ns, ids, now_ms)

    async def get(self, ns: str, ids: Sequence[str]) -> list[Row | None]:
        return await asyncio.to_thread(self._tables.get, ns, ids)

    async def delete(self, ns: str, ids: Sequence[str], hashes: Sequence[str]) -> int:
        return await asyncio.to_thread(self._tables.delete, ns, ids, hashes)

    async def update(
        self,
        ns: str,
        memory_id: str,
        fields: Mapping[str, Any],
        rehash: tuple[str, str] | None = None,
    ) -> None:
        return await asyncio.to_thread(self._tables.update, ns, memory_id, fields, rehash)

    async def skill_put(
        self, ns: str, name: str, fields: Mapping[str, Any], ttl_ms: int | None
    ) -> None:
        return await asyncio.to_thread(self._tables.skill_put, ns, name, fields, ttl_ms)

    async def skill_get(self, ns: str, names: Sequence[str]) -> list[Row | None]:
        return await asyncio.to_thread(self._tables.skill_get, ns, names)

    async def skill_run(
        self, ns: str, name: str, success: bool, duration: float, ttl_ms: int | None
    ) -> bool:
        return await asyncio.to_thread(self._tables.skill_run, ns, name, success, duration, ttl_ms)


class AsyncSqliteStore:
    """Memory-kernel storage in one SQLite file (WAL mode), safe across threads and processes."""

    def __init__(self, database: Database, options: Options) -> None:
        self._db = database
        self._kernel = Kernel(database, options.events_maxlen)
        self.capabilities = Capabilities(backend="sqlite", server_version=sqlite3.sqlite_version)
        self._tables = LongTerm(database)
        self.longterm: AsyncLongTermStore = AsyncSqliteLongTerm(self._tables)
        self._outbox = Outbox(database)

    @classmethod
    async def connect(cls, path: str | Path, options: Options) -> AsyncSqliteStore:
        """Open (creating if needed) the database file at `path`."""
        database = Database(path, KERNEL_SCHEMA + LONGTERM_SCHEMA + OUTBOX_SCHEMA)
        await asyncio.to_thread(database.open)
        return cls(database, options)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._db.close)

    async def ping(self) -> bool:
        return True

    @property
    def path(self) -> Path:
        return self._db.path

    # -- the outbox (when this store is a fallback) -------------------------------------------
    async def outbox_spill(self, op: str, args: Sequence[Any], entry: bytes) -> Any:
        """Apply the write `op` (a name of `storage.outbox.WRITES`) here and queue `entry`
        for the primary, in one transaction: never one without the other."""
        return await asyncio.to_thread(self._spill, op, args, entry)

    def _spill(self, op: str, args: Sequence[Any], entry: bytes) -> Any:
        role, _, name = op.rpartition(".")
        method = (
            self._messages
            if op == "messages_append"
            else getattr(self._tables if role else self._kernel, name)
        )
        with self._db.riding(lambda c: Outbox.append(c, entry)):
            return method(*args)

    async def outbox_peek(self, limit: int) -> list[tuple[int, bytes]]:
        return await asyncio.to_thread(self._outbox.peek, limit)

    async def outbox_remove(self, seqs: Sequence[int]) -> None:
        await asyncio.to_thread(self._outbox.remove, seqs)

    async def outbox_depth(self) -> int:
        return await asyncio.to_thread(self._outbox.depth)

    async def outbox_claim(self, owner: str, ttl_ms: int) -> bool:
        return await asyncio.to_thread(self._outbox.claim, owner, ttl_ms)

    async def outbox_release(self, owner: str) -> None:
        await asyncio.to_thread(self._outbox.release, owner)

    # -- the kernel ------------------------------------------------------------------------------

    async def agents(self, ns: str) -> list[str]:
        return await asyncio.to_thread(self._kernel.agents, ns)

    async def identity_put(self, ns: str, agent: str, docs: Mapping[str, bytes]) -> None:
        return await asyncio.to_thread(self._kernel.identity_put, ns, agent, docs)

    async def identity_get(self, ns: str, agent: str, name: str) -> bytes | None:
        return await asyncio.to_thread(self._kernel.identity_get, ns, agent, name)

    async def identity_all(self, ns: str, agent: str) -> dict[str, bytes]:
        return await asyncio.to_thread(self._kernel.identity_all, ns, agent)

    async def identity_delete(self, ns: str, agent: str, names: Sequence[str]) -> int:
        return await asyncio.to_thread(self._kernel.identity_delete, ns, agent, names)

    async def state_put(self, ns: str, agent: str, fields: Mapping[str, bytes]) -> None:
        return await asyncio.to_thread(self._kernel.state_put, ns, agent, fields)

    async def state_get(self, ns: str, agent: str) -> dict[str, bytes]:
        return await asyncio.to_thread(self._kernel.state_get, ns, agent)

    async def session_open(self, s: SessionKeys, now_ms: int, ttl_ms: int | None) -> None:
        return await asyncio.to_thread(self._kernel.session_open, s, now_ms, ttl_ms)

    async def sessions(self, ns: str, agent: str, limit: int) -> list[tuple[str, int]]:
        return await asyncio.to_thread(self._kernel.sessions, ns, agent, limit)

    async def session_meta(self, s: SessionKeys) -> dict[str, bytes]:
        return await asyncio.to_thread(self._kernel.session_meta, s)

    async def session_link(
        self, parent: SessionKeys, child: SessionKeys, now_ms: int, ttl_ms: int | None
    ) -> None:
        return await asyncio.to_thread(self._kernel.session_link, parent, child, now_ms, ttl_ms)

    async def hash_set(
        self,
        s: SessionKeys,
        kind: HashKind,
        fields: Mapping[str, bytes],
        now_ms: int,
        ttl_ms: int | None,
    ) -> None:
        return await asyncio.to_thread(self._kernel.hash_set, s, kind, fields, now_ms, ttl_ms)

    async def hash_get(self, s: SessionKeys, kind: HashKind, field: str) -> bytes | None:
        return await asyncio.to_thread(self._kernel.hash_get, s, kind, field)

    async def hash_all(self, s: SessionKeys, kind: HashKind) -> dict[str, bytes]:
        return await asyncio.to_thread(self._kernel.hash_all, s, kind)

    async def hash_delete(self, s: SessionKeys, kind: HashKind, fields: Sequence[str]) -> int:
        return await asyncio.to_thread(self._kernel.hash_delete, s, kind, fields)

    async def hash_clear(self, s: SessionKeys, kind: HashKind) -> None:
        return await asyncio.to_thread(self._kernel.hash_clear, s, kind)

    async def events_append(
        self, s: SessionKeys, rows: Sequence[EventRow], now_ms: int, ttls: SessionTTLs
    ) -> None:
        return await asyncio.to_thread(self._kernel.events_append, s, rows, now_ms, ttls)

    async def messages_append(
        self,
        s: SessionKeys,
        rows: Sequence[EventRow],
        now_ms: int,
        ttls: SessionTTLs,
        memories: Sequence[tuple[str, Row, int | None]],
    ) -> None:
        return await asyncio.to_thread(self._messages, s, rows, now_ms, ttls, memories)

    def _messages(
        self,
        s: SessionKeys,
        rows: Sequence[EventRow],
        now_ms: int,
        ttls: SessionTTLs,
        memories: Sequence[tuple[str, Row, int | None]],
    ) -> None:
        """The events and the memories in one transaction."""
        with self._db.riding(lambda c: self._tables.put_rows(c, s.ns, memories)):
            self._kernel.events_append(s, rows, now_ms, ttls)

    async def events_tail(
        self, s: SessionKeys, limit: int, types: frozenset[str] | None
    ) -> list[EventRow]:
        return await asyncio.to_thread(self._kernel.events_tail, s, limit, types)

    async def checkpoint_save(
        self, s: SessionKeys, state: bytes, now_ms: int, ttls: SessionTTLs, keep: int
    ) -> int:
        return await asyncio.to_thread(self._kernel.checkpoint_save, s, state, now_ms, ttls, keep)

    async def checkpoint_load(self, s: SessionKeys, n: int | None) -> tuple[int, bytes] | None:
        return await asyncio.to_thread(self._kernel.checkpoint_load, s, n)

    async def checkpoint_list(self, s: SessionKeys) -> list[tuple[int, int]]:
        return await asyncio.to_thread(self._kernel.checkpoint_list, s)

    async def tools_get_or_put(
        self, s: SessionKeys, value: bytes | None, ttl_ms: int | None
    ) -> bytes | None:
        return await asyncio.to_thread(self._kernel.tools_get_or_put, s, value, ttl_ms)

    async def cache_get(self, key: str) -> bytes | None:
        return await asyncio.to_thread(self._kernel.cache_get, key)

    async def cache_put(self, key: str, value: bytes, ttl_ms: int | None) -> None:
        return await asyncio.to_thread(self._kernel.cache_put, key, value, ttl_ms)
