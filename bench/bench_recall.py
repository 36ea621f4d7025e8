"""Long-term memory benchmark: ingest rate, recall latency, HNSW quality and memory at scale.

What it measures (SPEC §4 and §8), on its own local server(s), in a fresh namespace per size:

1. ingest: memories/s through ``agent.remember_many`` (batches of 256) and single
   ``agent.remember``, with embedding excluded — a `PrecomputedEmbedder` hands out vectors
   prepared in advance — next to the real MiniLM embedder's texts/s (one text per call and
   batched), which is what a model would add;
2. recall latency p50/p95 of ``agent.recall(query, k=10)`` (query embedding excluded the same
   way) against raw redis-py on the same query vectors: the KNN alone (FT.SEARCH, or VSIM on a
   plain Redis) as the floor, and the same commands the library sends (its search round trip
   and its touch round trip) without the library's Python;
3. quality: the share of the exact top 10 (numpy over the stored vectors) that the index's KNN
   finds at EF_RUNTIME=100 (the library's), 60 and 10 (the engine's default), and that the
   library's vector candidates (the KNN 20 that `recall` fuses at k=10) contain;
4. memory: INFO used_memory before/after the ingest and the index sizes FT.INFO reports
   (MEMORY USAGE of the vector set on a plain Redis), scaled to 100k memories.

Data, synthetic by default (fixed seed): "embedding-like" unit float32 vectors — 1000 cluster
centres around a shared direction, plus gaussian noise — and unique sentences from a word list
with topic words per cluster, so BM25 has text to index. Queries are noisy copies of stored
vectors with a few words of their sentence. Library and raw calls alternate in chunks so the
ratios share the machine's state. With ``--plain`` the same runs on a Redis without modules
(the vector set path: VADD / VSIM) follow.

With ``--data real`` the memories are real text, embedded by the default embedder (MiniLM):
REALTALK's conversation turns (``speaker: text``, as `add_messages` stores them; the data
from ``../shared/eval/realtalk``, see eval/realtalk.py) and, to reach the size, the docstring
paragraphs of the Python installation (the standard library and the installed packages,
sorted then shuffled with the seed); the queries are REALTALK's questions. HNSW finds the
exact neighbours of such vectors less often than of the synthetic ones. Their embeddings are
cached under the system temp dir (the first run at 100k embeds for ~5 minutes).

Run:
    python bench/bench_recall.py                          # 10k and 100k, Query Engine
    python bench/bench_recall.py --sizes 10000 --queries 200 --plain --markdown /tmp/recall.md
    python bench/bench_recall.py --data real --sizes 100000 --queries 300
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import math
import os
import platform
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import redis
import redis.asyncio as aredis
from redis.utils import HIREDIS_AVAILABLE
from timing import no_gc

from aether_memory import AsyncMemory, Memory
from aether_memory.backends.redis._async.longterm import (
    EF_RUNTIME,
    FETCH_TOUCH,
    FIELDS,
    FILTER_FIELDS,
    INDEX_VERSION,
    RANKING_FIELDS,
    TEXT_BUDGET,
    _term_id,
)
from aether_memory.backends.redis._sync import longterm as sync_longterm
from aether_memory.core import keys
from aether_memory.core import text as lexical
from aether_memory.core.query import Filters, text_terms

DIMS = 384
BATCH = 256
K = 10
CANDIDATES = 20  # what `recall` asks for at k=10: max(2k, 20)
PLAIN_WIDE = CANDIDATES  # what the plain path asks VSIM for when nothing is filtered
EF_LOW = 10  # the Query Engine's default EF_RUNTIME
EF_MID = 60  # what a lower EF_RUNTIME would save time for, and lose
BUDGETS = (TEXT_BUDGET, 2000, 1000, 500)  # full-text budgets the real-text study compares
CLUSTERS = 1000
SHARED = 0.4  # weight of the direction all vectors share (unrelated texts ≈ 0.14 cosine)
DOC_NOISE = 0.8  # norm of a memory's noise around its centre (same cluster ≈ 0.6 cosine)
QUERY_NOISE = 0.5  # norm of a query's noise around the memory it copies
SEED = 7
ROOT = Path(__file__).resolve().parent.parent
CHUNK = 20  # calls per side before switching to the next side
AGENT = "bench"
MINILM_TEXTS = 500
P95_TARGET_MS = 2.0
QUALITY_TARGET = 0.95

_VOCABULARY = (
    "user prefers dark mode deploy failed database migration timed out upgrade allergy "
    "meeting tomorrow noon team quarterly roadmap customer asked refund invoice number shipped "
    "late key rotated staging cluster office likes short answers never schedule calls friday "
    "release notes budget approved vendor contract renewal laptop broken printer network "
    "outage backup restored password reset ticket escalated manager travel booked hotel "
    "flight delayed conference talk slides review feedback design mockup sprint planning "
    "retro velocity bug fixed regression test flaky pipeline green merged branch hotfix "
    "customer churn pricing page signup funnel metrics dashboard alert paged oncall weekend"
)
_CONSONANTS = "bcdfghjklmnprstvz"
_VOWELS = "aeiou"


# -- data --------------------------------------------------------------------------------------
@dataclass
class Corpus:
    """Memories and queries: texts and the vectors an embedder would have made of them."""

    texts: list[str]
    vectors: np.ndarray  # (n, DIMS) float32, unit rows
    query_texts: list[str]
    query_vectors: np.ndarray  # (q, DIMS) float32, unit rows
    # Real text only: per question, its conversation's number and the texts of the turns
    # that answer it (REALTALK's labels).
    evidence: dict[str, tuple[int, frozenset[str]]] = field(default_factory=dict)


def unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return (rows / np.clip(norms, 1e-12, None)).astype(np.float32)


def gaussian(rng: np.random.Generator, shape: tuple[int, ...], norm: float) -> np.ndarray:
    """Gaussian noise whose rows have about the given length."""
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(norm / math.sqrt(DIMS))


def topic_words(rng: np.random.Generator, count: int) -> list[list[str]]:
    """Four made-up words per cluster ("kabeto"), which BM25 can tell apart."""

    def word() -> str:
        return "".join(
            _CONSONANTS[rng.integers(len(_CONSONANTS))] + _VOWELS[rng.integers(len(_VOWELS))]
            for _ in range(3)
        )

    return [[word() for _ in range(4)] for _ in range(count)]


def sentences(clusters: np.ndarray, rng: np.random.Generator) -> list[str]:
    """One unique sentence per memory: two topic words of its cluster and 8-14 common words."""
    topics = topic_words(rng, CLUSTERS)
    common = _VOCABULARY.split()
    seen: set[str] = set()
    out = []
    for cluster in clusters:
        while True:
            words = list(rng.choice(topics[cluster], 2, replace=False))
            words += list(rng.choice(common, int(rng.integers(8, 15))))
            rng.shuffle(words)
            text = " ".join(words)
            if text not in seen:
                break
        seen.add(text)
        out.append(text)
    return out


def query_texts(texts: list[str], picks: np.ndarray, rng: np.random.Generator) -> list[str]:
    """A few words of each picked memory's sentence, unique across queries."""
    seen: set[str] = set()
    out = []
    for index in picks:
        words = texts[index].split()
        count = 4
        while True:
            query = " ".join(rng.choice(words, min(count, len(words)), replace=False))
            if query not in seen:
                break
            count += 1
        seen.add(query)
        out.append(query)
    return out


def make_corpus(n: int, queries: int, seed: int = SEED) -> Corpus:
    rng = np.random.default_rng(seed)
    shared = unit(rng.standard_normal(DIMS, dtype=np.float32))
    centres = unit(SHARED * shared + unit(rng.standard_normal((CLUSTERS, DIMS), np.float32)))
    clusters = rng.integers(0, CLUSTERS, n)
    vectors = unit(centres[clusters] + gaussian(rng, (n, DIMS), DOC_NOISE))
    texts = sentences(clusters, rng)
    picks = rng.choice(n, queries, replace=False)
    query_vectors = unit(vectors[picks] + gaussian(rng, (queries, DIMS), QUERY_NOISE))
    return Corpus(texts, vectors, query_texts(texts, picks, rng), query_vectors)


def docstring_paragraphs() -> list[str]:
    """Every docstring paragraph (40-600 characters, whitespace joined) of the Python
    installation's modules: the standard library and the installed packages."""
    roots = {Path(sysconfig.get_paths()[name]) for name in ("stdlib", "purelib")}
    found: set[str] = set()
    for path in sorted(p for root in roots for p in root.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                for paragraph in (ast.get_docstring(node) or "").split("\n\n"):
                    line = " ".join(paragraph.split())
                    if 40 <= len(line) <= 600:
                        found.add(line)
    return sorted(found)


def real_corpus(n: int, queries: int, seed: int = SEED) -> Corpus:
    """`n` memories of real text and `queries` of REALTALK's questions, embedded by the
    default embedder (see the module's docstring)."""
    sys.path.insert(0, str(ROOT / "eval"))
    import realtalk

    convs, _ = realtalk.load(realtalk.DEFAULT_DATA)
    if not convs:
        raise SystemExit(f"--data real needs REALTALK in {realtalk.DEFAULT_DATA}")
    rng = np.random.default_rng(seed)
    turns = list(dict.fromkeys(f"{t.speaker}: {t.text}" for c in convs for t in c.turns))
    texts = turns[:n]
    if len(texts) < n:
        progress("reading the docstrings of the Python installation ...")
        filler = [t for t in docstring_paragraphs() if t not in set(turns)]
        rng.shuffle(filler)
        texts += filler[: n - len(texts)]
    if len(texts) < n:
        raise SystemExit(f"only {len(texts):,} real texts found, fewer than {n:,}")
    evidence = {}
    for c in convs:
        said = {t.id: f"{t.speaker}: {t.text}" for t in c.turns}
        for q in c.questions:
            evidence.setdefault(q.text, (c.number, frozenset(said[e] for e in q.evidence)))
    asked = sorted(evidence)
    picked = [asked[i] for i in sorted(rng.choice(len(asked), min(queries, len(asked)), False))]
    from aether_memory.backends.embedders import default_embedder

    folder = Path(tempfile.gettempdir()) / "aether-bench-recall"
    cache = realtalk.DiskCache(folder, default_embedder())
    progress(f"embedding {n:,} texts (cached after the first run) ...")
    vectors, queried = unit(cache.get(texts)), unit(cache.get(picked, "query"))
    return Corpus(texts, vectors, picked, queried, {q: evidence[q] for q in picked})


class PrecomputedEmbedder:
    """An `Embedder` whose vectors were made in advance: embedding costs a dict lookup."""

    model = "bench-precomputed"
    dims = DIMS

    def __init__(self, corpus: Corpus) -> None:
        self.table: dict[str, np.ndarray] = dict(zip(corpus.texts, corpus.vectors, strict=True))
        self.table.update(zip(corpus.query_texts, corpus.query_vectors, strict=True))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.table[text] for text in texts])

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)

    def cached(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        """Like `CachedEmbedder.cached`: every vector is known, so no worker-thread hop."""
        return self.embed(texts)


def exact_top(corpus: Corpus, ids: list[str]) -> list[set[str]]:
    """The exact top K memory ids of each query (cosine = dot product of unit rows)."""
    sims = corpus.query_vectors @ corpus.vectors.T
    top = np.argpartition(-sims, K, axis=1)[:, :K]
    return [{ids[i] for i in row} for row in top]


# -- timing ------------------------------------------------------------------------------------


def pct(samples: list[int], q: float) -> float:
    """The q-quantile in ms (nearest rank) of samples in ns."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


Op = Callable[[int], Awaitable[Any]]  # query index -> one call


async def compare(ops: dict[str, Op], queries: int, passes: int) -> dict[str, list[int]]:
    """Latencies (ns) of each op over every query, `passes` times, in rotating chunks."""
    names = list(ops)
    for name in names:  # warm-up
        for i in range(min(CHUNK, queries)):
            await ops[name](i)
    samples: dict[str, list[int]] = {name: [] for name in names}
    clock = time.perf_counter_ns
    turn = 0
    with no_gc():
        for _ in range(passes):
            for start in range(0, queries, CHUNK):
                turn += 1
                for name in names[turn % len(names) :] + names[: turn % len(names)]:
                    op, out = ops[name], samples[name]
                    for i in range(start, min(start + CHUNK, queries)):
                        t0 = clock()
                        await op(i)
                        out.append(clock() - t0)
    return samples


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the embedder ------------------------------------------------------------------------------
@dataclass
class EmbedderRates:
    """Texts/s of the real MiniLM embedder and of the precomputed one the bench uses."""

    single: float | None
    batched: float | None
    lookup: float
    note: str = ""


def minilm_rates(texts: list[str]) -> tuple[float | None, float | None, str]:
    """MiniLM's texts/s one text per call and all in one call (after its lazy load)."""
    from aether_memory.backends.embedders import embedder_from_name

    try:
        embedder = embedder_from_name("minilm")
        embedder.embed(["warm-up"])
    except Exception as exc:  # missing model package: report, don't fail the run
        return None, None, f"MiniLM unavailable: {exc}"
    t0 = time.perf_counter()
    for text in texts:
        embedder.embed([text])
    single = len(texts) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    embedder.embed(texts)
    batched = len(texts) / (time.perf_counter() - t0)
    return single, batched, ""


def embedder_rates() -> EmbedderRates:
    corpus = make_corpus(MINILM_TEXTS, 1, seed=SEED + 1)
    progress(f"MiniLM: embedding {MINILM_TEXTS} texts one at a time, then batched ...")
    single, batched, note = minilm_rates(corpus.texts)
    lookup = PrecomputedEmbedder(corpus)
    t0 = time.perf_counter()
    for text in corpus.texts:
        lookup.embed([text])
    rate = len(corpus.texts) / (time.perf_counter() - t0)
    return EmbedderRates(single, batched, rate, note)


# -- one size on one server --------------------------------------------------------------------
@dataclass
class Result:
    """Everything measured for one backend at one size."""

    backend: str
    size: int
    bulk_rate: float = 0.0
    single_rate: float = 0.0
    singles: int = 0
    not_created: int = 0
    latency: dict[str, list[int]] = field(default_factory=dict)
    quality: dict[str, float] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)
    budgets: dict[int, dict[str, float]] = field(default_factory=dict)


class Run:
    """One namespace filled with `size` memories on one server, and the measurements on it."""

    def __init__(self, url: str, plain: bool, corpus: Corpus, queries: int, passes: int):
        self.url = url
        self.plain = plain
        self.corpus = corpus
        self.queries = queries
        self.passes = passes
        self.ns = f"bench-{uuid.uuid4().hex[:10]}"
        self.index = keys.memory_index(self.ns, INDEX_VERSION)
        self.vset = keys.vectors(self.ns)
        self.qvec = [v.tobytes() for v in corpus.query_vectors]
        self.ids: list[str] = []
        self.terms: list[Sequence[str]] = []  # per query: the words its text query sends
        self.words: list[Sequence[str]] = []  # per query: all its words (their counts are read)
        self.result = Result("plain (vector set)" if plain else "Query Engine", len(corpus.texts))
        self.r: aredis.Redis = aredis.Redis.from_url(url, protocol=3)
        self.admin = redis.Redis.from_url(url)

    async def measure(self) -> Result:
        mem = await AsyncMemory.open(
            self.url, namespace=self.ns, embedder=PrecomputedEmbedder(self.corpus)
        )
        try:
            agent = mem.agent(AGENT)
            before = int(self.admin.info("memory")["used_memory"])
            await self.ingest(agent)
            self.memory(before)
            self.result.quality = await self.quality()
            if not self.plain:  # the words the library's text query keeps (its own choice)
                store = mem.longterm.port
                self.words = [text_terms(q) for q in self.corpus.query_texts]
                self.terms = [
                    await store._affordable(self.ns, w, _term_ids(w)) if w else []
                    for w in self.words
                ]
            await self.latency(mem)
            if self.corpus.evidence and not self.plain:
                self.result.budgets = self.budget_study()
            after = await self.quality(only_default=True)
            self.result.quality[f"EF {EF_RUNTIME} after"] = after[f"EF {EF_RUNTIME}"]
        finally:
            await mem.aclose()
            await self.r.aclose()
            self.drop()
            self.admin.close()
        return self.result

    # -- ingest ------------------------------------------------------------------------------
    async def ingest(self, agent: Any) -> None:
        texts = self.corpus.texts
        singles = min(1000, max(1, len(texts) // 10))
        bulk = len(texts) - singles
        label = f"[{self.result.backend} {len(texts):,}]"
        elapsed, last = 0.0, time.perf_counter()
        for start in range(0, bulk, BATCH):
            t0 = time.perf_counter()
            records = await agent.remember_many(texts[start : min(start + BATCH, bulk)])
            elapsed += time.perf_counter() - t0
            self.keep(records)
            if time.perf_counter() - last > 10:
                last = time.perf_counter()
                done = len(self.ids)
                progress(f"{label} ingest {done:,}/{len(texts):,} ({done / elapsed:,.0f}/s)")
        self.result.bulk_rate = bulk / elapsed
        t0 = time.perf_counter()
        for text in texts[bulk:]:
            self.keep([await agent.remember(text)])
        self.result.single_rate = singles / (time.perf_counter() - t0)
        self.result.singles = singles
        progress(f"{label} ingested: {self.result.bulk_rate:,.0f}/s batched")

    def keep(self, records: Sequence[Any]) -> None:
        self.ids += [record.id for record in records]
        self.result.not_created += sum(record.status != "created" for record in records)

    # -- memory ------------------------------------------------------------------------------
    def memory(self, before: int) -> None:
        after = int(self.admin.info("memory")["used_memory"])
        mib = 2**20
        out = {"used_memory_mb": (after - before) / mib}
        if self.plain:
            usage = self.admin.memory_usage(self.vset, samples=0) or 0
            out["vector_index_sz_mb"] = usage / mib
        else:
            info = self.admin.execute_command("FT.INFO", self.index)
            for name in (
                "vector_index_sz_mb", "inverted_sz_mb", "offset_vectors_sz_mb",
                "doc_table_size_mb", "key_table_size_mb", "tag_overhead_sz_mb",
                "text_overhead_sz_mb", "total_index_memory_sz_mb",
            ):  # fmt: skip
                out[name] = float(info.get(name.encode(), 0.0))
        self.result.memory = out

    # -- quality -----------------------------------------------------------------------------
    async def quality(self, only_default: bool = False) -> dict[str, float]:
        """Share of the exact top K that each way of searching the index finds."""
        progress(f"[{self.result.backend} {self.result.size:,}] recall@{K} against exact ...")
        exact = exact_top(self.corpus, self.ids)
        found = {f"EF {EF_RUNTIME}": [await self.nearest(v, K, EF_RUNTIME) for v in self.qvec]}
        if not only_default:
            for ef in (EF_MID, EF_LOW):
                found[f"EF {ef}"] = [await self.nearest(v, K, ef) for v in self.qvec]
            found["candidates"] = [await self.candidates(v) for v in self.qvec]
            if self.plain:
                found["VSIM default EF"] = [await self.nearest(v, K, None) for v in self.qvec]
        return {
            name: sum(len(got & want) for got, want in zip(lists, exact, strict=True))
            / (K * len(exact))
            for name, lists in found.items()
        }

    async def nearest(self, vector: bytes, k: int, ef: int | None) -> set[str]:
        """The ids the index returns for a plain KNN of `k` at exploration factor `ef`."""
        if self.plain:
            extra = [] if ef is None else ["EF", ef]
            reply = await self.r.execute_command(
                "VSIM", self.vset, "FP32", vector, "COUNT", k, *extra, "WITHSCORES"
            )
            return {_text(m) for m in reply}
        reply = await self.knn(vector, k, ef or EF_RUNTIME, ("dist",))
        return set(_doc_ids(reply))

    async def candidates(self, vector: bytes) -> set[str]:
        """The vector candidates `recall` fuses: its KNN, or the first of its VSIM (CANDIDATES)."""
        if self.plain:
            reply = await self.r.execute_command(
                "VSIM", self.vset, "FP32", vector, "COUNT", PLAIN_WIDE, "WITHSCORES"
            )
            return {_text(m) for m in list(reply)[:CANDIDATES]}
        reply = await self.knn(vector, CANDIDATES, EF_RUNTIME, ("dist",))
        return set(_doc_ids(reply))

    def knn(self, vector: bytes, k: int, ef: int, fields: Sequence[str]) -> Awaitable[Any]:
        return self.r.execute_command(*self.knn_args(vector, k, ef, fields))

    def knn_args(self, vector: bytes, k: int, ef: int, fields: Sequence[str]) -> list[Any]:
        """The library's KNN query (no filter), as `AsyncRedisLongTerm._knn` builds it."""
        query = f"(*)=>[KNN {k} @embedding $vec EF_RUNTIME {ef} AS dist]"
        return [
            "FT.SEARCH", self.index, query, "PARAMS", 2, "vec", vector, "SORTBY", "dist",
            "RETURN", len(fields), *fields, "LIMIT", 0, k, "DIALECT", 2,
        ]  # fmt: skip

    # -- latency -----------------------------------------------------------------------------
    async def latency(self, mem: AsyncMemory) -> None:
        progress(f"[{self.result.backend} {self.result.size:,}] recall latency ...")
        texts = self.corpus.query_texts
        agent = mem.agent(AGENT)

        async def library(i: int) -> Any:
            return await agent.recall(texts[i], k=K)

        async def untouched(i: int) -> Any:  # the internal call without the touch write
            return await mem.longterm.recall(texts[i], K, Filters(), touch=False)

        async def floor(i: int) -> Any:
            if self.plain:
                return await self.r.execute_command(
                    "VSIM", self.vset, "FP32", self.qvec[i], "COUNT", K, "WITHSCORES"
                )
            return await self.knn(self.qvec[i], K, EF_RUNTIME, ("dist",))

        async def search(i: int) -> Any:
            return await self.raw_search(i)

        async def same(i: int) -> Any:
            await self.touch(await self.raw_search(i))

        self.result.latency = await compare(
            {"recall": library, "no touch": untouched, "knn": floor, "search": search,
             "same": same},
            self.queries,
            self.passes,
        )  # fmt: skip
        self.result.latency["sync recall"] = self.sync_latency()

    def budget_study(self) -> dict[int, dict[str, float]]:
        """Real text: how well `Memory.recall(k=10)` finds the turns that answer each
        question among all the memories, and how fast, with each full-text budget (the
        library's constant, set here for the study and put back)."""
        progress(f"[{self.result.backend} {self.result.size:,}] text budgets ...")
        texts, out = self.corpus.query_texts, {}
        with Memory.open(
            self.url, namespace=self.ns, embedder=PrecomputedEmbedder(self.corpus)
        ) as mem:
            agent = mem.agent(AGENT)
            kept = sync_longterm.TEXT_BUDGET
            try:
                for budget in BUDGETS:
                    sync_longterm.TEXT_BUDGET = budget
                    for text in texts[:CHUNK]:  # warm-up
                        agent.recall(text, k=K)
                    samples, found = [], {5: [0.0, 0.0], 10: [0.0, 0.0]}
                    with no_gc():
                        for text in texts:
                            start = time.perf_counter_ns()
                            hits = agent.recall(text, k=K)
                            samples.append(time.perf_counter_ns() - start)
                            number, wanted = self.corpus.evidence[text]
                            got = [h.record.content for h in hits]
                            for k, halves in found.items():
                                halves[number > 5] += len(wanted & set(got[:k])) / len(wanted)
                    dev = sum(self.corpus.evidence[t][0] <= 5 for t in texts)
                    out[budget] = {
                        "p50": pct(samples, 0.5), "p95": pct(samples, 0.95),
                        "r5": sum(found[5]) / len(texts), "r10": sum(found[10]) / len(texts),
                        "r5 dev": found[5][0] / dev, "r5 test": found[5][1] / (len(texts) - dev),
                    }  # fmt: skip
            finally:
                sync_longterm.TEXT_BUDGET = kept
        return out

    def sync_latency(self) -> list[int]:
        """`Memory.recall` (the sync twin, on sync redis-py) over the same queries."""
        texts = self.corpus.query_texts
        samples = []
        with Memory.open(
            self.url, namespace=self.ns, embedder=PrecomputedEmbedder(self.corpus)
        ) as mem:
            agent = mem.agent(AGENT)
            for i in range(min(CHUNK, self.queries)):  # warm-up, as `compare` does
                agent.recall(texts[i], k=K)
            with no_gc():
                for _ in range(self.passes):
                    for i in range(self.queries):
                        start = time.perf_counter_ns()
                        agent.recall(texts[i], k=K)
                        samples.append(time.perf_counter_ns() - start)
        return samples

    async def raw_search(self, i: int) -> list[str]:
        """The library's search round trip by hand: KNN over the ranking fields, the
        namespace's size, and the full-text query (BM25 over the namespace) for the words the
        library keeps of the query (`TEXT_BUDGET`), with the counts of the query's words for
        the next budget; returns the top K ids."""
        if self.plain:
            return await self.raw_plain(i)
        pipe = self.r.pipeline(transaction=False)
        pipe.execute_command(*self.knn_args(self.qvec[i], CANDIDATES, EF_RUNTIME, RANKING_FIELDS))
        pipe.hmget(keys.term_counts(self.ns), ["*", *_term_ids(self.words[i])])
        terms = self.terms[i]
        if terms:
            pipe.execute_command(
                "FT.SEARCH", self.index, Filters().text_query(terms), "SCORER", "BM25STD",
                "WITHSCORES", "RETURN", len(RANKING_FIELDS) + 2, *RANKING_FIELDS, "embedding",
                "superseded_at",
                "LIMIT", 0, CANDIDATES, "DIALECT", 2,
            )  # fmt: skip
        replies = await pipe.execute()
        return _doc_ids(replies[0])[:K]

    async def raw_plain(self, i: int) -> list[str]:
        """The plain path's first round trips: VSIM of the candidates, then their fields."""
        reply = await self.r.execute_command(
            "VSIM", self.vset, "FP32", self.qvec[i], "COUNT", CANDIDATES, "WITHSCORES"
        )
        ids = [_text(m) for m in reply]
        pipe = self.r.pipeline(transaction=False)
        for memory_id in ids:
            pipe.hmget(keys.memory(self.ns, memory_id), [*RANKING_FIELDS, *FILTER_FIELDS])
        await pipe.execute()
        return ids[:K]

    async def touch(self, ids: list[str]) -> None:
        """The second round trip: the winners' records, counted as accessed (the library's
        script)."""
        now = time.time_ns() // 1_000_000
        records = [keys.memory(self.ns, memory_id) for memory_id in ids]
        await self.r.eval(
            FETCH_TOUCH, 2 + len(ids), keys.access_counts(self.ns), keys.last_accessed(self.ns),
            *records, now, len(FIELDS), *FIELDS, *ids,
        )  # fmt: skip

    # -- cleanup -----------------------------------------------------------------------------
    def drop(self) -> None:
        """Delete the namespace (its index and every key) so the next size starts empty."""
        if not self.plain:
            with suppress(redis.ResponseError):
                self.admin.execute_command("FT.DROPINDEX", self.index, "DD")
        batch = list(self.admin.scan_iter(match=keys.namespace_pattern(self.ns), count=1000))
        for start in range(0, len(batch), 1000):
            self.admin.unlink(*batch[start : start + 1000])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _term_ids(words: Sequence[str]) -> list[str]:
    return [_term_id(lexical.stem(w)) for w in words]


def _doc_ids(reply: Any) -> list[str]:
    """Memory ids of an FT.SEARCH reply (RESP3 map), in order."""
    return [_text(row[b"id"]).rsplit(":", 1)[1] for row in reply[b"results"]]


# -- servers -----------------------------------------------------------------------------------
def server_info(url: str) -> str:
    with redis.Redis.from_url(url) as r:
        version = r.info("server")["redis_version"]
        modules = {_text(m[b"name"]): m[b"ver"] for m in r.execute_command("MODULE LIST")}
    search = modules.get("search")
    if search is None:
        return f"redis-server {version} (no Query Engine: vector set path)"
    dotted = f"{search // 10000}.{search // 100 % 100}.{search % 100}"
    return f"redis-server {version}, Query Engine {dotted}"


async def bench_backend(
    plain: bool, sizes: list[int], queries: int, passes: int, servers: list[str], data: str
) -> list[Result]:
    """Start a local server (with or without modules), measure every size, stop it."""
    from aether_memory.server.local import RedisProcess

    with tempfile.TemporaryDirectory(prefix="aether-bench-recall-") as tmp:
        server = RedisProcess(Path(tmp), modules=not plain)
        server.start()
        try:
            servers.append(server_info(server.url))
            results = []
            for size in sizes:
                progress(f"generating {size:,} memories and {queries} queries ...")
                corpus = (real_corpus if data == "real" else make_corpus)(size, queries)
                run = Run(server.url, plain, corpus, len(corpus.query_texts), passes)
                results.append(await run.measure())
            return results
        finally:
            server.stop()


# -- report ------------------------------------------------------------------------------------
def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def mark(ok: bool) -> str:
    return "ok" if ok else "MISS"


def machine_lines(servers: list[str], load_start: tuple[float, ...], data: str) -> list[str]:
    def load(values: Sequence[float]) -> str:
        return ", ".join(f"{x:.2f}" for x in values)

    return [
        f"cpus: {os.cpu_count()}, load average at start: {load(load_start)}, "
        f"at end: {load(os.getloadavg())}",
        f"python {platform.python_version()} ({platform.platform()}), numpy {np.__version__}",
        f"redis-py {redis.__version__}, hiredis {'yes' if HIREDIS_AVAILABLE else 'no'}",
        *servers,
        (
            "data: real text (REALTALK turns, then Python docstrings) and REALTALK's questions, "
            "embedded by MiniLM"
            if data == "real"
            else f"data: synthetic, {DIMS}-d float32, {CLUSTERS} clusters, unit vectors"
        )
        + f"; HNSW M 16, EF_CONSTRUCTION 200, EF_RUNTIME {EF_RUNTIME} (library)",
        f"targets (SPEC §8): recall p95 ≤ {P95_TARGET_MS:g} ms excluding embedding at 100k "
        f"with ≥ {QUALITY_TARGET:.0%} of the exact top {K}; ingest never slower than the "
        "embedder",
    ]


def embedder_table(e: EmbedderRates) -> str:
    def rate(value: float | None) -> str:
        return "n/a" if value is None else f"{value:,.0f}"

    rows = [
        ["MiniLM (int8 ONNX), one text per call", rate(e.single)],
        ["MiniLM (int8 ONNX), one call of 500", rate(e.batched)],
        ["precomputed lookup used below (one per call)", rate(e.lookup)],
    ]
    table = markdown_table(["embedder", "texts/s"], rows)
    return table + (f"\n\n{e.note}" if e.note else "")


def ingest_table(results: list[Result], e: EmbedderRates) -> str:
    rows = []
    for r in results:
        bulk_ok = e.batched is None or r.bulk_rate >= e.batched
        single_ok = e.single is None or r.single_rate >= e.single
        rows.append(
            [
                r.backend,
                f"{r.size:,}",
                f"{r.bulk_rate:,.0f}",
                _ratio(r.bulk_rate, e.batched),
                f"{r.single_rate:,.0f} ({r.singles:,} calls)",
                _ratio(r.single_rate, e.single),
                str(r.not_created),
                f"≥ embedder: {mark(bulk_ok and single_ok)}",
            ]
        )
    head = [
        "backend", "memories", f"remember_many({BATCH}) /s", "x MiniLM batched",
        "remember /s", "x MiniLM single", "not created", "target",
    ]  # fmt: skip
    return markdown_table(head, rows)


def _ratio(value: float, base: float | None) -> str:
    return "n/a" if not base else f"{value / base:.1f}x"


def latency_table(results: list[Result]) -> str:
    rows = []
    for r in results:
        lib, knn, sync = r.latency["recall"], r.latency["knn"], r.latency["sync recall"]
        rows.append(
            [
                r.backend,
                f"{r.size:,}",
                f"{pct(sync, 0.5):.3f}",
                f"{pct(sync, 0.95):.3f}",
                f"{pct(lib, 0.5):.3f}",
                f"{pct(lib, 0.95):.3f}",
                f"{pct(knn, 0.5):.3f}",
                f"{pct(knn, 0.95):.3f}",
                f"{pct(sync, 0.5) / pct(knn, 0.5):.2f}x",
                f"p95 ≤ {P95_TARGET_MS:g} ms: sync {mark(pct(sync, 0.95) <= P95_TARGET_MS)}, "
                f"async {mark(pct(lib, 0.95) <= P95_TARGET_MS)}",
            ]
        )
    head = [
        "backend", "memories", "sync recall p50 ms", "sync recall p95 ms",
        "async recall p50 ms", "async recall p95 ms", "raw KNN p50 ms",
        "raw KNN p95 ms", "sync recall / KNN (p50)", "target",
    ]  # fmt: skip
    return markdown_table(head, rows)


def breakdown_table(results: list[Result]) -> str:
    rows = []
    for r in results:
        p50 = {name: pct(samples, 0.5) for name, samples in r.latency.items()}
        rows.append(
            [
                r.backend,
                f"{r.size:,}",
                f"{p50['recall']:.3f}",
                f"{p50['no touch']:.3f} / {pct(r.latency['no touch'], 0.95):.3f}",
                f"{p50['recall'] - p50['no touch']:.3f}",
                f"{p50['search']:.3f}",
                f"{p50['same'] - p50['search']:.3f}",
                f"{p50['no touch'] - p50['search']:.3f}",
                f"{p50['no touch'] / p50['search']:.2f}x",
            ]
        )
    head = [
        "backend", "memories", "recall", "recall without touch (p50 / p95)",
        "touch (recall - without)", "raw search RT", "raw touch RT", "library Python",
        "without touch / raw search",
    ]  # fmt: skip
    return markdown_table(head, rows)


def quality_table(results: list[Result]) -> str:
    rows = []
    for r in results:
        q = r.quality
        lib = q[f"EF {EF_RUNTIME}"] if not r.backend.startswith("plain") else q["candidates"]
        rows.append(
            [
                r.backend,
                f"{r.size:,}",
                f"{q[f'EF {EF_RUNTIME}']:.1%}",
                f"{q[f'EF {EF_MID}']:.1%}",
                f"{q[f'EF {EF_LOW}']:.1%}",
                f"{q['VSIM default EF']:.1%}" if "VSIM default EF" in q else "—",
                f"{q['candidates']:.1%}",
                f"{q[f'EF {EF_RUNTIME} after']:.1%}",
                f"≥ {QUALITY_TARGET:.0%}: {mark(lib >= QUALITY_TARGET)}",
            ]
        )
    head = [
        "backend", "memories", f"KNN@{K} EF {EF_RUNTIME}", f"KNN@{K} EF {EF_MID}",
        f"KNN@{K} EF {EF_LOW}",
        f"VSIM@{K} default EF", f"recall's {CANDIDATES} candidates ⊇ exact top {K}",
        f"KNN@{K} EF {EF_RUNTIME} after the timed recalls", "target",
    ]  # fmt: skip
    return markdown_table(head, rows)


def budget_table(results: list[Result]) -> str:
    rows = []
    for r in results:
        for budget, b in r.budgets.items():
            name = f"{budget:,}" + (" (library)" if budget == TEXT_BUDGET else "")
            scores = [b[x] for x in ("r5", "r5 dev", "r5 test", "r10")]
            times = [b["p50"], b["p95"]]
            rows.append([f"{r.size:,}", name, *(f"{x:.3f}" for x in scores + times)])
    head = [
        "memories", "text budget (postings)", "recall@5", "recall@5 dev (1-5)",
        "recall@5 test (6-10)", "recall@10", "sync recall p50 ms", "sync recall p95 ms",
    ]  # fmt: skip
    return markdown_table(head, rows)


def memory_table(results: list[Result]) -> str:
    rows = []
    for r in results:
        m = r.memory
        scale = 100_000 / r.size
        other = sum(
            m.get(name, 0.0)
            for name in ("doc_table_size_mb", "key_table_size_mb", "tag_overhead_sz_mb",
                         "text_overhead_sz_mb")
        )  # fmt: skip
        text = m.get("inverted_sz_mb", 0.0) + m.get("offset_vectors_sz_mb", 0.0)
        rows.append(
            [
                r.backend,
                f"{r.size:,}",
                f"{m['used_memory_mb']:,.1f}",
                f"{m['used_memory_mb'] * scale:,.1f}",
                f"{m['used_memory_mb'] * 2**20 / r.size:,.0f}",
                f"{m['vector_index_sz_mb'] * scale:,.1f}",
                f"{text * scale:,.1f}" if not r.backend.startswith("plain") else "—",
                f"{other * scale:,.1f}" if not r.backend.startswith("plain") else "—",
            ]
        )
    head = [
        "backend", "memories", "used_memory Δ MiB", "Δ per 100k MiB", "bytes/memory",
        "vector index per 100k MiB", "text index per 100k MiB", "doc/key/tag tables per 100k MiB",
    ]  # fmt: skip
    return markdown_table(head, rows)


def report(
    info: list[str], e: EmbedderRates, results: list[Result], queries: int, passes: int
) -> str:
    return "\n\n".join(
        [
            "## Long-term memory: ingest, recall latency, HNSW quality, memory",
            "\n".join(f"- {line}" for line in info),
            "### Embedder (what ingest would add with a model)",
            embedder_table(e),
            "### Ingest (embedding excluded: precomputed vectors)",
            ingest_table(results, e),
            f"### Recall latency, k={K} ({queries} queries x {passes} passes; "
            "query embedding excluded)",
            "`recall`: `agent.recall(query, k=10)` (search round trip, ranking, touch round "
            f"trip). `raw KNN`: one FT.SEARCH KNN {K} at EF_RUNTIME {EF_RUNTIME} returning only "
            f"the distance (VSIM COUNT {K} on plain Redis): the floor.",
            latency_table(results),
            "Where a recall's time goes (p50, ms): `recall without touch` is the internal "
            "`longterm.recall(..., touch=False)`; `raw search RT` the library's search "
            f"commands sent by hand (FT.SEARCH KNN {CANDIDATES} returning the ranking fields, "
            "plus the full-text query for the query's words; VSIM COUNT "
            f"{PLAIN_WIDE} then HMGET of each on plain Redis); `raw touch RT` the second "
            "round trip (one script: the winners' records, HINCRBY + HSET of their access "
            "statistics); "
            "`library "
            "Python` is recall without touch minus raw search RT (the embedder call on a "
            "worker thread, reply parsing, decoding, ranking, building the hits).",
            breakdown_table(results),
            f"### Quality: share of the exact top {K} found ({queries} queries)",
            quality_table(results),
            "### Memory",
            memory_table(results),
            *(
                [
                    "### Real text: the answers found among all the memories, per full-text "
                    f"budget ({queries} questions; recall of the "
                    "turns REALTALK labels as the answer, the ten conversations in one "
                    "namespace with the docstrings)",
                    budget_table(results),
                ]
                if any(r.budgets for r in results)
                else []
            ),
        ]
    )


# -- main --------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000", help="memories per run, comma-separated")
    p.add_argument("--queries", type=int, default=200, help="distinct queries per size")
    p.add_argument("--passes", type=int, default=3, help="timed passes over the queries")
    p.add_argument("--plain", action="store_true", help="also run on Redis without modules")
    p.add_argument("--plain-only", action="store_true", help="only the plain Redis runs")
    p.add_argument("--markdown", type=Path, help="also write the report here")
    p.add_argument(
        "--data", choices=("synthetic", "real"), default="synthetic",
        help="synthetic vectors, or real text embedded by MiniLM (see above)",
    )  # fmt: skip
    args = p.parse_args(argv)
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if min(args.sizes) <= args.queries or args.queries < K:
        p.error(f"each size must exceed --queries, and --queries must be ≥ {K}")
    return args


async def run_all(args: argparse.Namespace) -> tuple[list[Result], list[str]]:
    results: list[Result] = []
    servers: list[str] = []
    for plain in ([] if args.plain_only else [False]) + ([True] if args.plain else []):
        results += await bench_backend(
            plain, args.sizes, args.queries, args.passes, servers, args.data
        )
    return results, servers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.plain = args.plain or args.plain_only
    load_start = os.getloadavg()
    rates = embedder_rates()
    results, servers = asyncio.run(run_all(args))
    info = machine_lines(servers, load_start, args.data)
    text = report(info, rates, results, args.queries, args.passes)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
