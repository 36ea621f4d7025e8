"""LangGraph checkpointers side by side on one Redis: aether's `AetherSaver` against
``langgraph-checkpoint-redis`` (`RedisSaver`), sync API, loopback.

What it measures, on a local Redis 8.2 with the Query Engine and JSON modules (RedisSaver needs
both) that it starts itself:

1. ``put`` of a checkpoint (a parent chain in one thread; channel values of ~1 KB of messages);
2. ``put_writes`` of one task's two writes;
3. ``get_tuple`` of a thread's latest checkpoint, and of one by id, on threads of 10, 100 and 1000
   checkpoints (aether reads by key: the thread's length should not show);
4. ``list(limit=10)`` (aether reads the thread's keys, then only the page);
5. a whole compiled three-node ``StateGraph.invoke`` on a fresh thread.

Sides alternate in chunks after a warm-up, in one process, so the ratios share the machine's
state. Run:
    python bench/bench_langgraph.py
    python bench/bench_langgraph.py --n 300 --markdown /tmp/langgraph.md
"""

from __future__ import annotations

import argparse
import operator
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.redis import RedisSaver
from langgraph.graph import END, START, StateGraph
from timing import Timing, no_gc

from aether_memory import Memory
from aether_memory.integrations.langgraph import AetherSaver
from aether_memory.server.local import RedisProcess

MESSAGES = [{"role": "user", "content": f"message {i} " + "x" * 80} for i in range(10)]


class State(TypedDict):
    steps: Annotated[list[str], operator.add]


def graph(saver: Any) -> Any:
    builder = StateGraph(State)
    for name in ("plan", "act", "report"):
        builder.add_node(name, lambda s, n=name: {"steps": [n]})
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "act")
    builder.add_edge("act", "report")
    builder.add_edge("report", END)
    return builder.compile(checkpointer=saver)


def checkpoint(step: int) -> Any:
    cp = empty_checkpoint()
    cp["channel_values"] = {"messages": MESSAGES, "step": step}
    cp["channel_versions"] = {"messages": step + 1, "step": step + 1}
    return cp


def fill(saver: Any, thread: str, n: int) -> list[Any]:
    """A thread of `n` chained checkpoints; returns their configs."""
    config: Any = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    configs = []
    for step in range(n):
        config = saver.put(config, checkpoint(step), {"source": "loop", "step": step}, {})
        configs.append(config)
    return configs


def measure(sides: dict[str, Callable[[], Any]], n: int, chunk: int = 25) -> dict[str, Timing]:
    for fn in sides.values():
        for _ in range(min(20, n)):
            fn()
    timings = {name: Timing([]) for name in sides}
    names = list(sides)
    done = 0
    with no_gc():
        while done < n:
            for name in names:
                fn = sides[name]
                for _ in range(min(chunk, n - done)):
                    t = time.perf_counter_ns()
                    fn()
                    timings[name].ns.append(time.perf_counter_ns() - t)
            names.reverse()
            done += chunk
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    rows: list[tuple[str, Timing, Timing]] = []
    with tempfile.TemporaryDirectory() as tmp, RedisProcess(Path(tmp), modules=True) as server:  # noqa: SIM117
        with (
            Memory.open(server.url, namespace="bench") as mem,
            RedisSaver.from_conn_string(server.url) as theirs,
        ):
            theirs.setup()
            sides = {"aether": AetherSaver(mem), "redis": theirs}
            run = uuid.uuid4().hex[:8]

            # put: a chain in one fresh thread per side
            state = {
                name: {"config": {"configurable": {"thread_id": f"put-{run}-{name}",
                                                   "checkpoint_ns": ""}}, "step": 0}
                for name in sides
            }  # fmt: skip

            def putter(name: str) -> Callable[[], Any]:
                saver, s = sides[name], state[name]

                def put() -> None:
                    s["step"] += 1
                    metadata = {"source": "loop", "step": s["step"]}
                    s["config"] = saver.put(s["config"], checkpoint(s["step"]), metadata, {})

                return put

            t = measure({name: putter(name) for name in sides}, args.n)
            rows.append(("put (chain in one thread)", t["aether"], t["redis"]))

            def writer(name: str) -> Callable[[], Any]:
                saver = sides[name]
                config = fill(saver, f"writes-{run}-{name}", 1)[-1]
                counter = iter(range(10**9))

                def put_writes() -> None:
                    task = f"task-{next(counter)}"
                    saver.put_writes(config, [("messages", MESSAGES[:2]), ("step", 1)], task)

                return put_writes

            t = measure({name: writer(name) for name in sides}, args.n)
            rows.append(("put_writes (2 writes)", t["aether"], t["redis"]))

            for size in (10, 100, 1000):
                threads = {
                    name: fill(sides[name], f"get{size}-{run}-{name}", size) for name in sides
                }
                latest = {
                    name: (lambda s=sides[name], c=threads[name][-1]: s.get_tuple(
                        {"configurable": {"thread_id": c["configurable"]["thread_id"],
                                          "checkpoint_ns": ""}}))
                    for name in sides
                }  # fmt: skip
                t = measure(latest, args.n)
                rows.append((f"get_tuple latest ({size} in thread)", t["aether"], t["redis"]))
                by_id = {
                    name: (lambda s=sides[name], c=threads[name][size // 2]: s.get_tuple(c))
                    for name in sides
                }
                t = measure(by_id, args.n)
                rows.append((f"get_tuple by id ({size} in thread)", t["aether"], t["redis"]))
                listing = {
                    name: (lambda s=sides[name], c=threads[name][-1]: list(s.list(
                        {"configurable": {"thread_id": c["configurable"]["thread_id"]}},
                        limit=10)))
                    for name in sides
                }  # fmt: skip
                t = measure(listing, args.n)
                rows.append((f"list limit=10 ({size} in thread)", t["aether"], t["redis"]))

            graphs = {name: graph(sides[name]) for name in sides}

            def invoker(name: str) -> Callable[[], Any]:
                counter = iter(range(10**9))

                def invoke() -> None:
                    config = {"configurable": {"thread_id": f"g-{run}-{name}-{next(counter)}"}}
                    graphs[name].invoke({"steps": []}, config)

                return invoke

            t = measure({name: invoker(name) for name in sides}, args.n)
            rows.append(("graph.invoke, 3 nodes, new thread", t["aether"], t["redis"]))

    lines = [
        "| operation | aether p50 µs | p95 | redis p50 µs | p95 | redis / aether (p50) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, ours, theirs_t in rows:
        ratio = theirs_t.pct(0.5) / ours.pct(0.5)
        lines.append(
            f"| {name} | {ours.pct(0.5):.0f} | {ours.pct(0.95):.0f} | {theirs_t.pct(0.5):.0f} "
            f"| {theirs_t.pct(0.95):.0f} | {ratio:.2f}x |"
        )
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")


if __name__ == "__main__":
    main()
