"""Turn-level retrieval on REALTALK (Lee et al., arXiv:2502.13270; github.com/danny911kr/REALTALK).

    python eval/realtalk.py [--data DIR] [--url URL | --plain | --redis7 BIN | --sqlite]
                            [--embedder minilm|e5-small] [--half dev|test|all] [--explore]

Ten real 21-day messaging conversations; each question lists the turns (``D3:12``) that answer
it. Every conversation goes into its own namespace, every turn through the public
`session.add_messages`, and every question is asked with `recall(k=10)`. Printed per half
(dev = conversations 1-5, where settings are chosen; test = 6-10, held out) and per category:
turn-level recall@1/5/10, hit@5 and MRR@10 of

- BM25 alone: a reference implementation here (Okapi, k1 1.5, b 0.75, Lucene idf, English
  stop words, no stemming) over ``"{speaker}: {text}"``;
- vectors alone: exact cosine over the same texts with the chosen embedder;
- the library's `recall` through the public API (default ranking).

``--explore`` also prints the offline variants the default was chosen from (text enrichment,
stemming, query stop words, fusion weights), computed here over the same turns; ``--fusion``
compares fusion schemes on the dev half and on the project's own set side by side; ``--sweep``
runs the library's own ranking under several weights on the dev half. The data is read from
``--data`` (default ``../shared/eval/realtalk`` from the project root) and never copied;
embeddings are cached in ``--cache`` (default a folder under the system temp dir).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from aether_memory.core.query import QUERY_STOPWORDS as QUESTION_WORDS

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "eval" / "realtalk"
KS = (1, 5, 10)
DEV = range(1, 6)
TEST = range(6, 11)
# Lucene's English stop words (the Query Engine's defaults).
STOP = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their "  # noqa: SIM905
    "then there these they this to was will with".split()
)
_WORD = re.compile(r"\w+")
_ID = re.compile(r"D\d+:\d+")


# -- the data -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Turn:
    id: str  # dia_id, e.g. D3:12
    speaker: str
    text: str
    at: datetime


@dataclass(frozen=True)
class Question:
    text: str
    evidence: frozenset[str]
    category: int


@dataclass(frozen=True)
class Conversation:
    number: int
    name: str
    turns: tuple[Turn, ...]
    questions: tuple[Question, ...]


@dataclass
class Cleaning:
    ids: int = 0  # evidence ids in the files
    repaired: int = 0  # split ("D17:17; D17:8") or stripped ("D20:17.") to match
    dropped: int = 0  # still matching no turn
    no_evidence: int = 0  # questions left without any evidence


def load(folder: Path) -> tuple[list[Conversation], Cleaning]:
    """The ten conversations, evidence ids cleaned (see `Cleaning`), ordered by number."""
    cleaning = Cleaning()
    out = []
    for path in folder.glob("Chat_*.json"):
        raw = json.loads(path.read_text(encoding="utf-8"))
        number = int(path.stem.split("_")[1])
        turns = []
        sessions = sorted(
            (int(k.split("_")[1]), v)
            for k, v in raw.items()
            if re.fullmatch(r"session_\d+", k) and isinstance(v, list)
        )
        for _, session in sessions:
            for t in session:
                text = (t.get("clean_text") or "").strip()
                if text:
                    at = datetime.strptime(t["date_time"], "%d.%m.%Y, %H:%M:%S")
                    turns.append(Turn(t["dia_id"], t["speaker"], text, at.replace(tzinfo=UTC)))
        known = {t.id for t in turns}
        questions = []
        for qa in raw["qa"]:
            evidence: set[str] = set()
            for entry in qa.get("evidence") or ():
                cleaning.ids += 1
                found = _ID.findall(str(entry))
                hits = [e for e in found if e in known]
                if len(hits) != 1 or hits[0] != entry:
                    cleaning.repaired += bool(hits)
                cleaning.dropped += not hits
                evidence.update(hits)
            if not evidence:
                cleaning.no_evidence += 1
                continue
            questions.append(Question(qa["question"], frozenset(evidence), int(qa["category"])))
        out.append(Conversation(number, raw["name"], tuple(turns), tuple(questions)))
    out.sort(key=lambda c: c.number)
    return out, cleaning


# -- metrics ------------------------------------------------------------------------------------
Ranker = Callable[[Conversation, Question], Sequence[str]]


def metrics(results: Iterable[tuple[Question, Sequence[str]]]) -> dict[str, dict[str, float]]:
    """recall@1/5/10, hit@5 and MRR@10, overall ("all") and per category."""
    rows: dict[str, list[list[float]]] = {}
    for q, ranked in results:
        top = list(ranked[:10])
        ev = q.evidence
        first = next((i for i, x in enumerate(top, 1) if x in ev), None)
        row = [len(ev.intersection(top[:k])) / len(ev) for k in KS]
        row += [float(any(x in ev for x in top[:5])), 1 / first if first else 0.0]
        for key in ("all", str(q.category)):
            rows.setdefault(key, []).append(row)
    names = [*(f"r@{k}" for k in KS), "hit@5", "mrr@10"]
    return {
        key: {**dict(zip(names, np.mean(values, axis=0).tolist(), strict=True)), "n": len(values)}
        for key, values in rows.items()
    }


def run(convs: Sequence[Conversation], ranker: Ranker) -> dict[str, dict[str, float]]:
    return metrics((q, ranker(c, q)) for c in convs for q in c.questions)


# -- text and the BM25 reference ----------------------------------------------------------------
def words(text: str, stem: Callable[[list[str]], list[str]] | None = None) -> list[str]:
    out = [w for w in _WORD.findall(text.lower()) if w not in STOP]
    return stem(out) if stem else out


def date_words(at: datetime) -> str:
    return f"{at.day} {at:%B} {at:%b} {at.year} {at:%A}"


TEXTS: dict[str, Callable[[Sequence[Turn], int], str]] = {
    "speaker": lambda ts, i: f"{ts[i].speaker}: {ts[i].text}",
    "text": lambda ts, i: ts[i].text,
    "date+speaker": lambda ts, i: f"{date_words(ts[i].at)} {ts[i].speaker}: {ts[i].text}",
    "speaker+previous": lambda ts, i: (
        f"{ts[i].speaker}: {ts[i].text}" + (f"\n{ts[i - 1].speaker}: {ts[i - 1].text}" if i else "")
    ),
    "date+speaker+previous": lambda ts, i: (
        f"{date_words(ts[i].at)} {ts[i].speaker}: {ts[i].text}"
        + (f"\n{ts[i - 1].speaker}: {ts[i - 1].text}" if i else "")
    ),
}


class BM25:
    """Okapi BM25 with Lucene's idf over tokenised documents (the reference)."""

    def __init__(self, docs: Sequence[list[str]], k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.tf = [Counter(d) for d in docs]
        self.len = np.array([len(d) for d in docs], float)
        self.avg = float(self.len.mean()) or 1.0
        df: Counter[str] = Counter()
        for tf in self.tf:
            df.update(tf.keys())
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.postings: dict[str, list[int]] = {}
        for i, tf in enumerate(self.tf):
            for t in tf:
                self.postings.setdefault(t, []).append(i)

    def scores(self, terms: Sequence[str]) -> dict[int, float]:
        out: dict[int, float] = {}
        for t in dict.fromkeys(terms):
            idf = self.idf.get(t)
            if idf is None:
                continue
            for i in self.postings[t]:
                tf = self.tf[i][t]
                norm = self.k1 * (1 - self.b + self.b * self.len[i] / self.avg)
                out[i] = out.get(i, 0.0) + idf * tf * (self.k1 + 1) / (tf + norm)
        return out


def top(scores: Mapping[int, float], n: int) -> list[int]:
    return sorted(scores, key=lambda i: -scores[i])[:n]


# -- embeddings, cached on disk (the eval embeds each text once across runs) ---------------------
class DiskCache:
    """Vectors of (model, kind, text) kept in one .npy + .json pair per model and kind."""

    def __init__(self, folder: Path, embedder: Any) -> None:
        self.embedder = embedder
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _paths(self, kind: str) -> tuple[Path, Path]:
        stem = hashlib.blake2b(f"{self.embedder.model}|{kind}".encode(), digest_size=8).hexdigest()
        return self.folder / f"{stem}.npy", self.folder / f"{stem}.json"

    def get(self, texts: Sequence[str], kind: str = "doc") -> np.ndarray:
        vec_path, key_path = self._paths(kind)
        keys: list[str] = json.loads(key_path.read_text()) if key_path.exists() else []
        matrix = np.load(vec_path) if vec_path.exists() else np.zeros((0, self.embedder.dims))
        index = {k: i for i, k in enumerate(keys)}
        digests = [hashlib.blake2b(t.encode(), digest_size=16).hexdigest() for t in texts]
        missing = list(dict.fromkeys(d for d in digests if d not in index))
        if missing:
            todo = {d: t for d, t in zip(digests, texts, strict=True) if d in set(missing)}
            embed = self.embedder.embed_query if kind == "query" else self.embedder.embed
            new = []
            batch = list(todo.items())
            for start in range(0, len(batch), 128):
                chunk = batch[start : start + 128]
                new.append(np.asarray(embed([t for _, t in chunk]), np.float32))
            matrix = np.vstack([matrix, *new]).astype(np.float32)
            for d, _ in batch:
                index[d] = len(keys)
                keys.append(d)
            # Written aside, then renamed: a run reading the cache never sees half a file.
            np.save(vec_path.with_suffix(".tmp.npy"), matrix)
            key_path.with_suffix(".tmp").write_text(json.dumps(keys))
            vec_path.with_suffix(".tmp.npy").replace(vec_path)
            key_path.with_suffix(".tmp").replace(key_path)
        return np.asarray(matrix[[index[d] for d in digests]], np.float32)


class CachedModel:
    """An `Embedder` for the library that reads and fills the disk cache."""

    def __init__(self, cache: DiskCache) -> None:
        self._cache = cache
        self.model = cache.embedder.model
        self.dims = cache.embedder.dims
        self.near_duplicate = getattr(cache.embedder, "near_duplicate", 0.95)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._cache.get(list(texts), "doc")

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self._cache.get(list(texts), "query")


# -- offline rankers ----------------------------------------------------------------------------
def bm25_ranker(variant: str = "speaker", stem: Any = None, k1: float = 1.5) -> Ranker:
    built: dict[int, BM25] = {}

    def rank(c: Conversation, q: Question) -> list[str]:
        if c.number not in built:
            docs = [words(TEXTS[variant](c.turns, i), stem) for i in range(len(c.turns))]
            built[c.number] = BM25(docs, k1=k1)
        return [c.turns[i].id for i in top(built[c.number].scores(words(q.text, stem)), 10)]

    return rank


def vector_scores(cache: DiskCache, variant: str) -> Callable[[Conversation, Question], np.ndarray]:
    built: dict[int, np.ndarray] = {}

    def sims(c: Conversation, q: Question) -> np.ndarray:
        if c.number not in built:
            built[c.number] = cache.get([TEXTS[variant](c.turns, i) for i in range(len(c.turns))])
        return built[c.number] @ cache.get([q.text], "query")[0]

    return sims


def vector_ranker(cache: DiskCache, variant: str = "speaker") -> Ranker:
    sims = vector_scores(cache, variant)

    def rank(c: Conversation, q: Question) -> list[str]:
        s = sims(c, q)
        return [c.turns[i].id for i in np.argsort(-s)[:10]]

    return rank


# -- the library --------------------------------------------------------------------------------
def library_ranker(url: str, embedder: Any, convs: Sequence[Conversation]) -> tuple[Ranker, str]:
    """Ingest each conversation through `session.add_messages`; rank with `recall(k=10)`
    (the default ranking; ``rank.weights`` set to `RankingWeights` ranks with those)."""
    from aether_memory import Memory
    from aether_memory.core.query import Filters

    stamp = int(time.time())
    ids: dict[int, dict[str, str]] = {}
    mems: dict[int, Any] = {}
    started = time.perf_counter()
    for c in convs:
        mem = Memory.open(url, namespace=f"realtalk{stamp}c{c.number}", embedder=embedder)
        mems[c.number] = mem
        session = mem.agent("reader").session(f"chat{c.number}")
        mapping: dict[str, str] = {}
        turns = list(c.turns)
        for start in range(0, len(turns), 256):
            chunk = turns[start : start + 256]
            added = session.add_messages(
                [{"speaker": t.speaker, "content": t.text, "at": t.at} for t in chunk]
            )
            for t, message in zip(chunk, added, strict=True):
                mapping[message.memory_id] = t.id
        ids[c.number] = mapping
    ingest = time.perf_counter() - started
    latencies: list[float] = []

    def rank(c: Conversation, q: Question) -> list[str]:
        weights = getattr(rank, "weights", None)
        t0 = time.perf_counter()
        if weights is None:
            hits = mems[c.number].agent("reader").recall(q.text, k=10)
        else:
            hits = mems[c.number].longterm.recall(q.text, 10, Filters(), weights=weights)
        latencies.append(time.perf_counter() - t0)
        return [ids[c.number].get(h.record.id, "") for h in hits]

    rank.latencies = latencies  # type: ignore[attr-defined]
    rank.close = lambda: [m.close() for m in mems.values()]  # type: ignore[attr-defined]
    caps = next(iter(mems.values())).capabilities
    return rank, f"{caps.backend} {caps.server_version}, ingest {ingest:.1f} s"


# -- reporting ----------------------------------------------------------------------------------
NAMES = ("r@1", "r@5", "r@10", "hit@5", "mrr@10")


def table(rows: Mapping[str, Mapping[str, Mapping[str, float]]], title: str) -> str:
    out = [f"#### {title}", "", "| retriever | R@1 | R@5 | R@10 | hit@5 | MRR@10 |",
           "|---|---|---|---|---|---|"]  # fmt: skip
    for name, res in rows.items():
        out.append(f"| {name} | " + " | ".join(f"{res['all'][m]:.3f}" for m in NAMES) + " |")
    cats = sorted(k for k in next(iter(rows.values())) if k != "all")
    first = next(iter(rows.values()))
    out += ["", "recall@5 by category (1 multi-hop, 2 temporal, 3 commonsense):", "",
            "| retriever | " + " | ".join(f"cat {c} (n={int(first[c]['n'])})" for c in cats)
            + " |", "|---|" + "---|" * len(cats)]  # fmt: skip
    for name, res in rows.items():
        out.append(f"| {name} | " + " | ".join(f"{res[c]['r@5']:.3f}" for c in cats) + " |")
    return "\n".join(out)


def explore(convs: Sequence[Conversation], cache: DiskCache) -> None:
    """The variants the default was chosen from, on the dev half only: BM25 over enriched
    texts, stemming, extra query stop words, and weighted fusion with the vectors. Each
    channel's scores are computed once per question, then every fusion is swept over them."""
    import snowballstemmer

    stem = snowballstemmer.stemmer("english").stemWords
    part = [c for c in convs if c.number in DEV]
    questions = [(c, q) for c in part for q in c.questions]
    sims = vector_scores(cache, "speaker")
    vec = [np.argsort(-sims(c, q))[:100].tolist() for c, q in questions]

    def report(name: str, ranked: list[list[int]]) -> None:
        res = metrics(
            (q, [c.turns[i].id for i in r]) for (c, q), r in zip(questions, ranked, strict=True)
        )["all"]
        print(f"  {name:62s} r@5 {res['r@5']:.3f}  r@10 {res['r@10']:.3f}  mrr {res['mrr@10']:.3f}")

    def text_lists(variant: str, stemmer: Any, drop: frozenset[str]) -> list[list[int]]:
        built = {
            c.number: BM25(
                [words(TEXTS[variant](c.turns, i), stemmer) for i in range(len(c.turns))]
            )
            for c in part
        }
        return [
            top(built[c.number].scores([w for w in words(q.text, stemmer) if w not in drop]), 100)
            for c, q in questions
        ]

    print("[dev] vectors alone (MiniLM, speaker: text)")
    report("vectors", vec)
    lists = {}
    for variant in ("speaker", "date+speaker", "speaker+previous", "date+speaker+previous"):
        for stemmed in (False, True):
            for drop_name, drop in (("", frozenset()), (" -question words", QUESTION_WORDS)):
                key = f"bm25 {variant}{' stemmed' if stemmed else ''}{drop_name}"
                lists[key] = text_lists(variant, stem if stemmed else None, drop)
                report(key, lists[key])
    for key, text_ranked in lists.items():
        if "stemmed" not in key:
            continue
        for method in ("rrf", "rrf k=10"):
            k = 10 if method.endswith("10") else 60
            for w in (0.5, 0.6, 0.7, 0.8):
                fused_lists = []
                for t_top, v_top in zip(text_ranked, vec, strict=True):
                    fused: dict[int, float] = {}
                    for r, i in enumerate(t_top, 1):
                        fused[i] = fused.get(i, 0.0) + w / (k + r)
                    for r, i in enumerate(v_top, 1):
                        fused[i] = fused.get(i, 0.0) + (1 - w) / (k + r)
                    fused_lists.append(top(fused, 10))
                report(f"{method} w_text {w}: {key}", fused_lists)
        print(flush=True)


def fusion_study(convs: Sequence[Conversation], cache: DiskCache) -> None:
    """Fusion schemes over the library's candidates (the top 20 of each channel, as recall at
    k=10 takes them), on REALTALK dev and on the project's own set (eval/data), side by side:
    a ranking must win on the first without losing the second."""
    import snowballstemmer

    stem = snowballstemmer.stemmer("english").stemWords
    sets = []
    part = [c for c in convs if c.number in DEV]
    rt = []
    for c in part:
        docs = [words(TEXTS["date+speaker"](c.turns, i), stem) for i in range(len(c.turns))]
        index = BM25(docs, k1=1.2)
        sims = vector_scores(cache, "speaker")
        for q in c.questions:
            terms = [w for w in words(q.text, stem) if w not in QUESTION_WORDS]
            rt.append((q.evidence, [t.id for t in c.turns], docs, index.scores(terms),
                       sims(c, q), terms))  # fmt: skip
    sets.append(("realtalk dev", rt))
    data = ROOT / "eval" / "data"
    memories = [json.loads(line) for line in (data / "memories.jsonl").open()]
    queries = [json.loads(line) for line in (data / "queries.jsonl").open()]
    own = []
    by_agent: dict[str, list[dict[str, Any]]] = {}
    for m in memories:
        by_agent.setdefault(m["agent"], []).append(m)
    built = {}
    for agent, ms in by_agent.items():
        docs = [words(m["content"] + " " + date_words(datetime.fromisoformat(m["occurred_at"])),
                      stem) for m in ms]  # fmt: skip
        built[agent] = (ms, docs, BM25(docs, k1=1.2), cache.get([m["content"] for m in ms]))
    for q in queries:
        agents = [q["agent"]] if q.get("agent") else list(built)
        for agent in agents[:1]:
            ms, docs, index, matrix = built[agent]
            terms = [w for w in words(q["query"], stem) if w not in QUESTION_WORDS]
            sims = matrix @ cache.get([q["query"]], "query")[0]
            own.append((frozenset(q["gold"]), [m["id"] for m in ms], docs,
                        index.scores(terms), sims, terms))  # fmt: skip
    sets.append(("own set", own))

    def score(items: list[Any], fuse: Callable[..., dict[int, float]]) -> tuple[float, float]:
        r5 = mrr = 0.0
        for gold, ids, docs, text, sims, terms in items:
            t_top = top(text, 20)
            v_top = np.argsort(-sims)[:20].tolist()
            fused = fuse(t_top, v_top, text, sims, docs, terms)
            ranked = [ids[i] for i in top(fused, 10)]
            r5 += len(gold.intersection(ranked[:5])) / len(gold)
            first = next((i for i, x in enumerate(ranked, 1) if x in gold), None)
            mrr += 1 / first if first else 0.0
        return r5 / len(items), mrr / len(items)

    def coverage(doc: list[str], terms: list[str]) -> float:
        have = set(doc)
        return sum(t in have for t in set(terms)) / max(1, len(set(terms)))

    def rrf(w: float, k: int = 60, p: float = 0.0) -> Callable[..., dict[int, float]]:
        def fuse(t_top: Any, v_top: Any, text: Any, sims: Any, docs: Any, terms: Any) -> Any:
            out: dict[int, float] = {}
            for r, i in enumerate(t_top, 1):
                gate = coverage(docs[i], terms) ** p if p else 1.0
                out[i] = out.get(i, 0.0) + w * gate / (k + r)
            for r, i in enumerate(v_top, 1):
                out[i] = out.get(i, 0.0) + (1 - w) / (k + r)
            return out

        return fuse

    def blend(w: float, p: float = 0.0) -> Callable[..., dict[int, float]]:
        def fuse(t_top: Any, v_top: Any, text: Any, sims: Any, docs: Any, terms: Any) -> Any:
            best = max(text.values(), default=1.0)
            out = {}
            for i in set(t_top) | set(v_top):
                gate = coverage(docs[i], terms) ** p if p else 1.0
                out[i] = w * gate * text.get(i, 0.0) / best + (1 - w) * float(sims[i])
            return out

        return fuse

    schemes: list[tuple[str, Any]] = []
    for w in (0.5, 0.7, 0.8):
        schemes.append((f"rrf k=60 w_text {w}", rrf(w)))
        schemes.append((f"rrf k=60 w_text {w} coverage^1", rrf(w, p=1.0)))
    for w in (0.05, 0.1, 0.15, 0.2, 0.3, 0.5):
        schemes.append((f"blend w_text {w}", blend(w)))
        for p in (1.0, 2.0, 3.0):
            schemes.append((f"blend w_text {w} coverage^{p}", blend(w, p)))
    for name, fuse in schemes:
        cells = []
        for _, items in sets:
            r5, mrr = score(items, fuse)
            cells.append(f"r@5 {r5:.3f} mrr {mrr:.3f}")
        print(f"  {name:36s} | " + " | ".join(cells), flush=True)


def sweep(convs: Sequence[Conversation], library: Any) -> None:
    """The library's own ranking under several weights, on the dev half."""
    from dataclasses import replace

    from aether_memory.core.ranking import RankingWeights

    part = [c for c in convs if c.number in DEV]
    base = RankingWeights()
    for fusion, k in (("rrf", 60), ("rrf", 10), ("blend", 60)):
        for text in (0.5, 0.6, 0.7, 0.8, 1.0):
            for exact in (0.0, base.exact):
                w = replace(base, vector=1 - text, text=text, fusion=fusion, rrf_k=k, exact=exact)
                library.weights = w
                r = run(part, library)["all"]
                print(
                    f"  library {fusion} k={k} text={text} exact={exact}: r@5 {r['r@5']:.3f}"
                    f" r@10 {r['r@10']:.3f} mrr {r['mrr@10']:.3f}",
                    flush=True,
                )
    library.weights = None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--url")
    parser.add_argument("--plain", action="store_true", help="own Redis without modules")
    parser.add_argument("--redis7", help="own server from this redis-server binary")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file, no server")
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--half", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "aether-eval")
    parser.add_argument("--explore", action="store_true")
    parser.add_argument("--fusion", action="store_true", help="fusion schemes, both sets")
    parser.add_argument("--no-library", action="store_true")
    parser.add_argument("--sweep", action="store_true", help="library weights on dev")
    args = parser.parse_args(argv)

    from aether_memory.backends.embedders import embedder_from_name
    from aether_memory.server.local import RedisProcess

    convs, cleaning = load(args.data)
    chosen = {"dev": DEV, "test": TEST, "all": range(1, 11)}[args.half]
    convs = [c for c in convs if c.number in chosen]
    print(
        f"{len(convs)} conversations, {sum(len(c.turns) for c in convs)} turns, "
        f"{sum(len(c.questions) for c in convs)} questions with evidence; evidence ids (all "
        f"ten): {cleaning.ids}, {cleaning.repaired} repaired, {cleaning.dropped} dropped, "
        f"{cleaning.no_evidence} questions without evidence left out"
    )
    cache = DiskCache(args.cache, embedder_from_name(args.embedder))
    if args.explore:
        explore(convs, cache)
    if args.fusion:
        fusion_study(convs, cache)
    server, url = None, args.url
    if url is None and args.sqlite:
        url = f"sqlite:///{tempfile.mkdtemp()}/realtalk.db"
    if url is None:
        binary = Path(args.redis7) if args.redis7 else None
        server = RedisProcess(
            Path(tempfile.mkdtemp()), modules=not (args.plain or binary), binary=binary
        )
        url = server.start().url
    try:
        library = None
        where = ""
        if not args.no_library:
            library, where = library_ranker(url, CachedModel(cache), convs)
        if args.sweep and library is not None:
            sweep(convs, library)
        for half, part_range in (("dev (1-5)", DEV), ("held-out (6-10)", TEST), ("all", chosen)):
            part = [c for c in convs if c.number in part_range]
            if not part or (half == "all" and args.half != "all"):
                continue
            rows = {
                "BM25 (reference)": run(part, bm25_ranker()),
                f"vectors alone ({cache.embedder.model.split('@')[0]})": run(
                    part, vector_ranker(cache)
                ),
            }
            if library is not None:
                rows["aether-memory recall (default)"] = run(part, library)
            print("\n" + table(rows, f"{half}: {where}"), flush=True)
        if library is not None:
            lat = np.array(library.latencies) * 1000  # type: ignore[attr-defined]
            print(
                f"\nrecall latency incl. query embedding (cached across runs after the first):"
                f" p50 {np.percentile(lat, 50):.2f} ms, p95 {np.percentile(lat, 95):.2f} ms"
            )
            library.close()  # type: ignore[attr-defined]
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
