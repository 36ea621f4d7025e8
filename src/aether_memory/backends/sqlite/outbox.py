"""The outbox: writes made on the fallback store while the primary was down, in order.

Several processes may fall back onto one file; whichever reconnects first replays every
entry, holding a lease so that no two replay at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from aether_memory.backends.sqlite.db import Database, now_ms

OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, entry BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS outbox_lease (
    id INTEGER PRIMARY KEY CHECK (id = 1), owner TEXT NOT NULL, until INTEGER NOT NULL
);
"""


class Outbox:
    def __init__(self, database: Database) -> None:
        self._db = database

    @staticmethod
    def append(c: sqlite3.Cursor, entry: bytes) -> None:
        """Queue `entry` inside the caller's write transaction."""
        c.execute("INSERT INTO outbox (entry) VALUES (?)", (entry,))

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
