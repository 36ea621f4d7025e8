"""The change feed, presence and inboxes in SQLite tables (sync; both twins share this).

A notification is a row of ``feed``, inserted inside the write's own transaction (a write
rolled back leaves none). Row ids only grow (AUTOINCREMENT), so several processes on one file
see one order; a subscriber polls for rows after its position every
`core.feed.SQLITE_POLL_SECONDS`. Each namespace keeps about `FEED_CAP` rows.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from aether_memory.backends.sqlite import db
from aether_memory.core import keys
from aether_memory.core.feed import FEED_CAP, INBOX_CAP, OFFLINE, memory_kind

# The tables are part of the kernel schema (db.FEED_TABLES): every write may notify.
FEED_SCHEMA = db.FEED_TABLES
_TRIM_EVERY = 100  # rows between trims of a namespace's feed (Redis trims in nodes, too)
SWEEP_MAX = 256  # agents whose expiry one sweep announces (the rest: the next sweep)


def emit(
    c: sqlite3.Cursor,
    ns: str,
    agent: str,
    kind: str,
    id_: str,
    op: str,
    body: bytes | None = None,
    to: str | None = None,
    at: int | None = None,
) -> int:
    """Insert a notification in the caller's transaction; returns its position."""
    c.execute(
        "INSERT INTO feed (ns, agent, kind, id, op, at, body, target) VALUES (?,?,?,?,?,?,?,?)",
        (ns, agent, kind, id_, op, db.now_ms() if at is None else at, body, to),
    )
    seq = int(c.lastrowid or 0)
    if seq % _TRIM_EVERY == 0:
        row = c.execute(
            "SELECT seq FROM feed WHERE ns = ? ORDER BY seq DESC LIMIT 1 OFFSET ?", (ns, FEED_CAP)
        ).fetchone()
        if row is not None:
            c.execute("DELETE FROM feed WHERE ns = ? AND seq <= ?", (ns, row[0]))
    return seq


def emit_memory(c: sqlite3.Cursor, ns: str, memory_id: str, op: str) -> None:
    """Notify about a stored memory (its own agent and kind), if it exists."""
    row = c.execute(
        "SELECT agent, kind FROM lt_memory WHERE ns = ? AND id = ?", (ns, memory_id)
    ).fetchone()
    if row is not None:
        emit(c, ns, row[0] or "", memory_kind(row[1] or ""), memory_id, op)


def sweep(c: sqlite3.Cursor, ns: str, now: int) -> int:
    """Announce, once, each agent whose heartbeat ran out by `now` (a presence notification
    `offline` at the moment it ran out), in the caller's transaction; at most `SWEEP_MAX`
    agents a call. Returns how many ran out."""
    due = c.execute(
        "SELECT agent, expires_at FROM feed_presence_due WHERE ns = ? AND expires_at <= ?"
        " ORDER BY expires_at LIMIT ?",
        (ns, now, SWEEP_MAX),
    ).fetchall()
    for agent, expires_at in due:
        c.execute("DELETE FROM feed_presence_due WHERE ns = ? AND agent = ?", (ns, agent))
        row = c.execute(
            "SELECT value FROM feed_presence WHERE ns = ? AND agent = ?", (ns, agent)
        ).fetchone()
        if row is not None and orjson.loads(row[0])["status"] != OFFLINE:
            emit(c, ns, agent, "presence", agent, OFFLINE, at=int(expires_at))
    return len(due)


def erase(
    c: sqlite3.Cursor, ns: str, agent: str | None = None, skills: tuple[str, ...] = ()
) -> None:
    """Erasure inside the caller's transaction: everything of the namespace (no `agent`, no
    `skills`), or every notification by, to or about `agent` with its presence and inbox (the
    messages it sent are in their recipients' inboxes and stay), or the notifications about
    `skills`."""
    if agent is None and not skills:
        for table in ("feed", "feed_presence", "feed_inbox", "feed_acks", "feed_presence_due"):
            c.execute(f"DELETE FROM {table} WHERE ns = ?", (ns,))  # names from this module
        return
    if agent is not None:
        c.execute(
            "DELETE FROM feed WHERE ns = ? AND (agent = ? OR target = ? OR (id = ? AND kind IN"
            " ('identity', 'state', 'presence')))",
            (ns, agent, agent, agent),
        )
        # Its own inbox goes; a message it sent is the recipient's now, and stays.
        for table in ("feed_presence", "feed_acks", "feed_inbox", "feed_presence_due"):
            c.execute(f"DELETE FROM {table} WHERE ns = ? AND agent = ?", (ns, agent))
    c.executemany(
        "DELETE FROM feed WHERE ns = ? AND kind IN ('skill', 'skill_run') AND id = ?",
        [(ns, name) for name in skills],
    )


class FeedTables:
    """Reads of the feed, and the presence and inbox writes."""

    def __init__(self, database: db.Database) -> None:
        self._db = database

    @property
    def closed(self) -> bool:
        """Whether the store was closed (its subscriptions then end)."""
        return self._db.closed

    def last(self, ns: str) -> str:
        with self._db.read() as c:
            row = c.execute("SELECT MAX(seq) FROM feed WHERE ns = ?", (ns,)).fetchone()
        return str(row[0] or 0)

    def read(self, ns: str, after: str, limit: int) -> tuple[str | None, list[Any]]:
        """The oldest position held and up to `limit` notifications after `after`."""
        with self._db.read() as c:
            c.execute("BEGIN")  # one snapshot for both reads
            try:
                first = c.execute("SELECT MIN(seq) FROM feed WHERE ns = ?", (ns,)).fetchone()[0]
                rows = c.execute(
                    "SELECT seq, agent, kind, id, op, at, body, target FROM feed"
                    " WHERE ns = ? AND seq > ? ORDER BY seq LIMIT ?",
                    (ns, int(after.partition("-")[0]), limit),
                ).fetchall()
            finally:
                c.execute("COMMIT")
        out = []
        for seq, agent, kind, id_, op, at, body, target in rows:
            fields = {"agent": agent, "kind": kind, "id": id_, "op": op, "at": at}
            if body is not None:
                fields["body"] = body
            if target is not None:
                fields["to"] = target
            out.append((str(seq), fields))
        return (None if first is None else str(first)), out

    def heartbeat(self, ns: str, agent: str, value: bytes, status: str, now: int) -> None:
        with self._db.write() as c:
            sweep(c, ns, now)
            row = c.execute(
                "SELECT value FROM feed_presence WHERE ns = ? AND agent = ?", (ns, agent)
            ).fetchone()
            c.execute("INSERT OR REPLACE INTO feed_presence VALUES (?, ?, ?)", (ns, agent, value))
            if status == OFFLINE:
                c.execute("DELETE FROM feed_presence_due WHERE ns = ? AND agent = ?", (ns, agent))
            else:
                c.execute(
                    "INSERT OR REPLACE INTO feed_presence_due VALUES (?, ?, ?)",
                    (ns, agent, int(orjson.loads(value)["expires_at"])),
                )
            db.hset(c, keys.agents(ns), {agent: b""}, now)
            was = OFFLINE
            if row is not None:
                beat = orjson.loads(row[0])
                if int(beat["expires_at"]) > now:
                    was = beat["status"]
            if was != status:
                emit(c, ns, agent, "presence", agent, status)

    def sweep(self, ns: str, now: int) -> None:
        """Announce the agents whose heartbeat ran out (a write only when one did)."""
        with self._db.read() as c:
            row = c.execute(
                "SELECT 1 FROM feed_presence_due WHERE ns = ? AND expires_at <= ? LIMIT 1",
                (ns, now),
            ).fetchone()
        if row is not None:
            with self._db.write() as c:
                sweep(c, ns, now)

    def presence(self, ns: str) -> tuple[list[str], dict[str, bytes]]:
        self.sweep(ns, db.now_ms())
        with self._db.read() as c:
            agents = list(db.hgetall(c, keys.agents(ns), db.now_ms()))
            rows = c.execute(
                "SELECT agent, value FROM feed_presence WHERE ns = ?", (ns,)
            ).fetchall()
        return agents, {agent: bytes(value) for agent, value in rows}

    def send(self, ns: str, sender: str, to: str, body: bytes, now: int) -> str:
        with self._db.write() as c:
            c.execute(
                "INSERT INTO feed_inbox (ns, agent, sender, body, at) VALUES (?, ?, ?, ?, ?)",
                (ns, to, sender, body, now),
            )
            seq = int(c.lastrowid or 0)
            c.execute(
                "DELETE FROM feed_inbox WHERE ns = ? AND agent = ? AND seq <= ?",
                (ns, to, seq - INBOX_CAP),
            )
            emit(c, ns, sender, "message", str(seq), "sent", body, to)
        return str(seq)

    def inbox(self, ns: str, agent: str, ack: str | None, limit: int) -> list[Any]:
        with self._db.write() as c:
            row = c.execute(
                "SELECT seq FROM feed_acks WHERE ns = ? AND agent = ?", (ns, agent)
            ).fetchone()
            acked = 0 if row is None else int(row[0])
            if ack is not None and int(ack.partition("-")[0]) > acked:
                acked = int(ack.partition("-")[0])
                c.execute("INSERT OR REPLACE INTO feed_acks VALUES (?, ?, ?)", (ns, agent, acked))
                c.execute(
                    "DELETE FROM feed_inbox WHERE ns = ? AND agent = ? AND seq <= ?",
                    (ns, agent, acked),
                )
            rows = c.execute(
                "SELECT seq, sender, body, at FROM feed_inbox WHERE ns = ? AND agent = ?"
                " AND seq > ? ORDER BY seq LIMIT ?",
                (ns, agent, acked, limit),
            ).fetchall()
        return [(str(seq), sender, bytes(body), int(at)) for seq, sender, body, at in rows]

    def broadcast(self, ns: str, sender: str, channel: str, body: bytes, now: int) -> None:
        with self._db.write() as c:
            emit(c, ns, sender, "broadcast", channel, "sent", body)
        del now  # the row's time is taken inside the transaction
