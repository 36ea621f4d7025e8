"""What leaving superseded memories out of a Query Engine KNN costs (raw FT.SEARCH).

Recall excludes memories replaced by a correction with ``-@superseded_at:[-inf +inf]`` in the
KNN's filter. That filter keeps nearly every document, and left to itself the engine's planner
runs it as a brute-force scan; ``HYBRID_POLICY BATCHES`` (what the library sends when no other
filter is set) filters the HNSW graph's neighbours instead. This prints p50/p95 (ms) of a KNN 20
with no filter, with the exclusion in batches, and with the exclusion as the planner picks.

Run:
    python bench/bench_history_filter.py --size 100000 --queries 200
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import redis

from aether_memory.backends.redis._async.longterm import EF_RUNTIME, _schema
from aether_memory.server.local import RedisProcess

DIMS = 384
EXCLUDE = "-@superseded_at:[-inf +inf]"
VARIANTS = (("no filter", "*", ""), ("exclusion, batches", EXCLUDE, " HYBRID_POLICY BATCHES"),
            ("exclusion, planner's choice", EXCLUDE, ""))  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    server = RedisProcess(Path(tempfile.mkdtemp()), modules=True)
    server.start()
    try:
        run(redis.Redis.from_url(server.url), args.size, args.queries, args.rounds)
    finally:
        server.stop()


def run(r: redis.Redis, size: int, queries: int, rounds: int) -> None:
    r.execute_command("FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "m:", "SCHEMA",
                      *_schema(DIMS))  # fmt: skip
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((1000, DIMS)).astype(np.float32)
    pipe = r.pipeline(transaction=False)
    for i in range(size):
        v = centres[i % 1000] + 0.3 * rng.standard_normal(DIMS).astype(np.float32)
        pipe.hset(f"m:{i}", mapping={"content": f"memory {i}", "kind": "fact",
                                     "embedding": (v / np.linalg.norm(v)).tobytes()})  # fmt: skip
        if i % 2000 == 1999:
            pipe.execute()
    pipe.execute()
    while int(r.ft("idx").info()["indexing"]):
        time.sleep(0.5)
    vectors = [
        (centres[i % 1000] + 0.3 * rng.standard_normal(DIMS).astype(np.float32)).tobytes()
        for i in range(queries)
    ]
    print(f"| round | {' | '.join(v[0] for v in VARIANTS)} |  (p50 / p95 ms, {size:,} docs)")
    print("|---" * (len(VARIANTS) + 1) + "|")
    for n in range(rounds):
        cells = []
        for _, where, policy in VARIANTS:
            times = []
            for vector in vectors:
                start = time.perf_counter()
                r.execute_command(
                    "FT.SEARCH", "idx",
                    f"({where})=>[KNN 20 @embedding $vec{policy} EF_RUNTIME {EF_RUNTIME} AS dist]",
                    "PARAMS", 2, "vec", vector, "SORTBY", "dist", "RETURN", 1, "dist",
                    "LIMIT", 0, 20, "DIALECT", 2,
                )  # fmt: skip
                times.append((time.perf_counter() - start) * 1000)
            cells.append(f"{np.percentile(times, 50):.2f} / {np.percentile(times, 95):.2f}")
        print(f"| {n + 1} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
