"""Outbox entries: a store write (its operation name and arguments) as bytes, to be replayed
on the primary store later. Pure, and no pickle: only the argument types of the storage
protocol are encoded, each under a one-letter tag, as JSON.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import astuple
from typing import Any

import orjson

from aether_memory.core.config import SessionTTLs
from aether_memory.core.errors import SerializationError
from aether_memory.core.keys import SessionKeys
from aether_memory.core.query import Filters

# The store operations that change data, as `role.method` (role "" for the kernel). Reads are
# never queued; `fetch`'s access statistics are not replayed (a recall during an outage is
# not counted on the primary).
WRITES = frozenset(
    {
        "identity_put", "identity_delete", "state_put", "session_open", "session_link",
        "hash_set", "hash_delete", "hash_clear", "events_append", "checkpoint_save",
        "tools_get_or_put", "cache_put", "messages_append",
        "longterm.setup", "longterm.put", "longterm.reinforce", "longterm.delete",
        "longterm.update", "longterm.skill_put", "longterm.skill_run",
        "session_load", "erase_session", "erase_agent", "erase_namespace",
        "longterm.load", "longterm.skill_delete",
        "feed.heartbeat", "feed.send", "feed.broadcast",
        "queues.put",
    }
)  # fmt: skip
# The writes of the feed role (presence and messages), replayed but never mirrored.
FEED_WRITES = frozenset({"feed.heartbeat", "feed.send", "feed.broadcast"})
# Every other operation of the storage protocols, by why an outage does not queue it. A test
# holds each operation of the protocols to exactly one place (these or `WRITES`), so that a
# new write cannot be applied to the fallback alone, and never replayed, by omission.
NOT_QUEUED: dict[str, frozenset[str]] = {
    # Served by whichever store serves the namespace now.
    "read": frozenset(
        {
            "agents", "identity_get", "identity_all", "state_get", "sessions", "session_meta",
            "hash_get", "hash_all", "hash_all_many", "hash_keys", "hash_pick", "events_tail",
            "events_page", "sessions_page", "checkpoint_load", "checkpoint_list", "cache_get",
            "namespaces", "metrics_read",
            "longterm.find_existing", "longterm.search", "longterm.get", "longterm.page",
            "longterm.skill_get", "longterm.skill_names", "longterm.usage",
        }
    ),
    # Bookkeeping kept by the store that serves: a recall's access statistics, and the hot
    # budget's count and pass claim (an outage's writes are counted by the store they went to).
    "kept where served": frozenset(
        {"longterm.fetch", "longterm.add_usage", "longterm.pass_claim", "longterm.pass_release"}
    ),
    # Served by the primary alone; `BackendUnavailable` during an outage.
    "primary only": frozenset(
        {
            "feed.subscribe", "feed.last", "feed.presence", "feed.inbox",
            "queues.claim", "queues.ack", "queues.fail", "queues.extend", "queues.stats",
            "queues.peek", "queues.retry_dead", "queues.wait",
        }
    ),
    # The connection, not the data.
    "connection": frozenset(
        {"capabilities", "aclose", "ping", "checkup", "replay", "longterm.indexed"}
    ),
}  # fmt: skip


# The states of an outbox epoch: writes join an OPEN one; a CLOSING one takes no more while
# its last entries are replayed; once CLOSED, writes go to the primary.
CLOSED, OPEN, CLOSING = 0, 1, 2


class OutboxClosed(Exception):  # a signal between two stores, never raised to callers
    """The outbox epoch a write meant to join was drained and closed: the primary serves."""


def _enc(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b": base64.b64encode(value).decode()}
    if isinstance(value, SessionKeys):
        return {"s": [value.ns, value.agent, value.sid]}
    if isinstance(value, SessionTTLs):
        return {"t": list(astuple(value))}
    if isinstance(value, Filters):
        return {"f": [list(v) if isinstance(v, tuple) else v for v in astuple(value)]}
    if isinstance(value, frozenset):
        return {"z": sorted(value)}
    if isinstance(value, list | tuple):
        return {"l": [_enc(v) for v in value]}
    if isinstance(value, Mapping):
        return {"m": {str(k): _enc(v) for k, v in value.items()}}
    raise SerializationError(f"an outbox entry cannot hold a {type(value).__name__}")


def _dec(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ((tag, inner),) = value.items()
    if tag == "b":
        return base64.b64decode(inner, validate=True)
    if tag == "s":
        return SessionKeys.build(*inner)
    if tag == "t":
        return SessionTTLs(*inner)
    if tag == "f":
        fields: list[Any] = [tuple(v) if isinstance(v, list) else v for v in inner]
        return Filters(*fields)
    if tag == "z":
        return frozenset(inner)
    if tag == "l":
        return [_dec(v) for v in inner]
    if tag == "m":
        return {k: _dec(v) for k, v in inner.items()}
    raise SerializationError(f"unknown outbox tag {tag!r}")


def encode(op: str, args: tuple[Any, ...]) -> bytes:
    """One queued write: the operation (one of `WRITES`) and its positional arguments."""
    if op not in WRITES:
        raise ValueError(f"{op!r} is not a queued write")
    return orjson.dumps([op, [_enc(a) for a in args]])


def decode(entry: bytes) -> tuple[str, list[Any]]:
    try:
        op, args = orjson.loads(entry)
        if not isinstance(op, str) or op not in WRITES:
            raise SerializationError(f"an outbox entry names an unknown operation {op!r}")
        return op, [_dec(a) for a in args]
    except (ValueError, TypeError, AttributeError) as exc:  # orjson's and base64's errors too
        raise SerializationError(f"a damaged outbox entry: {exc}") from exc
