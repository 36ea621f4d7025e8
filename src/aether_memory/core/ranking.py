"""How recall ranks: fuse vector similarity and text relevance, then blend recency and
importance. Pure functions; the weights are chosen on REALTALK's dev half, checked on `eval/`."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

DAY_MS = 86_400_000
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class RankingWeights:
    """Weights of the final score.

    Attributes:
        vector: weight of cosine similarity in the fused relevance.
        text: weight of BM25 relevance (normalised to the best text hit) in it.
        exact: bonus for containing the query's codes and numbers (``PR #2317``,
            ``SUP-4471``, ``0042``) verbatim, which neither vectors nor BM25 over a whole
            question weigh enough.
        recency: share of the final score given to recency (half-life decay).
        importance: share of the final score given to the memory's importance.
        half_life_days: age at which recency counts half.
        fusion: ``blend`` (normalised scores) or ``rrf`` (reciprocal ranks).
        rrf_k: the constant of reciprocal-rank fusion.
        coverage: text relevance counts in proportion to the share of the query's terms a
            memory contains, raised to this power (0: not at all), so one common word
            shared with the query weighs little however it ranks.
    """

    # Chosen on the REALTALK dev conversations under the constraint of not losing the
    # project's own set (docs/evaluation.md): BM25 alone beats vectors on real dialogue, but
    # text-heavy reciprocal-rank fusion lost 0.15 recall@5 on the own set's paraphrases. A
    # blend whose text share is gated by query-term coverage kept both.
    vector: float = 0.7
    text: float = 0.3
    exact: float = 0.5
    recency: float = 0.1
    importance: float = 0.05
    half_life_days: float = 30.0
    fusion: str = "blend"
    rrf_k: int = 60
    coverage: float = 1.0


@dataclass(frozen=True, slots=True)
class Scored:
    """The components and final score of one candidate."""

    id: str
    score: float
    vector: float
    text: float
    exact: float
    recency: float
    importance: float


def identifiers(terms: Sequence[str]) -> list[str]:
    """The query terms that are codes or numbers: they must match exactly to count."""
    return [t for t in terms if any(c.isdigit() for c in t)]


def tokens(text: str) -> list[str]:
    """The lower-cased words of `text`, as recall's text signals see them."""
    return _WORD.findall(text.lower())


def exact_share(codes: Sequence[str], words: Sequence[str]) -> float:
    """Share of `codes` found among `words` (0 when there are none)."""
    if not codes:
        return 0.0
    present = set(words)
    return sum(1 for c in codes if c in present) / len(codes)


def cosine(query: bytes, stored: bytes | None) -> float | None:
    """Cosine similarity of two float32 vectors given as bytes (None when `stored` is, or
    has another length)."""
    return cosines(query, [stored])[0]


def cosines(query: bytes, stored: Sequence[bytes | None]) -> list[float | None]:
    """`cosine` of `query` with each of `stored`, in one matrix product."""
    import numpy as np  # here only: importing the package must not load numpy

    usable = [(i, b) for i, b in enumerate(stored) if b and len(b) == len(query)]
    out: list[float | None] = [None] * len(stored)
    if not usable:
        return out
    a = np.frombuffer(query, np.float32)
    rows = np.frombuffer(b"".join(b for _, b in usable), np.float32).reshape(len(usable), -1)
    norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(a)
    for (i, _), dot, norm in zip(usable, (rows @ a).tolist(), norms.tolist(), strict=True):
        out[i] = dot / norm if norm else 0.0
    return out


def coverage_share(query: Sequence[str], words: Collection[str]) -> float:
    """Share of the distinct `query` terms found among `words` (both as index terms)."""
    wanted = set(query)
    if not wanted:
        return 0.0
    present = words if isinstance(words, set | frozenset) else set(words)
    return sum(1 for t in wanted if t in present) / len(wanted)


def recency(occurred_at_ms: int, now_ms: int, half_life_days: float) -> float:
    """1.0 now, 0.5 one half-life ago; future dates count as now."""
    age_days = max(0, now_ms - occurred_at_ms) / DAY_MS
    return math.pow(0.5, age_days / half_life_days) if half_life_days > 0 else 1.0


def rank(
    vector_scores: Mapping[str, float],
    text_scores: Mapping[str, float],
    exact: Mapping[str, float],
    occurred_at: Mapping[str, int],
    importance: Mapping[str, float],
    now_ms: int,
    weights: RankingWeights,
    coverage: Mapping[str, float] | None = None,
    limit: int | None = None,
) -> list[Scored]:
    """Rank the union of the vector and text candidates, best first (the best `limit`).

    `vector_scores` are cosine similarities (0..1); `text_scores` are the store's full-text
    scores (BM25); `exact` is each candidate's `exact_share`; `coverage` the share of the
    query's terms each contains (see `RankingWeights.coverage`). A candidate missing from a
    list scores 0 there.
    """
    ids = list(dict.fromkeys([*vector_scores, *text_scores]))
    best_text = max(text_scores.values(), default=0.0)
    relevance_share = 1.0 - weights.recency - weights.importance
    rrf = weights.fusion == "rrf"
    if rrf:
        v_rank = _ranks(vector_scores)
        t_rank = _ranks(text_scores)
        best = (weights.vector + weights.text) / (weights.rrf_k + 1)
    cover = coverage if weights.coverage else None
    total = weights.vector + weights.text
    half_life = weights.half_life_days
    # (-score, id, components): sorted as tuples, so Scored is built for the winners only.
    rows = []
    for id_ in ids:
        v = vector_scores.get(id_, 0.0)
        gate = cover.get(id_, 0.0) ** weights.coverage if cover is not None else 1.0
        t = gate * text_scores.get(id_, 0.0) / best_text if best_text > 0 else 0.0
        if rrf:
            fused = (weights.vector / (weights.rrf_k + v_rank[id_]) if id_ in v_rank else 0.0) + (
                weights.text * gate / (weights.rrf_k + t_rank[id_]) if id_ in t_rank else 0.0
            )
            fused /= best
        else:
            fused = (weights.vector * v + weights.text * t) / total if total else 0.0
        r = recency(occurred_at.get(id_, now_ms), now_ms, half_life)
        imp = importance.get(id_, 0.5)
        e = exact.get(id_, 0.0)
        score = (
            relevance_share * fused
            + weights.exact * e
            + weights.recency * r
            + weights.importance * imp
        )
        rows.append((-score, id_, v, t, e, r, imp))
    # Ties go to the smaller id: the same memories rank the same whatever order a store
    # returned them in (an imported copy of a namespace is indexed in another order).
    rows.sort(key=lambda row: (row[0], row[1]))
    return [Scored(i, -neg, v, t, e, r, imp) for neg, i, v, t, e, r, imp in rows[:limit]]


def _ranks(scores: Mapping[str, float]) -> dict[str, int]:
    ordered = sorted(scores, key=lambda k: (-scores[k], k))  # ties: as in `rank`
    return {id_: i + 1 for i, id_ in enumerate(ordered)}
