"""Change-feed benchmark: notification latency, presence reads, and what the feed costs a write.

What it measures, in one process so that the ratios share the machine's state:

- write -> subscriber latency: `mem.broadcast` (one script: XADD to the namespace's feed, SET
  GET of its last position, SPUBLISH on its channel) and `agent.state.set` (a MULTI with its
  notification) until a `mem.subscribe` iterator in another thread yields the notification,
  against raw redis-py: ``r.publish(channel, b"x")`` on a connection of its own until a
  ``PubSub.listen()`` thread gets the message, on the same server. One write at a time, the
  three sides taking turns in chunks of `CHUNK` writes; p50 / p99 over the whole run, and the
  median over rounds of each round's p50 ratio (steadier when the load moves during a run).
- ``agents_status()`` with 1,000 agents that sent heartbeats: one round trip (a pipeline of the
  presence sweep script, SMEMBERS and HGETALL), p50 / p99.
- the cost the feed adds to a write: ``agent.state.set`` (HSET + SADD + the feed's script, in
  one MULTI) against raw redis-py doing the same MULTI without the notification, and with it.

Run:
    python bench/bench_feed.py                  # starts a local Redis in a temp dir
    python bench/bench_feed.py --url redis://127.0.0.1:6379/0 --n 3000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from timing import Timing, no_gc

from aether_memory import Memory, Options
from aether_memory.backends.redis.notes import encode_note, feed_keys
from aether_memory.backends.redis.scripts import NOTE
from aether_memory.core import keys
from aether_memory.core.codec import Codec
from aether_memory.core.feed import FEED_CAP

CHUNK = 100


class Waiter:
    """Hands each delivery time from a listener thread to the timing loop."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.at = 0

    def arrived(self) -> None:
        self.at = time.perf_counter_ns()
        self.event.set()

    def wait(self) -> int:
        if not self.event.wait(10):
            raise RuntimeError("a notification did not arrive within 10 s")
        self.event.clear()
        return self.at


def feed_listener(mem: Memory, waiter: Waiter, after: str) -> threading.Thread:
    def run() -> None:
        for note in mem.subscribe(after=after):
            if note.id == "stop":
                return
            waiter.arrived()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def pubsub_listener(r: redis.Redis, channel: str, waiter: Waiter) -> threading.Thread:
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    while pubsub.get_message(timeout=1.0) is None and not pubsub.subscribed:
        pass

    def run() -> None:
        for message in pubsub.listen():
            if message["type"] != "message":
                continue
            if message["data"] == b"stop":
                pubsub.close()
                return
            waiter.arrived()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def latency(
    sides: dict[str, tuple[Callable[[], Any], Waiter]], n: int
) -> tuple[dict[str, Timing], list[dict[str, float]]]:
    """Each side's latencies, and each round's p50 per side (the sides take turns, `CHUNK`
    writes each, so a round's sides share the machine's state of the moment)."""
    out: dict[str, Timing] = {name: Timing([]) for name in sides}
    rounds: list[dict[str, float]] = []
    for _ in range(20):  # warm-up
        for write, waiter in sides.values():
            write()
            waiter.wait()
    with no_gc():
        done = 0
        while done < n:
            this: dict[str, float] = {}
            for name, (write, waiter) in sides.items():
                got = Timing([])
                for _ in range(CHUNK):
                    start = time.perf_counter_ns()
                    write()
                    got.ns.append(waiter.wait() - start)
                out[name].ns += got.ns
                this[name] = got.pct(0.5)
            rounds.append(this)
            done += CHUNK
    return out, rounds


def round_ratio(rounds: list[dict[str, float]], name: str, base: str) -> str:
    """The median over rounds of a side's p50 over the base side's p50 in the same round."""
    ratios = sorted(r[name] / r[base] for r in rounds)
    return f"{ratios[len(ratios) // 2]:.2f}x"


def timed(sides: dict[str, Callable[[], Any]], n: int) -> dict[str, Timing]:
    out: dict[str, Timing] = {name: Timing([]) for name in sides}
    for op in sides.values():
        for _ in range(20):
            op()
    with no_gc():
        done = 0
        while done < n:
            for name, op in sides.items():
                for _ in range(CHUNK):
                    start = time.perf_counter_ns()
                    op()
                    out[name].ns.append(time.perf_counter_ns() - start)
            done += CHUNK
    return out


def row(name: str, t: Timing, base: Timing | None = None) -> str:
    ratio = (
        ""
        if base is None
        else f"{t.pct(0.5) / base.pct(0.5):.2f}x / {t.pct(0.99) / base.pct(0.99):.2f}x"
    )
    return f"| {name} | {t.pct(0.5):.0f} | {t.pct(0.99):.0f} | {ratio} |"


def run(url: str, n: int, agents: int) -> list[str]:
    ns = "bench-feed-" + uuid.uuid4().hex[:8]
    r = redis.Redis.from_url(url)
    lines = [f"namespace feed cap {FEED_CAP}; {n} calls per side; Python {sys.version.split()[0]}"]
    with (
        Memory.open(url, options=Options(namespace=ns)) as mem,
        Memory.open(url, options=Options(namespace=ns)) as listener_mem,
    ):
        agent = mem.agent("writer")
        # -- latency -------------------------------------------------------------------------
        lib_wait, raw_wait = Waiter(), Waiter()
        start = mem.feed.position()
        lib_thread = feed_listener(listener_mem, lib_wait, start)
        channel = f"bench-raw-{ns}"
        raw_thread = pubsub_listener(r, channel, raw_wait)
        counter = iter(range(10**9))
        raw_name = "raw PUBLISH -> pubsub"
        got, rounds = latency(
            {
                raw_name: (lambda: r.publish(channel, b"x"), raw_wait),
                "library broadcast -> subscribe": (
                    lambda: mem.broadcast("b", next(counter)),
                    lib_wait,
                ),
                "library state.set -> subscribe": (lambda: agent.state.set(x=1), lib_wait),
            },
            n,
        )
        mem.broadcast("stop", None)
        r.publish(channel, b"stop")
        lib_thread.join(10)
        raw_thread.join(10)
        raw = got[raw_name]
        head = "| write -> notification (µs) | p50 | p99 | vs raw (p50 / p99) | vs raw, per round |"
        lines += ["", head, "|---|---|---|---|---|"]
        for name, t in got.items():
            extra = "" if t is raw else round_ratio(rounds, name, raw_name)
            lines.append(row(name, t, None if t is raw else raw) + f" {extra} |")
        # -- presence --------------------------------------------------------------------------
        for i in range(agents):
            mem.agent(f"agent-{i:05d}").heartbeat(status="busy" if i % 2 else "idle", ttl=600)
        found = mem.agents_status()
        assert len(found) >= agents, len(found)
        status = timed({"agents_status": mem.agents_status}, max(100, n // 20))
        lines += ["", f"| agents_status() with {len(found)} agents (µs) | p50 | p99 | |",
                  "|---|---|---|---|", row("one round trip (sweep + SMEMBERS + HGETALL)",
                                            status["agents_status"])]  # fmt: skip
        # -- what the feed costs a write -------------------------------------------------------
        codec = Codec()
        state_key, agents_key = keys.state(ns, "raw"), keys.agents(ns)

        def raw_state(with_feed: bool) -> None:
            pipe = r.pipeline(transaction=True)
            pipe.hset(
                state_key,
                mapping={"x": codec.encode(1), "updated_at": codec.encode(time.time_ns() // 10**6)},
            )
            pipe.sadd(agents_key, "raw")
            if with_feed:  # the notification script the library sends, as it sends it
                note = encode_note("raw", "state", "raw", "set", time.time_ns() // 10**6)
                pipe.execute_command("EVAL", NOTE, 2, *feed_keys(ns), FEED_CAP, note)
            pipe.execute()

        cost = timed(
            {
                "library state.set (with its notification)": lambda: agent.state.set(x=1),
                "raw MULTI HSET+SADD (no feed)": lambda: raw_state(False),
                "raw MULTI HSET+SADD+notification script": lambda: raw_state(True),
            },
            n,
        )
        base = cost["raw MULTI HSET+SADD (no feed)"]
        lines += ["", "| a feed-emitting write (µs) | p50 | p99 | vs raw without the feed |",
                  "|---|---|---|---|"]  # fmt: skip
        for name, t in cost.items():
            lines.append(row(name, t, None if t is base else base))
        mem.erase_namespace()
    r.close()
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", help="a Redis URL; without it a local server is started")
    p.add_argument("--n", type=int, default=2000, help="calls per side")
    p.add_argument("--agents", type=int, default=1000, help="agents for agents_status()")
    args = p.parse_args(argv)
    tmp = tempfile.TemporaryDirectory(prefix="aether-bench-")
    server = None
    try:
        url = args.url
        if url is None:
            from aether_memory.server.local import RedisProcess

            server = RedisProcess(Path(tmp.name), modules=True)
            server.start()
            url = server.url
        print("\n".join(run(url, args.n, args.agents)))
    finally:
        if server is not None:
            server.stop()
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
