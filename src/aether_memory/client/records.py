"""Long-term memory records: validation, hashing, dates and episode text (pure functions,
shared by the async client and its generated sync twin)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from aether_memory.core.codec import Codec
from aether_memory.core.errors import InvalidInput
from aether_memory.core.ids import check_name, check_tag
from aether_memory.core.query import Filters
from aether_memory.core.ranking import DAY_MS
from aether_memory.core.text import analyze
from aether_memory.core.types import Episode, Event, MemoryRecord, MemoryStatus
from aether_memory.core.validate import (
    check_epoch_ms,
    check_mapping,
    check_number,
    check_strings,
    check_text,
)
from aether_memory.storage.rows import decode_row

DEFAULT_NEAR_DUPLICATE = 0.95
# Below the near-duplicate threshold, down to this floor, a candidate is a correction only when
# the texts differ in nothing but a value (`core.facts.value_correction`). MiniLM puts "the
# meeting is at 3pm"/"... 4pm" at 0.925, under 0.95, and "order 1234/1235 shipped" at 0.927:
# the similarity cannot part them, only the words can.
DEFAULT_CORRECTION_FLOOR = 0.88
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


def epoch_ms(value: datetime | int | float | None, default: int, what: str = "occurred_at") -> int:
    """Milliseconds since the epoch for a datetime (naive = UTC) or a number of ms."""
    return default if value is None else check_epoch_ms(value, what)


def when_text(ms: int) -> str:
    """Words for the date, indexed with the text so 'in March', '29 Dec 2023' or '2026' can
    match (the day unpadded, as people write it; the month named in full and short)."""
    day = datetime.fromtimestamp(ms / 1000, UTC)
    return f"{day.day} {day:%B} {day:%b} {day.year} {day:%A} {day:%Y-%m-%d}"


@lru_cache(maxsize=4096)
def _day_terms(day: int) -> tuple[str, ...]:
    return tuple(analyze(when_text(day * DAY_MS)))


def date_terms(ms: int) -> tuple[str, ...]:
    """The index terms of `when_text` for the UTC day of `ms` (computed once per day)."""
    return _day_terms(ms // DAY_MS)


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


def _listed(value: object, argument: str) -> tuple[object, ...]:
    """The values of a list-valued filter; a bare string is refused rather than read as
    its characters (``kinds="fact"`` would otherwise match nothing, silently)."""
    if value is None:
        return ()
    if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Iterable):
        raise InvalidInput(
            f"{argument} must be a list of strings (e.g. {argument}=['x']), "
            f"not {type(value).__name__}"
        )
    return tuple(value)


def _time(value: object, argument: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, datetime | int | float):
        raise InvalidInput(
            f"{argument} must be a datetime or epoch milliseconds, not {type(value).__name__}"
        )
    return epoch_ms(value, 0, argument)


def recall_filters(
    kinds: object = None,
    session: object = None,
    tags: object = None,
    since: object = None,
    until: object = None,
    min_importance: object = None,
    agent: object = None,
    include_superseded: object = False,
) -> Filters:
    """The filters of a recall, each checked for its type and value; `InvalidInput` names the
    argument that is wrong. `agent` is one id or a list of ids; `kinds` and `tags` are lists."""
    agents = (agent,) if isinstance(agent, str) else _listed(agent, "agent")
    if session is not None and not isinstance(session, str):
        raise InvalidInput(f"session must be a session id, not {type(session).__name__}")
    if not isinstance(include_superseded, bool):
        raise InvalidInput("include_superseded must be True or False")
    return Filters(
        kinds=tuple(check_name(k, "memory kind") for k in _listed(kinds, "kinds")),
        agents=tuple(check_name(a, "agent id") for a in agents),
        sessions=(check_name(session, "session id"),) if session else (),
        tags=tuple(check_tag(t) for t in _listed(tags, "tags")),
        since_ms=_time(since, "since"),
        until_ms=_time(until, "until"),
        min_importance=None
        if min_importance is None
        else check_number(min_importance, "min_importance", 0.0, 1.0),
        include_superseded=include_superseded,
    )


def check_tags(tags: object) -> tuple[str, ...]:
    """A memory's tags: a list of at most `MAX_TAGS` valid tags."""
    found = check_strings(tags, "tags")
    if len(found) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags per memory")
    return tuple(check_tag(tag) for tag in found)


def check_item(item: Memorable) -> Memorable:
    """The item with every field checked and in its stored form (tags and related as tuples,
    importance a float, occurred_at in ms); raises `InvalidInput` naming the bad field."""
    metadata = item.metadata
    if metadata is not None:
        metadata = check_mapping(metadata, "metadata")
    return Memorable(
        content=check_text(item.content, "a memory's content", max_chars=MAX_CONTENT_CHARS),
        kind=check_name(item.kind, "memory kind"),
        importance=check_number(item.importance, "importance", 0.0, 1.0),
        tags=check_tags(item.tags),
        session=None if item.session is None else check_name(item.session, "session id"),
        source=None if item.source is None else check_name(item.source, "source"),
        metadata=metadata,
        related=tuple(
            check_name(other, "related memory id")
            for other in check_strings(item.related, "related")
        ),
        occurred_at=None if item.occurred_at is None else epoch_ms(item.occurred_at, 0),
    )


def memorable(item: object) -> Memorable:
    """One item of `remember_many`: a `Memorable`, the text of one, or a mapping of its
    fields."""
    if isinstance(item, Memorable):
        return item
    if isinstance(item, str):
        return Memorable(content=item)
    if isinstance(item, Mapping):
        try:
            return Memorable(**item)
        except TypeError:
            fields = ", ".join(sorted(Memorable.__dataclass_fields__))
            message = f"a memory's fields are {fields}, not {sorted(map(str, item))}"
            raise InvalidInput(message) from None
    raise InvalidInput(f"a memory is text, a mapping or a Memorable, not {type(item).__name__}")


def to_record(
    memory_id: str, row: Mapping[str, Any], codec: Codec, status: MemoryStatus
) -> MemoryRecord:
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


def session_texts(events: Sequence[tuple[str, Any]]) -> tuple[list[str], list[str]]:
    """What a session summary is made of: a line per event (``(type, data)``, oldest first:
    a turn as ``speaker: text``, a step as ``action: observation``, a tool call by its tool
    and result), and the memory ids of the turns."""
    texts: list[str] = []
    turns: list[str] = []
    for kind, data in events:
        item = data if isinstance(data, dict) else {"data": data}
        if kind == "message":
            texts.append(f"{item.get('speaker', '')}: {item.get('content', '')}")
            if isinstance(item.get("memory_id"), str):
                turns.append(item["memory_id"])
        elif kind == "step":
            line = f"{item.get('action', 'step')}: {item.get('observation', '')}"
            texts.append(line if not item.get("reasoning") else f"{line} ({item['reasoning']})")
        else:
            tool = item.get("tool") or item.get("name") or kind
            result = item.get("result", item.get("output", ""))
            texts.append(f"Called {tool}: {str(result)[:300]}" if result else f"Called {tool}.")
    return [t[:MAX_CONTENT_CHARS] for t in texts if t.strip(" :.")], turns
