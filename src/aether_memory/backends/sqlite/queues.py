"""Task queues in the SQLite file: one row per task, claimed inside ``BEGIN IMMEDIATE``
transactions, so that processes sharing the file never lease one task to two workers.

A task waits (``state = 'wait'``, claimable once ``due`` has passed), is leased
(``'in_flight'`` until ``lease``, keeping its place in line, ``due``, for a redelivery) or is
dead (``'dead'``, ``due`` when it died). The
semantics are those of the Redis scripts (`backends.redis.queue_scripts`), step for step.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from aether_memory.backends.sqlite.db import Database
from aether_memory.backends.sqlite.db import now_ms as clock_ms
from aether_memory.core.queues import (
    ClaimRow,
    QueueStats,
    TaskRow,
    TaskState,
    backoff_ms,
    stats_from,
)

QUEUE_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_task (
    ns TEXT NOT NULL, queue TEXT NOT NULL, id TEXT NOT NULL, body BLOB NOT NULL,
    priority INTEGER NOT NULL, state TEXT NOT NULL, due INTEGER NOT NULL,
    attempts INTEGER NOT NULL, created INTEGER NOT NULL, lease INTEGER NOT NULL DEFAULT 0,
    worker TEXT NOT NULL DEFAULT '',
    token TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '', dedupe TEXT,
    PRIMARY KEY (ns, queue, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_task_next ON queue_task (ns, queue, state, priority DESC, due, id);
CREATE INDEX IF NOT EXISTS queue_task_lease ON queue_task (ns, queue, state, lease);
CREATE UNIQUE INDEX IF NOT EXISTS queue_task_dedupe ON queue_task (ns, queue, dedupe)
    WHERE dedupe IS NOT NULL;
CREATE TABLE IF NOT EXISTS queue_stat (
    ns TEXT NOT NULL, queue TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (ns, queue, name)
) WITHOUT ROWID;
"""

_LAPSED_BATCH = 256  # expired leases handled per claim, as the Redis script does
_ORDER = {
    "pending": "priority DESC, due, id",
    "delayed": "due, id",
    "in_flight": "lease, id",
    "dead": "due, id",
}


def _count(c: sqlite3.Cursor, ns: str, queue: str, *names: str) -> None:
    for name in names:
        c.execute(
            "INSERT INTO queue_stat VALUES (?, ?, ?, 1) ON CONFLICT (ns, queue, name) "
            "DO UPDATE SET value = value + 1",
            (ns, queue, name),
        )


class QueueTables:
    """The queue operations on one database (each one transaction)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def put(
        self,
        ns: str,
        queue: str,
        task_id: str,
        body: bytes,
        priority: int,
        delay_ms: int,
        dedupe_key: str | None,
        now_ms: int,
    ) -> str:
        with self._db.write() as c:
            if dedupe_key is not None:
                held = c.execute(
                    "SELECT id FROM queue_task WHERE ns = ? AND queue = ? AND dedupe = ?",
                    (ns, queue, dedupe_key),
                ).fetchone()
                if held is not None:
                    return str(held[0])
            c.execute(
                "INSERT OR IGNORE INTO queue_task (ns, queue, id, body, priority, state, due, "
                "attempts, created, dedupe) VALUES (?, ?, ?, ?, ?, 'wait', ?, 0, ?, ?)",
                (ns, queue, task_id, body, priority, now_ms + delay_ms, now_ms, dedupe_key),
            )
        return task_id

    def claim(
        self,
        ns: str,
        queue: str,
        worker: str,
        token: str,
        now_ms: int,
        visibility_ms: int,
        max_attempts: int,
    ) -> tuple[ClaimRow | None, int | None]:
        with self._db.write() as c:
            lapsed = c.execute(
                "SELECT id, attempts, worker FROM queue_task WHERE ns = ? AND queue = ? AND "
                "state = 'in_flight' AND lease <= ? ORDER BY lease LIMIT ?",
                (ns, queue, now_ms, _LAPSED_BATCH),
            ).fetchall()
            for task_id, attempts, holder in lapsed:
                dead = attempts >= max_attempts
                c.execute(
                    "UPDATE queue_task SET state = ?, due = CASE WHEN ? THEN ? ELSE due END, "
                    "token = '', error = ? WHERE ns = ? AND queue = ? AND id = ?",
                    (
                        "dead" if dead else "wait",
                        dead,
                        now_ms,
                        f"not acknowledged within the visibility timeout (worker {holder})",
                        ns,
                        queue,
                        task_id,
                    ),
                )
                _count(c, ns, queue, "expired")
            row = c.execute(
                "SELECT id, body, attempts, priority, created FROM queue_task WHERE ns = ? AND "
                "queue = ? AND state = 'wait' AND due <= ? ORDER BY priority DESC, due, id "
                "LIMIT 1",
                (ns, queue, now_ms),
            ).fetchone()
            if row is None:
                nxt = c.execute(
                    "SELECT min(CASE state WHEN 'wait' THEN due ELSE lease END) FROM queue_task "
                    "WHERE ns = ? AND queue = ? AND state IN ('wait', 'in_flight')",
                    (ns, queue),
                ).fetchone()[0]
                return None, None if nxt is None else int(nxt)
            deadline = now_ms + visibility_ms
            c.execute(
                "UPDATE queue_task SET state = 'in_flight', lease = ?, attempts = attempts + 1, "
                "worker = ?, token = ? WHERE ns = ? AND queue = ? AND id = ?",
                (deadline, worker, token, ns, queue, row[0]),
            )
        return ClaimRow(row[0], bytes(row[1]), row[2] + 1, row[3], row[4], deadline), None

    @staticmethod
    def _leased(
        c: sqlite3.Cursor, ns: str, queue: str, task_id: str, token: str
    ) -> tuple[int, str] | None:
        """(attempts, worker) of a task `token` holds the lease on, inside a transaction."""
        row: tuple[int, str] | None = c.execute(
            "SELECT attempts, worker FROM queue_task WHERE ns = ? AND queue = ? AND id = ? AND "
            "state = 'in_flight' AND token = ?",
            (ns, queue, task_id, token),
        ).fetchone()
        return row

    def ack(self, ns: str, queue: str, task_id: str, token: str) -> bool:
        with self._db.write() as c:
            held = self._leased(c, ns, queue, task_id, token)
            if held is None:
                return False
            c.execute(
                "DELETE FROM queue_task WHERE ns = ? AND queue = ? AND id = ?", (ns, queue, task_id)
            )
            _count(c, ns, queue, "acked", f"acked:{held[1]}")
        return True

    def fail(
        self,
        ns: str,
        queue: str,
        task_id: str,
        token: str,
        error: str,
        now_ms: int,
        max_attempts: int,
        backoff_base_ms: int,
        backoff_cap_ms: int,
    ) -> TaskState | None:
        with self._db.write() as c:
            held = self._leased(c, ns, queue, task_id, token)
            if held is None:
                return None
            attempts, worker = held
            dead = attempts >= max_attempts
            due = now_ms if dead else now_ms + backoff_ms(attempts, backoff_base_ms, backoff_cap_ms)
            c.execute(
                "UPDATE queue_task SET state = ?, due = ?, token = '', error = ? "
                "WHERE ns = ? AND queue = ? AND id = ?",
                ("dead" if dead else "wait", due, error, ns, queue, task_id),
            )
            _count(c, ns, queue, "failed", f"failed:{worker}")
        return "dead" if dead else "delayed"

    def extend(self, ns: str, queue: str, task_id: str, token: str, deadline_ms: int) -> bool:
        with self._db.write() as c:
            return (
                c.execute(
                    "UPDATE queue_task SET lease = ? WHERE ns = ? AND queue = ? AND id = ? AND "
                    "state = 'in_flight' AND token = ?",
                    (deadline_ms, ns, queue, task_id, token),
                ).rowcount
                == 1
            )

    def stats(self, ns: str, queue: str, now_ms: int) -> QueueStats:
        with self._db.read() as c:
            pending, delayed, in_flight, dead = c.execute(
                "SELECT coalesce(sum(state = 'wait' AND due <= ?), 0), "
                "coalesce(sum(state = 'wait' AND due > ?), 0), "
                "coalesce(sum(state = 'in_flight'), 0), coalesce(sum(state = 'dead'), 0) "
                "FROM queue_task WHERE ns = ? AND queue = ?",
                (now_ms, now_ms, ns, queue),
            ).fetchone()
            counters = dict(
                c.execute(
                    "SELECT name, value FROM queue_stat WHERE ns = ? AND queue = ?", (ns, queue)
                ).fetchall()
            )
            holding = dict(
                c.execute(
                    "SELECT worker, count(*) FROM queue_task WHERE ns = ? AND queue = ? AND "
                    "state = 'in_flight' GROUP BY worker",
                    (ns, queue),
                ).fetchall()
            )
        return stats_from((pending, delayed, in_flight, dead), counters, holding)

    def peek(self, ns: str, queue: str, state: TaskState, limit: int) -> list[TaskRow]:
        where = {
            "pending": "state = 'wait' AND due <= :now",
            "delayed": "state = 'wait' AND due > :now",
            "in_flight": "state = 'in_flight'",
            "dead": "state = 'dead'",
        }[state]
        with self._db.read() as c:
            rows = c.execute(
                "SELECT id, body, priority, attempts, created, "
                "CASE state WHEN 'in_flight' THEN lease ELSE due END, worker, error, dedupe "
                f"FROM queue_task WHERE ns = :ns AND queue = :queue AND {where} "  # constants
                f"ORDER BY {_ORDER[state]} LIMIT :limit",
                {"ns": ns, "queue": queue, "now": clock_ms(), "limit": limit},
            ).fetchall()
        return [
            TaskRow(
                id=r[0],
                body=bytes(r[1]),
                state=state,
                priority=r[2],
                attempts=r[3],
                created_at=r[4],
                at=r[5],
                worker=r[6] or None,
                error=r[7] or None,
                dedupe_key=r[8],
            )
            for r in rows
        ]

    def retry_dead(
        self, ns: str, queue: str, task_ids: Sequence[str], limit: int, now_ms: int
    ) -> int:
        with self._db.write() as c:
            if not task_ids:
                task_ids = [
                    r[0]
                    for r in c.execute(
                        "SELECT id FROM queue_task WHERE ns = ? AND queue = ? AND state = 'dead' "
                        "ORDER BY due, id LIMIT ?",
                        (ns, queue, limit),
                    )
                ]
            moved = 0
            for task_id in task_ids:
                moved += c.execute(
                    "UPDATE queue_task SET state = 'wait', due = ?, attempts = 0 WHERE ns = ? "
                    "AND queue = ? AND id = ? AND state = 'dead'",
                    (now_ms, ns, queue, task_id),
                ).rowcount
        return moved

    @staticmethod
    def erase_rows(c: sqlite3.Cursor, ns: str, dry_run: bool) -> int:
        """Remove (or count) every task of namespace `ns`, inside the caller's transaction."""
        if dry_run:
            found = c.execute("SELECT count(*) FROM queue_task WHERE ns = ?", (ns,)).fetchone()
            return int(found[0])
        c.execute("DELETE FROM queue_stat WHERE ns = ?", (ns,))
        return c.execute("DELETE FROM queue_task WHERE ns = ?", (ns,)).rowcount
