"""The embedded archive: one SQLite file (WAL), vectors as float32 blobs searched exactly.

Exact search keeps archive recall faithful; the namespace's matrix is cached in this process
and rebuilt when the file changed (``PRAGMA data_version`` sees other connections' commits).
Full text is an FTS5 table with the hot SQLite store's tokenizer (Porter stems, ``err_42`` one
word), keyed by a rowid from ``archive_rid`` so a replaced or deleted memory's text is found
by key, never by a scan. A file made before the text index had one is indexed on first open.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from aether_memory.backends.archive._vectors import nearest, unit_rows
from aether_memory.backends.sqlite.longterm import match_expression
from aether_memory.core.errors import BackendUnavailable
from aether_memory.core.lifecycle import pack_row, unpack_row
from aether_memory.storage.archive import Archived, ArchiveMatch
from aether_memory.storage.rows import text

_SCHEMA = """
CREATE TABLE IF NOT EXISTS archive_meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS archive (
    ns TEXT NOT NULL, id TEXT NOT NULL, doc BLOB NOT NULL, embedding BLOB,
    archived_at INTEGER NOT NULL, PRIMARY KEY (ns, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS archive_rid (
    rid INTEGER PRIMARY KEY, ns TEXT NOT NULL, id TEXT NOT NULL, UNIQUE (ns, id)
);
CREATE VIRTUAL TABLE IF NOT EXISTS archive_text USING fts5(
    content, tokenize="porter unicode61 tokenchars '_'"
);
"""
_TEXT_BUILT = "text_index"  # archive_meta: the text index covers every row
_MAX_VARS = 500  # ids per IN (...) list, well under SQLite's variable limit


class SQLiteArchive:
    """An archive in a SQLite file (created on first use)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._writes = 0
        self._cache: dict[str, _Vectors] = {}

    @property
    def description(self) -> str:
        return f"sqlite:///{self._path}"

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                if self._db is None:
                    Path(self._path).parent.mkdir(parents=True, exist_ok=True)
                    db = sqlite3.connect(
                        self._path, timeout=30, isolation_level=None, check_same_thread=False
                    )
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute("PRAGMA synchronous=NORMAL")
                    db.executescript(_SCHEMA)
                    _index_text(db)
                    self._db = db
                yield self._db
            except sqlite3.Error as exc:
                raise BackendUnavailable(f"archive {self._path}: {exc}") from exc

    def setup(self, dims: int) -> None:
        # Nothing to size: vectors are stored as bytes and each namespace's come from its own
        # embedder (every search is within one namespace), so namespaces with different
        # embedders share one archive.
        with self._conn():
            pass

    def put(self, ns: str, memories: Sequence[Archived]) -> None:
        if not memories:
            return
        rows = [
            (ns, m.id, pack_row({k: v for k, v in m.row.items() if k != "embedding"}),
             m.row.get("embedding"), m.archived_at)
            for m in memories
        ]  # fmt: skip
        with self._conn() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO archive VALUES (?, ?, ?, ?, ?)", rows)
                _put_text(db, ns, [(m.id, text(m.row.get("content", b""))) for m in memories])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._writes += 1

    def get(self, ns: str, ids: Sequence[str]) -> list[Archived | None]:
        found: dict[str, Archived] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            with self._conn() as db:
                rows = db.execute(
                    "SELECT id, doc, embedding, archived_at FROM archive"
                    f" WHERE ns = ? AND id IN ({marks})",
                    (ns, *chunk),
                ).fetchall()
            for memory_id, doc, embedding, at in rows:
                row = unpack_row(doc)
                if embedding is not None:
                    row["embedding"] = bytes(embedding)
                found[memory_id] = Archived(memory_id, row, int(at))
        return [found.get(i) for i in ids]

    def contains(self, ns: str, ids: Sequence[str]) -> set[str]:
        out: set[str] = set()
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            with self._conn() as db:
                rows = db.execute(
                    f"SELECT id FROM archive WHERE ns = ? AND id IN ({marks})", (ns, *chunk)
                ).fetchall()
            out.update(r[0] for r in rows)
        return out

    def delete(self, ns: str, ids: Sequence[str]) -> int:
        removed = 0
        with self._conn() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                for chunk in _chunks(ids):
                    marks = ",".join("?" * len(chunk))
                    cur = db.execute(
                        f"DELETE FROM archive WHERE ns = ? AND id IN ({marks})", (ns, *chunk)
                    )
                    removed += cur.rowcount
                    _drop_text(db, f"ns = ? AND id IN ({marks})", (ns, *chunk))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._writes += 1
        return removed

    def search(self, ns: str, vector: bytes, terms: Sequence[str], n: int) -> list[ArchiveMatch]:
        dims = len(vector) // 4
        expression = match_expression(terms)
        with self._conn() as db:
            version = (int(db.execute("PRAGMA data_version").fetchone()[0]), self._writes)
            cached = self._cache.get(ns)
            if cached is None or cached.version != version or cached.matrix.shape[1] != dims:
                rows: list[Any] = db.execute(
                    "SELECT id, embedding FROM archive WHERE ns = ? AND embedding IS NOT NULL",
                    (ns,),
                ).fetchall()
                ids = [r[0] for r in rows]
                cached = _Vectors(version, ids, unit_rows([bytes(r[1]) for r in rows], dims))
                self._cache[ns] = cached
            found = (
                db.execute(
                    "SELECT r.id, -bm25(archive_text) FROM archive_text"
                    " JOIN archive_rid r ON r.rid = archive_text.rowid"
                    " WHERE archive_text MATCH ? AND r.ns = ?"
                    " ORDER BY bm25(archive_text) LIMIT ?",
                    (expression, ns, int(n)),
                ).fetchall()
                if expression
                else []
            )
        near = dict(nearest(cached.ids, cached.matrix, vector, n))
        relevance = {memory_id: float(score) for memory_id, score in found}
        out = [ArchiveMatch(i, s, relevance.get(i)) for i, s in near.items()]
        out += [
            ArchiveMatch(i, cached.similarity(i, vector), r)
            for i, r in relevance.items()
            if i not in near
        ]
        return out

    def count(self, ns: str) -> int:
        with self._conn() as db:
            return int(db.execute("SELECT count(*) FROM archive WHERE ns = ?", (ns,)).fetchone()[0])

    def erase(self, ns: str) -> int:
        with self._conn() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                removed = db.execute("DELETE FROM archive WHERE ns = ?", (ns,)).rowcount
                _drop_text(db, "ns = ?", (ns,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._writes += 1
        return int(removed)

    def close(self) -> None:
        with self._lock:
            db, self._db = self._db, None
            self._cache.clear()
        if db is not None:
            db.close()


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(ids), _MAX_VARS):
        yield ids[i : i + _MAX_VARS]


class _Vectors:
    """A namespace's archived vectors as of a version of the file."""

    def __init__(self, version: tuple[int, int], ids: list[str], matrix: np.ndarray) -> None:
        self.version, self.ids, self.matrix = version, ids, matrix
        self.pos = {memory_id: i for i, memory_id in enumerate(ids)}

    def similarity(self, memory_id: str, vector: bytes) -> float:
        """Cosine similarity of one archived memory to `vector` (0 without a vector)."""
        i = self.pos.get(memory_id)
        q = np.frombuffer(vector, dtype=np.float32)
        norm = float(np.linalg.norm(q))
        if i is None or norm == 0.0 or q.shape[0] != self.matrix.shape[1]:
            return 0.0
        return float(self.matrix[i] @ (q / norm))


def _put_text(db: sqlite3.Connection, ns: str, texts: Sequence[tuple[str, str]]) -> None:
    """Index (or re-index) memories' text, in the caller's transaction."""
    texts = list(dict(texts).items())  # an id given twice: its last text
    db.executemany(
        "INSERT INTO archive_rid (ns, id) VALUES (?, ?) ON CONFLICT (ns, id) DO NOTHING",
        [(ns, memory_id) for memory_id, _ in texts],
    )
    for i in range(0, len(texts), _MAX_VARS):
        chunk = texts[i : i + _MAX_VARS]
        marks = ",".join("?" * len(chunk))
        by_id = dict(
            db.execute(
                f"SELECT id, rid FROM archive_rid WHERE ns = ? AND id IN ({marks})",
                (ns, *(memory_id for memory_id, _ in chunk)),
            ).fetchall()
        )
        db.executemany("DELETE FROM archive_text WHERE rowid = ?", [(r,) for r in by_id.values()])
        db.executemany(
            "INSERT INTO archive_text (rowid, content) VALUES (?, ?)",
            [(by_id[memory_id], content) for memory_id, content in chunk],
        )


def _drop_text(db: sqlite3.Connection, where: str, args: tuple[str, ...]) -> None:
    """Remove the text of the memories `where` selects in ``archive_rid`` (`where` is built
    by this module; the values are bound)."""
    db.execute(
        f"DELETE FROM archive_text WHERE rowid IN (SELECT rid FROM archive_rid WHERE {where})",
        args,
    )
    db.execute(f"DELETE FROM archive_rid WHERE {where}", args)


def _index_text(db: sqlite3.Connection) -> None:
    """Index the text of every archived memory once (a file from before the text index)."""
    if db.execute("SELECT 1 FROM archive_meta WHERE name = ?", (_TEXT_BUILT,)).fetchone():
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        if not db.execute("SELECT 1 FROM archive_meta WHERE name = ?", (_TEXT_BUILT,)).fetchone():
            by_ns: dict[str, list[tuple[str, str]]] = {}
            for ns, memory_id, doc in db.execute("SELECT ns, id, doc FROM archive"):
                content = text(unpack_row(doc).get("content", b""))
                by_ns.setdefault(ns, []).append((memory_id, content))
            for ns, texts in by_ns.items():
                _put_text(db, ns, texts)
            db.execute("INSERT INTO archive_meta VALUES (?, 1)", (_TEXT_BUILT,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
