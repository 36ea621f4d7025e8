"""Long-term memory on SQLite: records in ``lt_memory``, full text in FTS5 (``lt_fts``, kept in
step by triggers), and vectors found by an exact numpy scan over a per-namespace matrix held in
this process.

The matrix follows the file through ``lt_namespace``: every write bumps the namespace's
generation in its own transaction and stamps the rows it touched with it, so a search costs
one point read when nothing changed and reads back only the stamped rows when something did
(from any process). Deletes bump the epoch instead, which rebuilds the matrix; expiry needs no
rebuild, as the matrix holds each row's expiry time.
"""

from __future__ import annotations

import copy
import secrets
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from aether_memory.backends.sqlite import db as kv
from aether_memory.backends.sqlite import feed
from aether_memory.core import keys
from aether_memory.core.errors import ConfigurationError
from aether_memory.core.feed import memory_kind, update_op
from aether_memory.core.lifecycle import row_size
from aether_memory.core.query import Filters
from aether_memory.storage.rows import Candidate, Row, text

# The fields a record is returned with: the Redis store's.
FIELDS = (
    "content", "kind", "agent", "session", "tags", "source", "importance", "occurred_at",
    "created_at", "related", "metadata", "hash", "supersedes", "superseded_by",
)  # fmt: skip
# Columns added since the first version of the table: (name, type), added to older files.
_ADDED = (("supersedes", "TEXT"), ("superseded_by", "TEXT"), ("superseded_at", "INTEGER"))
# The fields stored; others are dropped (Redis would keep them, but never return them).
_COLUMNS = frozenset(
    (*FIELDS, "when", "v", "embedding", "access_count", "last_accessed", "superseded_at")
)
_REAL = {"importance"}
_INT = {"occurred_at", "created_at", "access_count", "last_accessed", "v", "superseded_at"}
_LABELS = ("kind", "agent", "session", "tags")  # the filter fields matched by value
_LIVE = "(expires_at IS NULL OR expires_at > ?)"
_MATRIX_ROWS = (
    "SELECT id, embedding, coalesce(kind, 'fact'), coalesce(agent, ''), coalesce(session, ''),"
    " coalesce(tags, ''), coalesce(occurred_at, 0), coalesce(importance, 0.5),"
    " coalesce(expires_at, 9e18), superseded_at IS NOT NULL"
    " FROM lt_memory WHERE ns = ? AND gen > ? AND embedding NOT NULL"
)

LONGTERM_SCHEMA = """
CREATE TABLE IF NOT EXISTS lt_memory (
    rid INTEGER PRIMARY KEY,  -- declared, so VACUUM keeps the rowids lt_fts refers to
    ns TEXT NOT NULL, id TEXT NOT NULL,
    content TEXT, "when" TEXT, kind TEXT, agent TEXT, session TEXT, tags TEXT, source TEXT,
    importance REAL, occurred_at INTEGER, created_at INTEGER, related TEXT, metadata BLOB,
    hash TEXT, v INTEGER, embedding BLOB, expires_at INTEGER,
    access_count INTEGER NOT NULL DEFAULT 0, last_accessed INTEGER,
    supersedes TEXT, superseded_by TEXT, superseded_at INTEGER,  -- as _ADDED (older files)
    gen INTEGER NOT NULL,  -- the namespace generation that last wrote the row
    UNIQUE (ns, id)
);
CREATE INDEX IF NOT EXISTS lt_memory_gen ON lt_memory (ns, gen);
CREATE INDEX IF NOT EXISTS lt_memory_expiry ON lt_memory (ns, expires_at);
CREATE TABLE IF NOT EXISTS lt_hash (
    ns TEXT NOT NULL, hash TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (ns, hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lt_namespace (
    ns TEXT PRIMARY KEY, gen INTEGER NOT NULL, epoch INTEGER NOT NULL
) WITHOUT ROWID;
-- The namespace's hot memories as every writer counts them (the hot budget's count), and the
-- process running its budget pass, if any (`owner` until `until` ms).
CREATE TABLE IF NOT EXISTS lt_usage (
    ns TEXT PRIMARY KEY, count INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,
    owner TEXT, "until" INTEGER
) WITHOUT ROWID;
-- Full text: FTS5 with the Porter stemmer ("Refunds" finds "refund", as in the Query Engine).
-- It replaced lt_fts (no stemming), which is dropped and rebuilt from lt_memory once.
DROP TRIGGER IF EXISTS lt_fts_insert;
DROP TRIGGER IF EXISTS lt_fts_delete;
DROP TRIGGER IF EXISTS lt_fts_update;
DROP TABLE IF EXISTS lt_fts;
CREATE TABLE IF NOT EXISTS lt_text_built (done INTEGER);
CREATE VIRTUAL TABLE IF NOT EXISTS lt_text USING fts5(
    content, "when", content='lt_memory', content_rowid='rid',
    tokenize="porter unicode61 tokenchars '_'"  -- as in the Query Engine, err_42 is one word
);
INSERT INTO lt_text (lt_text) SELECT 'rebuild' WHERE NOT EXISTS (SELECT 1 FROM lt_text_built);
INSERT INTO lt_text_built SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM lt_text_built);
CREATE TRIGGER IF NOT EXISTS lt_text_insert AFTER INSERT ON lt_memory BEGIN
    INSERT INTO lt_text (rowid, content, "when") VALUES (new.rid, new.content, new."when");
END;
CREATE TRIGGER IF NOT EXISTS lt_text_delete AFTER DELETE ON lt_memory BEGIN
    INSERT INTO lt_text (lt_text, rowid, content, "when")
    VALUES ('delete', old.rid, old.content, old."when");
END;
CREATE TRIGGER IF NOT EXISTS lt_text_update AFTER UPDATE OF content, "when" ON lt_memory BEGIN
    INSERT INTO lt_text (lt_text, rowid, content, "when")
    VALUES ('delete', old.rid, old.content, old."when");
    INSERT INTO lt_text (rowid, content, "when") VALUES (new.rid, new.content, new."when");
END;
"""

_F32 = npt.NDArray[np.float32]
_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]


def migrate(db: kv.Database) -> None:
    """Add the columns a file made by an earlier version lacks (idempotent)."""
    with db.write() as c:
        have = {row[1] for row in c.execute("PRAGMA table_info(lt_memory)")}
        for name, kind in _ADDED:
            if name not in have:  # names and types from _ADDED: never user text
                c.execute(f"ALTER TABLE lt_memory ADD COLUMN {name} {kind}")


def match_expression(terms: Sequence[str]) -> str:
    """An FTS5 query for any of `terms`, each quoted as a string so none can form syntax
    (NUL is dropped: FTS5 would read it as the end of the query)."""
    quoted = ('"' + c.replace("\x00", "").replace('"', '""') + '"' for c in terms)
    return " OR ".join(q for q in quoted if q != '""')


class _Matrix:
    """A namespace's vectors and filter fields as of (`gen`, `epoch`). Never changed once
    published: a successor shares the buffer but writes only past this one's `n` rows."""

    def __init__(self, gen: int, epoch: int) -> None:
        self.gen, self.epoch, self.n, self.dead = gen, epoch, 0, 0
        self.buffer: _F32 = np.empty((0, 0), np.float32)
        self.ids: list[str] = []  # shared with successors, append-only
        self.pos: dict[str, int] = {}  # id -> its newest row, shared: check it against `n`
        self.vocab: dict[str, int] = {}  # label -> code, shared, append-only
        self.live: npt.NDArray[np.bool_] = np.ones(0, bool)
        self.expires: _F64 = np.zeros(0)
        self.occurred: _I64 = np.zeros(0, np.int64)
        self.importance: _F64 = np.zeros(0)
        self.superseded: npt.NDArray[np.bool_] = np.zeros(0, bool)
        empty = np.zeros(0, np.int64)
        self.labels: dict[str, tuple[_I64, _I64]] = {f: (empty, empty) for f in _LABELS}

    def successor(self, gen: int, epoch: int) -> _Matrix:
        new = copy.copy(self)
        new.gen, new.epoch, new.labels = gen, epoch, dict(self.labels)
        return new

    def grow(self, rows: list[tuple[Any, ...]]) -> None:
        """Append rows of `_MATRIX_ROWS`; a row for an id already here retires the old one."""
        n, k = self.n, len(rows)
        vectors = _unit(np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(k, -1))
        if n + k > len(self.buffer):  # 25% headroom, so appends rarely copy the matrix
            grown = np.empty((n + k + (n + k) // 4 + 64, vectors.shape[1]), np.float32)
            if n:
                grown[:n] = self.buffer[:n]
            self.buffer = grown
        self.buffer[n : n + k] = vectors
        self.live = np.concatenate([self.live, np.ones(k, bool)])
        pairs: dict[str, list[tuple[int, int]]] = {f: [] for f in _LABELS}
        for i, (memory_id, _, kind, agent, session, tags, *_) in enumerate(rows, start=n):
            if (old_row := self.pos.get(memory_id)) is not None:
                self.live[old_row] = False
                self.dead += 1
            self.pos[memory_id] = i
            self.ids.append(memory_id)
            # Labels as `decode_row` reads them: an empty session is no session.
            labels = ([kind], [agent], [session] if session else [], tags.split(","))
            for field, values in zip(_LABELS, labels, strict=True):
                for value in filter(None, values):  # tags "" and "a,,b" hold no empty tag
                    pairs[field].append((i, self.vocab.setdefault(value, len(self.vocab))))
        for field, new in pairs.items():
            add = np.array(new, np.int64).reshape(-1, 2).T
            self.labels[field] = (
                np.concatenate([self.labels[field][0], add[0]]),
                np.concatenate([self.labels[field][1], add[1]]),
            )
        self.occurred = np.concatenate([self.occurred, np.array([r[6] for r in rows], np.int64)])
        self.importance = np.concatenate([self.importance, np.array([r[7] for r in rows], float)])
        self.expires = np.concatenate([self.expires, np.array([r[8] for r in rows], float)])
        self.superseded = np.concatenate([self.superseded, np.array([r[9] for r in rows], bool)])
        self.n = n + k

    def mask(self, scope: Filters, now: int) -> npt.NDArray[np.bool_]:
        """The live, unexpired rows `scope.matches` keeps, decided on whole columns."""
        keep = self.live & (self.expires > now)
        wanted = (scope.kinds, scope.agents, scope.sessions, scope.tags)
        for field, values in zip(_LABELS, wanted, strict=True):
            if values:
                rows, codes = self.labels[field]
                hit = np.zeros(self.n, bool)
                hit[rows[np.isin(codes, [self.vocab[v] for v in values if v in self.vocab])]] = 1
                keep &= hit
        if scope.since_ms is not None:
            keep &= self.occurred >= scope.since_ms
        if scope.until_ms is not None:
            keep &= self.occurred <= scope.until_ms
        if scope.min_importance is not None:
            keep &= self.importance >= scope.min_importance
        if not scope.include_superseded:
            keep &= ~self.superseded
        return keep

    def nearest(
        self,
        vector: bytes,
        scope: Filters,
        n: int,
        now: int,
        keep: npt.NDArray[np.bool_] | None = None,
    ) -> list[tuple[int, float]]:
        """The exact top `n` rows in `scope` (or `keep`, its mask) by cosine similarity."""
        rows = np.flatnonzero(self.mask(scope, now) if keep is None else keep)
        if not rows.size or n < 1:
            return []
        query = _unit(np.frombuffer(vector, np.float32))
        # A narrow scope gathers its rows; a wide one scans all (no copy of the matrix).
        sims = (
            self.buffer[rows] @ query
            if rows.size * 4 < self.n
            else (self.buffer[: self.n] @ query)[rows]
        )
        top = np.argpartition(-sims, n - 1)[:n] if rows.size > n else np.arange(rows.size)
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(int(rows[i]), float(sims[i])) for i in top]


class LongTerm:
    """The long-term memory role of the SQLite store: sync, safe to share between threads."""

    def __init__(self, db: kv.Database) -> None:
        self._db = db
        self._ready: set[str] = set()
        self._cache: dict[str, _Matrix] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @property
    def indexed(self) -> bool:
        """Always: FTS5 is built into SQLite, and filters apply before the top n is taken."""
        return True

    def setup(self, ns: str, dims: int, model: str) -> None:
        """Refuse an embedder other than the one the namespace's memories were embedded with
        (the tables come with the file's schema)."""
        if ns in self._ready:
            return
        want, key = f"{model}|{dims}", keys.embedder(ns)
        with self._db.write() as c:
            if (first := kv.get(c, key, kv.now_ms())) is None:
                kv.set_(c, key, want.encode(), kv.now_ms(), None)
        if first is not None and text(first) != want:
            used = text(first).rsplit("|", 1)[0]
            raise ConfigurationError(
                f"namespace {ns!r} holds memories embedded with {used!r}; recalling them with "
                f"{model!r} would compare unrelated vectors. Use that embedder, or another "
                "namespace for this one."
            )
        self._ready.add(ns)

    def find_existing(
        self, ns: str, hashes: Sequence[str], vectors: Sequence[bytes], scope: Filters
    ) -> tuple[list[str | None], list[tuple[str, float, float] | None]]:
        """For each item: the live memory stored under its content hash, and its nearest
        neighbour in `scope` as (id, cosine similarity, importance)."""
        now = kv.now_ms()
        with self._db.read() as c:
            exact = dict(
                c.execute(
                    "SELECT h.hash, h.id FROM lt_hash h JOIN lt_memory m USING (ns, id)"
                    f" WHERE h.ns = ? AND h.hash IN ({_marks(hashes)}) AND {_LIVE}",
                    (ns, *hashes, now),
                )
            )
        nearest: list[tuple[str, float, float] | None] = []
        matrix = self._matrix(ns) if vectors else _Matrix(0, 0)
        for vector in vectors:
            top = matrix.nearest(vector, scope, 1, now)
            nearest.append(
                (matrix.ids[top[0][0]], top[0][1], float(matrix.importance[top[0][0]]))
                if top
                else None
            )
        return [exact.get(h) for h in hashes], nearest

    def put(self, ns: str, rows: Sequence[tuple[str, Row, int | None]]) -> None:
        """Store records (id, fields incl. ``embedding`` and ``hash``, ttl ms) atomically; on
        an existing id, the given fields replace theirs and the others stay (like HSET)."""
        if rows:
            with self._db.write() as c:
                self.put_rows(c, ns, rows)

    def put_rows(self, c: Any, ns: str, rows: Sequence[tuple[str, Row, int | None]]) -> None:
        """`put` inside the caller's write transaction."""
        if rows:
            now = kv.now_ms()
            gen = _bump(c, ns, now, rebuild=False)
            for memory_id, fields, ttl_ms in rows:
                values = _values(fields, gen)
                if ttl_ms is not None:
                    values["expires_at"] = now + ttl_ms
                names = [f'"{k}"' for k in values]  # from _COLUMNS: never user text
                c.execute(
                    f"INSERT INTO lt_memory (ns, id, {', '.join(names)})"
                    f" VALUES (?, ?, {_marks(names)}) ON CONFLICT (ns, id) DO UPDATE SET "
                    + ", ".join(f"{k} = excluded.{k}" for k in names),
                    (ns, memory_id, *values.values()),
                )
                c.execute(
                    "INSERT OR REPLACE INTO lt_hash VALUES (?, ?, ?)",
                    (ns, text(fields["hash"]), memory_id),
                )
                kind = memory_kind(text(fields.get("kind", "")))
                feed.emit(c, ns, text(fields.get("agent", "")), kind, memory_id, "remembered")
            _add_usage(c, ns, len(rows), sum(row_size(fields) for _, fields, _ in rows))

    def reinforce(
        self,
        ns: str,
        items: Sequence[tuple[str, float]],
        now_ms: int,
        write_id: str | None = None,
    ) -> None:
        """Count a repeated memory: access_count + 1; importance rises to the new value.
        (`write_id` matters to the primary's dedup; one transaction here is applied once.)"""
        with self._db.write() as c:
            now = kv.now_ms()
            gen = _bump(c, ns, now, rebuild=False)
            # Only a rise restamps the row: the matrix holds importance for filters.
            c.executemany(
                "UPDATE lt_memory SET access_count = access_count + 1, last_accessed = ?1,"
                " gen = iif(?2 > coalesce(importance, 0), ?3, gen),"
                " importance = max(coalesce(importance, 0), ?2)"
                " WHERE ns = ?4 AND id = ?5 AND (expires_at IS NULL OR expires_at > ?6)",
                [(now_ms, float(imp), gen, ns, memory_id, now) for memory_id, imp in items],
            )

    def search(
        self, ns: str, scope: Filters, vector: bytes, terms: Sequence[str], n: int
    ) -> dict[str, Candidate]:
        """Up to `n` nearest memories in `scope`, and up to `n` in `scope` with the best BM25
        for `terms` over the whole namespace, with what ranking needs."""
        now = kv.now_ms()
        matrix = self._matrix(ns)
        keep = matrix.mask(scope, now)  # the one place filters are decided, for both lists
        query = _unit(np.frombuffer(vector, np.float32))
        near = {matrix.ids[i]: sim for i, sim in matrix.nearest(vector, scope, n, now, keep)}
        relevance: dict[str, float] = {}
        with self._db.read() as c:
            if expression := match_expression(terms):
                for memory_id, score in c.execute(
                    "SELECT m.id, -bm25(lt_text, 1.0, 0.5) FROM lt_text"
                    " JOIN lt_memory m ON m.rid = lt_text.rowid"
                    " WHERE lt_text MATCH ? AND m.ns = ?"
                    " ORDER BY bm25(lt_text, 1.0, 0.5)",  # `when` weighs half, as in the index
                    (expression, ns),
                ):
                    if len(relevance) >= n:
                        break
                    row = matrix.pos.get(memory_id)
                    if row is not None and row < matrix.n and keep[row]:
                        relevance[memory_id] = score
            wanted = list(dict.fromkeys([*near, *relevance]))
            fresh = {
                r[0]: r[1:]
                for r in c.execute(
                    "SELECT id, content, occurred_at, importance FROM lt_memory"
                    f" WHERE ns = ? AND id IN ({_marks(wanted)}) AND {_LIVE}",
                    (ns, *wanted, now),
                )
            }
        out = {}
        for memory_id in wanted:
            if memory_id in fresh:  # else deleted since the matrix was read
                content, occurred, importance = fresh[memory_id]
                sim = near.get(memory_id)
                if sim is None:  # a text match: its similarity too, from the matrix
                    sim = float(matrix.buffer[matrix.pos[memory_id]] @ query)
                out[memory_id] = _candidate(
                    sim, content, occurred, importance, relevance.get(memory_id)
                )
        return out

    def fetch(self, ns: str, ids: Sequence[str], now_ms: int | None = None) -> list[Row | None]:
        """Full records with their access count and last access; with `now_ms`, count this
        as an access first."""
        if not ids:
            return []
        with self._db.write() if now_ms is not None else self._db.read() as c:
            now = kv.now_ms()
            if now_ms is not None:
                c.executemany(
                    "UPDATE lt_memory SET access_count = access_count + 1, last_accessed = ?"
                    f" WHERE ns = ? AND id = ? AND {_LIVE}",
                    [(now_ms, ns, memory_id, now) for memory_id in ids],
                )
            columns = ", ".join(f'"{f}"' for f in FIELDS)
            found = {
                r[0]: r[1:]
                for r in c.execute(
                    f"SELECT id, {columns}, access_count, last_accessed FROM lt_memory"
                    f" WHERE ns = ? AND id IN ({_marks(ids)}) AND {_LIVE}",
                    (ns, *ids, now),
                )
            }
        out: list[Row | None] = []
        for values in map(found.get, ids):
            row = None
            if values is not None:
                row = {k: v for k, v in zip(FIELDS, values[:-2], strict=True) if v is not None}
                row["access_count"] = values[-2]
                row["last_accessed"] = values[-1] or row.get("created_at", 0)
            out.append(row)
        return out

    def get(self, ns: str, ids: Sequence[str]) -> list[Row | None]:
        return self.fetch(ns, ids)

    def delete(self, ns: str, ids: Sequence[str], hashes: Sequence[str]) -> int:
        """Delete memories and the given dedup entries; returns how many memories existed."""
        with self._db.write() as c:
            _bump(c, ns, kv.now_ms(), rebuild=True)
            for memory_id in ids:  # told before it is gone
                feed.emit_memory(c, ns, memory_id, "forgotten")
            c.executemany("DELETE FROM lt_memory WHERE ns = ? AND id = ?", [(ns, i) for i in ids])
            deleted = max(c.rowcount, 0)
            c.executemany(
                "DELETE FROM lt_hash WHERE ns = ? AND hash = ?", [(ns, h) for h in hashes]
            )
            if deleted:
                _purge_text(c)
        return deleted

    def update(
        self,
        ns: str,
        memory_id: str,
        fields: Mapping[str, Any],
        rehash: tuple[str, str] | None = None,
    ) -> None:
        """Change fields of a memory (a None value removes the field); `rehash` moves its
        dedup entry (old hash, new hash)."""
        with self._db.write() as c:
            now = kv.now_ms()
            values = _values(fields, _bump(c, ns, now, rebuild=False))
            assignments = ", ".join(f'"{k}" = ?' for k in values)  # from _COLUMNS only
            feed.emit_memory(c, ns, memory_id, update_op(dict(fields)))
            c.execute(
                f"UPDATE lt_memory SET {assignments} WHERE ns = ? AND id = ? AND {_LIVE}",
                (*values.values(), ns, memory_id, now),
            )
            if rehash is not None:
                c.execute("DELETE FROM lt_hash WHERE ns = ? AND hash = ?", (ns, rehash[0]))
                c.execute(
                    "INSERT OR REPLACE INTO lt_hash VALUES (?, ?, ?)", (ns, rehash[1], memory_id)
                )

    # -- skills: Redis-shaped hashes in the kernel's tables, as in the Redis store ---------------
    def skill_put(self, ns: str, name: str, fields: Mapping[str, Any], ttl_ms: int | None) -> None:
        with self._db.write() as c:
            now, key = kv.now_ms(), keys.skill(ns, name)
            kv.hset(c, key, fields, now)
            if ttl_ms is not None:
                kv.pexpire(c, key, ttl_ms, now)
            feed.emit(c, ns, "", "skill", name, "saved")

    def skill_get(self, ns: str, names: Sequence[str]) -> list[Row | None]:
        with self._db.read() as c:
            now = kv.now_ms()
            rows = [kv.hgetall(c, keys.skill(ns, name), now) for name in names]
        return [dict(r) if r else None for r in rows]

    def skill_run(
        self,
        ns: str,
        name: str,
        success: bool,
        duration: float,
        ttl_ms: int | None,
        write_id: str | None = None,
    ) -> bool:
        """Count a run, as the Redis store's SKILL_RUN script does; False if there is no skill."""
        with self._db.write() as c:
            now, key = kv.now_ms(), keys.skill(ns, name)
            if not kv.exists(c, key, now):
                return False
            kv.hincrby(c, key, "runs", 1, now)
            kv.hincrby(c, key, "successes", int(success), now)
            kv.hincrby(c, key, "total_duration", duration, now)
            if ttl_ms:
                kv.pexpire(c, key, ttl_ms, now)
            feed.emit(c, ns, "", "skill_run", name, "ran")
        return True

    # -- browsing, moving and erasing ------------------------------------------------------------
    def page(self, ns: str, after: str | None, limit: int) -> list[tuple[str, Row | None]]:
        """Live memories after id `after`, in id order, with everything an export needs."""
        names = (*FIELDS, "when", "v", "embedding", "superseded_at")
        columns = ", ".join(f'"{f}"' for f in names)
        with self._db.read() as c:
            rows = c.execute(
                f"SELECT id, {columns}, access_count, last_accessed, expires_at FROM lt_memory"
                f" WHERE ns = ? AND id > ? AND {_LIVE} ORDER BY id LIMIT ?",
                (ns, after or "", kv.now_ms(), limit),
            ).fetchall()
        out: list[tuple[str, Row | None]] = []
        for memory_id, *values in rows:
            row = {k: v for k, v in zip(names, values, strict=False) if v is not None}
            row["access_count"], row["last_accessed"], row["expires_at"] = values[-3:]
            row["last_accessed"] = row["last_accessed"] or row.get("created_at", 0)
            out.append((memory_id, row))
        return out

    def load(self, ns: str, rows: Sequence[tuple[str, Row, int | None]]) -> None:
        """Records exactly as exported, replacing any with the same id, in one transaction."""
        if not rows:
            return
        with self._db.write() as c:
            gen = _bump(c, ns, kv.now_ms(), rebuild=True)
            for memory_id, fields, expires_at in rows:
                values = _values(fields, gen)
                values["expires_at"] = expires_at
                names = [f'"{k}"' for k in values]  # from _COLUMNS: never user text
                c.execute("DELETE FROM lt_memory WHERE ns = ? AND id = ?", (ns, memory_id))
                c.execute(
                    f"INSERT INTO lt_memory (ns, id, {', '.join(names)})"
                    f" VALUES (?, ?, {_marks(names)})",
                    (ns, memory_id, *values.values()),
                )
                c.execute(
                    "INSERT OR REPLACE INTO lt_hash VALUES (?, ?, ?)",
                    (ns, text(fields["hash"]), memory_id),
                )
            _add_usage(c, ns, len(rows), sum(row_size(fields) for _, fields, _ in rows))

    # -- the shared count of hot memories (the hot budget's) ----------------------------------
    def usage(self, ns: str) -> tuple[int, int] | None:
        """The namespace's hot memories and their bytes as counted by every writer (None
        before anything was counted)."""
        with self._db.read() as c:
            found = c.execute("SELECT count, bytes FROM lt_usage WHERE ns = ?", (ns,)).fetchone()
        return None if found is None else (int(found[0]), int(found[1]))

    def add_usage(self, ns: str, count: int, size: int) -> None:
        """Correct the count by these amounts (a pass that measured the namespace)."""
        with self._db.write() as c:
            _add_usage(c, ns, count, size)

    def pass_claim(self, ns: str, owner: str, ttl_ms: int) -> bool:
        """Claim (or renew) the namespace's budget pass for `owner`; False if another
        owner holds it."""
        with self._db.write() as c:
            now = kv.now_ms()
            c.execute("INSERT INTO lt_usage (ns) VALUES (?) ON CONFLICT (ns) DO NOTHING", (ns,))
            held = c.execute(
                'UPDATE lt_usage SET owner = ?, "until" = ? WHERE ns = ?'
                ' AND (owner IS NULL OR owner = ? OR "until" <= ?)',
                (owner, now + ttl_ms, ns, owner, now),
            ).rowcount
        return bool(held)

    def pass_release(self, ns: str, owner: str) -> None:
        with self._db.write() as c:
            c.execute(
                'UPDATE lt_usage SET owner = NULL, "until" = NULL WHERE ns = ? AND owner = ?',
                (ns, owner),
            )

    def skill_names(self, ns: str, after: str | None, limit: int) -> list[str]:
        prefix = keys.skill(ns, "")
        with self._db.read() as c:
            found = c.execute(
                "SELECT DISTINCT h.key FROM hash h LEFT JOIN expiry e ON e.key = h.key"
                " WHERE h.key > ? AND h.key < ? AND (e.at IS NULL OR e.at > ?)"
                " ORDER BY h.key LIMIT ?",
                (prefix + (after or ""), prefix[:-1] + ";", kv.now_ms(), limit),
            ).fetchall()
        return [k[len(prefix) :] for (k,) in found]

    def skill_delete(self, ns: str, names: Sequence[str]) -> int:
        with self._db.write() as c:
            now, removed = kv.now_ms(), 0
            for name in names:
                key = keys.skill(ns, name)
                removed += kv.exists(c, key, now)
                kv.delete(c, key)
            feed.erase(c, ns, skills=tuple(names))  # their notifications too
        return removed

    def erase_rows(self, c: Any, ns: str, dry_run: bool) -> dict[str, int]:
        """Count (and unless `dry_run`, delete) the namespace's rows, inside `c`'s
        transaction; the full-text rows go with them (triggers)."""
        counts = {
            name: c.execute(f"SELECT count(*) FROM {table} WHERE ns = ?", (ns,)).fetchone()[0]
            for name, table in (("memories", "lt_memory"), ("dedup_entries", "lt_hash"))
        }
        if not dry_run:
            for table in ("lt_memory", "lt_hash", "lt_namespace", "lt_usage"):  # constants
                c.execute(f"DELETE FROM {table} WHERE ns = ?", (ns,))
            if counts["memories"]:
                _purge_text(c)
        return counts

    def forget_namespace(self, ns: str) -> None:
        """The namespace was erased: drop what this process holds of it."""
        self._ready.discard(ns)
        with self._guard:
            self._cache.pop(ns, None)

    # -- the matrix cache ------------------------------------------------------------------------
    def _matrix(self, ns: str) -> _Matrix:
        """The namespace's matrix as of the file's generation (one point read if current)."""
        with self._guard:
            lock = self._locks.setdefault(ns, threading.Lock())
        with self._db.read() as c, lock:
            head = c.execute("SELECT gen, epoch FROM lt_namespace WHERE ns = ?", (ns,)).fetchone()
            gen, epoch = head or (0, 0)
            cached = self._cache.get(ns)
            if cached is not None and (cached.gen, cached.epoch) == (gen, epoch):
                return cached
            # Carry on from the cached matrix unless rows were removed, or half of it is
            # retired or expired rows. The head is read before the rows: a row written in
            # between is read now and again next time, which is harmless.
            if (
                cached is not None
                and cached.epoch == epoch
                and cached.gen < gen
                and 2 * (cached.dead + int(np.sum(cached.expires <= kv.now_ms()))) < cached.n
            ):
                matrix, since = cached.successor(gen, epoch), cached.gen
            else:
                matrix, since = _Matrix(gen, epoch), -1
            rows = c.execute(_MATRIX_ROWS, (ns, since)).fetchall()
            try:
                if rows:
                    matrix.grow(rows)
            except BaseException:
                self._cache.pop(ns, None)  # grow() may have changed what they share
                raise
            self._cache[ns] = matrix
            return matrix


def _bump(c: Any, ns: str, now: int, rebuild: bool) -> int:
    """Begin a write to a namespace: purge its expired records, bump its generation (and with
    `rebuild`, as rows are removed, its epoch) and return the new generation."""
    gone = c.execute(
        "DELETE FROM lt_memory WHERE ns = ? AND expires_at <= ? RETURNING ns, hash, id", (ns, now)
    ).fetchall()
    c.executemany("DELETE FROM lt_hash WHERE ns = ? AND hash = ? AND id = ?", gone)
    # A namespace starts at a random epoch: one erased and written again must never match a
    # matrix another process still holds of its earlier life.
    gen: int = c.execute(
        "INSERT INTO lt_namespace VALUES (?, 1, ?) ON CONFLICT (ns) DO UPDATE"
        " SET gen = gen + 1, epoch = epoch + ? RETURNING gen",
        (ns, secrets.randbits(62), int(rebuild)),
    ).fetchone()[0]
    return gen


def _values(fields: Mapping[str, Any], gen: int) -> dict[str, Any]:
    """Fields as their columns store them (callers pass bytes, text or numbers), stamped."""
    out: dict[str, Any] = {"gen": gen}
    for name, value in fields.items():
        if value is None and name in _COLUMNS:
            out[name] = None  # a field removed, as HDEL would
        elif name in ("embedding", "metadata"):
            out[name] = (
                bytes(value) if isinstance(value, bytes | bytearray | memoryview) else text(value)
            )
        elif name in _REAL or name in _INT:
            out[name] = float(value) if name in _REAL else int(float(value))
        elif name in _COLUMNS:
            out[name] = text(value)
    return out


def _unit(vectors: _F32) -> _F32:
    """Rows scaled to length 1, so a dot product is the cosine similarity Redis computes."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    unit: _F32 = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return unit


def _marks(values: Sequence[Any] | Mapping[str, Any]) -> str:
    return ",".join("?" * len(values))


def _candidate(
    similarity: float | None,
    content: Any,
    occurred: Any,
    importance: Any,
    relevance: float | None = None,
) -> Candidate:
    importance = 0.5 if importance is None else importance
    return Candidate(
        similarity, text(content), int(float(occurred or 0)), float(importance), relevance
    )


def _purge_text(c: Any) -> None:
    """Rewrite the full-text index without the deleted memories: an FTS5 delete only adds
    a tombstone, and the words of a forgotten or erased memory stay in the index's segments
    until they are merged (this SQLite has no `secure-delete` option)."""
    c.execute("INSERT INTO lt_text (lt_text) VALUES ('optimize')")


def _add_usage(c: Any, ns: str, count: int, size: int) -> None:
    if count or size:
        c.execute(
            "INSERT INTO lt_usage (ns, count, bytes) VALUES (?, ?, ?) ON CONFLICT (ns)"
            " DO UPDATE SET count = count + excluded.count, bytes = bytes + excluded.bytes",
            (ns, count, size),
        )
