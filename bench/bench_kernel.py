"""Memory-kernel benchmark: the library against raw redis-py issuing the same commands.

What it measures (SPEC §8), in one process so that the ratios share the machine's state:

- single operations, sync `Memory` against sync ``redis.Redis``: working.set, working.get,
  add_step, checkpoint save, restore latest, events(limit=20);
- batches of 100 writes: ``record_many`` (100 events) and ``working.update`` (100 keys);
- the async `AsyncMemory` against ``redis.asyncio.Redis``: working.set, working.get, add_step;
- throughput: 50 concurrent asyncio tasks doing working.set/get (target ≥ 10,000 ops/s) and
  batched event writes (``record_many`` of 100; target ≥ 100k writes/s).

The raw side issues what the library's Redis store issues for each operation (same pipelines,
same key shapes, the same Lua scripts by SHA) and encodes values with the library's `Codec`,
so the difference is the library's own Python. Library and raw runs are interleaved in chunks,
after a warm-up, and each run works in a fresh namespace (deleted at the end).

Run:
    python bench/bench_kernel.py                 # starts a local Redis in a temp dir
    python bench/bench_kernel.py --url redis://127.0.0.1:6379/0 --n 5000
    python bench/bench_kernel.py --plain --markdown /tmp/bench.md
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aredis
from redis.utils import HIREDIS_AVAILABLE
from timing import Timing, no_gc

from aether_memory import AsyncMemory, Memory, Options
from aether_memory.backends.redis.scripts import CHECKPOINT_LATEST
from aether_memory.core import keys
from aether_memory.core.codec import Codec
from aether_memory.core.config import SessionTTLs
from aether_memory.core.keys import SessionKeys

# The raw side's checkpoint: the same numbering, trimming and TTLs as the library's script,
# without its write ids (which make a retried save apply once). Kept here so the ratio shows
# what that idempotency costs; events likewise go raw as a plain XADD pipeline, while the
# library runs them through a script that records the write id.
RAW_CHECKPOINT_SAVE = """
local n = redis.call('HINCRBY', KEYS[1], 'checkpoint_seq', 1)
local member = string.format('%012d', n)
redis.call('ZADD', KEYS[2], ARGV[2], member)
redis.call('HSET', KEYS[3], member, ARGV[1])
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if extra > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, extra - 1)
  redis.call('ZREM', KEYS[2], unpack(old))
  redis.call('HDEL', KEYS[3], unpack(old))
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
local meta_ttl = tonumber(ARGV[5])
if meta_ttl > 0 then redis.call('PEXPIRE', KEYS[1], meta_ttl) end
return n
"""

SyncOp = Callable[[], Any]
AsyncOp = Callable[[], Awaitable[Any]]

CHUNK = 50  # calls per side before switching to the other side
SINGLE_RATIO = 1.3
BATCH = 100
BATCH_MAX_US = 5_000
TASKS = 50
BATCH_TASKS = 8
OPS_TARGET = 10_000
WRITES_TARGET = 100_000
AGENT = "bench"
EVENT_ID = "01JBENCH000000000000000000"  # a ULID-long constant: the raw side needs no id work

WORKING_VALUE = {"goal": "ship the release", "step": 3, "tags": ["a", "b"]}
STEP = {"action": "search", "observation": {"hits": 3, "top": "doc-17"}, "reasoning": "look"}
STATE = {"messages": [{"role": "user", "content": "hello"}] * 4, "step": 12}
BATCH_ITEMS = [("tool_call", {"tool": "search", "i": i, "ok": True}) for i in range(BATCH)]
BATCH_VALUES = {f"k{i:03d}": {"i": i, "v": "value"} for i in range(BATCH)}


@dataclass
class Row:
    """One line of the latency table."""

    name: str
    lib: Timing
    raw: Timing
    max_us: float | None = None  # an absolute p50 target besides the ratio

    @property
    def ratio(self) -> float:
        return self.lib.pct(0.5) / self.raw.pct(0.5)

    @property
    def ok(self) -> bool:
        return self.ratio <= SINGLE_RATIO and (
            self.max_us is None or self.lib.pct(0.5) < self.max_us
        )

    @property
    def target(self) -> str:
        extra = "" if self.max_us is None else f", < {self.max_us / 1000:g} ms"
        return f"≤ {SINGLE_RATIO}x{extra} {'ok' if self.ok else 'MISS'}"


@dataclass
class Throughput:
    """One line of the throughput table (medians over the rounds)."""

    name: str
    lib: float
    raw: float
    target: float

    @property
    def ok(self) -> bool:
        return self.lib >= self.target


# -- timing ----------------------------------------------------------------------------------


def time_sync(fn: SyncOp, count: int, out: list[int]) -> None:
    clock = time.perf_counter_ns
    for _ in range(count):
        t0 = clock()
        fn()
        out.append(clock() - t0)


async def time_async(fn: AsyncOp, count: int, out: list[int]) -> None:
    clock = time.perf_counter_ns
    for _ in range(count):
        t0 = clock()
        await fn()
        out.append(clock() - t0)


def chunks(n: int) -> Iterator[tuple[int, bool]]:
    """(size, library first?) for each chunk: the order alternates to cancel drift."""
    for i, start in enumerate(range(0, n, CHUNK)):
        yield min(CHUNK, n - start), i % 2 == 0


def compare_sync(name: str, lib: SyncOp, raw: SyncOp, n: int, **kw: Any) -> Row:
    warm = max(50, n // 10)
    time_sync(lib, warm, [])
    time_sync(raw, warm, [])
    lib_ns: list[int] = []
    raw_ns: list[int] = []
    with no_gc():
        for size, lib_first in chunks(n):
            order = [(lib, lib_ns), (raw, raw_ns)]
            for fn, out in order if lib_first else reversed(order):
                time_sync(fn, size, out)
    return Row(name, Timing(lib_ns), Timing(raw_ns), **kw)


async def compare_async(name: str, lib: AsyncOp, raw: AsyncOp, n: int) -> Row:
    warm = max(50, n // 10)
    await time_async(lib, warm, [])
    await time_async(raw, warm, [])
    lib_ns: list[int] = []
    raw_ns: list[int] = []
    with no_gc():
        for size, lib_first in chunks(n):
            order = [(lib, lib_ns), (raw, raw_ns)]
            for fn, out in order if lib_first else reversed(order):
                await time_async(fn, size, out)
    return Row(name, Timing(lib_ns), Timing(raw_ns))


# -- the two sides -----------------------------------------------------------------------------
class Raw:
    """What the library's Redis store sends, written by hand against one redis-py client."""

    def __init__(self, ns: str, options: Options) -> None:
        self.ns = ns
        self.codec = Codec(options.compress_threshold, options.max_value_bytes)
        self.ttls = SessionTTLs.from_ttls(options.ttl)
        self.maxlen = options.events_maxlen
        self.keep = options.max_checkpoints
        ttls = self.ttls
        self.meta_ttl = (
            None
            if ttls.events_ms is None or ttls.checkpoints_ms is None
            else max(ttls.events_ms, ttls.checkpoints_ms)
        )
        self.sha_save = ""
        self.sha_latest = ""

    def keys(self, sid: str) -> SessionKeys:
        return SessionKeys.build(self.ns, AGENT, sid)

    def hash_set(self, pipe: Any, k: SessionKeys, values: dict[str, Any]) -> None:
        encode = self.codec.encode
        pipe.hset(k.working, mapping={f: encode(v) for f, v in values.items()})
        if self.ttls.working_ms is not None:
            pipe.pexpire(k.working, self.ttls.working_ms)
        pipe.zadd(k.sessions, {k.sid: time.time_ns() // 1_000_000})

    def xadd(self, pipe: Any, k: SessionKeys, event_type: str, data: Any, ts: int) -> None:
        fields = {
            "id": EVENT_ID,
            "type": event_type,
            "outcome": "success",
            "ts": ts,
            "data": self.codec.encode(data),
        }
        pipe.xadd(k.events, fields, maxlen=self.maxlen, approximate=True)

    def touch(self, pipe: Any, k: SessionKeys, ts: int) -> None:
        ttls = self.ttls
        if ttls.events_ms is not None:
            pipe.pexpire(k.events, ttls.events_ms)
        if ttls.checkpoints_ms is not None:
            pipe.pexpire(k.checkpoints, ttls.checkpoints_ms)
            pipe.pexpire(k.checkpoint_data, ttls.checkpoints_ms)
        if self.meta_ttl is not None:
            pipe.pexpire(k.meta, self.meta_ttl)
        pipe.zadd(k.sessions, {k.sid: ts})

    def checkpoint_save(self, pipe: Any, k: SessionKeys, state: Any) -> None:
        ts = time.time_ns() // 1_000_000
        pipe.evalsha(
            self.sha_save,
            3,
            k.meta,
            k.checkpoints,
            k.checkpoint_data,
            self.codec.encode(state),
            ts,
            self.ttls.checkpoints_ms or 0,
            self.keep,
            self.meta_ttl or 0,
        )
        pipe.zadd(k.sessions, {k.sid: ts})


def fresh_namespace() -> str:
    return f"bench-{uuid.uuid4().hex[:12]}"


# -- sync operations -------------------------------------------------------------------------
def sync_rows(mem: Memory, r: redis.Redis, raw: Raw, n: int) -> list[Row]:
    agent = mem.agent(AGENT)
    rows = []
    for name, build, kw in SYNC_OPS:
        sid = name.replace(" ", "_").replace("(", "").replace(")", "").replace("=", "")
        lib_fn, raw_fn = build(agent.session(sid), r, raw, raw.keys(sid))
        rows.append(compare_sync(name, lib_fn, raw_fn, n, **kw))
    return rows


def op_working_set(s: Any, r: redis.Redis, raw: Raw, k: SessionKeys) -> tuple[SyncOp, SyncOp]:
    def lib() -> None:
        s.working.set("goal", WORKING_VALUE)

    def raw_op() -> None:
        pipe = r.pipeline(transaction=False)
        raw.hash_set(pipe, k, {"goal": WORKING_VALUE})
        pipe.execute()

    return lib, raw_op


def op_working_get(s: Any, r: redis.Redis, raw: Raw, k: SessionKeys) -> tuple[SyncOp, SyncOp]:
    s.working.set("goal", WORKING_VALUE)
    r.hset(k.working, "goal", raw.codec.encode(WORKING_VALUE))

    def lib() -> Any:
        return s.working.get("goal")

    def raw_op() -> Any:
        found = r.hget(k.working, "goal")
        return None if found is None else raw.codec.decode(found)

    return lib, raw_op


def op_add_step(s: Any, r: redis.Redis, raw: Raw, k: SessionKeys) -> tuple[SyncOp, SyncOp]:
    def lib() -> Any:
        return s.add_step(STEP["action"], STEP["observation"], reasoning=STEP["reasoning"])

    def raw_op() -> None:
        ts = time.time_ns() // 1_000_000
        pipe = r.pipeline(transaction=False)
        raw.xadd(pipe, k, "step", STEP, ts)
        raw.touch(pipe, k, ts)
        pipe.execute()

    return lib, raw_op


def op_checkpoint(s: Any, r: redis.Redis, raw: Raw, k: SessionKeys) -> tuple[SyncOp, SyncOp]:
    def lib() -> int:
        return s.checkpoint(STATE)  # type: ignore[no-any-return]

    def raw_op() -> int:
        pipe = r.pipeline(transaction=False)
        raw.checkpoint_save(pipe, k, STATE)
        return int(pipe.execute()[0])

    return lib, raw_op


def op_restore(s: Any, r: redis.Redis, raw: Raw, k: SessionKeys) -> tuple[SyncOp, SyncOp]:
    s.checkpoint(STATE)
    pipe = r.pipeline(transaction=False)
    raw.checkpoint_save(pipe, k, STATE)
    pipe.execute()

    def lib() -> Any:
        return s.restore()

    def raw_op() -> Any:
        pipe = r.pipeline(transaction=False)
        pipe.evalsha(raw.sha_latest, 2, k.meta, k.checkpoint_data)
        reply = pipe.execute()[0]
        return None if reply is None else raw.codec.decode(reply[1])

    return lib, raw_op


def op_events(s: Any, r: redis.Redis, raw: Raw, k: SessionKeys) -> tuple[SyncOp, SyncOp]:
    s.record_many(BATCH_ITEMS)
    pipe = r.pipeline(transaction=False)
    for event_type, data in BATCH_ITEMS:
        raw.xadd(pipe, k, event_type, data, time.time_ns() // 1_000_000)
    pipe.execute()

    def lib() -> Any:
        return s.events(limit=20)

    def raw_op() -> Any:
        entries: list[Any] = r.xrevrange(k.events, count=20)  # type: ignore[assignment]
        decode = raw.codec.decode
        return [decode(f[b"data"]) for _, f in reversed(entries)]

    return lib, raw_op


def op_record_many(s: Any, r: redis.Redis, raw: Raw, k: SessionKeys) -> tuple[SyncOp, SyncOp]:
    def lib() -> Any:
        return s.record_many(BATCH_ITEMS)

    def raw_op() -> None:
        ts = time.time_ns() // 1_000_000
        pipe = r.pipeline(transaction=False)
        for event_type, data in BATCH_ITEMS:
            raw.xadd(pipe, k, event_type, data, ts)
        raw.touch(pipe, k, ts)
        pipe.execute()

    return lib, raw_op


def op_update(s: Any, r: redis.Redis, raw: Raw, k: SessionKeys) -> tuple[SyncOp, SyncOp]:
    def lib() -> None:
        s.working.update(BATCH_VALUES)

    def raw_op() -> None:
        pipe = r.pipeline(transaction=False)
        raw.hash_set(pipe, k, BATCH_VALUES)
        pipe.execute()

    return lib, raw_op


SYNC_OPS: list[tuple[str, Callable[..., tuple[SyncOp, SyncOp]], dict[str, Any]]] = [
    ("working.set", op_working_set, {}),
    ("working.get", op_working_get, {}),
    ("add_step", op_add_step, {}),
    ("checkpoint save", op_checkpoint, {}),
    ("restore latest", op_restore, {}),
    ("events(limit=20)", op_events, {}),
    (f"record_many({BATCH})", op_record_many, {"max_us": BATCH_MAX_US}),
    (f"working.update({BATCH} keys)", op_update, {"max_us": BATCH_MAX_US}),
]


# -- async operations ------------------------------------------------------------------------
async def async_rows(mem: AsyncMemory, r: aredis.Redis, raw: Raw, n: int) -> list[Row]:
    agent = mem.agent(AGENT)
    s, k = agent.session("a_set"), raw.keys("a_set")

    async def lib_set() -> None:
        await s.working.set("goal", WORKING_VALUE)

    async def raw_set() -> None:
        pipe = r.pipeline(transaction=False)
        raw.hash_set(pipe, k, {"goal": WORKING_VALUE})
        await pipe.execute()

    async def lib_get() -> Any:
        return await s.working.get("goal")

    async def raw_get() -> Any:
        found = await r.hget(k.working, "goal")
        return None if found is None else raw.codec.decode(found)

    async def lib_step() -> Any:
        return await s.add_step(STEP["action"], STEP["observation"], reasoning=STEP["reasoning"])

    async def raw_step() -> None:
        ts = time.time_ns() // 1_000_000
        pipe = r.pipeline(transaction=False)
        raw.xadd(pipe, k, "step", STEP, ts)
        raw.touch(pipe, k, ts)
        await pipe.execute()

    return [
        await compare_async("async working.set", lib_set, raw_set, n),
        await compare_async("async working.get", lib_get, raw_get, n),
        await compare_async("async add_step", lib_step, raw_step, n),
    ]


async def run_tasks(workers: list[AsyncOp], per_task: int) -> float:
    """Seconds for `workers` (run concurrently) to each do `per_task` calls."""

    async def loop(fn: AsyncOp) -> None:
        for _ in range(per_task):
            await fn()

    t0 = time.perf_counter_ns()
    await asyncio.gather(*(loop(fn) for fn in workers))
    return (time.perf_counter_ns() - t0) / 1e9


def kv_workers(mem: AsyncMemory, r: aredis.Redis, raw: Raw) -> tuple[list[AsyncOp], ...]:
    """One library and one raw worker per task, alternating working.set and working.get."""
    lib: list[AsyncOp] = []
    raws: list[AsyncOp] = []
    for t in range(TASKS):
        s, k = mem.agent(AGENT).session(f"c{t}"), raw.keys(f"c{t}")
        flip = [False, False]

        async def lib_op(s: Any = s, flip: list[bool] = flip) -> None:
            flip[0] = not flip[0]
            if flip[0]:
                await s.working.set("goal", WORKING_VALUE)
            else:
                await s.working.get("goal")

        async def raw_op(k: SessionKeys = k, flip: list[bool] = flip) -> None:
            flip[1] = not flip[1]
            if flip[1]:
                pipe = r.pipeline(transaction=False)
                raw.hash_set(pipe, k, {"goal": WORKING_VALUE})
                await pipe.execute()
            else:
                found = await r.hget(k.working, "goal")
                raw.codec.decode(found)

        lib.append(lib_op)
        raws.append(raw_op)
    return lib, raws


def batch_workers(
    mem: AsyncMemory, r: aredis.Redis, raw: Raw, events: bool
) -> tuple[list[AsyncOp], ...]:
    """Workers writing batches of 100: events (``record_many``) or working keys (``update``)."""
    lib: list[AsyncOp] = []
    raws: list[AsyncOp] = []
    for t in range(BATCH_TASKS):
        s, k = mem.agent(AGENT).session(f"b{t}"), raw.keys(f"b{t}")

        async def lib_op(s: Any = s) -> None:
            if events:
                await s.record_many(BATCH_ITEMS)
            else:
                await s.working.update(BATCH_VALUES)

        async def raw_op(k: SessionKeys = k) -> None:
            ts = time.time_ns() // 1_000_000
            pipe = r.pipeline(transaction=False)
            if events:
                for event_type, data in BATCH_ITEMS:
                    raw.xadd(pipe, k, event_type, data, ts)
                raw.touch(pipe, k, ts)
            else:
                raw.hash_set(pipe, k, BATCH_VALUES)
            await pipe.execute()

        lib.append(lib_op)
        raws.append(raw_op)
    return lib, raws


async def throughput(
    name: str, sides: tuple[list[AsyncOp], ...], per_task: int, unit: int, target: float
) -> Throughput:
    """Median ops/s (x`unit`) over 3 interleaved rounds of each side, after a warm-up."""
    lib, raw = sides
    await run_tasks(lib, max(2, per_task // 10))
    await run_tasks(raw, max(2, per_task // 10))
    lib_rates: list[float] = []
    raw_rates: list[float] = []
    with no_gc():
        for i in range(3):
            order = [(lib, lib_rates), (raw, raw_rates)]
            for workers, rates in order if i % 2 == 0 else reversed(order):
                seconds = await run_tasks(workers, per_task)
                rates.append(len(workers) * per_task * unit / seconds)
    return Throughput(name, statistics.median(lib_rates), statistics.median(raw_rates), target)


async def async_part(url: str, ns: str, n: int) -> tuple[list[Row], list[Throughput]]:
    mem = await AsyncMemory.open(url, namespace=ns)
    r = aredis.Redis.from_url(url)
    raw = Raw(ns + "-raw", mem.options)
    try:
        rows = await async_rows(mem, r, raw, n)
        kv = await throughput(
            f"{TASKS} tasks working.set/get, ops/s",
            kv_workers(mem, r, raw),
            max(20, n // TASKS * 4),
            1,
            OPS_TARGET,
        )
        batches = [
            await throughput(
                f"{BATCH_TASKS} tasks {what}, writes/s",
                batch_workers(mem, r, raw, events),
                max(5, n // 100),
                BATCH,
                WRITES_TARGET,
            )
            for what, events in (
                (f"record_many({BATCH})", True),
                (f"working.update({BATCH} keys)", False),
            )
        ]
        return rows, [kv, *batches]
    finally:
        await mem.aclose()
        await r.aclose()


# -- report ------------------------------------------------------------------------------------
HEAD = [
    "operation",
    "library p50 µs",
    "raw p50 µs",
    "ratio (p50)",
    "library p95",
    "raw p95",
    "library ops/s",
    "raw ops/s",
    "target",
]
THROUGHPUT_HEAD = ["throughput", "library", "raw", "ratio (raw/lib)", "target"]


def latency_cells(row: Row) -> list[str]:
    return [
        row.name,
        f"{row.lib.pct(0.5):.1f}",
        f"{row.raw.pct(0.5):.1f}",
        f"{row.ratio:.2f}x",
        f"{row.lib.pct(0.95):.1f}",
        f"{row.raw.pct(0.95):.1f}",
        f"{row.lib.ops:,.0f}",
        f"{row.raw.ops:,.0f}",
        row.target,
    ]


def throughput_cells(t: Throughput) -> list[str]:
    return [
        t.name,
        f"{t.lib:,.0f}",
        f"{t.raw:,.0f}",
        f"{t.raw / t.lib:.2f}x",
        f"≥ {t.target:,.0f} {'ok' if t.ok else 'MISS'}",
    ]


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def machine(url: str) -> list[str]:
    with redis.Redis.from_url(url) as r:
        server = r.info("server")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"cpus: {os.cpu_count()}, load average: {load}",
        f"python {platform.python_version()} ({platform.platform()})",
        f"redis-server {server['redis_version']}, redis-py {redis.__version__}, "
        f"hiredis {'yes' if HIREDIS_AVAILABLE else 'no'}",
    ]


def markdown_report(info: list[str], n: int, rows: list[Row], tput: list[Throughput]) -> str:
    return "\n\n".join(
        [
            "## Memory kernel vs raw redis-py",
            "\n".join(f"- {line}" for line in [*info, f"calls per side and operation: {n}"]),
            markdown_table(HEAD, [latency_cells(r) for r in rows]),
            markdown_table(THROUGHPUT_HEAD, [throughput_cells(t) for t in tput]),
        ]
    )


def print_rich(info: list[str], n: int, rows: list[Row], tput: list[Throughput]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped: don't squeeze the tables into 80 columns
        console = Console(width=160)
    console.print("[bold]Memory kernel vs raw redis-py[/bold]")
    for line in [*info, f"calls per side and operation: {n}"]:
        console.print(f"  {line}")
    for head, body in (
        (HEAD, [latency_cells(r) for r in rows]),
        (THROUGHPUT_HEAD, [throughput_cells(t) for t in tput]),
    ):
        table = Table(*head)
        for cells in body:
            style = "red" if cells[-1].endswith("MISS") else None
            table.add_row(*cells, style=style)
        console.print(table)


# -- main ----------------------------------------------------------------------------------------
def run_sync(url: str, ns: str, n: int) -> list[Row]:
    mem = Memory.open(url, namespace=ns)
    r = redis.Redis.from_url(url)
    raw = Raw(ns + "-raw", mem.options)
    raw.sha_save = r.script_load(RAW_CHECKPOINT_SAVE)
    raw.sha_latest = r.script_load(CHECKPOINT_LATEST)
    try:
        return sync_rows(mem, r, raw, n)
    finally:
        mem.close()
        r.close()


def cleanup(url: str, ns: str) -> None:
    """Delete every key of the run's namespaces (the library's and the raw twin's)."""
    with redis.Redis.from_url(url) as r:
        for space in (ns, ns + "-raw"):
            batch = list(r.scan_iter(match=keys.namespace_pattern(space), count=1000))
            for i in range(0, len(batch), 1000):
                r.unlink(*batch[i : i + 1000])


def bench(url: str, n: int) -> tuple[list[Row], list[Throughput]]:
    ns = fresh_namespace()
    try:
        rows = run_sync(url, ns, n)
        more, tput = asyncio.run(async_part(url, ns, n))
    finally:
        cleanup(url, ns)
    return rows + more, tput


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="a Redis URL; without it a local server is started")
    p.add_argument("--n", type=int, default=3000, help="timed calls per side and operation")
    p.add_argument("--plain", action="store_true", help="print Markdown instead of rich tables")
    p.add_argument("--markdown", type=Path, help="also write the tables as Markdown here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = None
    url = args.url
    tmp = tempfile.TemporaryDirectory(prefix="aether-bench-")
    try:
        if url is None:
            from aether_memory.server.local import RedisProcess

            server = RedisProcess(Path(tmp.name), modules=True)
            server.start()
            url = server.url
        info = machine(url)
        rows, tput = bench(url, args.n)
    finally:
        if server is not None:
            server.stop()
        tmp.cleanup()
    report = markdown_report(info, args.n, rows, tput)
    if args.plain:
        print(report)
    else:
        print_rich(info, args.n, rows, tput)
    if args.markdown is not None:
        args.markdown.write_text(report + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
