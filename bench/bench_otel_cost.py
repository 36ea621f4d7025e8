"""What OpenTelemetry instrumentation costs each kernel operation, isolated in one run.

The same library calls (bench_kernel's operations plus ``record``, ``remember`` and
``recall``, sync and async) on one client, timed in four modes that alternate in chunks:

- **a, out**: `telemetry.disable()` — the classes hold their plain methods (the
  un-instrumented call path; the helpers the methods call still return at a flag check);
- **b, API only**: no SDK provider anywhere (the default): each call makes the one check;
- **c, SDK, no-op export**: SDK providers given to `telemetry.configure`, spans through a
  `BatchSpanProcessor` to an exporter that drops them, metrics to a periodic reader whose
  exporter drops them (60 s interval: never during a run);
- **d, SDK, in memory**: spans through a `SimpleSpanProcessor` into an `InMemorySpanExporter`
  (cleared between chunks), metrics into an `InMemoryMetricReader`.

No global provider is ever set, so mode b is exactly what a process without an SDK runs.
Each chunk of `CHUNK` calls goes to one mode, the order of the modes is balanced over the
rounds of chunks (`ORDERS`), and each mode's p50 over the pass is compared to mode a's: the
table shows, per operation, the median over the passes of b/a, c/a and d/a, with their
spread (min-max). The embedder is a small
hashed bag of words, so that remember and recall are the store's work, not a model's.

Run:
    python bench/bench_otel_cost.py --passes 5 --n 600      # starts a local Redis
    python bench/bench_otel_cost.py --url redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import bench_kernel
import numpy as np
import numpy.typing as npt
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from timing import no_gc

from aether_memory import AsyncMemory, Memory
from aether_memory.core import telemetry

CHUNK = 10  # calls per mode before switching to the next (the switch is not timed)
MODES = ("a", "b", "c", "d")
LABELS = {"a": "out", "b": "API only", "c": "SDK, no-op export", "d": "SDK, in memory"}


class DropSpans(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class DropMetrics(MetricExporter):
    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


class HashEmbedder:
    """64 dimensions of hashed words: cheap, deterministic, similar texts near each other."""

    model = "bench-hash-64"
    dims = 64

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest())
                out[row, h % self.dims] += 1.0
            out[row] /= max(float(np.linalg.norm(out[row])), 1e-9)
        return out

    def embed_query(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return self.embed(texts)


class Modes:
    """The four telemetry setups, switched between chunks (outside the timed calls)."""

    def __init__(self) -> None:
        self.noop_traces = TracerProvider()
        self.noop_traces.add_span_processor(BatchSpanProcessor(DropSpans()))
        reader = PeriodicExportingMetricReader(DropMetrics(), export_interval_millis=60_000)
        self.noop_metrics = MeterProvider(metric_readers=[reader])
        self.spans = InMemorySpanExporter()
        self.memory_traces = TracerProvider()
        self.memory_traces.add_span_processor(SimpleSpanProcessor(self.spans))
        self.memory_metrics = MeterProvider(metric_readers=[InMemoryMetricReader()])

    def use(self, mode: str) -> None:
        self.spans.clear()
        if mode == "a":
            telemetry.disable()
        elif mode == "b":
            telemetry.reset()
        elif mode == "c":
            telemetry.configure(self.noop_traces, self.noop_metrics)
        else:
            telemetry.configure(self.memory_traces, self.memory_metrics)
        # After `reset` the first call looks at the API's global slots again (a few µs, once
        # in a process's life): done here, untimed, not in the chunk's first call.
        telemetry.enabled()

    def close(self) -> None:
        telemetry.reset()
        for provider in (self.noop_traces, self.memory_traces):
            provider.shutdown()
        for meters in (self.noop_metrics, self.memory_metrics):
            meters.shutdown()


# A balanced Latin square (Williams): over four rounds each mode goes first once and follows
# each other mode once, so that no mode always runs right after an SDK mode (whose batch
# export thread may still be busy) or always first.
ORDERS = [tuple(MODES[(i + j) % 4] for j in (0, 1, 3, 2)) for i in range(4)]


def orders(chunks: int) -> Iterator[tuple[str, ...]]:
    """The mode order of each round of chunks."""
    for i in range(chunks):
        yield ORDERS[i % 4]


def ratios(times: dict[str, list[int]]) -> dict[str, float]:
    p50 = {m: statistics.median(ns) for m, ns in times.items()}
    return {"a_us": p50["a"] / 1000, **{m: p50[m] / p50["a"] for m in MODES[1:]}}


def time_sync(modes: Modes, fn: Callable[[], Any], n: int) -> dict[str, float]:
    clock = time.perf_counter_ns
    times: dict[str, list[int]] = {m: [] for m in MODES}
    for mode in MODES:  # warm each path
        modes.use(mode)
        for _ in range(CHUNK):
            fn()
    with no_gc():
        for order in orders(n // CHUNK):
            for mode in order:
                modes.use(mode)
                out = times[mode]
                for _ in range(CHUNK):
                    t0 = clock()
                    fn()
                    out.append(clock() - t0)
    return ratios(times)


async def time_async(modes: Modes, fn: Callable[[], Awaitable[Any]], n: int) -> dict[str, float]:
    clock = time.perf_counter_ns
    times: dict[str, list[int]] = {m: [] for m in MODES}
    for mode in MODES:
        modes.use(mode)
        for _ in range(CHUNK):
            await fn()
    with no_gc():
        for order in orders(n // CHUNK):
            for mode in order:
                modes.use(mode)
                out = times[mode]
                for _ in range(CHUNK):
                    t0 = clock()
                    await fn()
                    out.append(clock() - t0)
    return ratios(times)


def texts(rng: random.Random) -> Iterator[str]:
    """Distinct sentences of made-up words: each remember stores a new memory."""
    vocab = ["".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(3))
             for _ in range(3000)]  # fmt: skip
    while True:
        yield " ".join(rng.sample(vocab, 9))


K = bench_kernel
QUERIES = ["release train schedule", "who owns the deploy", "budget for the quarter"]


def sync_ops(mem: Memory, rng: random.Random) -> list[tuple[str, Callable[[], Any]]]:
    agent = mem.agent(K.AGENT)
    s = agent.session("sync")
    s.checkpoint(K.STATE)
    s.record_many(K.BATCH_ITEMS)
    notes = texts(rng)
    for _ in range(200):
        agent.remember(next(notes))
    q = iter(QUERIES * 1_000_000)
    return [
        ("working.set", lambda: s.working.set("goal", K.WORKING_VALUE)),
        ("working.get", lambda: s.working.get("goal")),
        ("add_step", lambda: s.add_step("search", K.STEP["observation"], reasoning="look")),
        ("record", lambda: s.record("tool_call", {"tool": "search"}, latency_ms=3.0)),
        ("checkpoint save", lambda: s.checkpoint(K.STATE)),
        ("restore latest", lambda: s.restore()),
        ("events(limit=20)", lambda: s.events(limit=20)),
        (f"record_many({K.BATCH})", lambda: s.record_many(K.BATCH_ITEMS)),
        (f"working.update({K.BATCH} keys)", lambda: s.working.update(K.BATCH_VALUES)),
        ("remember", lambda: agent.remember(next(notes))),
        ("recall(k=5)", lambda: agent.recall(next(q), k=5)),
    ]


async def async_ops(mem: AsyncMemory, rng: random.Random) -> list[tuple[str, Any]]:
    agent = mem.agent(K.AGENT)
    s = agent.session("async")
    await s.checkpoint(K.STATE)
    notes = texts(rng)
    q = iter(QUERIES * 1_000_000)
    return [
        ("async working.set", lambda: s.working.set("goal", K.WORKING_VALUE)),
        ("async working.get", lambda: s.working.get("goal")),
        ("async add_step", lambda: s.add_step("search", K.STEP["observation"], reasoning="l")),
        ("async record", lambda: s.record("tool_call", {"tool": "search"}, latency_ms=3.0)),
        ("async checkpoint save", lambda: s.checkpoint(K.STATE)),
        ("async restore latest", lambda: s.restore()),
        ("async remember", lambda: agent.remember(next(notes))),
        ("async recall(k=5)", lambda: agent.recall(next(q), k=5)),
    ]


def one_pass(url: str, ns: str, n: int, rng: random.Random) -> dict[str, dict[str, float]]:
    modes = Modes()
    found: dict[str, dict[str, float]] = {}
    try:
        with Memory.open(url, namespace=ns, embedder=HashEmbedder()) as mem:
            for name, fn in sync_ops(mem, rng):
                found[name] = time_sync(modes, fn, n)

        async def run_async() -> None:
            mem = await AsyncMemory.open(url, namespace=ns, embedder=HashEmbedder())
            async with mem:
                for name, fn in await async_ops(mem, rng):
                    found[name] = await time_async(modes, fn, n)

        asyncio.run(run_async())
    finally:
        modes.close()
    return found


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def cell(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def report(passes: list[dict[str, dict[str, float]]], n: int, loads: list[str]) -> str:
    lines = [
        f"telemetry cost per operation: p50 ratios to mode a (instrumentation out), median "
        f"(min-max) of {len(passes)} passes, {n} calls per mode, operation and pass",
        f"load average at start/end of each pass: {' | '.join(loads)}",
        "",
        "| operation | a: out, p50 µs | b/a: API only | c/a: SDK, no-op export | "
        "d/a: SDK, in memory |",
        "|---|---:|---:|---:|---:|",
    ]
    for op in passes[0]:
        got = [p[op] for p in passes]
        a_us = statistics.median(g["a_us"] for g in got)
        lines.append(
            f"| {op} | {a_us:.1f} | " + " | ".join(cell([g[m] for g in got]) for m in "bcd") + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="a Redis URL; without it a local server is started")
    p.add_argument("--n", type=int, default=600, help="timed calls per mode, operation, pass")
    p.add_argument("--passes", type=int, default=5)
    p.add_argument("--markdown", type=Path, help="also write the table here")
    args = p.parse_args(argv)
    rng = random.Random(12)
    tmp = tempfile.TemporaryDirectory(prefix="aether-bench-")
    server = None
    url = args.url
    passes: list[dict[str, dict[str, float]]] = []
    loads: list[str] = []
    try:
        if url is None:
            from aether_memory.server.local import RedisProcess

            server = RedisProcess(Path(tmp.name), modules=True)
            server.start()
            url = server.url
        for i in range(args.passes):
            ns = K.fresh_namespace()
            start = load()
            try:
                passes.append(one_pass(url, ns, args.n, rng))
            finally:
                K.cleanup(url, ns)
            loads.append(f"{start} / {load()}")
            print(f"pass {i + 1} done (load {load()})", file=sys.stderr, flush=True)
    finally:
        if server is not None:
            server.stop()
        tmp.cleanup()
    table = report(passes, args.n, loads)
    print(table)
    if args.markdown is not None:
        args.markdown.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
