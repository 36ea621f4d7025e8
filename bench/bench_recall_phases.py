"""Where a recall's time goes, at REALTALK size: the query's embedding, the store's search
round trip, ranking, the fetch (touch) round trip and decoding, each timed inside one real
`recall`, next to the same recall end to end and to the embedding timed on its own.

    python bench/bench_recall_phases.py [--data DIR] [--conversation N] [--queries N]
                                        [--plain | --redis7 BIN | --sqlite] [--markdown PATH]

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
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "eval"))

import realtalk

from aether_memory import Memory
from aether_memory.backends.embedders import embedder_from_name
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
    args = parser.parse_args(argv)

    convs, _ = realtalk.load(args.data)
    conv = next(c for c in convs if c.number == args.conversation)
    questions = [q.text for q in conv.questions][: args.queries]
    embedder = embedder_from_name("minilm")
    # The turns' vectors come from the harness's disk cache when it has them (ingest is not
    # what is measured); every query is embedded by the model.
    model = SimpleNamespace(
        model=embedder.model, dims=embedder.dims, embed=embedder.embed,
        embed_query=embedder.embed_query,
    )  # fmt: skip
    docs = realtalk.DiskCache(args.cache, model)
    embedder.embed = lambda texts: docs.get(list(texts))
    server = None
    if args.sqlite:
        url = f"sqlite:///{tempfile.mkdtemp()}/phases.db"
    else:
        binary = Path(args.redis7) if args.redis7 else None
        server = RedisProcess(
            Path(tempfile.mkdtemp()), modules=not (args.plain or binary), binary=binary
        )
        url = server.start().url
    try:
        with Memory.open(url, namespace=f"phases{int(time.time())}", embedder=embedder) as mem:
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
            longterm = mem.longterm
            store = longterm._store
            store.search = timers.wrap("store search (round trip 1)", store.search)
            store.fetch = timers.wrap("store fetch + touch (round trip 2)", store.fetch)
            embedder.embed_query = timers.wrap("query embedding", embedder.embed_query)
            client_longterm.rank = timers.wrap("ranking", client_longterm.rank)
            client_longterm.to_record = timers.wrap("decoding hits", client_longterm.to_record)
            alone: list[int] = []
            total: list[int] = []
            for _ in range(args.repeat):
                for q in questions:
                    start = time.perf_counter_ns()
                    embedder.embed_query([q])  # the embedding timed apart, right before
                    alone.append(time.perf_counter_ns() - start)
                    timers.current = {}
                    start = time.perf_counter_ns()
                    agent.recall(q, k=10)
                    total.append(time.perf_counter_ns() - start)
                    timers.flush()
            caps = mem.capabilities
    finally:
        if server is not None:
            server.stop()

    parts = timers.samples
    inside = [sum(v[i] for v in parts.values()) for i in range(len(total))]
    rest = [t - s for t, s in zip(total, inside, strict=True)]
    lines = [
        f"### recall phases: REALTALK conversation {conv.number} ({len(conv.turns)} turns), "
        f"{caps.backend} {caps.server_version}, {len(total)} recalls, MiniLM",
        "",
        "| phase | p50 ms | p95 ms |",
        "|---|---|---|",
        f"| query embedding timed apart (same text, just before) | {pct(alone, 50):.2f} |"
        f" {pct(alone, 95):.2f} |",
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
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as out:
            out.write(text + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
