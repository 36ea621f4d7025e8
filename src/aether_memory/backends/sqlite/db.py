"""One SQLite file shared by threads and processes: connections, transactions, and the
small part of Redis's data model the kernel uses (hashes, sorted sets, strings, streams,
expiry), so that the SQLite store mirrors the Redis store key for key.

Every write is one ``BEGIN IMMEDIATE`` transaction (the file's write lock is taken up front, so
two processes never deadlock upgrading a read to a write); readers never block in WAL mode.
Expired keys are invisible to reads and purged lazily when written and by a periodic sweep.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aether_memory.core.errors import AetherError, BackendUnavailable, ConfigurationError

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 10.0
SWEEP_EVERY = 1000  # writes between sweeps of expired keys

KERNEL_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS expiry (key TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS expiry_at ON expiry (at);
CREATE TABLE IF NOT EXISTS hash (
    key TEXT NOT NULL, field TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (key, field)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS zset (
    key TEXT NOT NULL, member TEXT NOT NULL, score REAL NOT NULL, PRIMARY KEY (key, member)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS zset_score ON zset (key, score);
CREATE TABLE IF NOT EXISTS string (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stream (
    key TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
    outcome TEXT NOT NULL, ts INTEGER NOT NULL, latency_ms REAL, data BLOB NOT NULL,
    PRIMARY KEY (key, seq)
) WITHOUT ROWID;
"""
_DATA_TABLES = ("hash", "zset", "string", "stream")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def translate(exc: sqlite3.Error) -> AetherError:
    """The `AetherError` a caller should see for a sqlite3 error."""
    if isinstance(exc, sqlite3.OperationalError):
        message = str(exc)
        if "locked" in message or "busy" in message:
            return BackendUnavailable(f"the SQLite file stayed locked by another writer: {exc}")
        if "disk" in message or "full" in message or "readonly" in message:
            return BackendUnavailable(f"SQLite cannot write its file ({exc}); check free space")
    return AetherError(f"SQLite error: {exc}")


class Database:
    """A SQLite file in WAL mode with one connection per thread."""

    def __init__(self, path: str | Path, schema: str = KERNEL_SCHEMA) -> None:
        self.path = Path(path)
        self._schema = schema
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._writes = 0
        self._closed = False

    def open(self) -> None:
        """Create the file, its folder and its tables (idempotent)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot create the folder of {self.path}: {exc}") from exc
        try:
            self.conn.executescript(self._schema)  # its own transaction: IF NOT EXISTS each
        except sqlite3.Error as exc:
            raise translate(exc) from exc
        with self.write() as c:
            c.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))

    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise AetherError("this SQLite store is closed")
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a commit survives the process being killed; a power cut
            # can lose the last moments, like Redis's appendfsync everysec.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise ConfigurationError(f"cannot open SQLite file {self.path}: {exc}") from exc
        with self._guard:
            self._connections.append(conn)
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction; rolled back if anything inside raises."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise translate(exc) from exc
        cur = conn.cursor()
        try:
            yield cur
            extra: Callable[[sqlite3.Cursor], None] | None = getattr(self._local, "extra", None)
            if extra is not None:
                self._local.extra = None
                extra(cur)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise translate(exc) from exc
            raise
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            self.sweep()

    @contextmanager
    def riding(self, extra: Callable[[sqlite3.Cursor], None]) -> Iterator[None]:
        """Run `extra` inside the next write transaction this thread makes in the block, just
        before it commits (or in a transaction of its own if the block makes none). Nested,
        both run there, the outer one's first."""
        outer: Callable[[sqlite3.Cursor], None] | None = getattr(self._local, "extra", None)
        self._local.extra = extra if outer is None else _both(outer, extra)
        try:
            yield
        except BaseException:
            self._local.extra = None
            raise
        if getattr(self._local, "extra", None) is not None:
            self._local.extra = None
            with self.write() as c:
                extra(c)

    @contextmanager
    def read(self) -> Iterator[sqlite3.Cursor]:
        """A cursor for reads (one implicit transaction per statement)."""
        try:
            yield self.conn.cursor()
        except sqlite3.Error as exc:
            raise translate(exc) from exc

    def sweep(self, limit: int = 1000) -> int:
        """Delete up to `limit` expired keys (bounded: it runs on the write path); returns
        how many."""
        with self.write() as c:
            now = now_ms()
            gone = [
                k
                for (k,) in c.execute("SELECT key FROM expiry WHERE at <= ? LIMIT ?", (now, limit))
            ]
            for key in gone:
                delete(c, key)
        return len(gone)

    def close(self) -> None:
        with self._guard:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()


# -- the Redis-shaped operations (all take a cursor inside a transaction) ---------------------


def alive(c: sqlite3.Cursor, key: str, now: int) -> bool:
    """False if `key` has expired (its rows are then deleted, as Redis would on access)."""
    row = c.execute("SELECT at FROM expiry WHERE key = ?", (key,)).fetchone()
    if row is None or row[0] > now:
        return True
    delete(c, key)
    return False


def expired(c: sqlite3.Cursor, key: str, now: int) -> bool:
    """For reads: has `key` expired (without deleting it)?"""
    row = c.execute("SELECT at FROM expiry WHERE key = ?", (key,)).fetchone()
    return row is not None and row[0] <= now


def delete(c: sqlite3.Cursor, key: str) -> None:
    for table in _DATA_TABLES:
        c.execute(f"DELETE FROM {table} WHERE key = ?", (key,))  # table names are constants
    c.execute("DELETE FROM expiry WHERE key = ?", (key,))


def pexpire(c: sqlite3.Cursor, key: str, ttl_ms: int, now: int) -> None:
    c.execute("INSERT OR REPLACE INTO expiry VALUES (?, ?)", (key, now + ttl_ms))


def hset(c: sqlite3.Cursor, key: str, fields: Mapping[str, Any], now: int) -> None:
    alive(c, key, now)
    c.executemany(
        "INSERT OR REPLACE INTO hash VALUES (?, ?, ?)",
        [(key, f, _blob(v)) for f, v in fields.items()],
    )


def hsetnx(c: sqlite3.Cursor, key: str, field: str, value: Any, now: int) -> None:
    alive(c, key, now)
    c.execute("INSERT OR IGNORE INTO hash VALUES (?, ?, ?)", (key, field, _blob(value)))


def hget(c: sqlite3.Cursor, key: str, field: str, now: int) -> bytes | None:
    if expired(c, key, now):
        return None
    row = c.execute("SELECT value FROM hash WHERE key = ? AND field = ?", (key, field)).fetchone()
    return None if row is None else bytes(row[0])


def hgetall(c: sqlite3.Cursor, key: str, now: int) -> dict[str, bytes]:
    if expired(c, key, now):
        return {}
    return {
        f: bytes(v) for f, v in c.execute("SELECT field, value FROM hash WHERE key = ?", (key,))
    }


def hdel(c: sqlite3.Cursor, key: str, fields: Iterable[str], now: int) -> int:
    if not alive(c, key, now):
        return 0
    removed = 0
    for field in dict.fromkeys(fields):
        removed += c.execute("DELETE FROM hash WHERE key = ? AND field = ?", (key, field)).rowcount
    return removed


def hincrby(c: sqlite3.Cursor, key: str, field: str, by: float, now: int) -> float:
    alive(c, key, now)
    row = c.execute("SELECT value FROM hash WHERE key = ? AND field = ?", (key, field)).fetchone()
    value = (0.0 if row is None else float(bytes(row[0]))) + by
    text = str(int(value)) if value.is_integer() else repr(value)
    c.execute("INSERT OR REPLACE INTO hash VALUES (?, ?, ?)", (key, field, text.encode()))
    return value


def exists(c: sqlite3.Cursor, key: str, now: int) -> bool:
    if expired(c, key, now):
        return False
    return any(
        c.execute(f"SELECT 1 FROM {table} WHERE key = ? LIMIT 1", (key,)).fetchone()
        for table in _DATA_TABLES
    )


def zadd(c: sqlite3.Cursor, key: str, members: Mapping[str, float], now: int) -> None:
    alive(c, key, now)
    c.executemany(
        "INSERT OR REPLACE INTO zset VALUES (?, ?, ?)",
        [(key, m, float(s)) for m, s in members.items()],
    )


def zrange(
    c: sqlite3.Cursor, key: str, now: int, limit: int = -1, reverse: bool = False
) -> list[tuple[str, float]]:
    if expired(c, key, now):
        return []
    order = "DESC" if reverse else "ASC"
    return list(
        c.execute(
            f"SELECT member, score FROM zset WHERE key = ? ORDER BY score {order}, member {order}"
            " LIMIT ?",
            (key, limit),
        )
    )


def get(c: sqlite3.Cursor, key: str, now: int) -> bytes | None:
    if expired(c, key, now):
        return None
    row = c.execute("SELECT value FROM string WHERE key = ?", (key,)).fetchone()
    return None if row is None else bytes(row[0])


def set_(c: sqlite3.Cursor, key: str, value: bytes, now: int, ttl_ms: int | None) -> None:
    delete(c, key)
    c.execute("INSERT INTO string VALUES (?, ?)", (key, value))
    if ttl_ms is not None:
        pexpire(c, key, ttl_ms, now)


def _blob(value: Any) -> bytes:
    """Values as Redis would store them: bytes as they are, numbers and text as UTF-8."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, float):
        return repr(value).encode()
    return str(value).encode()


def _both(
    first: Callable[[sqlite3.Cursor], None], then: Callable[[sqlite3.Cursor], None]
) -> Callable[[sqlite3.Cursor], None]:
    def run(c: sqlite3.Cursor) -> None:
        first(c)
        then(c)

    return run
