"""The shapes of stored rows (memories, events, checkpoints), decoding long-term memory rows
as Redis returns them, and reading event rows (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

from aether_memory.core.errors import SerializationError

__all__ = [
    "Candidate", "CheckpointRow", "EventRow", "HashKind", "Row",
    "decode_row", "event_trace", "text",
]  # fmt: skip

# A long-term memory as a store returns it: field name -> raw value.
Row = dict[str, Any]
# Which of a session's hashes: working memory or the scratchpad.
HashKind = Literal["working", "scratch"]
# One event as stored: id, type, outcome, ts (ms), latency_ms, encoded data, and the
# OpenTelemetry trace id (32 hex digits) it was recorded in, if any.
EventRow = tuple[str, str, str, int, float | None, bytes, str | None]
# One checkpoint as exported and loaded: n, created_at (ms), encoded state.
CheckpointRow = tuple[int, int, bytes]


class Candidate(NamedTuple):
    """A memory as ranking sees it: `similarity` is None for a text-only match, `relevance`
    (the store's full-text score, higher is better) None for a vector-only one."""

    similarity: float | None
    content: str
    occurred_at: int
    importance: float
    relevance: float | None = None


def text(value: Any) -> str:
    """A stored text field as a string; bytes that are not UTF-8 mean a damaged store."""
    if not isinstance(value, bytes):
        return str(value)
    try:
        return value.decode()
    except UnicodeDecodeError as exc:
        raise SerializationError(
            f"a stored text field is not valid UTF-8 ({exc}): the store is damaged"
        ) from exc


def decode_row(row: Row) -> dict[str, Any]:
    """Raw fields to Python values (tags and related as tuples, numbers as numbers)."""
    get = row.get
    return {
        "content": text(get("content", b"")),
        "kind": text(get("kind", b"fact")),
        "agent": text(get("agent", b"")),
        "session": text(get("session", b"")) or None,
        "tags": tuple(t for t in text(get("tags", b"")).split(",") if t),
        "source": text(get("source", b"")) or None,
        "importance": float(get("importance", 0.5)),
        "occurred_at": int(float(get("occurred_at", 0))),
        "created_at": int(float(get("created_at", 0))),
        "last_accessed": int(float(get("last_accessed", 0))),
        "access_count": int(float(get("access_count", 0))),
        "related": tuple(r for r in text(get("related", b"")).split(",") if r),
        "metadata": get("metadata"),
        "hash": text(get("hash", b"")),
        "supersedes": text(get("supersedes", b"")) or None,
        "superseded_by": text(get("superseded_by", b"")) or None,
    }


def event_trace(row: Sequence[Any]) -> str | None:
    """The trace id of an event row; None for a six-field row (queued in an outbox by a
    version that did not store trace ids)."""
    return row[6] if len(row) > 6 else None
