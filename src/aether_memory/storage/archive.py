"""The archive (cold tier) port: where long-term memories go when they leave the hot store.

One small blocking protocol; the async client calls it from a worker thread. Every write is an
upsert keyed by (namespace, memory id), so the sync service can repeat any batch it is not sure
finished; every read names its namespace, and no call reaches another one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol

from aether_memory.core.ranking import RankingWeights
from aether_memory.storage.rows import Row

__all__ = ["Archive", "ArchiveMatch", "Archived", "fuse"]


class Archived(NamedTuple):
    """A long-term memory in the archive: its id, its hot row exactly as the store returned
    it (embedding included) and when it was archived (ms)."""

    id: str
    row: Row
    archived_at: int


class ArchiveMatch(NamedTuple):
    """One memory an archive search found: its cosine `similarity` to the query vector (0
    without a vector), its full-text `relevance` (the archive's own score, higher is better;
    None when only the vector channel found it) and the fused `score` ranking orders by
    (filled in by the lifecycle, 0 as an archive returns it)."""

    id: str
    similarity: float
    relevance: float | None
    score: float = 0.0


class Archive(Protocol):
    """A cold tier for long-term memories (see `aether_memory.backends.archive`)."""

    @property
    def description(self) -> str:
        """Where it is, without credentials (for status and logs)."""
        ...

    def setup(self, dims: int) -> None:
        """Create the tables and indexes for vectors of `dims` floats (idempotent)."""
        ...

    def put(self, ns: str, memories: Sequence[Archived]) -> None:
        """Store memories in one transaction, replacing any with the same id."""
        ...

    def get(self, ns: str, ids: Sequence[str]) -> list[Archived | None]:
        """The archived memories with these ids (None where there is none)."""
        ...

    def contains(self, ns: str, ids: Sequence[str]) -> set[str]:
        """Which of `ids` the archive holds."""
        ...

    def delete(self, ns: str, ids: Sequence[str]) -> int:
        """Remove memories; returns how many there were."""
        ...

    def search(self, ns: str, vector: bytes, terms: Sequence[str], n: int) -> list[ArchiveMatch]:
        """Both channels of a hybrid search: the `n` archived memories nearest to `vector`
        (float32 bytes), and the `n` whose text best matches any of `terms` (the words of
        `core.query.text_terms`; the archive escapes them), each with both scores."""
        ...

    def count(self, ns: str) -> int:
        """How many memories the namespace has in the archive."""
        ...

    def erase(self, ns: str) -> int:
        """Remove every memory of the namespace; returns how many there were."""
        ...

    def close(self) -> None:
        """Release connections (idempotent)."""
        ...


def fuse(
    found: Iterable[ArchiveMatch], weights: RankingWeights | None = None
) -> list[ArchiveMatch]:
    """An archive's two channels as one list, best first: similarity and text relevance
    (normalised to the best text match) blended with hot recall's weights (ties: id)."""
    w = weights or RankingWeights()
    found = list(found)
    best = max((m.relevance or 0.0 for m in found), default=0.0)
    total = w.vector + w.text
    out = []
    for m in found:
        t = (m.relevance or 0.0) / best if best > 0 else 0.0
        score = (w.vector * max(0.0, m.similarity) + w.text * t) / total if total else 0.0
        out.append(m._replace(score=score))
    out.sort(key=lambda m: (-m.score, m.id))
    return out
