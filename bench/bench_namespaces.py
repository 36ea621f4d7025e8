"""Many namespaces on one client: what a view costs, and what one client per namespace cost.

What it measures, in one process, on one server:

- opening: `AsyncMemory.in_namespace(name)` for `--namespaces` names (no I/O: a view shares
  the root client's connection pool, capability probe, scripts and reconnect loop), against
  `AsyncMemory.open(url, namespace=name)` for `--clients` names (what the REST server did
  before it kept one client): time per namespace, connections the server sees, and the
  process's resident memory, each per namespace;
- serving: `--tasks` asyncio tasks doing working-memory set then get, each call in a namespace
  picked round-robin over all the views, against raw redis-py (one ``redis.asyncio`` client,
  the same pipeline and command the library sends: HSET + PEXPIRE + ZADD, then HGET) over the
  same namespaces' keys; ops/s and the ratio, the two sides interleaved in rounds.

Run:
    python bench/bench_namespaces.py                   # starts a local Redis in a temp dir
    python bench/bench_namespaces.py --url redis://127.0.0.1:6379/0 --namespaces 1000
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis.asyncio as aredis

from aether_memory import AsyncMemory
from aether_memory.core.codec import Codec
from aether_memory.core.keys import SessionKeys

ROUNDS = 6
CALLS_PER_ROUND = 4000  # set + get pairs per side and round, over all tasks


def rss_mib() -> float:
    """This process's resident memory now (Linux: /proc; elsewhere the peak)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def connections(admin: aredis.Redis) -> int:
    return int((await admin.info("clients"))["connected_clients"])


async def opening(url: str, prefix: str, views: int, clients: int) -> tuple[list[str], Any]:
    admin = aredis.Redis.from_url(url)
    lines = ["| opening | namespaces | µs per namespace | server connections | RSS MiB per "
             "namespace |", "|---|---|---|---|---|"]  # fmt: skip
    root = await AsyncMemory.open(url, namespace=f"{prefix}-root")
    await root.agent("a").session("s").working.set("warm", 1)  # the pool's first connection
    conns, rss = await connections(admin), rss_mib()
    t0 = time.perf_counter()
    opened = [root.in_namespace(f"{prefix}-{i}") for i in range(views)]
    took = time.perf_counter() - t0
    for view in opened:  # one write each, so each namespace's keys exist
        await view.agent("a").session("s").working.set("k", 0)
    lines.append(f"| `root.in_namespace(name)` | {views:,} | {took / views * 1e6:.1f} | "
                 f"{await connections(admin) - conns:+d} | "
                 f"{(rss_mib() - rss) / views:.3f} |")  # fmt: skip
    conns, rss = await connections(admin), rss_mib()
    t0 = time.perf_counter()
    separate = []
    for i in range(clients):
        mem = await AsyncMemory.open(url, namespace=f"{prefix}-own-{i}")
        await mem.agent("a").session("s").working.set("k", 0)
        separate.append(mem)
    took = time.perf_counter() - t0
    lines.append(f"| `AsyncMemory.open(url, namespace=name)` + first write | {clients:,} | "
                 f"{took / clients * 1e6:.0f} | {await connections(admin) - conns:+d} | "
                 f"{(rss_mib() - rss) / clients:.3f} |")  # fmt: skip
    for mem in separate:
        await mem.aclose()
    await admin.aclose()
    return lines, (root, opened)


async def throughput(op: Callable[[int], Awaitable[Any]], tasks: int, calls: int) -> float:
    async def worker(start: int) -> None:
        for i in range(start, calls, tasks):
            await op(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(t) for t in range(tasks)))
    return calls / (time.perf_counter() - t0)


async def serving(url: str, root: AsyncMemory, views: list[AsyncMemory], tasks: int) -> list[str]:
    sessions = [view.agent("a").session("s") for view in views]
    raw = aredis.Redis.from_url(url, max_connections=64)
    keys = [SessionKeys.build(view.namespace, "a", "s") for view in views]
    ttl_ms = root.kernel.ttls.working_ms
    value = Codec().encode(1)

    async def library(i: int) -> None:
        working = sessions[i % len(sessions)].working
        await working.set("k", 1)
        await working.get("k")

    async def by_hand(i: int) -> None:
        s = keys[i % len(keys)]
        pipe = raw.pipeline(transaction=False)
        pipe.hset(s.working, mapping={"k": value})
        if ttl_ms is not None:
            pipe.pexpire(s.working, ttl_ms)
        pipe.zadd(s.sessions, {s.sid: int(time.time() * 1000)})
        await pipe.execute()
        await raw.hget(s.working, "k")

    await throughput(library, tasks, 500)  # warm-up: every view's session is open
    await throughput(by_hand, tasks, 500)
    rates: dict[str, list[float]] = {"library": [], "raw": []}
    for _ in range(ROUNDS):
        rates["library"].append(await throughput(library, tasks, CALLS_PER_ROUND))
        rates["raw"].append(await throughput(by_hand, tasks, CALLS_PER_ROUND))
    await raw.aclose()
    best = {side: sorted(r)[len(r) // 2] for side, r in rates.items()}  # median round
    return [
        f"| serving, {tasks} tasks over {len(views):,} namespaces | library set+get pairs/s | "
        "raw pairs/s | library / raw |",
        "|---|---|---|---|",
        f"| working.set + working.get | {best['library']:,.0f} | {best['raw']:,.0f} | "
        f"{best['library'] / best['raw']:.2f}x |",
    ]


async def run(url: str, views: int, clients: int, tasks: int) -> list[str]:
    prefix = "bench-ns-" + uuid.uuid4().hex[:8]
    lines, (root, opened) = await opening(url, prefix, views, clients)
    try:
        lines += ["", *await serving(url, root, opened, tasks)]
        for view in opened:
            await view.erase_namespace()
    finally:
        await root.erase_namespace()
        await root.aclose()
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", help="a Redis URL; without it a local server is started")
    p.add_argument("--namespaces", type=int, default=1000, help="views on one client")
    p.add_argument("--clients", type=int, default=50, help="clients opened one per namespace")
    p.add_argument("--tasks", type=int, default=50, help="concurrent asyncio tasks serving")
    args = p.parse_args(argv)
    if args.url:
        lines = asyncio.run(run(args.url, args.namespaces, args.clients, args.tasks))
    else:
        from aether_memory.server.local import RedisProcess

        with tempfile.TemporaryDirectory() as folder, RedisProcess(Path(folder)) as server:
            lines = asyncio.run(run(server.url, args.namespaces, args.clients, args.tasks))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
