"""The memory kernel on SQLite: the Redis store's operations, key for key, each one
transaction on the Redis-shaped tables of `db`."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from aether_memory.backends.sqlite import db, feed
from aether_memory.backends.sqlite.db import Database
from aether_memory.core import keys
from aether_memory.core.agent_metrics import MetricWrite
from aether_memory.core.config import SessionTTLs
from aether_memory.core.keys import SessionKeys
from aether_memory.storage.inventory import count_keys
from aether_memory.storage.rows import CheckpointRow, EventRow, HashKind, event_trace

CHECKPOINT_WIDTH = 12  # zero-padded members sort as numbers, as in the Redis store
STREAM_COLUMNS = "key, seq, id, type, outcome, ts, latency_ms, data, trace_id"


def _open(c: sqlite3.Cursor, s: SessionKeys, now_ms: int, ttl_ms: int | None) -> None:
    """What `Kernel.session_open` does, inside a caller's transaction."""
    db.hsetnx(c, s.meta, "created_at", now_ms, now_ms)
    db.hset(c, s.meta, {"agent": s.agent}, now_ms)
    if ttl_ms is not None:
        db.pexpire(c, s.meta, ttl_ms, now_ms)
    db.zadd(c, s.sessions, {s.sid: now_ms}, now_ms)
    db.hset(c, keys.agents(s.ns), {s.agent: b""}, now_ms)


def _opening(c: sqlite3.Cursor, s: SessionKeys, now_ms: int, opening: SessionTTLs | None) -> None:
    """`_open` for a write given `opening` (see `AsyncStore.session_open`) into a session
    whose meta is missing: never written, erased (by any process) or expired. The meta lives
    as long as its events and checkpoints, as `_touch` keeps it."""
    if opening is not None and db.hget(c, s.meta, "agent", now_ms) is None:
        _open(c, s, now_ms, _max_ttl(opening.events_ms, opening.checkpoints_ms))


def _max_ttl(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else max(a, b)


def _stream_row(row: EventRow) -> tuple[Any, ...]:
    return (*row[:6], event_trace(row))


def _key(s: SessionKeys, kind: HashKind) -> str:
    return s.working if kind == "working" else s.scratch


class Kernel:
    """Identity, state, sessions, working memory, events, checkpoints and caches."""

    def __init__(self, database: Database, events_maxlen: int) -> None:
        self._db = database
        self._maxlen = events_maxlen

    # -- agents ----------------------------------------------------------------------------
    def agents(self, ns: str) -> list[str]:
        with self._db.read() as c:
            return sorted(db.hgetall(c, keys.agents(ns), db.now_ms()))

    def _put_agent_hash(self, key: str, ns: str, agent: str, fields: Mapping[str, bytes]) -> None:
        with self._db.write() as c:
            now = db.now_ms()
            db.hset(c, key, fields, now)
            db.hset(c, keys.agents(ns), {agent: b""}, now)

    def identity_put(self, ns: str, agent: str, docs: Mapping[str, bytes]) -> None:
        with self._db.write() as c:
            self._put_agent_hash(keys.identity(ns, agent), ns, agent, docs)
            feed.emit(c, ns, agent, "identity", ",".join(sorted(docs)), "put")

    def identity_get(self, ns: str, agent: str, name: str) -> bytes | None:
        with self._db.read() as c:
            return db.hget(c, keys.identity(ns, agent), name, db.now_ms())

    def identity_all(self, ns: str, agent: str) -> dict[str, bytes]:
        with self._db.read() as c:
            return db.hgetall(c, keys.identity(ns, agent), db.now_ms())

    def identity_delete(self, ns: str, agent: str, names: Sequence[str]) -> int:
        with self._db.write() as c:
            feed.emit(c, ns, agent, "identity", ",".join(sorted(names)), "deleted")
            return db.hdel(c, keys.identity(ns, agent), names, db.now_ms())

    def state_put(self, ns: str, agent: str, fields: Mapping[str, bytes]) -> None:
        with self._db.write() as c:
            self._put_agent_hash(keys.state(ns, agent), ns, agent, fields)
            feed.emit(c, ns, agent, "state", agent, "set")

    def state_get(self, ns: str, agent: str) -> dict[str, bytes]:
        with self._db.read() as c:
            return db.hgetall(c, keys.state(ns, agent), db.now_ms())

    # -- sessions ----------------------------------------------------------------------------
    def session_open(self, s: SessionKeys, now_ms: int, ttl_ms: int | None) -> None:
        with self._db.write() as c:
            _open(c, s, now_ms, ttl_ms)

    def sessions(self, ns: str, agent: str, limit: int) -> list[tuple[str, int]]:
        with self._db.read() as c:
            rows = db.zrange(c, keys.sessions(ns, agent), db.now_ms(), limit, reverse=True)
        return [(sid, int(score)) for sid, score in rows]

    def session_meta(self, s: SessionKeys) -> dict[str, bytes]:
        with self._db.read() as c:
            return db.hgetall(c, s.meta, db.now_ms())

    def session_link(
        self, parent: SessionKeys, child: SessionKeys, now_ms: int, ttl_ms: int | None
    ) -> None:
        with self._db.write() as c:
            fields = {"created_at": now_ms, "agent": child.agent, "parent": parent.sid}
            db.hset(c, child.meta, fields, now_ms)
            db.hset(c, parent.meta, {"rotated_to": child.sid}, now_ms)
            if ttl_ms is not None:
                db.pexpire(c, child.meta, ttl_ms, now_ms)
                db.pexpire(c, parent.meta, ttl_ms, now_ms)
            db.zadd(c, child.sessions, {child.sid: now_ms}, now_ms)

    # -- working memory and scratchpad -------------------------------------------------------
    def hash_set(
        self,
        s: SessionKeys,
        kind: HashKind,
        fields: Mapping[str, bytes],
        now_ms: int,
        ttl_ms: int | None,
        opening: SessionTTLs | None = None,
    ) -> None:
        key = _key(s, kind)
        with self._db.write() as c:
            db.hset(c, key, fields, now_ms)
            if ttl_ms is not None:
                db.pexpire(c, key, ttl_ms, now_ms)
            db.zadd(c, s.sessions, {s.sid: now_ms}, now_ms)
            _opening(c, s, now_ms, opening)

    def hash_get(self, s: SessionKeys, kind: HashKind, field: str) -> bytes | None:
        with self._db.read() as c:
            return db.hget(c, _key(s, kind), field, db.now_ms())

    def hash_all(self, s: SessionKeys, kind: HashKind) -> dict[str, bytes]:
        with self._db.read() as c:
            return db.hgetall(c, _key(s, kind), db.now_ms())

    def hash_all_many(
        self, sessions: Sequence[SessionKeys], kind: HashKind
    ) -> list[dict[str, bytes]]:
        with self._db.read() as c:
            now = db.now_ms()
            return [db.hgetall(c, _key(s, kind), now) for s in sessions]

    def hash_delete(self, s: SessionKeys, kind: HashKind, fields: Sequence[str]) -> int:
        with self._db.write() as c:
            return db.hdel(c, _key(s, kind), fields, db.now_ms())

    def hash_clear(self, s: SessionKeys, kind: HashKind) -> None:
        with self._db.write() as c:
            db.delete(c, _key(s, kind))

    # -- events --------------------------------------------------------------------------------
    def events_append(
        self,
        s: SessionKeys,
        rows: Sequence[EventRow],
        now_ms: int,
        ttls: SessionTTLs,
        metrics: Sequence[MetricWrite] = (),
        opening: SessionTTLs | None = None,
    ) -> None:
        with self._db.write() as c:
            _opening(c, s, now_ms, opening)
            metrics_add(c, metrics, now_ms)
            db.alive(c, s.events, now_ms)  # an expired stream starts afresh
            last = c.execute("SELECT max(seq) FROM stream WHERE key = ?", (s.events,)).fetchone()
            seq = last[0] or 0
            c.executemany(
                f"INSERT INTO stream ({STREAM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(s.events, seq + i, *_stream_row(row)) for i, row in enumerate(rows, 1)],
            )
            seq += len(rows)
            if seq > self._maxlen:
                c.execute(
                    "DELETE FROM stream WHERE key = ? AND seq <= ?", (s.events, seq - self._maxlen)
                )
            self._touch(c, s, now_ms, ttls)

    def _touch(self, c: sqlite3.Cursor, s: SessionKeys, now_ms: int, ttls: SessionTTLs) -> None:
        """The TTL refresh and activity update that follow a step or checkpoint."""
        if ttls.events_ms is not None:
            db.pexpire(c, s.events, ttls.events_ms, now_ms)
        if ttls.checkpoints_ms is not None:
            db.pexpire(c, s.checkpoints, ttls.checkpoints_ms, now_ms)
            db.pexpire(c, s.checkpoint_data, ttls.checkpoints_ms, now_ms)
        meta_ttl = _max_ttl(ttls.events_ms, ttls.checkpoints_ms)
        if meta_ttl is not None:
            db.pexpire(c, s.meta, meta_ttl, now_ms)
        db.zadd(c, s.sessions, {s.sid: now_ms}, now_ms)

    def events_tail(
        self, s: SessionKeys, limit: int, types: frozenset[str] | None
    ) -> list[EventRow]:
        with self._db.read() as c:
            if db.expired(c, s.events, db.now_ms()):
                return []
            where, params = "key = ?", [s.events]
            if types is not None:
                where += f" AND type IN ({','.join('?' * len(types))})"
                params += sorted(types)
            rows = c.execute(
                "SELECT id, type, outcome, ts, latency_ms, data, trace_id FROM stream WHERE "
                f"{where} ORDER BY seq DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [(i, t, o, ts, lat, bytes(d), tr) for i, t, o, ts, lat, d, tr in reversed(rows)]

    # -- checkpoints -----------------------------------------------------------------------------
    def checkpoint_save(
        self,
        s: SessionKeys,
        state: bytes,
        now_ms: int,
        ttls: SessionTTLs,
        keep: int,
        write_id: str | None = None,
        n: int = 0,
        opening: SessionTTLs | None = None,
        gap: int = 1,
    ) -> int:
        """Save the next checkpoint, or checkpoint `n` when given (a number the primary gave:
        the mirror's copy, applied once).

        As a fallback (`gap` > 1), the first checkpoint of a session after numbers the
        primary gave skips `gap` numbers: the primary may have handed out a few that never
        reached this file (acknowledged moments before the outage, or by a process killed
        before its mirror caught up), and a number must never name two states.
        """
        with self._db.write() as c:
            _opening(c, s, now_ms, opening)
            for key in (s.checkpoints, s.checkpoint_data):
                db.alive(c, key, now_ms)
            seq = int(db.hget(c, s.meta, "checkpoint_seq", now_ms) or 0)
            fields: dict[str, Any] = {}
            if n:
                fields["checkpoint_source"] = "primary"
            elif gap > 1:
                local = db.hget(c, s.meta, "checkpoint_source", now_ms) == b"fallback"
                n, fields["checkpoint_source"] = seq + (1 if local else gap), "fallback"
            else:
                n = seq + 1
            member = f"{n:0{CHECKPOINT_WIDTH}d}"
            if db.hget(c, s.checkpoint_data, member, now_ms) is not None:
                return n
            if n > seq:
                db.hset(c, s.meta, {"checkpoint_seq": n, **fields}, now_ms)
            db.zadd(c, s.checkpoints, {member: now_ms}, now_ms)
            db.hset(c, s.checkpoint_data, {member: state}, now_ms)
            old = [m for m, _ in db.zrange(c, s.checkpoints, now_ms)][:-keep]
            for m in old:
                c.execute("DELETE FROM zset WHERE key = ? AND member = ?", (s.checkpoints, m))
            db.hdel(c, s.checkpoint_data, old, now_ms)
            self._touch(c, s, now_ms, ttls)
        return n

    def checkpoint_load(self, s: SessionKeys, n: int | None) -> tuple[int, bytes] | None:
        with self._db.read() as c:
            now = db.now_ms()
            if n is None:
                seq = db.hget(c, s.meta, "checkpoint_seq", now)
                if seq is None:
                    return None
                n = int(seq)
            state = db.hget(c, s.checkpoint_data, f"{n:0{CHECKPOINT_WIDTH}d}", now)
        return None if state is None else (n, state)

    def checkpoint_list(self, s: SessionKeys) -> list[tuple[int, int]]:
        with self._db.read() as c:
            rows = db.zrange(c, s.checkpoints, db.now_ms())
        return [(int(member), int(score)) for member, score in rows]

    # -- caches ------------------------------------------------------------------------------------
    def tools_get_or_put(
        self, s: SessionKeys, value: bytes | None, ttl_ms: int | None
    ) -> bytes | None:
        if value is None:
            return self.cache_get(s.tools)
        with self._db.write() as c:
            now = db.now_ms()
            current = db.get(c, s.tools, now)
            if current is None:
                db.set_(c, s.tools, value, now, ttl_ms)
        return current

    def cache_get(self, key: str) -> bytes | None:
        with self._db.read() as c:
            return db.get(c, key, db.now_ms())

    def cache_put(self, key: str, value: bytes, ttl_ms: int | None) -> None:
        with self._db.write() as c:
            db.set_(c, key, value, db.now_ms(), ttl_ms)

    # -- browsing --------------------------------------------------------------------------------
    def sessions_page(
        self, ns: str, agent: str, before: tuple[int, str] | None, limit: int
    ) -> list[tuple[str, int]]:
        key = keys.sessions(ns, agent)
        with self._db.read() as c:
            if db.expired(c, key, db.now_ms()):
                return []
            if before is None:
                rows = c.execute(
                    "SELECT member, score FROM zset WHERE key = ?"
                    " ORDER BY score DESC, member DESC LIMIT ?",
                    (key, limit),
                ).fetchall()
            else:
                rows = c.execute(
                    "SELECT member, score FROM zset WHERE key = ?1 AND (score < ?2 OR"
                    " (score = ?2 AND member < ?3)) ORDER BY score DESC, member DESC LIMIT ?4",
                    (key, float(before[0]), before[1], limit),
                ).fetchall()
        return [(sid, int(score)) for sid, score in rows]

    def events_page(
        self, s: SessionKeys, after: str | None, limit: int
    ) -> list[tuple[str, EventRow]]:
        with self._db.read() as c:
            if db.expired(c, s.events, db.now_ms()):
                return []
            rows = c.execute(
                "SELECT seq, id, type, outcome, ts, latency_ms, data, trace_id FROM stream"
                " WHERE key = ? AND seq > ? ORDER BY seq LIMIT ?",
                (s.events, -1 if after is None else int(after), limit),
            ).fetchall()
        return [
            (str(seq), (i, t, o, ts, lat, bytes(d), tr)) for seq, i, t, o, ts, lat, d, tr in rows
        ]

    def namespace_keys(self, ns: str) -> list[str]:
        """Every kernel key of a namespace (its shared data and its sessions)."""
        with self._db.read() as c:
            return [k for prefix in keys.namespace_prefixes(ns) for k in db.prefixed(c, prefix)]

    def namespaces(self) -> list[str]:
        with self._db.read() as c:
            names = {keys.namespace_of(k) for k in db.prefixed(c, f"{keys.PREFIX}:{{")}
        return sorted(n for n in names if n)

    # -- moving and erasing ----------------------------------------------------------------------
    def session_load(
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
        with self._db.write() as c:
            now = db.now_ms()
            for key in (s.meta, s.working, s.scratch, s.events, s.checkpoints,
                        s.checkpoint_data, s.tools):  # fmt: skip
                db.delete(c, key)
            db.hset(c, s.meta, {**meta, "agent": s.agent.encode()}, now)
            for kind, key, ttl in (("working", s.working, ttls.working_ms),
                                   ("scratch", s.scratch, ttls.scratch_ms)):  # fmt: skip
                if hashes.get(kind):
                    db.hset(c, key, hashes[kind], now)
                    if ttl is not None:
                        db.pexpire(c, key, ttl, now)
            if tools is not None:
                db.set_(c, s.tools, tools, now, ttls.checkpoints_ms)
            c.executemany(
                f"INSERT INTO stream ({STREAM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(s.events, i, *_stream_row(r)) for i, r in enumerate(events[-self._maxlen :], 1)],
            )
            for n, created_at, state in checkpoints:
                member = f"{n:0{CHECKPOINT_WIDTH}d}"
                db.zadd(c, s.checkpoints, {member: created_at}, now)
                db.hset(c, s.checkpoint_data, {member: state}, now)
            self._touch(c, s, now, ttls)
            db.zadd(c, s.sessions, {s.sid: last_active}, now)
            db.hset(c, keys.agents(s.ns), {s.agent: b""}, now)

    def erase_session(self, s: SessionKeys, dry_run: bool) -> dict[str, int]:
        with self._db.read() if dry_run else self._db.write() as c:
            now = db.now_ms()
            listed = c.execute(
                "SELECT 1 FROM zset WHERE key = ? AND member = ?", (s.sessions, s.sid)
            ).fetchone()
            events = c.execute("SELECT count(*) FROM stream WHERE key = ?", (s.events,)).fetchone()
            counts = {
                "sessions": int(listed is not None or db.exists(c, s.meta, now)),
                "working_keys": len(db.hgetall(c, s.working, now)),
                "scratch_keys": len(db.hgetall(c, s.scratch, now)),
                "events": 0 if db.expired(c, s.events, now) else events[0],
                "checkpoints": len(db.zrange(c, s.checkpoints, now)),
                "tool_schemas": int(db.get(c, s.tools, now) is not None),
            }
            if not dry_run:
                for key in (s.meta, s.working, s.scratch, s.events, s.checkpoints,
                            s.checkpoint_data, s.tools):  # fmt: skip
                    db.delete(c, key)
                c.execute("DELETE FROM zset WHERE key = ? AND member = ?", (s.sessions, s.sid))
        return counts

    def erase_agent(self, ns: str, agent: str, dry_run: bool) -> dict[str, int]:
        with self._db.read() if dry_run else self._db.write() as c:
            now = db.now_ms()
            documents = len(db.hgetall(c, keys.identity(ns, agent), now))
            state = int(bool(db.hgetall(c, keys.state(ns, agent), now)))
            listed = db.hget(c, keys.agents(ns), agent, now) is not None
            if not dry_run:
                for key in (keys.identity(ns, agent), keys.state(ns, agent),
                            keys.sessions(ns, agent)):  # fmt: skip
                    db.delete(c, key)
                feed.erase(c, ns, agent)  # its presence, inbox and notifications
                for key in db.prefixed(c, keys.agent_metrics_prefix(ns, agent)):
                    db.delete(c, key)
                db.hdel(c, keys.agents(ns), [agent], now)
        return {
            "agents": int(listed or bool(documents) or bool(state)),
            "identity_documents": documents,
            "states": state,
        }

    def erase_namespace_keys(self, c: sqlite3.Cursor, ns: str, dry_run: bool) -> dict[str, int]:
        """Count (and unless `dry_run`, delete) the namespace's kernel keys, inside `c`'s
        transaction."""
        names = [k for prefix in keys.namespace_prefixes(ns) for k in db.prefixed(c, prefix)]
        if not dry_run:
            for key in names:
                db.delete(c, key)
            feed.erase(c, ns)
        return count_keys(names, ns)

    # -- reading parts of hashes ---------------------------------------------------------------
    def hash_keys(self, s: SessionKeys, kind: HashKind) -> list[str]:
        with self._db.read() as c:
            return db.hkeys(c, _key(s, kind), db.now_ms())

    def hash_pick(
        self, reads: Sequence[tuple[SessionKeys, HashKind, Sequence[str] | None]]
    ) -> list[dict[str, bytes]]:
        with self._db.read() as c:
            now = db.now_ms()
            return [
                db.hgetall(c, _key(s, kind), now)
                if fields is None
                else db.hmget(c, _key(s, kind), fields, now)
                for s, kind, fields in reads
            ]


def metrics_add(c: sqlite3.Cursor, metrics: Sequence[MetricWrite], now_ms: int) -> None:
    """Apply agent-metric bucket updates inside `c`'s transaction (hashes with a TTL, as on
    Redis)."""
    for key, ttl_ms, ops in metrics:
        for field, op, value in ops:
            if op == "^":
                old = db.hget(c, key, field, now_ms)
                if old is None or value > float(old):
                    db.hset(c, key, {field: value}, now_ms)
            else:
                db.hincrby(c, key, field, value, now_ms)
        db.pexpire(c, key, ttl_ms, now_ms)


def metrics_read(database: Database, names: Sequence[str]) -> list[dict[str, bytes]]:
    """The agent-metric bucket hashes `names`, in order."""
    with database.read() as c:
        now = db.now_ms()
        return [db.hgetall(c, name, now) for name in names]
