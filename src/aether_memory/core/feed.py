"""The change feed, presence and messages: records, limits and the pure rules both stores share.

A *notification* says that something of a namespace changed: ``{namespace, agent, kind, id,
op, at}`` (plus ``body`` and ``to`` for messages and broadcasts), at a *position* in the
namespace's feed. Positions are opaque strings that only increase: a Redis stream id
(``"1733098000000-0"``) or a SQLite sequence number (``"42"``).

The feed of a namespace keeps about `FEED_CAP` notifications. A subscriber that resumes from a
position the feed no longer holds is told so with `FeedTruncated` (never silently skipped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from aether_memory.core.errors import FeedTruncated as FeedTruncated  # re-exported
from aether_memory.core.errors import InvalidInput, TooLarge
from aether_memory.core.ids import check_name
from aether_memory.core.validate import check_text, describe

# About how many notifications a namespace's feed keeps (Redis trims approximately, in whole
# stream nodes, so a few more may be there): at 1,000 writes/s, the last ~10 s of history.
FEED_CAP = 10_000
# How many unacknowledged messages an agent's inbox keeps before the oldest are dropped.
INBOX_CAP = 10_000
MAX_INBOX_READ = 1_000  # messages one inbox read returns at most
MAX_BODY_BYTES = 64 * 1024  # a message or broadcast body, as JSON
MAX_STATUS_CHARS = 64
MAX_TASK_CHARS = 1_000
DEFAULT_HEARTBEAT_TTL = 30.0  # seconds an agent reads as online after its last heartbeat
MAX_HEARTBEAT_TTL = 86_400.0
OFFLINE = "offline"
# How often a SQLite subscriber looks for new rows (several processes share one file, and
# SQLite has no push): a notification reaches it within about this many seconds.
SQLITE_POLL_SECONDS = 0.05
READ_BATCH = 512  # notifications read per round trip

# The kinds of notification, and the ops of each.
KINDS = frozenset(
    {"memory", "episode", "skill", "skill_run", "identity", "state", "presence", "message",
     "broadcast"}
)  # fmt: skip

_POSITION = re.compile(r"[0-9]{1,20}(-[0-9]{1,20})?")


@dataclass(frozen=True, slots=True)
class Notification:
    """One change in a namespace, as the feed delivers it."""

    position: str
    namespace: str
    agent: str
    kind: str
    id: str
    op: str
    at: int
    body: Any = None
    to: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {
            "position": self.position, "namespace": self.namespace, "agent": self.agent,
            "kind": self.kind, "id": self.id, "op": self.op, "at": self.at,
        }  # fmt: skip
        if self.kind in ("message", "broadcast"):
            out["body"] = self.body
        if self.to is not None:
            out["to"] = self.to
        return out


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """An agent's presence: `online` is False once its last heartbeat's ttl ran out (or it
    never sent one); `status` then reads ``offline``."""

    agent: str
    status: str
    online: bool
    current_task: str | None = None
    last_seen: int | None = None  # ms of the last heartbeat
    expires_at: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent, "status": self.status, "online": self.online,
            "current_task": self.current_task, "last_seen": self.last_seen,
            "expires_at": self.expires_at,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class InboxMessage:
    """A message in an agent's inbox; `id` is what `inbox(ack=...)` acknowledges."""

    id: str
    sender: str
    body: Any
    at: int

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "sender": self.sender, "body": self.body, "at": self.at}


# -- checks and conversions (pure) -----------------------------------------------------------
def check_position(value: object, what: str = "position") -> str:
    """A feed or inbox position as given by a caller (digits, or ``digits-digits``)."""
    if not isinstance(value, str) or _POSITION.fullmatch(value) is None:
        raise InvalidInput(f"{what} must be a feed position such as '1733098000000-0' or '42', "
                           f"not {describe(value)}")  # fmt: skip
    return value


def position_key(position: str) -> tuple[int, int]:
    """A position as a pair that sorts like the positions do."""
    head, _, tail = position.partition("-")
    return int(head), int(tail or 0)


def check_kinds(kinds: object) -> frozenset[str] | None:
    if kinds is None:
        return None
    if isinstance(kinds, str):
        kinds = (kinds,)
    if not isinstance(kinds, list | tuple | set | frozenset):
        raise InvalidInput(f"kinds must be a list of kinds, not {describe(kinds)}")
    unknown = sorted(str(k) for k in kinds if k not in KINDS)
    if unknown:
        raise InvalidInput(f"unknown notification kind(s) {unknown}: use {sorted(KINDS)}")
    return frozenset(kinds)


def check_agents(agents: object) -> frozenset[str] | None:
    if agents is None:
        return None
    if isinstance(agents, str):
        agents = (agents,)
    if not isinstance(agents, list | tuple | set | frozenset):
        raise InvalidInput(f"agents must be a list of agent ids, not {describe(agents)}")
    return frozenset(check_name(a, "agent id") for a in agents)


def encode_body(body: object) -> bytes:
    """A message body as JSON bytes (any JSON value), within `MAX_BODY_BYTES`."""
    try:
        raw = orjson.dumps(body)
    except TypeError as exc:
        raise InvalidInput(f"a message body must be JSON (text, numbers, lists, maps): {exc}"
                           ) from exc  # fmt: skip
    if len(raw) > MAX_BODY_BYTES:
        raise TooLarge(f"a message body is {len(raw)} bytes as JSON; the limit is "
                       f"{MAX_BODY_BYTES}")  # fmt: skip
    return raw


def decode_body(raw: bytes | str | None) -> Any:
    if raw is None or raw in (b"", ""):
        return None
    return orjson.loads(raw)


def check_status(value: object) -> str:
    return check_text(value, "a status", max_chars=MAX_STATUS_CHARS)


def check_task(value: object) -> str | None:
    return None if value is None else check_text(value, "current_task", max_chars=MAX_TASK_CHARS)


def presence_value(status: str, task: str | None, now: int, expires_at: int) -> bytes:
    """How a heartbeat is stored (JSON, so a Redis script can read it)."""
    return orjson.dumps(
        {"status": status, "current_task": task, "at": now, "expires_at": expires_at}
    )


def agent_statuses(agents: list[str], stored: dict[str, bytes], now: int) -> list[AgentStatus]:
    """Every agent's presence from the stored heartbeats, sorted by agent id: one whose
    heartbeat ran out, or who never sent one, is offline."""
    out = []
    for agent in sorted(set(agents) | set(stored)):
        raw = stored.get(agent)
        if raw is None:
            out.append(AgentStatus(agent, OFFLINE, False))
            continue
        beat = orjson.loads(raw)
        online = int(beat["expires_at"]) > now and beat["status"] != OFFLINE
        status = beat["status"] if online else OFFLINE
        task, at, expires = beat.get("current_task"), int(beat["at"]), int(beat["expires_at"])
        out.append(AgentStatus(agent, status, online, task, at, expires))
    return out


def _field(value: Any) -> str:
    if type(value) is str:  # a notification decoded from JSON: already text
        return value
    return value.decode() if isinstance(value, bytes) else str(value or "")


def notification(ns: str, position: str, fields: dict[str, Any]) -> Notification:
    """A notification from the fields a store keeps (text or bytes values)."""
    get = fields.get
    at = get("at")
    return Notification(
        position, ns, _field(get("agent", "")), _field(get("kind", "")), _field(get("id", "")),
        _field(get("op", "")), at if type(at) is int else int(_field(at) or 0),
        decode_body(get("body")), _field(get("to")) or None,
    )  # fmt: skip


def memory_kind(record_kind: str) -> str:
    """The notification kind of a long-term memory (episodes are told apart)."""
    return "episode" if record_kind == "episodic" else "memory"


def update_op(fields: dict[str, Any]) -> str:
    """The op of a memory update: a correction marks the old memory superseded."""
    return "superseded" if fields.get("superseded_by") else "updated"


def check_held(ns: str, position: str, first: str | None) -> None:
    """Raise `FeedTruncated` if the feed (whose oldest position is `first`) no longer holds
    `position`; ``0`` (from the start) is always held."""
    start = position_key(position)
    if first is not None and start != (0, 0) and start < position_key(first):
        raise FeedTruncated(
            f"the feed of {ns!r} no longer holds position {position} (it keeps about "
            f"{FEED_CAP}): notifications after it may have been dropped",
            oldest=first,
        )
