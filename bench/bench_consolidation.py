"""Consolidation benchmark: the time to consolidate 1,000 memories, on Redis and SQLite.

The memories: `--n` facts and episodes of one agent about `--topics` subjects (a customer's
orders, a service's deploys, a user's tastes...), each a variation of its subject's sentence,
so that consolidation finds a group per subject. They are stored first (not timed, as given: not
deduplicated), with the default embedder (all-MiniLM-L6-v2), in a fresh namespace per round.

Timed, per round and store:
- **dry run**: the scan and the grouping only (reads every record with its vector);
- **run**: everything: scan, grouping, one extractive summary per group (its sentences
  embedded), the summaries embedded, the consolidated memories stored and the sources marked.

Stores alternate within each round; the table gives the median over the rounds.

Run:
    python bench/bench_consolidation.py                   # starts a local Redis with modules
    python bench/bench_consolidation.py --n 1000 --rounds 3 --url redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from aether_memory import Memorable, Memory, Options
from aether_memory.backends.embedders import default_embedder
from aether_memory.client.records import content_hash
from aether_memory.core.embeddings import CachedEmbedder
from aether_memory.core.ids import new_id, now_ms

SUBJECTS = [
    ("the billing service deploy", ["failed", "was rolled back", "timed out", "succeeded late"]),
    ("Ana's order", ["shipped", "was delayed", "arrived damaged", "was refunded"]),
    ("the user's coffee", ["is black", "has no sugar", "is a double espresso", "is decaf"]),
    ("the Lisbon office printer", ["jammed", "ran out of toner", "was repaired", "is offline"]),
    ("the nightly backup", ["finished", "skipped two tables", "ran for an hour", "was verified"]),
]
WHEN = ["on Monday", "on Tuesday", "this morning", "last night", "after lunch", "at noon"]


def corpus(n: int, topics: int, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)  # a private stream: the same corpus every run
    subjects = [(f"{s} #{i}" if i else s, v) for i in range(topics // len(SUBJECTS) + 1)
                for s, v in SUBJECTS][:topics]  # fmt: skip
    out = []
    for i in range(n):
        subject, verbs = subjects[i % len(subjects)]
        kind = "episodic" if i % 2 else "fact"
        out.append((kind, f"{subject.capitalize()} {rng.choice(verbs)} {rng.choice(WHEN)}."))
    return out


def store(mem: Memory, memories: list[tuple[str, str]]) -> None:
    """Store every memory as given: `remember` would merge the near-duplicates and
    corrections a synthetic corpus is full of, and the point is 1,000 memories."""
    lt = mem.longterm
    mem.setup()
    for start in range(0, len(memories), 100):
        chunk = memories[start : start + 100]
        vectors = lt._embed([c for _, c in chunk])
        ts = now_ms()
        rows = []
        for (kind, content), vector in zip(chunk, vectors, strict=True):
            memory_id = new_id()
            digest = content_hash("a", kind, f"{content} {memory_id}")
            _, fields = lt._new("a", Memorable(content, kind), vector, digest, memory_id, ts)
            rows.append((memory_id, fields, None))
        lt.port.put(mem.namespace, rows)


def one(url: str, embedder: CachedEmbedder, memories: list[tuple[str, str]]) -> dict[str, float]:
    namespace = "bc" + uuid.uuid4().hex[:10]
    with Memory.open(url, options=Options(namespace=namespace), embedder=embedder) as mem:
        store(mem, memories)
        started = time.perf_counter()
        dry = mem.consolidate(dry_run=True)
        dry_s = time.perf_counter() - started
        started = time.perf_counter()
        report = mem.consolidate()
        run_s = time.perf_counter() - started
        assert report.clusters == dry.clusters
        mem.erase_namespace()
    return {"dry": dry_s, "run": run_s, "candidates": report.candidates,
            "clusters": report.clusters, "merged": report.consolidated}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a Redis to use (default: start one with the modules)")
    parser.add_argument("--n", type=int, default=1000, help="memories per round")
    parser.add_argument("--topics", type=int, default=50, help="subjects they are about")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-consolidation-"))
    server = None
    url = args.url
    if url is None:
        from aether_memory.server.local import RedisProcess

        server = RedisProcess(folder / "redis", modules=True)
        server.start()
        url = server.url
    stores = {"redis": url, "sqlite": f"sqlite:///{folder}/memory.db"}
    embedder = CachedEmbedder(default_embedder())
    memories = corpus(args.n, args.topics)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in stores}
    try:
        for store in stores.values():  # warm-up: the model loaded, scripts and tables made
            one(store, embedder, memories[:50])
        for _ in range(args.rounds):
            for name, store in stores.items():
                results[name].append(one(store, embedder, memories))
    finally:
        if server is not None:
            server.stop()
    load = os.getloadavg()[0]
    print(f"# consolidation of {args.n} memories about {args.topics} subjects, "
          f"{args.rounds} rounds, all-MiniLM-L6-v2, extractive summaries")  # fmt: skip
    print(f"python {platform.python_version()}, load average {load:.1f} on "
          f"{os.cpu_count()} cores")  # fmt: skip
    print()
    print("| store | candidates | groups | merged | dry run (scan + grouping) | run "
          "| run per 1,000 memories |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, rounds in results.items():
        dry = statistics.median(r["dry"] for r in rounds)
        run = statistics.median(r["run"] for r in rounds)
        last = rounds[-1]
        print(f"| {name} | {last['candidates']:.0f} | {last['clusters']:.0f} | "
              f"{last['merged']:.0f} | {dry:.2f} s | "
              f"{run:.2f} s | {run * 1000 / args.n:.2f} s |")  # fmt: skip


if __name__ == "__main__":
    main()
