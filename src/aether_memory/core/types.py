"""The records the public API returns. Plain frozen dataclasses: cheap to build on hot paths."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of a session's episodic record: a step, a tool call, a message.

    Attributes:
        id: client-generated ULID; unique and sortable by time.
        type: what kind of event (``step``, ``tool_call``, ``user_message``, ...).
        data: the JSON payload.
        outcome: ``success``, ``failure`` or any short word the caller chose.
        ts: when it was recorded, in milliseconds since the epoch.
        latency_ms: how long the step or call took, if the caller measured it.
    """

    id: str
    type: str
    data: Any
    outcome: str
    ts: int
    latency_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    """A saved checkpoint of a session: its sequence number and when it was made (ms)."""

    n: int
    created_at: int


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session of an agent and when it was last active (ms since the epoch)."""

    id: str
    last_active: int


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the connected server offers, read once at connect.

    Attributes:
        backend: ``redis`` (later also ``sqlite``).
        server_version: e.g. ``8.2.3``.
        modules: names of loaded modules (``search``, ``ReJSON``, ``bf``, ...).
        search: the Query Engine (full-text + vector index) is available.
        json: RedisJSON is available.
        bloom: RedisBloom is available.
        vector_sets: Redis 8 vector sets (``VADD``/``VSIM``) are available.
        aof: append-only file persistence is on (``None`` if the server hides its config).
        fsync: the AOF fsync policy (``everysec``, ``always``, ``no``) or ``None``.
        rdb: RDB snapshots are configured (``None`` if unknown).
        maxmemory_policy: the eviction policy, or ``None`` if the server hides it.
        cluster: the server runs in cluster mode.
    """

    backend: str
    server_version: str
    modules: frozenset[str] = field(default_factory=frozenset)
    search: bool = False
    json: bool = False
    bloom: bool = False
    vector_sets: bool = False
    aof: bool | None = None
    fsync: str | None = None
    rdb: bool | None = None
    maxmemory_policy: str | None = None
    cluster: bool = False

    @property
    def evicts_durable_keys(self) -> bool:
        """True when the server may evict keys that have no TTL (``allkeys-*`` policies)."""
        return bool(self.maxmemory_policy and self.maxmemory_policy.startswith("allkeys-"))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["modules"] = sorted(self.modules)
        return data
