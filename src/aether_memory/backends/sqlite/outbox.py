"""The outbox: writes made on the fallback store while the primary was down, in order.

Several processes may fall back onto one file. Their writes join one open *epoch* of the
outbox (a row in ``outbox_state``) and are queued in the order their transactions commit,
which is the order they were acknowledged in. Whichever process reconnects first replays
every entry, holding a lease so that no two replay at once, and closes the epoch in the same
transaction that finds the outbox empty. A process whose next write finds its epoch closed
writes to the primary instead: no write ever goes straight to the primary while an older
one still waits here, so per-key order survives the switch back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from aether_memory.backends.sqlite.db import Database, now_ms
from aether_memory.storage.outbox import CLOSED, CLOSING, OPEN

OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, entry BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS outbox_lease (
    id INTEGER PRIMARY KEY CHECK (id = 1), owner TEXT NOT NULL, until INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_state (
    id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL, open INTEGER NOT NULL
);
"""


class Outbox:
    def __init__(self, database: Database) -> None:
        self._db = database

    @staticmethod
    def append(c: sqlite3.Cursor, entry: bytes) -> None:
        """Queue `entry` inside the caller's write transaction."""
        c.execute("INSERT INTO outbox (entry) VALUES (?)", (entry,))

    @staticmethod
    def is_open(c: sqlite3.Cursor, epoch: int) -> bool:
        """May a write still join `epoch` (inside the caller's write transaction)?"""
        row = c.execute("SELECT epoch, open FROM outbox_state").fetchone()
        return row is not None and row[0] == epoch and row[1] == OPEN

    def state(self) -> tuple[int, int]:
        """The current epoch and whether it is `OPEN`, `CLOSING` or `CLOSED`."""
        with self._db.read() as c:
            row = c.execute("SELECT epoch, open FROM outbox_state").fetchone()
        return (0, CLOSED) if row is None else (int(row[0]), int(row[1]))

    def join(self) -> int:
        """The open epoch (reopening one that is closing, else opening a new one): called
        when a process falls back. Its writes queue after every entry already here."""
        with self._db.write() as c:
            row = c.execute("SELECT epoch, open FROM outbox_state").fetchone()
            epoch = 1 if row is None else int(row[0]) + (row[1] == CLOSED)
            c.execute("INSERT OR REPLACE INTO outbox_state VALUES (1, ?, ?)", (epoch, OPEN))
            return epoch

    def begin_close(self) -> None:
        """Take no more entries: writes wait for the last few to be replayed, then go to
        the primary (the replayer calls this when the outbox is nearly empty)."""
        with self._db.write() as c:
            c.execute("UPDATE outbox_state SET open = ? WHERE open = ?", (CLOSING, OPEN))

    def finish_close(self) -> bool:
        """Close the epoch if it is still closing and the outbox is empty; True if closed
        (False: a process that lost the primary reopened it, or entries remain)."""
        with self._db.write() as c:
            row = c.execute("SELECT open FROM outbox_state").fetchone()
            if row is None or row[0] != CLOSING or c.execute("SELECT 1 FROM outbox").fetchone():
                return False
            c.execute("UPDATE outbox_state SET open = ?", (CLOSED,))
            return True

    def peek(self, limit: int) -> list[tuple[int, bytes]]:
        """The oldest `limit` entries, oldest first."""
        with self._db.read() as c:
            rows = c.execute("SELECT seq, entry FROM outbox ORDER BY seq LIMIT ?", (limit,))
            return [(seq, bytes(entry)) for seq, entry in rows]

    def remove(self, seqs: Sequence[int]) -> None:
        with self._db.write() as c:
            c.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])

    def depth(self) -> int:
        with self._db.read() as c:
            return int(c.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def claim(self, owner: str, ttl_ms: int) -> bool:
        """Take (or renew) the replay lease unless another live owner holds it."""
        with self._db.write() as c:
            now = now_ms()
            row = c.execute("SELECT owner, until FROM outbox_lease").fetchone()
            if row is not None and row[0] != owner and row[1] > now:
                return False
            c.execute("INSERT OR REPLACE INTO outbox_lease VALUES (1, ?, ?)", (owner, now + ttl_ms))
            return True

    def release(self, owner: str) -> None:
        with self._db.write() as c:
            c.execute("DELETE FROM outbox_lease WHERE owner = ?", (owner,))
