"""SQLite store and the Redis→SQLite fallback: latency next to Redis, the wrapper's cost, replay.

What it measures, on local servers it starts itself (plain Redis: no modules unless asked):

1. the SQLite store against the Redis store through the library (sync `Memory`), the same
   operations on both: single reads (working.get, identity.get, events(limit=10), restore),
   single writes (working.set, record, checkpoint) and batches of 100 (working.update,
   record_many); with the raw floor where one exists: a point read by primary key with
   sqlite3 on the same file and table, and redis-py HGET (both decoding the value with the
   library's `Codec`); for writes, one ``INSERT OR REPLACE`` in its own transaction and one HSET;
2. the fallback wrapper's cost while Redis is healthy: the single operations through
   ``Memory.open(redis, fallback=sqlite)`` against ``Memory.open(redis)``, interleaved, over
   several rounds (target ≤ 1.05x at p50);
3. replay: Redis is SIGKILLed, 10,000 writes (record / working.set / checkpoint) are queued
   through a fallback-enabled client, Redis is restarted, and the time until ``health()``
   reports ``not degraded and outbox == 0`` is measured (polled every 10 ms); the data is then
   read back from Redis without the fallback;
4. long-term memory: ``remember_many`` of 1,000 short texts, then ``recall`` (k=5) p50/p95 on
   SQLite and Redis, with the test suite's word-hash embedder behind the library's cache
   (queries are embedded once, during the warm-up, so the timed recalls exclude embedding);
5. the deleted-file check (``--parts filecheck``): SQLite writes through the library with the
   check every write makes (one ``fstat``: does the file opened still have a name?) and with
   it switched off, interleaved.

Sides are interleaved in chunks (the order rotates) after a warm-up, in one process, so the
ratios share the machine's state.

Run:
    python bench/bench_sqlite.py
    python bench/bench_sqlite.py --n 500 --plain --markdown /tmp/sqlite.md
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import redis
from redis.utils import HIREDIS_AVAILABLE
from timing import Timing, no_gc

from aether_memory import Memory, Options
from aether_memory.core import keys
from aether_memory.core.codec import Codec
from aether_memory.core.keys import SessionKeys
from aether_memory.server.local import RedisProcess

SyncOp = Callable[[], Any]

CHUNK = 50  # calls per side before switching to the next side
BATCH = 100
READ_TARGET_US = 100.0  # ours: a SQLite single read through the library
SEED_READ_TARGET_US = 50_000.0  # the seed's: a SQLite read under 50 ms
FALLBACK_RATIO = 1.05
ROUNDS = 5
OUTAGE_WRITES = 10_000
OUTAGE_SESSIONS = 10
POLL_S = 0.01
REPLAY_DEADLINE_S = 120.0
LONGTERM_TEXTS = 1_000
LONGTERM_QUERIES = 200
AGENT = "bench"
PARTS = ("store", "wrapper", "replay", "recall", "filecheck")

WORKING_VALUE = {"goal": "ship the release", "step": 3, "tags": ["a", "b"]}
IDENTITY_TEXT = "You are a careful release engineer. " * 8
EVENT = {"tool": "search", "args": {"q": "release notes"}, "ok": True}
STATE = {"messages": [{"role": "user", "content": "hello"}] * 4, "step": 12}
BATCH_ITEMS = [("tool_call", {"tool": "search", "i": i, "ok": True}) for i in range(BATCH)]
BATCH_VALUES = {f"k{i:03d}": {"i": i, "v": "value"} for i in range(BATCH)}

# Short timeouts for the outage: a dead server is noticed in well under a second.
OUTAGE_OPTIONS = dict(socket_timeout=0.5, connect_timeout=0.5, retries=1)


# -- timing ----------------------------------------------------------------------------------
def time_sync(fn: SyncOp, count: int, out: list[int]) -> None:
    clock = time.perf_counter_ns
    for _ in range(count):
        t0 = clock()
        fn()
        out.append(clock() - t0)


def interleaved(sides: dict[str, SyncOp], n: int) -> dict[str, Timing]:
    """`n` timed calls of each side, in chunks whose order rotates, after a warm-up."""
    names = list(sides)
    for fn in sides.values():
        time_sync(fn, max(20, n // 10), [])
    out: dict[str, list[int]] = {name: [] for name in names}
    with no_gc():
        for i, start in enumerate(range(0, n, CHUNK)):
            size = min(CHUNK, n - start)
            shift = i % len(names)
            for name in names[shift:] + names[:shift]:
                time_sync(sides[name], size, out[name])
    return {name: Timing(ns) for name, ns in out.items()}


def fresh_namespace() -> str:
    return f"bench-{uuid.uuid4().hex[:12]}"


def mark(ok: bool) -> str:
    return "ok" if ok else "MISS"


# -- 1. SQLite store vs Redis store ------------------------------------------------------------
def library_ops(mem: Memory, tag: str) -> dict[str, SyncOp]:
    """The library side of every operation, each on its own session (prepared here)."""
    agent = mem.agent(AGENT)

    def session(name: str) -> Any:
        return agent.session(f"{tag}-{name}")

    s_get, s_ev, s_res = session("get"), session("events"), session("restore")
    s_set, s_rec, s_cp = session("set"), session("record"), session("checkpoint")
    s_upd, s_many = session("update"), session("many")
    s_get.working.set("goal", WORKING_VALUE)
    agent.identity.put("persona", IDENTITY_TEXT)
    s_ev.record_many(BATCH_ITEMS)
    s_res.checkpoint(STATE)
    return {
        "working.get": lambda: s_get.working.get("goal"),
        "identity.get": lambda: agent.identity.get("persona"),
        "events(limit=10)": lambda: s_ev.events(limit=10),
        "restore latest": lambda: s_res.restore(),
        "working.set": lambda: s_set.working.set("goal", WORKING_VALUE),
        "record": lambda: s_rec.record("tool_call", EVENT),
        "checkpoint": lambda: s_cp.checkpoint(STATE),
        f"working.update({BATCH} keys)": lambda: s_upd.working.update(BATCH_VALUES),
        f"record_many({BATCH})": lambda: s_many.record_many(BATCH_ITEMS),
    }


READS = ("working.get", "identity.get", "events(limit=10)", "restore latest")
WRITES = ("working.set", "record", "checkpoint")


def sqlite_floors(path: Path, ns: str, tag: str, codec: Codec) -> dict[str, SyncOp]:
    """Raw sqlite3 on the store's own file: point reads by primary key, a one-row write."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    working = SessionKeys.build(ns, AGENT, f"{tag}-get").working
    identity = keys.identity(ns, AGENT)
    raw_key = f"raw:{ns}"
    value = codec.encode(WORKING_VALUE)
    select = "SELECT value FROM hash WHERE key = ? AND field = ?"

    def read(key: str, name: str) -> SyncOp:
        def op() -> Any:
            row = conn.execute(select, (key, name)).fetchone()
            return None if row is None else codec.decode(row[0])

        return op

    def write() -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR REPLACE INTO hash VALUES (?, ?, ?)", (raw_key, "goal", value))
        conn.execute("COMMIT")

    return {
        "working.get": read(working, "goal"),
        "identity.get": read(identity, "persona"),
        "working.set": write,
    }


def redis_floors(r: redis.Redis, ns: str, tag: str, codec: Codec) -> dict[str, SyncOp]:
    """Raw redis-py: HGET (decoded like the library does), one HSET."""
    working = SessionKeys.build(ns, AGENT, f"{tag}-get").working
    identity = keys.identity(ns, AGENT)
    raw_key = f"raw:{ns}"
    value = codec.encode(WORKING_VALUE)

    def read(key: str, name: str) -> SyncOp:
        def op() -> Any:
            found = r.hget(key, name)
            return None if found is None else codec.decode(found)  # type: ignore[arg-type]

        return op

    return {
        "working.get": read(working, "goal"),
        "identity.get": read(identity, "persona"),
        "working.set": lambda: r.hset(raw_key, "goal", value),
    }


@dataclass
class StoreRow:
    name: str
    sqlite: Timing
    redis: Timing
    sqlite_raw: Timing | None
    redis_raw: Timing | None

    @property
    def target(self) -> str:
        if self.name not in READS:
            return "—"
        p50 = self.sqlite.pct(0.5)
        return (
            f"≤ {READ_TARGET_US:g} µs {mark(p50 <= READ_TARGET_US)} "
            f"(seed < {SEED_READ_TARGET_US / 1000:g} ms {mark(p50 < SEED_READ_TARGET_US)})"
        )


def store_rows(redis_url: str, folder: Path, n: int) -> list[StoreRow]:
    ns = fresh_namespace()
    path = folder / "store.db"
    lite = Memory.open(f"sqlite:///{path}", namespace=ns)
    red = Memory.open(redis_url, namespace=ns)
    r = redis.Redis.from_url(redis_url)
    codec = Codec(lite.options.compress_threshold, lite.options.max_value_bytes)
    try:
        lib_lite, lib_red = library_ops(lite, "s"), library_ops(red, "s")
        raw_lite = sqlite_floors(path, ns, "s", codec)
        raw_red = redis_floors(r, ns, "s", codec)
        rows = []
        for name in lib_lite:
            sides = {"sqlite": lib_lite[name], "redis": lib_red[name]}
            if name in raw_lite:
                sides |= {"sqlite raw": raw_lite[name], "redis raw": raw_red[name]}
            t = interleaved(sides, n)
            rows.append(
                StoreRow(name, t["sqlite"], t["redis"], t.get("sqlite raw"), t.get("redis raw"))
            )
        return rows
    finally:
        lite.close()
        red.close()
        r.close()


STORE_HEAD = [
    "operation",
    "SQLite p50 µs",
    "SQLite p95",
    "raw sqlite3 p50",
    "Redis p50 µs",
    "Redis p95",
    "raw redis-py p50",
    "SQLite / Redis (p50)",
    "target (SQLite)",
]


def store_cells(row: StoreRow) -> list[str]:
    def p50(t: Timing | None) -> str:
        return "—" if t is None else f"{t.pct(0.5):.1f}"

    return [
        row.name,
        f"{row.sqlite.pct(0.5):.1f}",
        f"{row.sqlite.pct(0.95):.1f}",
        p50(row.sqlite_raw),
        f"{row.redis.pct(0.5):.1f}",
        f"{row.redis.pct(0.95):.1f}",
        p50(row.redis_raw),
        f"{row.sqlite.pct(0.5) / row.redis.pct(0.5):.2f}x",
        row.target,
    ]


# -- 2. the fallback wrapper's cost while healthy ----------------------------------------------
@dataclass
class WrapRow:
    name: str
    plain: list[Timing]  # one per round
    wrapped: list[Timing]

    @staticmethod
    def merged(rounds: list[Timing]) -> Timing:
        return Timing([ns for t in rounds for ns in t.ns])

    @property
    def pooled_ratio(self) -> float:
        return self.merged(self.wrapped).pct(0.5) / self.merged(self.plain).pct(0.5)

    @property
    def ratio(self) -> float:
        """The median over the rounds of the p50 ratio: one noisy round cannot move it."""
        return statistics.median(self.round_ratios)

    @property
    def round_ratios(self) -> list[float]:
        return [w.pct(0.5) / p.pct(0.5) for p, w in zip(self.plain, self.wrapped, strict=True)]


def wrapper_rows(redis_url: str, folder: Path, n: int) -> list[WrapRow]:
    ns = fresh_namespace()
    plain = Memory.open(redis_url, namespace=ns)
    wrapped = Memory.open(redis_url, namespace=ns, fallback=f"sqlite:///{folder / 'fb.db'}")
    try:
        health = wrapped.health()
        assert health.serving == "redis" and not health.degraded, health
        ops_plain, ops_wrapped = library_ops(plain, "p"), library_ops(wrapped, "w")
        names = [name for name in ops_plain if name in READS + WRITES]
        rows = {name: WrapRow(name, [], []) for name in names}
        per_round = max(CHUNK, n // ROUNDS)
        for _ in range(ROUNDS):
            for name in names:
                t = interleaved({"plain": ops_plain[name], "wrapped": ops_wrapped[name]}, per_round)
                rows[name].plain.append(t["plain"])
                rows[name].wrapped.append(t["wrapped"])
        assert not wrapped.health().degraded
        return list(rows.values())
    finally:
        plain.close()
        wrapped.close()


WRAP_HEAD = [
    "operation",
    "Redis p50 µs",
    "Redis + fallback p50 µs",
    "ratio of p50s (median of rounds)",
    "per-round ratios (min / max)",
    "pooled p50 ratio",
    "Redis p95",
    "Redis + fallback p95",
    "target",
]


def wrap_cells(row: WrapRow) -> list[str]:
    plain, wrapped = row.merged(row.plain), row.merged(row.wrapped)
    rr = row.round_ratios
    return [
        row.name,
        f"{plain.pct(0.5):.1f}",
        f"{wrapped.pct(0.5):.1f}",
        f"{row.ratio:.3f}x",
        f"{min(rr):.2f} / {max(rr):.2f}",
        f"{row.pooled_ratio:.3f}x",
        f"{plain.pct(0.95):.1f}",
        f"{wrapped.pct(0.95):.1f}",
        f"≤ {FALLBACK_RATIO}x {mark(row.ratio <= FALLBACK_RATIO)}",
    ]


# -- 3. replay after an outage -----------------------------------------------------------------
@dataclass
class Replay:
    mix: dict[str, int]
    queue_ns: list[int]
    entries: int  # outbox depth at the restart
    restart_s: float  # RedisProcess.restart(): spawn, AOF load, PING
    first_s: float  # restart call -> the first entry left the outbox
    done_s: float  # restart call -> not degraded and outbox == 0
    checks: list[tuple[str, str, str, bool]] = field(default_factory=list)
    health: dict[str, Any] = field(default_factory=dict)


def outage_write(sessions: list[Any], i: int) -> str:
    """One write of the mix: per 20, 10 events, 7 working-memory sets, 3 checkpoints."""
    s = sessions[i % len(sessions)]
    slot = (i // len(sessions)) % 20
    if slot < 10:
        s.record("tool_call", {"i": i, "tool": "search", "ok": True})
        return "record"
    if slot < 17:
        s.working.set(f"k{i % 50}", {"i": i, "note": "working value"})
        return "working.set"
    s.checkpoint({"i": i, "messages": [{"role": "user", "content": "hello"}] * 4})
    return "checkpoint"


def expected_state(writes: int, sessions: int, keep: int) -> dict[int, dict[str, Any]]:
    """What each session should hold after the replay (the same mix, computed; the oldest
    checkpoints beyond `keep` are trimmed)."""
    out: dict[int, dict[str, Any]] = {
        k: {"events": [], "working": {}, "checkpoint": None, "checkpoints": 0}
        for k in range(sessions)
    }
    for i in range(writes):
        k = i % sessions
        slot = (i // sessions) % 20
        if slot < 10:
            out[k]["events"].append(i)
        elif slot < 17:
            out[k]["working"][f"k{i % 50}"] = i
        else:
            out[k]["checkpoint"] = i
            out[k]["checkpoints"] = min(keep, out[k]["checkpoints"] + 1)
    return out


def replay_run(folder: Path, writes: int) -> Replay:
    server = RedisProcess(folder / "redis-replay", modules=False)
    server.start()
    ns = fresh_namespace()
    options = Options(namespace=ns, **OUTAGE_OPTIONS)  # type: ignore[arg-type]
    try:
        mem = Memory.open(server.url, options=options, fallback=f"sqlite:///{folder / 'outage.db'}")
        with mem:
            agent = mem.agent(AGENT)
            sessions = [agent.session(f"o{k}") for k in range(OUTAGE_SESSIONS)]
            agent.session("warm").working.set("x", 1)  # connected and written to before
            server.kill()
            agent.session("warm").working.set("x", 2)  # notices the outage, falls back
            assert mem.health().degraded
            mix: dict[str, int] = {}
            queue_ns: list[int] = []
            clock = time.perf_counter_ns
            with no_gc():
                for i in range(writes):
                    t0 = clock()
                    kind = outage_write(sessions, i)
                    queue_ns.append(clock() - t0)
                    mix[kind] = mix.get(kind, 0) + 1
            entries = mem.health().outbox
            t0 = time.perf_counter()
            server.restart()
            restart_s = time.perf_counter() - t0
            first_s = done_s = 0.0
            deadline = t0 + REPLAY_DEADLINE_S
            while True:
                health = mem.health()
                now = time.perf_counter()
                if not first_s and health.outbox < entries:
                    first_s = now - t0
                if not health.degraded and health.outbox == 0:
                    done_s = now - t0
                    break
                if now > deadline:
                    raise RuntimeError(f"no replay after {REPLAY_DEADLINE_S:g} s: {health}")
                time.sleep(POLL_S)
            result = Replay(mix, queue_ns, entries, restart_s, first_s or done_s, done_s)
            result.health = health.as_dict()
        result.checks = verify(server.url, options, writes)
        return result
    finally:
        server.stop()


def verify(url: str, options: Options, writes: int) -> list[tuple[str, str, str, bool]]:
    """Read everything back from Redis without a fallback and compare with the mix."""
    expected = expected_state(writes, OUTAGE_SESSIONS, options.max_checkpoints)
    events = order_ok = working_ok = cps = restore_ok = 0
    with Memory.open(url, options=options) as direct:
        agent = direct.agent(AGENT)
        for k, want in expected.items():
            s = agent.session(f"o{k}")
            got = [e.data["i"] for e in s.events(limit=writes)]
            events += len(got)
            order_ok += got == want["events"]
            working_ok += {key: v["i"] for key, v in s.working.all().items()} == want["working"]
            cps += len(s.checkpoints())
            restored = s.restore()
            restore_ok += restored is not None and restored["i"] == want["checkpoint"]
        warm = agent.session("warm").working.get("x")
    sessions = len(expected)
    want_events = sum(len(w["events"]) for w in expected.values())
    want_cps = sum(w["checkpoints"] for w in expected.values())
    return [
        ("events in Redis", f"{events:,}", f"{want_events:,}", events == want_events),
        ("sessions with events in order", str(order_ok), str(sessions), order_ok == sessions),
        ("sessions with every working key", str(working_ok), str(sessions), working_ok == sessions),
        (
            f"checkpoints in Redis (the last {options.max_checkpoints} kept per session)",
            f"{cps:,}",
            f"{want_cps:,}",
            cps == want_cps,
        ),
        (
            "sessions restoring the last checkpoint",
            str(restore_ok),
            str(sessions),
            restore_ok == sessions,
        ),
        ("write made while noticing the outage", repr(warm), "2", warm == 2),
    ]


def replay_cells(rp: Replay) -> list[list[str]]:
    t = Timing(rp.queue_ns)
    queue_s = sum(rp.queue_ns) / 1e9
    replay_s = rp.done_s - rp.first_s
    mix = ", ".join(f"{kind} {count:,}" for kind, count in sorted(rp.mix.items()))
    return [
        ["writes queued while degraded", f"{sum(rp.mix.values()):,} ({mix})"],
        ["outbox entries at restart", f"{rp.entries:,} (writes + session opens)"],
        [
            "queueing, per write (p50 / p95 / mean)",
            f"{t.pct(0.5):.0f} / {t.pct(0.95):.0f} / {queue_s * 1e6 / len(rp.queue_ns):.0f} µs",
        ],
        ["queueing, total", f"{queue_s:.2f} s ({len(rp.queue_ns) / queue_s:,.0f} writes/s)"],
        ["restart(): spawn, AOF load, PING", f"{rp.restart_s * 1000:,.0f} ms"],
        ["restart → first entry replayed", f"{rp.first_s * 1000:,.0f} ms"],
        ["first entry → outbox empty, serving Redis", f"{replay_s * 1000:,.0f} ms"],
        ["restart → healthy (not degraded, outbox 0)", f"{rp.done_s * 1000:,.0f} ms"],
        [
            "replay rate (entries/s)",
            f"{rp.entries / replay_s:,.0f} while replaying; {rp.entries / rp.done_s:,.0f} "
            "from the restart",
        ],
        [
            "health after",
            f"serving {rp.health['serving']}, switches {rp.health['switches']}, "
            f"dropped {rp.health['dropped']}",
        ],
    ]


def check_cells(rp: Replay) -> list[list[str]]:
    return [[name, got, want, mark(ok)] for name, got, want, ok in rp.checks]


# -- 4. long-term recall -------------------------------------------------------------------------
@dataclass
class RecallRow:
    backend: str
    created: int
    ingest_s: float
    recall: Timing


_VOCABULARY = (
    "release deploy server database index query cache memory agent planner search tool "
    "budget invoice customer ticket outage backup restore schema migration python redis "
    "sqlite vector model token prompt summary report meeting calendar deadline travel "
    "flight hotel train ticket weather forecast garden coffee recipe kitchen market price "
    "stock bond loan mortgage insurance doctor clinic dentist school course exam library "
    "novel poem music guitar piano concert museum painting camera photo video editor "
    "kernel driver network router firewall password account login email invoice shipping "
    "parcel warehouse supplier contract lawyer court permit license tax refund salary"
)
WORDS = list(dict.fromkeys(_VOCABULARY.split()))


def texts(rng: random.Random, count: int, words: int) -> list[str]:
    return [
        f"{' '.join(rng.sample(WORDS, words))} note {i}"  # unique, short, varied
        for i in range(count)
    ]


def word_embedder() -> Any:
    """The test suite's hashing embedder, behind the library's cache."""
    from aether_memory.core.embeddings import CachedEmbedder

    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    module = importlib.import_module("tests.word_embedder")
    return CachedEmbedder(module.WordHashEmbedder())


def recall_rows(redis_url: str, folder: Path, n_queries: int) -> list[RecallRow]:
    rng = random.Random(7)
    docs = texts(rng, LONGTERM_TEXTS, 8)
    queries = [" ".join(rng.sample(WORDS, 4)) for _ in range(n_queries)]
    mems = {
        "SQLite": Memory.open(
            f"sqlite:///{folder / 'longterm.db'}", namespace="lt", embedder=word_embedder()
        ),
        "Redis": Memory.open(redis_url, namespace=fresh_namespace(), embedder=word_embedder()),
    }
    try:
        created: dict[str, int] = {}
        ingest: dict[str, float] = {}
        sides: dict[str, SyncOp] = {}
        for name, mem in mems.items():
            agent = mem.agent(AGENT)
            mem.setup()
            t0 = time.perf_counter()
            records = agent.remember_many(docs)
            ingest[name] = time.perf_counter() - t0
            created[name] = sum(r.status == "created" for r in records)
            for q in queries:  # warm: embeds every query once (cached from here on)
                agent.recall(q, k=5)
            cycle = iter(range(1 << 62))

            def op(agent: Any = agent, cycle: Any = cycle) -> Any:
                return agent.recall(queries[next(cycle) % len(queries)], k=5)

            sides[name] = op
        t = interleaved(sides, n_queries * 2)
        return [RecallRow(name, created[name], ingest[name], t[name]) for name in mems]
    finally:
        for mem in mems.values():
            mem.close()


RECALL_HEAD = [
    "backend",
    "memories created",
    "remember_many(1000) s",
    "recall p50 ms",
    "recall p95 ms",
    "recall / Redis (p50)",
]


def recall_cells(rows: list[RecallRow]) -> list[list[str]]:
    base = next(r for r in rows if r.backend == "Redis").recall.pct(0.5)
    return [
        [
            r.backend,
            f"{r.created:,}",
            f"{r.ingest_s:.2f}",
            f"{r.recall.pct(0.5) / 1000:.3f}",
            f"{r.recall.pct(0.95) / 1000:.3f}",
            f"{r.recall.pct(0.5) / base:.2f}x",
        ]
        for r in rows
    ]


# -- report ------------------------------------------------------------------------------------
@dataclass
class Section:
    title: str
    head: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


def machine(url: str, modules: bool) -> list[str]:
    with redis.Redis.from_url(url) as r:
        server = r.info("server")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"cpus: {os.cpu_count()}, load average: {load}",
        f"python {platform.python_version()} ({platform.platform()}), "
        f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL), numpy {np.__version__} "
        f"(OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')})",
        f"redis-server {server['redis_version']} ({'modules' if modules else 'no modules'}, "
        f"appendfsync everysec), redis-py {redis.__version__}, "
        f"hiredis {'yes' if HIREDIS_AVAILABLE else 'no'}",
    ]


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def markdown_report(info: list[str], sections: list[Section]) -> str:
    parts = ["## SQLite store and fallback", "\n".join(f"- {line}" for line in info)]
    for s in sections:
        parts.append(f"### {s.title}")
        parts.append(markdown_table(s.head, s.rows))
        parts += s.notes
    return "\n\n".join(parts)


def print_rich(info: list[str], sections: list[Section]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped: don't squeeze the tables into 80 columns
        console = Console(width=180)
    console.print("[bold]SQLite store and fallback[/bold]")
    for line in info:
        console.print(f"  {line}")
    for s in sections:
        table = Table(*s.head, title=s.title, title_justify="left")
        for cells in s.rows:
            style = "red" if any("MISS" in c for c in cells) else None
            table.add_row(*cells, style=style)
        console.print(table)
        for note in s.notes:
            console.print(f"  {note}")


# -- main ----------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=3000, help="timed calls per side and operation")
    p.add_argument("--writes", type=int, default=OUTAGE_WRITES, help="writes queued in the outage")
    p.add_argument("--queries", type=int, default=LONGTERM_QUERIES, help="distinct recall queries")
    p.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated, of {', '.join(PARTS)} (default: all)",
    )
    p.add_argument("--modules", action="store_true", help="load the Redis modules (Query Engine)")
    p.add_argument("--plain", action="store_true", help="print Markdown instead of rich tables")
    p.add_argument("--markdown", type=Path, help="also write the tables as Markdown here")
    return p.parse_args(argv)


# -- 5. the deleted-file check ----------------------------------------------------------------
def filecheck_rows(folder: Path, n: int) -> list[list[str]]:
    """SQLite writes with the per-write file check on and off (its descriptor unset)."""
    rows = []
    with Memory.open(f"sqlite:///{folder}/filecheck.db", namespace=fresh_namespace()) as mem:
        db = mem.kernel.store._db  # type: ignore[attr-defined]
        fd = db._fd
        session = mem.agent(AGENT).session("filecheck")
        ops = {
            "working.set": lambda: session.working.set("goal", WORKING_VALUE),
            "record": lambda: session.record("tool_call", EVENT),
        }
        for name, op in ops.items():

            def checked(op: SyncOp = op) -> None:
                db._fd = fd
                op()

            def unchecked(op: SyncOp = op) -> None:
                db._fd = None
                op()

            timing = interleaved({"on": checked, "off": unchecked}, n)
            on, off = timing["on"].pct(0.5), timing["off"].pct(0.5)
            rows.append([name, f"{on:.1f}", f"{off:.1f}", f"{on - off:+.1f}", f"{on / off:.2f}x"])
        db._fd = fd
    return rows


def run(args: argparse.Namespace, folder: Path) -> tuple[list[str], list[Section]]:
    parts = set(args.parts.split(","))
    if unknown := parts - set(PARTS):
        raise SystemExit(f"unknown parts: {', '.join(sorted(unknown))}")
    t0 = time.perf_counter()
    server = RedisProcess(folder / "redis", modules=args.modules)
    server.start()
    try:
        info = machine(server.url, args.modules)
        store = store_rows(server.url, folder, args.n) if "store" in parts else None
        wrap = wrapper_rows(server.url, folder, args.n) if "wrapper" in parts else None
        recall = recall_rows(server.url, folder, args.queries) if "recall" in parts else None
    finally:
        server.stop()
    replay = replay_run(folder, args.writes) if "replay" in parts else None
    filecheck = filecheck_rows(folder, args.n) if "filecheck" in parts else None
    info.append(
        f"calls per side and operation: {args.n}; wall time {time.perf_counter() - t0:.0f} s"
    )
    sections = []
    if store is not None:
        sections.append(
            Section(
                "SQLite store vs Redis store, through the library (µs)",
                STORE_HEAD,
                [store_cells(r) for r in store],
                [
                    "Raw floors: a point read by primary key (`SELECT value FROM hash WHERE "
                    "key = ? AND field = ?`) on the store's own file, and `HGET`, both decoding "
                    "the value; for working.set, one `INSERT OR REPLACE` in its own `BEGIN "
                    "IMMEDIATE` transaction, and one `HSET`. Targets: seed, a SQLite read "
                    f"< 50 ms; ours, a SQLite single read ≤ {READ_TARGET_US:g} µs through the "
                    "library.",
                ],
            )
        )
    if wrap is not None:
        sections.append(
            Section(
                f"The fallback wrapper while Redis is healthy ({ROUNDS} rounds, interleaved)",
                WRAP_HEAD,
                [wrap_cells(r) for r in wrap],
            )
        )
    if replay is not None:
        sections += [
            Section(
                f"Outage and replay ({args.writes:,} writes, {OUTAGE_SESSIONS} sessions)",
                ["", "measured"],
                replay_cells(replay),
                [f"Client options for the outage: {OUTAGE_OPTIONS}; health polled every 10 ms."],
            ),
            Section(
                "After the replay: read back from Redis without the fallback",
                ["check", "found", "expected", "result"],
                check_cells(replay),
            ),
        ]
    if recall is not None:
        redis_path = (
            "with the Query Engine."
            if args.modules
            else "without modules: the vector set path (VADD / VSIM)."
        )
        sections.append(
            Section(
                f"Long-term memory: {LONGTERM_TEXTS:,} short texts, recall k=5 "
                f"({args.queries} queries x 2, embedding cached)",
                RECALL_HEAD,
                recall_cells(recall),
                [
                    "Embedder: the test suite's word-hash embedder (1024-d) behind the "
                    "library's cache; remember_many includes embedding the 1,000 texts. Redis "
                    + redis_path
                ],
            )
        )
    if filecheck is not None:
        sections.append(
            Section(
                "The deleted-file check on SQLite writes (µs, p50, interleaved)",
                ["operation", "check on", "check off", "difference", "ratio"],
                filecheck,
                ["The check: one `fstat` of a descriptor held on the file (`st_nlink == 0`)."],
            )
        )
    return info, sections


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aether-bench-sqlite-") as tmp:
        info, sections = run(args, Path(tmp))
    report = markdown_report(info, sections)
    if args.plain:
        print(report)
    else:
        print_rich(info, sections)
    if args.markdown is not None:
        args.markdown.write_text(report + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
