"""Grouping related memories for consolidation, and naming a group (pure, no I/O).

`clusters` is greedy and order-stable: each memory joins the closest group whose centre is
within `threshold` (cosine), else starts one. The same memories in the same order always give
the same groups, which is what makes a consolidation run repeatable and resumable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aether_memory.core.errors import InvalidInput

if TYPE_CHECKING:
    import numpy
    from numpy.typing import NDArray

__all__ = ["DEFAULT_MIN_SIZE", "DEFAULT_THRESHOLD", "cluster_id", "clusters"]

DEFAULT_THRESHOLD = 0.6
DEFAULT_MIN_SIZE = 3
DEFAULT_MAX_SIZE = 50
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def clusters(
    vectors: NDArray[numpy.float32],
    threshold: float = DEFAULT_THRESHOLD,
    min_size: int = DEFAULT_MIN_SIZE,
    max_size: int = DEFAULT_MAX_SIZE,
) -> list[list[int]]:
    """Groups (row positions, ascending) of at least `min_size` rows of `vectors` (unit
    rows) whose members are each within `threshold` of their group's centre."""
    import numpy

    if not 0 < threshold <= 1:
        raise InvalidInput(f"threshold must be in (0, 1], got {threshold!r}")
    if not 2 <= min_size <= max_size:
        raise InvalidInput(f"cluster sizes must satisfy 2 <= min_size <= max_size, got "
                           f"{min_size}, {max_size}")  # fmt: skip
    groups: list[list[int]] = []
    sums: list[NDArray[numpy.float32]] = []
    for row in range(len(vectors)):
        vector = vectors[row]
        best, best_score = -1, threshold
        for g, total in enumerate(sums):
            if len(groups[g]) >= max_size:
                continue
            norm = float(numpy.linalg.norm(total))
            score = float(vector @ total) / norm if norm else 0.0
            if score >= best_score:
                best, best_score = g, score
        if best < 0:
            groups.append([row])
            sums.append(vector.astype(numpy.float32).copy())
        else:
            groups[best].append(row)
            sums[best] = sums[best] + vector
    return [g for g in groups if len(g) >= min_size]


def cluster_id(source_ids: Sequence[str]) -> str:
    """The id of the memory consolidating `source_ids` (ULIDs): the newest source's time
    part and a digest of the sorted ids, so the same group always gets the same id and it
    sorts beside its newest source."""
    ordered = sorted(source_ids)
    digest = int.from_bytes(hashlib.blake2b("\0".join(ordered).encode(), digest_size=10).digest())
    tail = "".join(_CROCKFORD[(digest >> shift) & 31] for shift in range(75, -1, -5))
    return ordered[-1][:10] + tail
