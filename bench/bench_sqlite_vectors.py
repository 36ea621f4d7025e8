"""SQLite vector search: the store's exact numpy scan next to sqlite-vec, top 10 of 384-d.

For each size, on the same clustered unit vectors (fixed seed) and noisy-copy queries:

- numpy scan: ``matrix @ query`` + partial sort over an in-memory float32 matrix (the floor);
- LongTerm.search: the SQLite store's whole vector path — generation check, masked scan of the
  cached matrix, and the fetch of the winners' text from the file;
- LongTerm cold load / refresh: the first search of a process (reads every vector), and the
  first search after one ``put`` (reads only the rows stamped since);
- sqlite-vec: a ``vec0`` table with the namespace as partition key, ``MATCH ? AND k = 10``
  (brute force too: sqlite-vec 0.1 has no ANN index). It needs a SQLite that can load
  extensions: ``pip install sqlite-vec pysqlite3-binary`` — bench-only, not dependencies.

Both are exact, so "agree" is the share of numpy's top 10 that sqlite-vec returns.

Run:
    python bench/bench_sqlite_vectors.py                  # 10k and 100k
    python bench/bench_sqlite_vectors.py --sizes 10000 --queries 50
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from timing import Timing, no_gc

from aether_memory.backends.sqlite.db import KERNEL_SCHEMA, Database
from aether_memory.backends.sqlite.longterm import LONGTERM_SCHEMA, LongTerm
from aether_memory.core.query import Filters

DIMS, K, SEED, CLUSTERS, BATCH = 384, 10, 7, 1000, 2000
NS = "bench"


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def corpus(n: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectors around 1000 centres (same cluster ≈ 0.6 cosine) and noisy copies as queries."""
    rng = np.random.default_rng(SEED)
    centres = unit(rng.standard_normal((CLUSTERS, DIMS), dtype=np.float32))
    noise = rng.standard_normal((n, DIMS), dtype=np.float32) * np.float32(0.8 / DIMS**0.5)
    vectors = unit(centres[rng.integers(CLUSTERS, size=n)] + noise)
    picks = vectors[rng.integers(n, size=queries)]
    return vectors, unit(picks + rng.standard_normal(picks.shape, dtype=np.float32) * 0.03)


def timed(call: Callable[[np.ndarray], Any], queries: np.ndarray) -> Timing:
    for q in queries[:10]:  # warm: the first calls pay for BLAS threads and page faults
        call(q)
    out = []
    with no_gc():
        for q in queries:
            start = time.perf_counter_ns()
            call(q)
            out.append(time.perf_counter_ns() - start)
    return Timing(out)


def numpy_top(matrix: np.ndarray, q: np.ndarray) -> list[int]:
    sims = matrix @ q
    top = np.argpartition(-sims, K - 1)[:K]
    return [int(i) for i in top[np.argsort(-sims[top])]]


def store(folder: Path, vectors: np.ndarray) -> tuple[LongTerm, float]:
    """A LongTerm holding the vectors; returns it and the seconds its put() calls took."""
    db = Database(folder / "lt.db", KERNEL_SCHEMA + LONGTERM_SCHEMA)
    db.open()
    lt, start = LongTerm(db), time.perf_counter()
    for lo in range(0, len(vectors), BATCH):
        lt.put(NS, [row(i, v) for i, v in enumerate(vectors[lo : lo + BATCH], start=lo)])
    return lt, time.perf_counter() - start


def row(i: int, vector: np.ndarray) -> tuple[str, dict[str, Any], None]:
    fields = {
        "content": f"memory number {i}", "kind": "fact", "agent": "a", "importance": 0.5,
        "occurred_at": i, "created_at": i, "hash": f"h{i}", "embedding": vector.tobytes(),
    }  # fmt: skip
    return f"m{i:07d}", fields, None


def sqlite_vec_table(folder: Path, vectors: np.ndarray) -> tuple[Any, float] | None:
    try:
        import sqlite_vec
        from pysqlite3 import dbapi2
    except ImportError:
        return None
    conn = dbapi2.connect(str(folder / "vec.db"), isolation_level=None)
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        f"CREATE VIRTUAL TABLE vec USING vec0(ns text partition key, "
        f"embedding float[{DIMS}] distance_metric=cosine)"
    )
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO vec (rowid, ns, embedding) VALUES (?, ?, ?)",
        ((i, NS, v.tobytes()) for i, v in enumerate(vectors)),
    )
    conn.execute("COMMIT")
    return conn, time.perf_counter() - start


def vec_top(conn: Any, q: np.ndarray) -> list[int]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT rowid FROM vec WHERE embedding MATCH ? AND k = ? AND ns = ? ORDER BY distance",
            (q.tobytes(), K, NS),
        )
    ]


def run(n: int, queries: int) -> list[tuple[str, ...]]:
    vectors, qs = corpus(n, queries)
    rows: list[tuple[str, ...]] = []

    def add(method: str, t: Timing, note: str = "") -> None:
        rows.append(
            (f"{n:,}", method, f"{t.pct(0.5) / 1000:.2f}", f"{t.pct(0.95) / 1000:.2f}", note)
        )

    add("numpy scan", timed(lambda q: numpy_top(vectors, q), qs))
    with tempfile.TemporaryDirectory() as tmp:
        lt, put_s = store(Path(tmp), vectors)
        start = time.perf_counter()
        lt.search(NS, Filters(), qs[0].tobytes(), (), K)
        cold = time.perf_counter() - start
        add("LongTerm.search", timed(lambda q: lt.search(NS, Filters(), q.tobytes(), (), K), qs),
            f"put {n / put_s:,.0f}/s; cold load {cold * 1000:.0f} ms")  # fmt: skip
        refresh = []
        for i, q in enumerate(qs[:20]):
            lt.put(NS, [row(n + i, q)])
            start = time.perf_counter_ns()
            lt.search(NS, Filters(), q.tobytes(), (), K)
            refresh.append(time.perf_counter_ns() - start)
        add("LongTerm after 1 put", Timing(refresh), "delta reload + search")
        scoped = Filters(agents=("a",), since_ms=n // 2)
        filtered = timed(lambda q: lt.search(NS, scoped, q.tobytes(), (), K), qs)
        add("LongTerm.search filtered", filtered, "half the rows in scope")
        found = sqlite_vec_table(Path(tmp), vectors)
        if found is None:
            rows.append((f"{n:,}", "sqlite-vec", "-", "-", "not installed (see docstring)"))
        else:
            conn, insert_s = found
            agree = np.mean([
                len(set(vec_top(conn, q)) & set(numpy_top(vectors, q))) / K for q in qs
            ])  # fmt: skip
            add("sqlite-vec vec0", timed(lambda q: vec_top(conn, q), qs),
                f"insert {n / insert_s:,.0f}/s; agree {agree:.0%}")  # fmt: skip
            conn.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--queries", type=int, default=100, help="timed queries per method")
    args = p.parse_args(argv)
    header = ("vectors", "method", "p50 ms", "p95 ms", "notes")
    table = [header] + [r for n in args.sizes for r in run(n, args.queries)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print(f"top-{K} of {DIMS}-d float32, {args.queries} queries, Python {sys.version.split()[0]}")
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
