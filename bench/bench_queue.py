"""Task-queue benchmark: put → claim → ack, the library against the raw redis-py commands it
issues, and side by side with RQ doing the same work on the same server.

The work: put N tasks, then one worker drains them (claim, then ack, one task at a time).

- **library**: `Memory.queue(...)`: ``put``, then ``claim`` + ``ack`` per task (three round
  trips per task, each one Lua script).
- **raw**: the same three ``EVALSHA`` calls with the same keys, arguments and encoded bodies,
  straight from ``redis.Redis``: the floor the library's own Python adds to.
- **rq**: RQ 2 (``pip install 'aether-memory[bench]'``): ``Queue.enqueue`` N no-op jobs, then a
  ``SimpleWorker`` in burst mode runs them in this process (no fork). RQ does more per job
  (it pickles the call, keeps registries and a worker heartbeat); it is what users would
  otherwise pick, on the same server.
- **sqlite** (for scale, no raw side): the library on a SQLite file.

Sides alternate in rounds after a warm-up, each round in a fresh namespace / queue; the
ratio to raw is taken within each round (the two ran back to back, on the same machine state)
and the table gives the median of those ratios, and of the rates.

Run:
    python bench/bench_queue.py                        # starts a plain local Redis
    python bench/bench_queue.py --url redis://127.0.0.1:6379/0 --n 2000 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import redis

from aether_memory import Memory, Options
from aether_memory.backends.redis._sync.queues import _SCRIPTS, _SHAS
from aether_memory.core.codec import Codec
from aether_memory.core.ids import new_id, now_ms
from aether_memory.core.keys import QueueKeys
from aether_memory.core.queues import DEFAULT_MAX_ATTEMPTS, DEFAULT_VISIBILITY


def library(url: str, n: int) -> float:
    with Memory.open(url, options=Options(namespace="bq" + uuid.uuid4().hex[:10])) as mem:
        q = mem.queue("bench")
        started = time.perf_counter()
        for i in range(n):
            q.put({"i": i})
        while (task := q.claim("w")) is not None:
            task.ack()
        elapsed = time.perf_counter() - started
        assert q.stats().acked == n
        mem.erase_namespace()
    return n / elapsed


def raw(url: str, n: int) -> float:
    r = redis.Redis.from_url(url, protocol=3)
    for name, text in _SCRIPTS.items():
        assert r.script_load(text) == _SHAS[name]
    k = QueueKeys.build("bq" + uuid.uuid4().hex[:10], "bench")
    codec = Codec()
    put_keys = (k.ready, k.delayed, k.meta, k.body, k.dedupe, k.wake)
    claim_keys = (k.ready, k.delayed, k.inflight, k.meta, k.body, k.dead, k.stats)
    ack_keys = (k.inflight, k.meta, k.body, k.dedupe, k.stats)
    vis = round(DEFAULT_VISIBILITY * 1000)
    put, claim, ack = _SHAS["PUT"], _SHAS["CLAIM"], _SHAS["ACK"]
    started = time.perf_counter()
    for i in range(n):
        r.evalsha(put, 6, *put_keys, new_id(), codec.encode({"i": i}), 0, 0, "", now_ms())
    while True:
        token = new_id()
        reply = r.evalsha(claim, 7, *claim_keys, now_ms(), vis, "w", token, DEFAULT_MAX_ATTEMPTS)
        if not reply[0]:
            break
        codec.decode(reply[1])
        r.evalsha(ack, 5, *ack_keys, reply[0], token)
    elapsed = time.perf_counter() - started
    r.delete(*(getattr(k, f) for f in k.__slots__))
    r.close()
    return n / elapsed


def rq_side(url: str, n: int) -> float:
    import rq

    r = redis.Redis.from_url(url)
    q = rq.Queue("bq" + uuid.uuid4().hex[:10], connection=r)
    worker = rq.SimpleWorker([q], connection=r)
    started = time.perf_counter()
    for i in range(n):
        q.enqueue("operator.index", i)  # a no-op job by import path (RQ refuses __main__)
    worker.work(burst=True, logging_level="WARNING")
    elapsed = time.perf_counter() - started
    assert q.finished_job_registry.count == n, q.finished_job_registry.count
    q.delete(delete_jobs=True)
    r.close()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a Redis to use (default: start a plain one)")
    parser.add_argument("--n", type=int, default=2000, help="tasks per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server = None
    url = args.url
    folder = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    if url is None:
        from aether_memory.server.local import RedisProcess

        server = RedisProcess(folder / "redis", modules=False)
        server.start()
        url = server.url
    sqlite_url = f"sqlite:///{folder}/queue.db"
    try:
        import rq  # noqa: F401
    except ImportError:
        sys.exit("RQ is not installed: pip install 'aether-memory[bench]'")
    sides: dict[str, Callable[[], float]] = {
        "library": lambda: library(url, args.n),
        "raw redis-py": lambda: raw(url, args.n),
        "rq": lambda: rq_side(url, args.n),
        "library (sqlite)": lambda: library(sqlite_url, args.n),
    }
    try:
        for side in sides.values():  # warm-up: scripts loaded, imports done, caches hot
            side()
        rates: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(args.rounds):
            for name, side in sides.items():
                rates[name].append(side())
    finally:
        if server is not None:
            server.stop()
    load = os.getloadavg()[0]
    print(f"# put -> claim -> ack, {args.n} tasks x {args.rounds} rounds, one worker")
    print(f"python {platform.python_version()}, redis-py {redis.__version__}, "
          f"load average {load:.1f} on {os.cpu_count()} cores")  # fmt: skip
    raws = rates["raw redis-py"]
    print("\n| side | tasks/s (median) | min | max | vs raw (median of per-round ratios) |")
    print("|---|---:|---:|---:|---:|")
    for name, values in rates.items():
        ratio = statistics.median(v / r for v, r in zip(values, raws, strict=True))
        print(f"| {name} | {statistics.median(values):,.0f} | {min(values):,.0f} | "
              f"{max(values):,.0f} | {ratio:.2f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
