"""Queueing change-feed notifications into a write's own pipeline or transaction, and reading
the live messages the notification scripts publish (both twins share this: it only queues
commands and decodes replies)."""

from __future__ import annotations

from typing import Any

import orjson

from aether_memory.backends.redis.scripts import NOTE, NOTE_RECORD
from aether_memory.core import keys
from aether_memory.core.feed import FEED_CAP, position_key
from aether_memory.core.ids import now_ms

FeedEntry = tuple[str, dict[str, Any]]  # position, fields


def feed_keys(ns: str) -> tuple[str, str]:
    """The keys every notification script names, in order: the feed and its channel."""
    return keys.feed(ns), keys.feed_channel(ns)


def encode_note(agent: str, kind: str, id_: str, op: str, at: int, body: bytes | None = None
                ) -> bytes:  # fmt: skip
    """A notification as the feed keeps and publishes it (a JSON object; a body is kept as
    its JSON text, as every store keeps it)."""
    note: dict[str, Any] = {"agent": agent, "kind": kind, "id": id_, "op": op, "at": at}
    if body is not None:
        note["body"] = body.decode()
    return orjson.dumps(note)


def q_note(pipe: Any, ns: str, agent: str, kind: str, id_: str, op: str) -> None:
    """Queue a notification (appended to the namespace's capped feed and published)."""
    # EVAL rather than EVALSHA: the script is small, and a pipeline needs no reload step.
    # Through execute_command: a cluster pipeline has no eval() of this shape.
    pipe.execute_command(
        "EVAL", NOTE, 2, *feed_keys(ns), FEED_CAP, encode_note(agent, kind, id_, op, now_ms())
    )


def q_note_record(
    pipe: Any, record: str, ns: str, kind: str, id_: str, op: str, agent: str = ""
) -> None:
    """Queue a notification about `record`, appended only if the record exists; an empty
    `kind` or `agent` is read from the record (a memory's own kind and agent)."""
    pipe.execute_command(
        "EVAL", NOTE_RECORD, 3, record, *feed_keys(ns), FEED_CAP, kind,
        id_, op, now_ms(), agent,
    )  # fmt: skip


def note_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields of a feed entry: its one field ``n`` decoded (field, value pairs as they are,
    the layout entries had before)."""
    note = fields.get("n")
    if note is None or len(fields) != 1:
        return fields
    got = orjson.loads(note)
    return got if isinstance(got, dict) else {}


def live_entry(data: Any) -> tuple[str, FeedEntry] | None:
    """A published notification, ``<previous position> <position> <note>``, as (the position
    before it, (position, fields)); None if it is not one (then the stream says what
    happened)."""
    try:
        prev, position, note = (data.encode() if isinstance(data, str) else data).split(b" ", 2)
        fields = orjson.loads(note)
        found = prev.decode(), (position.decode(), fields)
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return None
    return found if isinstance(fields, dict) else None


def follows(position: str, prev: str, new: str) -> bool | None:
    """Whether a published notification at `new` (the entry before it: `prev`) is the next
    one after `position`: True to deliver it, None when it was seen already, False when
    entries may lie between, or it is not a position (read the stream)."""
    if prev == position:  # the common case: stream ids only grow, so `new` is newer
        return True
    try:
        if position_key(new) <= position_key(position):
            return None
    except ValueError:
        return False
    return prev == ""
