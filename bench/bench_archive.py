"""Archive tier benchmark: sync throughput and recall latency with and without the archive.

On its own local Redis (with the Query Engine) as the hot store and each archive in turn (a
SQLite file; PostgreSQL 16 + pgvector from the pgserver wheel, HNSW cosine index):

1. sync: N memories past their hot lifetime moved by `lifecycle.run(batch=500)` — read from
   Redis, written to the archive, deleted from Redis — in memories/s;
2. recall p50/p95 of ``agent.recall(query, k=10)`` on a namespace with 1,000 hot memories and
   the N archived, without the archive and with ``include_archive=True`` (which searches the
   archive, rehydrates its 20 nearest, ranks, and returns the unused ones), alternating in
   chunks so both sides share the machine's state; and the archive's own search alone.

Embedding is excluded: a seeded embedder hands out random 384-d unit vectors per text.

The N memories to archive are written in batches of 1,000 with the store's `put` — the write
`remember_many` ends with, without its per-memory duplicate look-up (a KNN query each: 5.4 ms
per memory at 39k in the Query Engine, which made a 100k ingest through `remember_many` run at
~150 memories/s and take most of an hour on this machine). The memories are distinct by
construction, so the look-up would find nothing; `--remember` ingests through
`remember_many` instead. The 1,000 hot ones go through `remember_many`.

Run:
    python bench/bench_archive.py --n 100000 --queries 50
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import Timing

from aether_memory import Memorable, Memory
from aether_memory.client.records import content_hash
from aether_memory.core.config import Options, TTLs
from aether_memory.core.ids import new_id, now_ms
from aether_memory.server.archive import start_postgres, stop_postgres
from aether_memory.server.local import RedisProcess

DIMS = 384
WORDS = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
    "golf", "hotel", "india", "juliet", "kilo", "lima",
]  # fmt: skip


class SeededEmbedder:
    """Random unit vectors, the same for the same text (no model)."""

    model = "bench-seeded-384"
    dims = DIMS

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), DIMS), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest())
            v = np.random.default_rng(seed).standard_normal(DIMS).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


def texts(n: int, tag: str) -> list[str]:
    rng = np.random.default_rng(7)
    return [f"{tag} {i} " + " ".join(rng.choice(WORDS, 8)) for i in range(n)]


def fill(mem: Memory, items: list[str]) -> None:
    agent = mem.agent("bench")
    for i in range(0, len(items), 500):
        agent.remember_many(items[i : i + 500])


def bulk_fill(mem: Memory, items: list[str]) -> None:
    """Write memories as `remember_many` does, 1,000 per transaction, without its duplicate
    look-up (see the module)."""
    lt = mem.longterm
    mem.setup()
    ttl = lt._ttl_ms("fact")
    for start in range(0, len(items), 1000):
        chunk = items[start : start + 1000]
        vectors = lt._embed(chunk)
        ts = now_ms()
        rows = []
        for content, vector in zip(chunk, vectors, strict=True):
            memory_id = new_id()
            digest = content_hash("bench", "fact", content)
            _, fields = lt._new("bench", Memorable(content), vector, digest, memory_id, ts)
            rows.append((memory_id, fields, ttl))
        lt.port.put(mem.namespace, rows)


def run_one(
    redis_url: str, archive: str, label: str, n: int, queries: int, remember: bool = False
) -> list[str]:
    ns = f"bench{label}{int(time.time())}"
    short = Options(namespace=ns, ttl=TTLs(semantic=1.0), socket_timeout=120.0)
    emb = SeededEmbedder()
    with Memory.open(redis_url, options=short, embedder=emb, archive=archive) as mem:
        t0 = time.perf_counter()
        (fill if remember else bulk_fill)(mem, texts(n, "archived"))
        ingest = time.perf_counter() - t0
        print(f"{label}: {n} ingested at {n / ingest:,.0f}/s", file=sys.stderr, flush=True)
        time.sleep(1.2)
        t0 = time.perf_counter()
        report = mem.lifecycle.run(batch=500)
        sync = time.perf_counter() - t0
        assert report.archived == n, report
        print(f"{label}: synced at {n / sync:,.0f}/s", file=sys.stderr, flush=True)
    long = Options(namespace=ns, socket_timeout=120.0)
    with Memory.open(redis_url, options=long, embedder=emb, archive=archive) as mem:
        fill(mem, texts(1000, "hot"))
        agent = mem.agent("bench")
        qs = [f"query {i} " + " ".join(WORDS[i % 12 : i % 12 + 3]) for i in range(queries)]
        hot, both, alone = Timing([]), Timing([]), Timing([])
        for q in qs[:5]:  # warm up both paths
            agent.recall(q, k=10)
            agent.recall(q, k=10, include_archive=True)
        for start in range(0, len(qs), 10):
            for q in qs[start : start + 10]:
                t = time.perf_counter_ns()
                agent.recall(q, k=10)
                hot.ns.append(time.perf_counter_ns() - t)
            for q in qs[start : start + 10]:
                t = time.perf_counter_ns()
                agent.recall(q, k=10, include_archive=True)
                both.ns.append(time.perf_counter_ns() - t)
            for q in qs[start : start + 10]:
                vector = emb.embed([q])[0].tobytes()
                t = time.perf_counter_ns()
                mem.lifecycle.search(vector, 20, q)
                alone.ns.append(time.perf_counter_ns() - t)
        status = mem.lifecycle.status()
        assert status.archived + status.hot == n + 1000, status  # hits used stay hot
    return [
        f"| {label} | {n:,} | {n / ingest:,.0f} | {n / sync:,.0f} | "
        f"{hot.pct(0.5) / 1000:.1f} / {hot.pct(0.95) / 1000:.1f} | "
        f"{both.pct(0.5) / 1000:.1f} / {both.pct(0.95) / 1000:.1f} | "
        f"{alone.pct(0.5) / 1000:.1f} / {alone.pct(0.95) / 1000:.1f} |"
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--archives", default="sqlite,postgres")
    parser.add_argument("--remember", action="store_true", help="ingest with remember_many")
    args = parser.parse_args()
    rows = [
        "| archive | archived | hot ingest, put (mem/s) | sync (mem/s) | recall hot only p50/p95 ms"
        " | recall + archive p50/p95 ms | archive search alone p50/p95 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp, RedisProcess(Path(tmp) / "redis") as server:
        for name in args.archives.split(","):
            if name == "sqlite":
                rows += run_one(server.url, f"sqlite:///{tmp}/archive.db", "sqlite", args.n,
                                args.queries, args.remember)  # fmt: skip
            else:
                pgdata = Path(tmp) / "pg"
                url, _ = start_postgres(pgdata, keep_running=True)
                try:
                    rows += run_one(server.url, url, "postgres", args.n, args.queries,
                                    args.remember)  # fmt: skip
                finally:
                    stop_postgres(pgdata)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
