"""Long-term memory records: validation, hashing, dates and episode text (pure functions,
shared by the async client and its generated sync twin)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aether_memory.core.codec import Codec
from aether_memory.core.errors import InvalidInput
from aether_memory.core.ids import check_name, check_tag
from aether_memory.core.types import Episode, Event, MemoryRecord
from aether_memory.storage.rows import decode_row

DEFAULT_NEAR_DUPLICATE = 0.95
MAX_CONTENT_CHARS = 32_000
MAX_TAGS = 32


@dataclass(frozen=True, slots=True)
class Memorable:
    """One item for `remember_many` (the same fields as `remember`)."""

    content: str
    kind: str = "fact"
    importance: float = 0.5
    tags: Sequence[str] = ()
    session: str | None = None
    source: str | None = None
    metadata: Mapping[str, Any] | None = None
    related: Sequence[str] = ()
    occurred_at: datetime | int | None = None


def content_hash(agent: str, kind: str, content: str) -> str:
    """Identity of a memory's text: the same words from the same agent, of the same kind."""
    normal = " ".join(content.split()).lower()
    return hashlib.blake2b(f"{agent}\0{kind}\0{normal}".encode(), digest_size=16).hexdigest()


def epoch_ms(value: datetime | int | float | None, default: int) -> int:
    """Milliseconds since the epoch for a datetime (naive = UTC) or a number of ms."""
    if value is None:
        return default
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp() * 1000)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    raise InvalidInput("occurred_at must be a datetime or epoch milliseconds")


def when_text(ms: int) -> str:
    """Words for the date, indexed with the text so 'in March', '29 Dec 2023' or '2026' can
    match (the day unpadded, as people write it; the month named in full and short)."""
    day = datetime.fromtimestamp(ms / 1000, UTC)
    return f"{day.day} {day:%B} {day:%b} {day.year} {day:%A} {day:%Y-%m-%d}"


MESSAGE_KEYS = frozenset({"role", "speaker", "content", "at"})
MAX_SPEAKER_CHARS = 200


def check_message(message: Any, default_at: int) -> tuple[str, str, int]:
    """(speaker, content, at ms) of one `add_messages` item, or InvalidInput."""
    if not isinstance(message, Mapping):
        raise InvalidInput("a message is a mapping with 'speaker' (or 'role'), 'content', 'at'")
    unknown = set(message) - MESSAGE_KEYS
    if unknown:
        raise InvalidInput(f"unknown message keys: {', '.join(sorted(map(str, unknown)))}")
    speaker = message.get("speaker", message.get("role"))
    if not isinstance(speaker, str) or not speaker.strip() or len(speaker) > MAX_SPEAKER_CHARS:
        raise InvalidInput(
            f"a message needs a 'speaker' or 'role': text of 1 to {MAX_SPEAKER_CHARS} characters"
        )
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        raise InvalidInput("a message's content must be non-empty text")
    at = message.get("at")
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at)
        except ValueError as exc:
            raise InvalidInput(f"a message's 'at' is not an ISO 8601 time: {at!r}") from exc
    return speaker.strip(), content, epoch_ms(at, default_at)


def check_item(item: Memorable) -> None:
    if not isinstance(item.content, str) or not item.content.strip():
        raise InvalidInput("a memory's content must be non-empty text")
    if len(item.content) > MAX_CONTENT_CHARS:
        raise InvalidInput(f"a memory's content is limited to {MAX_CONTENT_CHARS} characters")
    check_name(item.kind, "memory kind")
    if not 0.0 <= float(item.importance) <= 1.0:
        raise InvalidInput("importance must be between 0 and 1")
    if len(item.tags) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags per memory")
    for tag in item.tags:
        check_tag(tag)
    for other in item.related:
        check_name(other, "related memory id")
    if item.session is not None:
        check_name(item.session, "session id")
    if item.source is not None:
        check_name(item.source, "source")


def to_record(memory_id: str, row: Mapping[str, Any], codec: Codec, status: str) -> MemoryRecord:
    data = decode_row(dict(row))
    raw_meta = data.pop("metadata")
    data.pop("hash")
    metadata = codec.decode(raw_meta) if raw_meta else {}
    return MemoryRecord(id=memory_id, metadata=metadata, status=status, **data)


SEMANTIC_KINDS = ("fact", "semantic")
RELEVANT = 0.35  # cosine similarity above which a memory counts as "about" a topic


def step_summary(event: Event) -> dict[str, Any]:
    data = event.data if isinstance(event.data, dict) else {"data": event.data}
    return {
        "action": data.get("action", event.type),
        "observation": data.get("observation"),
        "outcome": event.outcome,
    }


def episode_text(prompt: str, outcome: str, success: bool, steps: Sequence[dict[str, Any]]) -> str:
    verdict = "succeeded" if success else "failed"
    lines = [f"Task: {prompt}", f"Outcome ({verdict}): {outcome}"]
    if steps:
        shown = "; ".join(
            f"{s['action']} -> {str(s['observation'])[:80]}" for s in steps[-MAX_EPISODE_STEPS:]
        )
        lines.append(f"Steps: {shown}")
    return "\n".join(lines)[:MAX_CONTENT_CHARS]


MAX_EPISODE_STEPS = 20


def episode_from_record(record: MemoryRecord, score: float | None) -> Episode:
    meta = record.metadata
    return Episode(
        id=record.id,
        task_prompt=str(meta.get("task_prompt", record.content)),
        outcome=str(meta.get("outcome", "")),
        success=bool(meta.get("success", False)),
        agent=record.agent,
        session=record.session,
        steps=tuple(meta.get("steps", ())),
        duration_seconds=meta.get("duration_seconds"),
        tags=record.tags,
        importance=record.importance,
        occurred_at=record.occurred_at,
        score=score,
    )
