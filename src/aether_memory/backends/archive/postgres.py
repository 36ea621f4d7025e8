"""The PostgreSQL archive: one table, vectors in a pgvector column searched exactly (cosine),
rows as JSON documents. Any PostgreSQL with the ``vector`` extension works; `aether
up --archive` and the tests run the one the ``pgserver`` wheel ships (16.2, pgvector 0.6.2).

No HNSW index by default: measured here (pgvector 0.6.2, 384-d, a loaded 2-core machine), an
HNSW index made each archived row cost ~22 ms to insert against ~0.7 ms without, and the sync
pass is this tier's bulk path, while an exact scan of 20k archived vectors took ~50 ms. An
operator with a large, rarely written archive can add one (docs/lifecycle.md).

Full text is PostgreSQL's own: a ``tsvector`` column generated from the memory's text with the
``english`` configuration (stemmed, as the hot stores are), a GIN index, ``ts_rank`` as the
relevance. The query is an OR of ``plainto_tsquery`` of each word, every word a bound
parameter, so no query text can form tsquery syntax. A table from before the text column gets
it on `setup`, filled from the archived documents.

psycopg is imported when an archive is opened, so the package works without the extra.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import numpy as np

from aether_memory.core.errors import BackendUnavailable, ConfigurationError
from aether_memory.core.lifecycle import pack_row, unpack_row
from aether_memory.storage.archive import Archived, ArchiveMatch
from aether_memory.storage.rows import text

TABLE = "aether_archive"


@lru_cache(maxsize=16)
def _vector_format(dims: int) -> str:
    return "[" + ",".join(["%.9g"] * dims) + "]"


def _vector_text(vector: bytes) -> str:
    # Nine significant digits give a float32 back bit for bit through pgvector's parse; one
    # %-format in C is ~2.6x faster than joining reprs (measured: 0.27 vs 0.71 ms per
    # 384-d vector), which was a third of a sync pass's time.
    values = np.frombuffer(vector, dtype=np.float32).tolist()
    return _vector_format(len(values)) % tuple(values)


def _plain(value: str) -> str:
    return value.replace("\x00", "")  # a PostgreSQL text value cannot hold NUL


def _vector_bytes(value: str) -> bytes:
    return np.array(value.strip("[]").split(","), dtype=np.float32).tobytes()


class PostgresArchive:
    """An archive in a PostgreSQL database (the table is created by `setup`)."""

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError as exc:  # the extra is not installed
            raise ConfigurationError(
                "a PostgreSQL archive needs psycopg: install aether-memory[postgres]"
            ) from exc
        self._psycopg = psycopg
        self._url = url
        self._lock = threading.Lock()
        self._db: Any = None

    @property
    def description(self) -> str:
        return re.sub(r"//[^@/]*@", "//", self._url)  # no user or password

    @contextmanager
    def _conn(self) -> Iterator[Any]:
        psycopg = self._psycopg
        with self._lock:
            try:
                if self._db is None or self._db.closed:
                    self._db = psycopg.connect(self._url, connect_timeout=10)
                with self._db.transaction():
                    yield self._db
            except psycopg.OperationalError as exc:
                self._db = None
                raise BackendUnavailable(f"archive {self.description}: {exc}") from exc
            except psycopg.Error as exc:
                raise BackendUnavailable(f"archive {self.description}: {exc}") from exc

    def setup(self, dims: int) -> None:
        # The column takes vectors of any size: each namespace's come from its own embedder
        # (the hot store refuses a namespace another embedder filled), and every search is
        # within one namespace, so namespaces with different embedders share one archive.
        with self._conn() as db:
            db.execute("CREATE EXTENSION IF NOT EXISTS vector")
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (ns text NOT NULL, id text NOT NULL,"
                " doc bytea NOT NULL, embedding vector, archived_at bigint NOT NULL,"
                " PRIMARY KEY (ns, id))"
            )
            if not db.execute(
                "SELECT 1 FROM information_schema.columns"
                " WHERE table_name = %s AND column_name = 'tsv'",
                (TABLE,),
            ).fetchone():
                db.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS content text")
                # Rows archived before the column: their text from the document (raw field
                # values, bytes as base64 under "$b64"; see core.lifecycle.pack_row).
                db.execute(
                    f"UPDATE {TABLE} SET content = CASE"
                    " WHEN jsonb_typeof(d -> 'content') = 'object'"
                    " THEN convert_from(decode(d -> 'content' ->> '$b64', 'base64'), 'UTF8')"
                    " ELSE d ->> 'content' END"
                    f" FROM (SELECT ns AS n, id AS i, convert_from(doc, 'UTF8')::jsonb AS d"
                    f" FROM {TABLE} WHERE content IS NULL) AS old"
                    f" WHERE ns = old.n AND id = old.i"
                )
                db.execute(
                    f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS tsv tsvector GENERATED ALWAYS"
                    " AS (to_tsvector('english', coalesce(content, ''))) STORED"
                )
            db.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_tsv ON {TABLE} USING gin (tsv)")

    def put(self, ns: str, memories: Sequence[Archived]) -> None:
        if not memories:
            return
        rows = [
            (ns, m.id, pack_row({k: v for k, v in m.row.items() if k != "embedding"}),
             _vector_text(m.row["embedding"]) if m.row.get("embedding") else None, m.archived_at,
             _plain(text(m.row.get("content", b""))))
            for m in memories
        ]  # fmt: skip
        with self._conn() as db, db.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {TABLE} (ns, id, doc, embedding, archived_at, content)"
                " VALUES (%s, %s, %s, %s::vector, %s, %s)"
                " ON CONFLICT (ns, id) DO UPDATE SET doc = excluded.doc,"
                " embedding = excluded.embedding, archived_at = excluded.archived_at,"
                " content = excluded.content",
                rows,
            )

    def get(self, ns: str, ids: Sequence[str]) -> list[Archived | None]:
        if not ids:
            return []
        with self._conn() as db:
            rows = db.execute(
                f"SELECT id, doc, embedding::text, archived_at FROM {TABLE}"
                " WHERE ns = %s AND id = ANY(%s)",
                (ns, list(ids)),
            ).fetchall()
        found = {}
        for memory_id, doc, embedding, at in rows:
            row = unpack_row(bytes(doc))
            if embedding is not None:
                row["embedding"] = _vector_bytes(embedding)
            found[memory_id] = Archived(memory_id, row, int(at))
        return [found.get(i) for i in ids]

    def contains(self, ns: str, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        with self._conn() as db:
            rows = db.execute(
                f"SELECT id FROM {TABLE} WHERE ns = %s AND id = ANY(%s)", (ns, list(ids))
            ).fetchall()
        return {r[0] for r in rows}

    def delete(self, ns: str, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        with self._conn() as db:
            cur = db.execute(f"DELETE FROM {TABLE} WHERE ns = %s AND id = ANY(%s)", (ns, list(ids)))
            return int(cur.rowcount)

    def search(self, ns: str, vector: bytes, terms: Sequence[str], n: int) -> list[ArchiveMatch]:
        q = _vector_text(vector)
        words = [w for w in map(_plain, terms) if w]
        with self._conn() as db:
            # An operator's HNSW index, if any, must not lose neighbours to the ns filter.
            db.execute("SET LOCAL hnsw.ef_search = 1000")
            near = db.execute(
                f"SELECT id, 1 - (embedding <=> %s::vector) FROM {TABLE}"
                " WHERE ns = %s AND embedding IS NOT NULL"
                " ORDER BY embedding <=> %s::vector LIMIT %s",
                (q, ns, q, int(n)),
            ).fetchall()
            found = []
            if words:
                # One placeholder per word (never the words themselves in the SQL text).
                query = " || ".join(["plainto_tsquery('english', %s)"] * len(words))
                found = db.execute(
                    f"SELECT id, ts_rank(tsv, q), coalesce(1 - (embedding <=> %s::vector), 0)"
                    f" FROM {TABLE}, (SELECT {query} AS q) AS query"
                    " WHERE ns = %s AND tsv @@ q ORDER BY ts_rank(tsv, q) DESC, id LIMIT %s",
                    (q, *words, ns, int(n)),
                ).fetchall()
        relevance = {r[0]: float(r[1]) for r in found}
        out = [ArchiveMatch(r[0], float(r[1]), relevance.get(r[0])) for r in near]
        seen = {r[0] for r in near}
        out += [ArchiveMatch(r[0], float(r[2]), float(r[1])) for r in found if r[0] not in seen]
        return out

    def count(self, ns: str) -> int:
        with self._conn() as db:
            found = db.execute(f"SELECT count(*) FROM {TABLE} WHERE ns = %s", (ns,)).fetchone()
        return int(found[0])

    def erase(self, ns: str) -> int:
        with self._conn() as db:
            return int(db.execute(f"DELETE FROM {TABLE} WHERE ns = %s", (ns,)).rowcount)

    def close(self) -> None:
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            db.close()
