"""Decoding long-term memory rows as Redis returns them (pure)."""

from __future__ import annotations

from typing import Any

from aether_memory.storage._async.store import Row

__all__ = ["Row", "decode_row", "text"]


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


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
    }
