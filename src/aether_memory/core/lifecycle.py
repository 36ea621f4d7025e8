"""What leaves the hot tier, and when (pure): lifetimes, the hot budget and the decay score.

A long-term memory's hot copy is written with a TTL of its kind's lifetime plus a grace
period when an archive is configured. The sync service moves every memory whose lifetime has
passed (its expiry minus the grace is behind it) to the archive, and, when a namespace holds
more than its hot budget, the lowest-scored memories first. The grace is the sync service's
window: a hot copy never expires before the service has had that long to move it.

Archived rows travel as JSON documents (`pack_row` / `unpack_row`): the store's raw field
values, with bytes (embeddings, compressed metadata) as base64, so any archive keeps them
exactly and a rehydrated memory is the memory that left.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from aether_memory.core.config import DEFAULT_ARCHIVE_GRACE, TTLs
from aether_memory.core.errors import SerializationError

DAY_MS = 86_400_000
DEFAULT_SYNC_BATCH = 500
DEFAULT_SYNC_INTERVAL = 300.0  # seconds between sync passes of a running service
DECAY_HALF_LIFE_DAYS = 30.0  # recency of last access halves the score every 30 days
ACCESS_SATURATION = 10  # accesses beyond this add (almost) nothing
_BYTES = "$b64"
__all__ = [
    "DEFAULT_ARCHIVE_GRACE", "DEFAULT_SYNC_BATCH", "DEFAULT_SYNC_INTERVAL", "HotBudget",
    "Standing", "decay_score", "due", "kind_lifetime", "over_budget", "pack_row", "row_size",
    "unpack_row",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class HotBudget:
    """How much of a namespace's long-term memory the hot tier keeps (``None``: no limit).

    When a namespace exceeds a limit, the lowest-scored memories leave until it is below the
    low-water mark (a tenth under the limit), so a steady writer triggers one eviction pass
    per tenth of the budget rather than one per write.
    """

    count: int | None = None
    bytes: int | None = None

    @property
    def active(self) -> bool:
        return self.count is not None or self.bytes is not None


def decay_score(
    importance: float,
    last_accessed_ms: int,
    access_count: int,
    now_ms: int,
    half_life_days: float = DECAY_HALF_LIFE_DAYS,
) -> float:
    """How much a memory deserves its hot place, in [0, 1]: importance, weighted by how
    recently it was last used (exponential half-life) and how often (saturating)."""
    age_days = max(0, now_ms - last_accessed_ms) / DAY_MS
    recency = 0.5 ** (age_days / half_life_days)
    use = math.log1p(min(access_count, ACCESS_SATURATION)) / math.log1p(ACCESS_SATURATION)
    weight = max(0.0, min(1.0, float(importance)))
    return float(weight * (0.5 + 0.5 * recency) * (0.75 + 0.25 * use))


# Long-term kinds whose lifetime is not the semantic one (every other kind is semantic).
_KIND_LIFETIME = {"episodic": "episodic", "procedural": "skills"}


def kind_lifetime(ttl: TTLs, kind: str) -> float | None:
    """How long a memory of `kind` stays hot, in seconds (``None``: forever)."""
    seconds: float | None = getattr(ttl, _KIND_LIFETIME.get(kind, "semantic"))
    return seconds


def due(expires_at_ms: int | None, now_ms: int, grace_ms: int) -> bool:
    """Whether a hot memory's lifetime has passed (it has only its grace period left)."""
    return expires_at_ms is not None and expires_at_ms - grace_ms <= now_ms


@dataclass(frozen=True, slots=True)
class Standing:
    """One hot memory as the budget sees it."""

    id: str
    score: float
    size: int


def over_budget(standings: Iterable[Standing], budget: HotBudget) -> list[str]:
    """The ids to move out, lowest score first (ties: oldest id first), so the rest fit
    under the budget's low-water mark; nothing when the namespace is within the budget."""
    ranked = sorted(standings, key=lambda s: (s.score, s.id))
    count, size = len(ranked), sum(s.size for s in ranked)
    over_count = budget.count is not None and count > budget.count
    over_bytes = budget.bytes is not None and size > budget.bytes
    if not (over_count or over_bytes):
        return []
    keep_count = None if budget.count is None else _low_water(budget.count)
    keep_bytes = None if budget.bytes is None else _low_water(budget.bytes)
    out: list[str] = []
    for s in ranked:
        fits_count = keep_count is None or count <= keep_count
        fits_bytes = keep_bytes is None or size <= keep_bytes
        if fits_count and fits_bytes:
            break
        out.append(s.id)
        count -= 1
        size -= s.size
    return out


def _low_water(limit: int) -> int:
    return max(0, limit - max(1, limit // 10))


def row_size(row: Mapping[str, Any]) -> int:
    """The bytes a stored row takes, roughly (its field values)."""
    return sum(len(v) if isinstance(v, bytes | str) else 8 for v in row.values())


def pack_row(row: Mapping[str, Any]) -> bytes:
    """A stored row (raw field values) as a JSON document an archive keeps."""
    return orjson.dumps(
        {
            k: {_BYTES: base64.b64encode(v).decode()} if isinstance(v, bytes) else v
            for k, v in row.items()
            if v is not None
        }
    )


def unpack_row(data: bytes | str) -> dict[str, Any]:
    """The row `pack_row` packed."""
    try:
        doc = orjson.loads(data)
        return {
            k: base64.b64decode(v[_BYTES]) if isinstance(v, dict) else v for k, v in doc.items()
        }
    except (orjson.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
        raise SerializationError(f"an archived memory is not readable ({exc})") from exc
