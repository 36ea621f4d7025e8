"""One SQLite file shared by threads and processes: connections, transactions, and the
small part of Redis's data model the kernel uses (hashes, sorted sets, strings, streams,
expiry), so that the SQLite store mirrors the Redis store key for key.

Every write is one ``BEGIN IMMEDIATE`` transaction (the file's write lock is taken up front, so
two processes never deadlock upgrading a read to a write); readers never block in WAL mode.
Expired keys are invisible to reads and purged lazily when written and by a periodic sweep.

A file deleted or replaced while open would take every later write with it: the open
connections keep writing into the unlinked inode, and nothing reports it. So each write checks,
after it commits and before it is acknowledged, that the file opened still has a name (one
``fstat`` of a descriptor held for this: deleting it or renaming another file over it leaves it
with none); new connections and health checks also compare the path's inode. A store then
refuses (`StoreDamaged`); a fallback, whose file holds writes owed to the primary, re-creates it
from the copy its open connection still reads (``VACUUM INTO``), loudly, so nothing is lost.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aether_memory.core.errors import (
    AetherError,
    BackendUnavailable,
    ConfigurationError,
    StoreDamaged,
)

log = logging.getLogger("aether_memory")

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
    trace_id TEXT, PRIMARY KEY (key, seq)
) WITHOUT ROWID;
"""
# The change feed, presence and inboxes (see `backends.sqlite.feed`).
FEED_TABLES = """
CREATE TABLE IF NOT EXISTS feed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT NOT NULL, agent TEXT NOT NULL,
    kind TEXT NOT NULL, id TEXT NOT NULL, op TEXT NOT NULL, at INTEGER NOT NULL,
    body BLOB, target TEXT
);
CREATE INDEX IF NOT EXISTS feed_ns ON feed (ns, seq);
CREATE TABLE IF NOT EXISTS feed_presence (
    ns TEXT NOT NULL, agent TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (ns, agent)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feed_inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT NOT NULL, agent TEXT NOT NULL,
    sender TEXT NOT NULL, body BLOB NOT NULL, at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS feed_inbox_agent ON feed_inbox (ns, agent, seq);
CREATE TABLE IF NOT EXISTS feed_acks (
    ns TEXT NOT NULL, agent TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (ns, agent)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feed_presence_due (
    ns TEXT NOT NULL, agent TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (ns, agent)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS feed_presence_due_at ON feed_presence_due (ns, expires_at);
"""
KERNEL_SCHEMA += FEED_TABLES
_DATA_TABLES = ("hash", "zset", "string", "stream")


# Columns added since a table was first created: (table, column, declaration). A file made
# before them gets them when it opens (existing rows read NULL).
_ADDED_COLUMNS = (("stream", "trace_id", "TEXT"),)


def _add_columns(conn: sqlite3.Connection) -> None:
    for table, column, declaration in _ADDED_COLUMNS:
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if present and column not in present:  # a file whose schema has no such table: skip
            try:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):  # another process added it first
                    raise


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# "vtable constructor failed": a full-text table whose shadow tables are damaged.
_DAMAGED = (
    "malformed", "not a database", "could not decode", "corrupt", "vtable constructor failed",
)  # fmt: skip


def damaged(path: Path, detail: object) -> StoreDamaged:
    """The error for a file SQLite cannot read as a database."""
    return StoreDamaged(
        f"the SQLite file {path} is damaged ({detail}). Restore it from a backup (aether "
        f"import), or salvage it with `sqlite3 {path} .recover`; to start empty, move it aside"
    )


def translate(exc: sqlite3.Error, path: Path) -> AetherError:
    """The `AetherError` a caller should see for a sqlite3 error on the file `path`."""
    message = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and any(d in message.lower() for d in _DAMAGED):
        return damaged(path, exc)  # first: "database disk image is malformed" is no disk fault
    if isinstance(exc, sqlite3.OperationalError):
        if "locked" in message or "busy" in message:
            return BackendUnavailable(
                f"the SQLite file stayed locked by another writer: {exc}", maybe_applied=False
            )
        if "disk" in message or "full" in message or "readonly" in message:
            return BackendUnavailable(
                f"SQLite cannot write its file ({exc}); check free space", maybe_applied=False
            )
    return AetherError(f"SQLite error on {path}: {exc}")


def _identity(path: Path) -> tuple[int, int] | None:
    """The device and inode `path` names now, or None if nothing is there."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class Database:
    """A SQLite file in WAL mode with one connection per thread."""

    def __init__(
        self, path: str | Path, schema: str = KERNEL_SCHEMA, *, rescue: bool = False
    ) -> None:
        """Describe the file; nothing is opened yet.

        Args:
            path: The file (created by `open` if missing).
            schema: The tables, created by `open`.
            rescue: Re-create the file from the open copy if it is deleted while open
                (a fallback's queue), instead of refusing every later write.
        """
        self.path = Path(path)
        self._schema = schema
        self._rescue = rescue
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._writes = 0
        self._closed = False
        self._identity: tuple[int, int] | None = None  # the file opened, once it is
        self._generation = 0  # bumped when the file is re-created: connections reopen

    def open(self) -> None:
        """Create the file, its folder and its tables (idempotent)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot create the folder of {self.path}: {exc}") from exc
        try:
            self.conn.executescript(self._schema)  # its own transaction: IF NOT EXISTS each
            _add_columns(self.conn)
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc
        with self.write() as c:
            c.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        self._hold()

    def _hold(self) -> None:
        """Remember which file the path names now (its device and inode).

        No descriptor of our own is held on it: closing any descriptor of a file drops every
        POSIX lock the process holds on it, SQLite's included, so another process would take
        itself for the file's only user and reset or delete a write-ahead log in use here."""
        self._identity = _identity(self.path)

    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise AetherError("this SQLite store is closed")
        self.check_file()
        # Once open, never create the file again by connecting: a missing file is an error.
        target = self.path if self._identity is None else f"file:{quote(str(self.path))}?mode=rw"
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(
                target,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
                uri=self._identity is not None,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a commit survives the process being killed; a power cut
            # can lose the last moments, like Redis's appendfsync everysec.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            if isinstance(translate(exc, self.path), StoreDamaged):
                raise damaged(self.path, exc) from exc
            raise ConfigurationError(f"cannot open SQLite file {self.path}: {exc}") from exc
        except UnicodeDecodeError as exc:  # a damaged header read back as text
            if conn is not None:
                conn.close()
            raise damaged(self.path, exc) from exc
        with self._guard:
            self._connections.append(conn)
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use, and again after a re-creation)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.generation != self._generation:
            with self._guard:
                self._connections.remove(conn)
            conn.close()  # safe: SQLite neither checkpoints nor unlinks a moved file's WAL
            conn = None
        if conn is None:
            conn = self._local.conn = self._connect()
            self._local.generation = self._generation
        return conn

    def problems(self) -> list[str]:
        """What is wrong with the file now (for health checks): empty when all is well."""
        if self._identity is None or _identity(self.path) == self._identity:
            return []
        return [self._lost_message()]

    def _lost_message(self) -> str:
        return (
            f"the SQLite file {self.path} was deleted or replaced while open: writes are "
            "refused, so that none is acknowledged into a file that is gone. Put the file "
            "back, or reopen the store to use what is at that path now"
        )

    def check_file(self, committed: bool = False) -> None:
        """Make sure the path still names the file that was opened.

        Raises:
            StoreDamaged: It does not (a store; or a fallback whose last write, `committed`
                just before another process replaced the file, may not have been kept).
        """
        if self._identity is None or _identity(self.path) == self._identity:
            return
        if not self._rescue:
            raise StoreDamaged(self._lost_message())
        with self._guard:
            if _identity(self.path) == self._identity:
                return  # another thread re-created it meanwhile
            kept = self._recreate()
        if committed and not kept:
            raise StoreDamaged(
                f"the SQLite file {self.path} was replaced during this write, which may not "
                "have been kept; retry it"
            )

    def _recreate(self) -> bool:
        """Put a file back at the path (the caller holds `_guard`); True if it holds what
        this process had, False if another process (or a person) put a file there first."""
        lock = self.path.with_name(self.path.name + ".lock")
        with open(lock, "a+b") as held:  # one process at a time, across processes
            fcntl.flock(held, fcntl.LOCK_EX)
            kept = _identity(self.path) is None and self._copy_back()
            # Whatever is at the path now (the copy, another process's, a person's, or a new
            # empty file) gets the tables, and every connection moves to it.
            with contextlib.closing(sqlite3.connect(self.path)) as fresh:
                fresh.executescript(self._schema)
            self._hold()
            self._generation += 1
        log.error(
            "aether-memory: the SQLite file %s was deleted or replaced while open; %s. Do not "
            "delete it while a client runs",
            self.path,
            "it was re-created from the copy this process still had open, nothing lost"
            if kept
            else "now using the file found there (writes queued only in the old one are lost)",
        )
        return kept

    def _copy_back(self) -> bool:
        """Write the deleted file's content, as an open connection still reads it, back to
        the path. False if no connection can read it."""
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.rescue")
        for conn in [getattr(self._local, "conn", None), *self._connections]:
            if conn is None or conn.in_transaction:
                continue
            try:
                tmp.unlink(missing_ok=True)
                conn.execute("VACUUM INTO ?", (str(tmp),))
            except sqlite3.Error:
                continue
            # The sidecars left at the path belong to the deleted file: a new file must
            # not pick them up (open connections keep theirs by descriptor).
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            try:
                os.link(tmp, self.path)
            except FileExistsError:  # a process that does not rescue made a new file
                return False
            finally:
                tmp.unlink()
            return True
        return False

    @contextmanager
    def write(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction; rolled back if anything inside raises. Inside another
        write of the same thread it joins that transaction (commits with it). Refused (or,
        for a fallback, followed by a re-creation) if the file was deleted or replaced."""
        conn = self.conn
        if getattr(self._local, "depth", 0):
            self._local.depth += 1
            try:
                yield conn.cursor()
            finally:
                self._local.depth -= 1
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc
        cur = conn.cursor()
        self._local.depth = 1
        try:
            yield cur
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise translate(exc, self.path) from exc
            raise
        finally:
            self._local.depth = 0
        # Deleted (or replaced): this write went into a file that is gone. Refuse to
        # acknowledge it, or keep it by re-creating the file from this connection's copy.
        if self._identity is not None and _identity(self.path) != self._identity:
            self.check_file(committed=True)
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            self.sweep()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Cursor]:
        """A cursor for reads (one implicit transaction per statement)."""
        try:
            yield self.conn.cursor()
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc
        except UnicodeDecodeError as exc:  # a damaged page read back as text
            raise damaged(self.path, exc) from exc

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

    @property
    def closed(self) -> bool:
        return self._closed

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


def prefixed(c: sqlite3.Cursor, prefix: str) -> list[str]:
    """Every key starting with `prefix`, sorted (a range scan of each table's key index)."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    found: set[str] = set()
    for table in (*_DATA_TABLES, "expiry"):
        found.update(
            k
            for (k,) in c.execute(
                f"SELECT DISTINCT key FROM {table} WHERE key >= ? AND key < ?", (prefix, upper)
            )
        )
    return sorted(found)


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


def hkeys(c: sqlite3.Cursor, key: str, now: int) -> list[str]:
    if expired(c, key, now):
        return []
    return [f for (f,) in c.execute("SELECT field FROM hash WHERE key = ?", (key,))]


def hmget(c: sqlite3.Cursor, key: str, fields: Iterable[str], now: int) -> dict[str, bytes]:
    """The named fields that exist (a field at a time: the primary key makes each a lookup)."""
    if expired(c, key, now):
        return {}
    found: dict[str, bytes] = {}
    for field in fields:
        row = c.execute("SELECT value FROM hash WHERE key = ? AND field = ?", (key, field))
        value = row.fetchone()
        if value is not None:
            found[field] = bytes(value[0])
    return found


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
