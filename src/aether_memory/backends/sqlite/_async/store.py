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

from aether_memory.backends.sqlite import kernel
from aether_memory.backends.sqlite._async.feed import AsyncSqliteFeed
from aether_memory.backends.sqlite._async.queues import AsyncSqliteQueues
from aether_memory.backends.sqlite.db import KERNEL_SCHEMA, Database
from aether_memory.backends.sqlite.feed import FEED_SCHEMA, FeedTables
from aether_memory.backends.sqlite.kernel import Kernel
from aether_memory.backends.sqlite.longterm import LONGTERM_SCHEMA, LongTerm, migrate
from aether_memory.backends.sqlite.mirror import Mirror
from aether_memory.backends.sqlite.outbox import OUTBOX_SCHEMA, Outbox
from aether_memory.backends.sqlite.queues import QUEUE_SCHEMA, QueueTables
from aether_memory.core.agent_metrics import MetricWrite
from aether_memory.core.config import Options, SessionTTLs
from aether_memory.core.errors import AetherError
from aether_memory.core.keys import SessionKeys
from aether_memory.core.query import Filters
from aether_memory.core.types import Capabilities, Checkup
from aether_memory.storage._async.feed import AsyncFeedStore
from aether_memory.storage._async.queues import AsyncQueueStore
from aether_memory.storage._async.store import AsyncLongTermStore
from aether_memory.storage.outbox import OutboxClosed, encode
from aether_memory.storage.rows import Candidate, CheckpointRow, EventRow, HashKind, Row

# How far a checkpoint made during an outage numbers past the last one the primary gave that
# this file saw (see `Kernel.checkpoint_save`).
CHECKPOINT_GAP = 1000


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

    async def reinforce(
        self,
        ns: str,
        items: Sequence[tuple[str, float]],
        now_ms: int,
        write_id: str | None = None,
    ) -> None:
        return await asyncio.to_thread(self._tables.reinforce, ns, items, now_ms, write_id)

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
        self,
        ns: str,
        name: str,
        success: bool,
        duration: float,
        ttl_ms: int | None,
        write_id: str | None = None,
    ) -> bool:
        run = self._tables.skill_run
        return await asyncio.to_thread(run, ns, name, success, duration, ttl_ms, write_id)

    async def page(self, ns: str, after: str | None, limit: int) -> list[tuple[str, Row | None]]:
        return await asyncio.to_thread(self._tables.page, ns, after, limit)

    async def load(self, ns: str, rows: Sequence[tuple[str, Row, int | None]]) -> None:
        return await asyncio.to_thread(self._tables.load, ns, rows)

    async def skill_names(self, ns: str, after: str | None, limit: int) -> list[str]:
        return await asyncio.to_thread(self._tables.skill_names, ns, after, limit)

    async def skill_delete(self, ns: str, names: Sequence[str]) -> int:
        return await asyncio.to_thread(self._tables.skill_delete, ns, names)

    async def usage(self, ns: str) -> tuple[int, int] | None:
        return await asyncio.to_thread(self._tables.usage, ns)

    async def add_usage(self, ns: str, count: int, size: int) -> None:
        return await asyncio.to_thread(self._tables.add_usage, ns, count, size)

    async def pass_claim(self, ns: str, owner: str, ttl_ms: int) -> bool:
        return await asyncio.to_thread(self._tables.pass_claim, ns, owner, ttl_ms)

    async def pass_release(self, ns: str, owner: str) -> None:
        return await asyncio.to_thread(self._tables.pass_release, ns, owner)


class AsyncSqliteStore:
    """Memory-kernel storage in one SQLite file (WAL mode), safe across threads and processes."""

    def __init__(self, database: Database, options: Options) -> None:
        self._db = database
        self._kernel = Kernel(database, options.events_maxlen)
        self.capabilities = Capabilities(backend="sqlite", server_version=sqlite3.sqlite_version)
        self._tables = LongTerm(database)
        self.longterm: AsyncLongTermStore = AsyncSqliteLongTerm(self._tables)
        self._outbox = Outbox(database)
        self._mirror = Mirror(self._apply)
        self._feed_tables = FeedTables(database)
        self.feed: AsyncFeedStore = AsyncSqliteFeed(self._feed_tables)
        self.queues: AsyncQueueStore = AsyncSqliteQueues(QueueTables(database))

    @classmethod
    async def connect(
        cls, path: str | Path, options: Options, *, rescue: bool = False
    ) -> AsyncSqliteStore:
        """Open (creating if needed) the database file at `path`; with `rescue` (a
        fallback), a file deleted while open is re-created from the open copy instead of
        refusing writes.

        Raises:
            StoreDamaged: The file is not a readable SQLite database.
        """
        schema = KERNEL_SCHEMA + LONGTERM_SCHEMA + OUTBOX_SCHEMA + FEED_SCHEMA + QUEUE_SCHEMA
        database = Database(path, schema, rescue=rescue)
        await asyncio.to_thread(database.open)
        await asyncio.to_thread(migrate, database)
        return cls(database, options)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._mirror.close)
        await asyncio.to_thread(self._db.close)

    async def ping(self) -> bool:
        return True

    async def checkup(self) -> Checkup:
        """Whether the file is still the one this store opened (not deleted or replaced)."""
        return Checkup(warnings=tuple(await asyncio.to_thread(self._db.problems)))

    @property
    def path(self) -> Path:
        return self._db.path

    # -- the outbox and the mirror (when this store is a fallback) ---------------------------
    async def outbox_spill(self, op: str, args: Sequence[Any], epoch: int) -> Any:
        """Apply the write `op` (a name of `storage.outbox.WRITES`) here and queue it for the
        primary, in one transaction: never one without the other. Raises `OutboxClosed`
        (writing nothing) once `epoch` is closed: the primary serves again."""
        return await asyncio.to_thread(self._spill, op, args, epoch)

    def _spill(self, op: str, args: Sequence[Any], epoch: int) -> Any:
        with self._db.write() as c:
            if not Outbox.is_open(c, epoch):
                raise OutboxClosed(epoch)
            if op.startswith("queues."):  # owed to the primary, not served from here
                result = args[2]  # a put's task id
            elif op == "checkpoint_save":
                s, state, now, ttls, keep, write_id, n, *rest = args
                opening = rest[0] if rest else None  # an entry queued before `opening` existed
                save = self._kernel.checkpoint_save
                result = save(s, state, now, ttls, keep, write_id, n, opening, CHECKPOINT_GAP)
            else:
                result = self._method(op)(*args)
            if op == "checkpoint_save":  # replayed with the number it was given here
                args = (*args[:5], args[5] if len(args) > 5 else None, result, *args[7:])
            elif op == "longterm.skill_run" and not result:
                return result  # no such skill here: the caller is told, nothing is queued
            Outbox.append(c, encode(op, tuple(args)))
        return result

    def _method(self, op: str) -> Any:
        role, _, name = op.rpartition(".")
        if name == "erase_namespace":  # spans both roles: the store itself runs it
            return self._erase_namespace
        if name == "messages_append":  # events and memories: the store runs both
            return self._messages
        if role == "feed":
            return getattr(self._feed_tables, name)
        return getattr(self._tables if role else self._kernel, name)

    def _apply(self, writes: list[tuple[str, Sequence[Any]]]) -> None:
        with self._db.write():  # one transaction for the whole batch
            for op, args in writes:
                self._method(op)(*args)

    def mirror(self, op: str, args: Sequence[Any]) -> None:
        """Copy a write the primary acknowledged into this file, soon (see `Mirror`)."""
        self._mirror.put(op, args)

    async def mirror_flush(self) -> bool:
        """Wait until every mirrored write is in the file."""
        return await asyncio.to_thread(self._mirror.flush)

    @property
    def mirror_state(self) -> Mirror:
        return self._mirror

    async def outbox_join(self) -> int:
        return await asyncio.to_thread(self._outbox.join)

    async def outbox_state(self) -> tuple[int, int]:
        return await asyncio.to_thread(self._outbox.state)

    async def outbox_begin_close(self) -> None:
        await asyncio.to_thread(self._outbox.begin_close)

    async def outbox_finish_close(self) -> bool:
        return await asyncio.to_thread(self._outbox.finish_close)

    async def outbox_peek(self, limit: int) -> list[tuple[int, bytes]]:
        return await asyncio.to_thread(self._outbox.peek, limit)

    async def outbox_remove(self, seqs: Sequence[int]) -> None:
        await asyncio.to_thread(self._outbox.remove, seqs)

    async def outbox_depth(self) -> int:
        return await asyncio.to_thread(self._outbox.depth)

    def outbox_depth_now(self) -> int:
        """`outbox_depth` in the calling thread (for a metrics callback)."""
        return self._outbox.depth()

    async def outbox_claim(self, owner: str, ttl_ms: int) -> bool:
        return await asyncio.to_thread(self._outbox.claim, owner, ttl_ms)

    async def outbox_release(self, owner: str) -> None:
        await asyncio.to_thread(self._outbox.release, owner)

    async def replay(self, writes: Sequence[tuple[str, Sequence[Any]]]) -> list[AetherError | None]:
        """Apply queued writes in order (as the Redis store does, without the pipeline)."""
        out: list[AetherError | None] = []
        for op, args in writes:
            try:
                method = self._method(op)
                await asyncio.to_thread(method, *args)
                out.append(None)
            except AetherError as exc:
                out.append(exc)
        return out

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
        opening: SessionTTLs | None = None,
    ) -> None:
        put = self._kernel.hash_set
        return await asyncio.to_thread(put, s, kind, fields, now_ms, ttl_ms, opening)

    async def hash_get(self, s: SessionKeys, kind: HashKind, field: str) -> bytes | None:
        return await asyncio.to_thread(self._kernel.hash_get, s, kind, field)

    async def hash_all(self, s: SessionKeys, kind: HashKind) -> dict[str, bytes]:
        return await asyncio.to_thread(self._kernel.hash_all, s, kind)

    async def hash_all_many(
        self, sessions: Sequence[SessionKeys], kind: HashKind
    ) -> list[dict[str, bytes]]:
        return await asyncio.to_thread(self._kernel.hash_all_many, sessions, kind)

    async def hash_delete(self, s: SessionKeys, kind: HashKind, fields: Sequence[str]) -> int:
        return await asyncio.to_thread(self._kernel.hash_delete, s, kind, fields)

    async def hash_clear(self, s: SessionKeys, kind: HashKind) -> None:
        return await asyncio.to_thread(self._kernel.hash_clear, s, kind)

    async def events_append(
        self,
        s: SessionKeys,
        rows: Sequence[EventRow],
        now_ms: int,
        ttls: SessionTTLs,
        metrics: Sequence[MetricWrite] = (),
        opening: SessionTTLs | None = None,
    ) -> None:
        append = self._kernel.events_append
        return await asyncio.to_thread(append, s, rows, now_ms, ttls, metrics, opening)

    async def messages_append(
        self,
        s: SessionKeys,
        rows: Sequence[EventRow],
        now_ms: int,
        ttls: SessionTTLs,
        memories: Sequence[tuple[str, Row, int | None]],
        opening: SessionTTLs | None = None,
    ) -> None:
        return await asyncio.to_thread(self._messages, s, rows, now_ms, ttls, memories, opening)

    def _messages(
        self,
        s: SessionKeys,
        rows: Sequence[EventRow],
        now_ms: int,
        ttls: SessionTTLs,
        memories: Sequence[tuple[str, Row, int | None]],
        opening: SessionTTLs | None = None,
    ) -> None:
        """The events and the memories in one transaction."""
        with self._db.write() as c:
            self._kernel.events_append(s, rows, now_ms, ttls, (), opening)
            self._tables.put_rows(c, s.ns, memories)

    async def events_tail(
        self, s: SessionKeys, limit: int, types: frozenset[str] | None
    ) -> list[EventRow]:
        return await asyncio.to_thread(self._kernel.events_tail, s, limit, types)

    async def checkpoint_save(
        self,
        s: SessionKeys,
        state: bytes,
        now_ms: int,
        ttls: SessionTTLs,
        keep: int,
        write_id: str | None = None,
        n: int = 0,
        opening: SessionTTLs | None = None,
    ) -> int:
        save = self._kernel.checkpoint_save
        return await asyncio.to_thread(save, s, state, now_ms, ttls, keep, write_id, n, opening)

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

    async def sessions_page(
        self, ns: str, agent: str, before: tuple[int, str] | None, limit: int
    ) -> list[tuple[str, int]]:
        return await asyncio.to_thread(self._kernel.sessions_page, ns, agent, before, limit)

    async def events_page(
        self, s: SessionKeys, after: str | None, limit: int
    ) -> list[tuple[str, EventRow]]:
        return await asyncio.to_thread(self._kernel.events_page, s, after, limit)

    async def namespaces(self) -> list[str]:
        return await asyncio.to_thread(self._namespaces)

    def _namespaces(self) -> list[str]:
        with self._db.read() as c:
            rows = {ns for (ns,) in c.execute("SELECT DISTINCT ns FROM lt_memory")}
        return sorted(rows.union(self._kernel.namespaces()))

    async def session_load(
        self,
        s: SessionKeys,
        meta: Mapping[str, bytes],
        last_active: int,
        hashes: Mapping[str, Mapping[str, bytes]],
        tools: bytes | None,
        events: Sequence[EventRow],
        checkpoints: Sequence[CheckpointRow],
        ttls: SessionTTLs,
    ) -> None:
        args = (s, meta, last_active, hashes, tools, events, checkpoints, ttls)
        return await asyncio.to_thread(self._kernel.session_load, *args)

    async def erase_session(self, s: SessionKeys, dry_run: bool) -> dict[str, int]:
        return await asyncio.to_thread(self._kernel.erase_session, s, dry_run)

    async def erase_agent(self, ns: str, agent: str, dry_run: bool) -> dict[str, int]:
        return await asyncio.to_thread(self._kernel.erase_agent, ns, agent, dry_run)

    async def erase_namespace(self, ns: str, dry_run: bool) -> dict[str, int]:
        return await asyncio.to_thread(self._erase_namespace, ns, dry_run)

    async def hash_keys(self, s: SessionKeys, kind: HashKind) -> list[str]:
        return await asyncio.to_thread(self._kernel.hash_keys, s, kind)

    async def hash_pick(
        self, reads: Sequence[tuple[SessionKeys, HashKind, Sequence[str] | None]]
    ) -> list[dict[str, bytes]]:
        return await asyncio.to_thread(self._kernel.hash_pick, reads)

    async def metrics_read(self, names: Sequence[str]) -> list[dict[str, bytes]]:
        return await asyncio.to_thread(kernel.metrics_read, self._db, names)

    def _erase_namespace(self, ns: str, dry_run: bool) -> dict[str, int]:
        # One transaction: a crash leaves all of the namespace or none of it.
        with self._db.read() if dry_run else self._db.write() as c:
            counts = self._kernel.erase_namespace_keys(c, ns, dry_run)
            rows = self._tables.erase_rows(c, ns, dry_run)
            QueueTables.erase_rows(c, ns, dry_run)  # task queues go with the namespace
        if not dry_run:
            self._tables.forget_namespace(ns)
        return {**counts, "memories": rows["memories"], "dedup_entries": rows["dedup_entries"]}
