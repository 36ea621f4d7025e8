"""Where a recall's time goes, at REALTALK size: the query's embedding, the store's search
round trip, ranking, the fetch (touch) round trip and decoding, each timed inside one real
`recall`, next to the same recall end to end and to the embedding timed on its own.

    python bench/bench_recall_phases.py [--data DIR] [--conversation N] [--queries N]
                                        [--plain | --redis7 BIN | --sqlite] [--markdown PATH]
                                        [--compute int8[,float32]]

One REALTALK conversation (default 5, the largest: 1,548 turns) is ingested through
`session.add_messages` with the MiniLM embedder into a fresh namespace of its own local
server; its questions are then asked with ``recall(k=10)`` through the sync API, each several
times. The phases are measured by wrapping the store's and the embedder's methods with timers
(a few hundred nanoseconds each), so their sum is the recall itself, not parts timed apart.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "eval"))

import realtalk

from aether_memory import Memory
from aether_memory.backends.embedders.minilm import MiniLMEmbedder
from aether_memory.client._sync import longterm as client_longterm
from aether_memory.server.local import RedisProcess


class Timers:
    def __init__(self) -> None:
        self.samples: dict[str, list[int]] = {}
        self.current: dict[str, int] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter_ns()
            try:
                return fn(*args, **kwargs)
            finally:
                self.current[name] = self.current.get(name, 0) + time.perf_counter_ns() - start

        return timed

    def flush(self) -> None:
        for name, ns in self.current.items():
            self.samples.setdefault(name, []).append(ns)
        self.current = {}


def pct(values: list[int], q: float) -> float:
    return float(np.percentile(np.array(values) / 1e6, q))


class Active:
    """The timers of the side being measured: module-level functions are wrapped once."""

    timers: Timers = Timers()  # set-up recalls (warm-up) land here, unreported

    @classmethod
    def wrap(cls, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            return cls.timers.wrap(name, fn)(*args, **kwargs)

        return timed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=realtalk.DEFAULT_DATA)
    parser.add_argument("--conversation", type=int, default=5)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plain", action="store_true")
    parser.add_argument("--redis7")
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--markdown")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "aether-eval")
    parser.add_argument(
        "--compute", default="int8",
        help="MiniLM compute, or several comma-separated (e.g. int8,float32): one namespace "
        "each on the same server, their recalls alternated query by query",
    )  # fmt: skip
    args = parser.parse_args(argv)

    convs, _ = realtalk.load(args.data)
    conv = next(c for c in convs if c.number == args.conversation)
    questions = [q.text for q in conv.questions][: args.queries]
    server = None
    if args.sqlite:
        url = f"sqlite:///{tempfile.mkdtemp()}/phases.db"
    else:
        binary = Path(args.redis7) if args.redis7 else None
        server = RedisProcess(
            Path(tempfile.mkdtemp()), modules=not (args.plain or binary), binary=binary
        )
        url = server.start().url
    client_longterm.rank = Active.wrap("ranking", client_longterm.rank)
    client_longterm.to_record = Active.wrap("decoding hits", client_longterm.to_record)
    sides: list[SimpleNamespace] = []
    try:
        with ExitStack() as stack:
            for number, compute in enumerate(args.compute.split(",")):
                sides.append(open_side(stack, url, f"{number}{compute}", compute, args, conv))
            for _ in range(args.repeat):
                for q in questions:
                    for side in sides:
                        Active.timers = side.timers
                        start, cpu = time.perf_counter_ns(), time.process_time_ns()
                        side.embedder.embed_query([q])  # the embedding timed apart, just before
                        side.alone.append(time.perf_counter_ns() - start)
                        # all the process's threads (onnxruntime's too): what load cannot inflate
                        side.alone_cpu.append(time.process_time_ns() - cpu)
                        side.timers.current = {}
                        start = time.perf_counter_ns()
                        side.agent.recall(q, k=10)
                        side.total.append(time.perf_counter_ns() - start)
                        side.timers.flush()
    finally:
        if server is not None:
            server.stop()
    for side in sides:
        report(side, conv, args.markdown)
    return 0


def open_side(
    stack: ExitStack, url: str, tag: str, compute: str, args: argparse.Namespace, conv: Any
) -> SimpleNamespace:
    """One namespace holding the conversation, embedded with MiniLM at this compute."""
    embedder = MiniLMEmbedder(compute=compute)  # type: ignore[arg-type]
    # The turns' vectors come from the harness's disk cache when it has them (ingest is not
    # what is measured); every query is embedded by the model. MiniLM is symmetric: its
    # embed_query is embed, bound here before embed is pointed at the cache (else every query
    # would go through the cache, loading its files, and repeats would not run the model).
    model_embed = embedder.embed
    model = SimpleNamespace(
        model=embedder.model, dims=embedder.dims, embed=model_embed, embed_query=model_embed
    )
    docs = realtalk.DiskCache(args.cache, model)
    embedder.embed = lambda texts: docs.get(list(texts))  # type: ignore[method-assign]
    embedder.embed_query = model_embed  # type: ignore[method-assign]
    mem = stack.enter_context(
        Memory.open(url, namespace=f"phases{int(time.time())}{tag}", embedder=embedder)
    )
    session = mem.agent("reader").session("chat")
    turns = list(conv.turns)
    for start in range(0, len(turns), 256):
        session.add_messages(
            [
                {"speaker": t.speaker, "content": t.text, "at": t.at}
                for t in turns[start : start + 256]
            ]
        )
    agent = mem.agent("reader")
    agent.recall("warm up", k=10)
    timers = Timers()
    store = mem.longterm.port
    store.search = timers.wrap("store search (round trip 1)", store.search)
    store.fetch = timers.wrap("store fetch + touch (round trip 2)", store.fetch)
    embedder.embed_query = timers.wrap("query embedding", embedder.embed_query)  # type: ignore[method-assign]
    return SimpleNamespace(
        compute=compute, embedder=embedder, agent=agent, timers=timers, alone=[], total=[],
        alone_cpu=[], caps=mem.capabilities,
    )  # fmt: skip


def report(side: SimpleNamespace, conv: Any, markdown: str | None) -> None:
    parts = side.timers.samples
    total, alone = side.total, side.alone
    inside = [sum(v[i] for v in parts.values()) for i in range(len(total))]
    rest = [t - s for t, s in zip(total, inside, strict=True)]
    caps = side.caps
    lines = [
        f"### recall phases: REALTALK conversation {conv.number} ({len(conv.turns)} turns), "
        f"{caps.backend} {caps.server_version}, {len(total)} recalls, MiniLM "
        f"{side.embedder.model} (compute {side.compute})",
        "",
        "| phase | p50 ms | p95 ms |",
        "|---|---|---|",
        f"| query embedding timed apart (same text, just before) | {pct(alone, 50):.2f} |"
        f" {pct(alone, 95):.2f} |",
        f"| the same, CPU time of the process (all threads) | {pct(side.alone_cpu, 50):.2f} |"
        f" {pct(side.alone_cpu, 95):.2f} |",
    ]
    for name, values in parts.items():
        lines.append(f"| {name} | {pct(values, 50):.2f} | {pct(values, 95):.2f} |")
    lines += [
        f"| everything else (validation, filters, setup check, Python glue) |"
        f" {pct(rest, 50):.2f} | {pct(rest, 95):.2f} |",
        f"| **recall end to end** | **{pct(total, 50):.2f}** | **{pct(total, 95):.2f}** |",
    ]
    text = "\n".join(lines)
    print(text)
    if markdown:
        with open(markdown, "a", encoding="utf-8") as out:
            out.write(text + "\n\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
