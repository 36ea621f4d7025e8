"""The records the public API returns. Plain frozen dataclasses: cheap to build on hot paths."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

MemoryStatus = Literal["created", "duplicate", "near_duplicate", "superseded", "stored"]
"""What `remember` did with a memory (``stored``: a memory read back, not just written)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One conversation turn as `add_messages` recorded it: an event of the session and a
    recallable long-term memory (kind ``message``).

    Attributes:
        event_id: the id of the ``message`` event in the session's record.
        memory_id: the id of the memory, whose content is ``"{speaker}: {content}"``.
        speaker: who said it (the ``speaker``, or else the ``role``, of the input).
        content: what was said.
        at: when it was said, in milliseconds since the epoch.
    """

    event_id: str
    memory_id: str
    speaker: str
    content: str
    at: int


@dataclass(slots=True)  # not frozen: a frozen dataclass costs 4x to build, on a hot path
class Event:
    """One entry of a session's episodic record: a step, a tool call, a message.

    Attributes:
        id: client-generated ULID; unique and sortable by time.
        type: what kind of event (``step``, ``tool_call``, ``user_message``, ...).
        data: the JSON payload.
        outcome: ``success``, ``failure`` or any short word the caller chose.
        ts: when it was recorded, in milliseconds since the epoch.
        latency_ms: how long the step or call took, if the caller measured it.
        trace_id: the OpenTelemetry trace it was recorded in (32 hex digits), when it was
            recorded inside a recording span; stored with the event and read back with it.
    """

    id: str
    type: str
    data: Any
    outcome: str
    ts: int
    latency_ms: float | None = None
    trace_id: str | None = None

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
        """True when the server may evict this project's durable data: any policy but
        ``noeviction``. ``allkeys-*`` evicts everything; ``volatile-*`` evicts every key with a
        TTL, and long-term memories, checkpoints, skills and sessions all have one."""
        return evicting(self.maxmemory_policy)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["modules"] = sorted(self.modules)
        return data


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    """One long-term memory.

    Attributes:
        id: client-generated ULID.
        content: the text that is embedded and indexed.
        kind: ``fact``, ``episodic``, ``semantic``, ``procedural`` or a name of your own.
        agent: the agent that formed it.
        session: the session it came from, if any.
        importance: 0..1, blended into the ranking.
        tags: free labels to filter on.
        source: where it came from (a tool, a document, a user).
        metadata: any JSON object.
        related: ids of memories it is linked to (followed by ``forget(cascade=True)``).
        occurred_at: when it happened (ms); recency and time filters use it.
        created_at: when it was stored (ms).
        last_accessed: when a recall last returned it (ms).
        access_count: how often it was recalled or reinforced.
        status: what `remember` did: ``created``, ``duplicate`` (the same text was already
            stored), ``near_duplicate`` (a very similar memory was reinforced instead) or
            ``superseded`` (stored as a correction of a very similar memory that differs in a
            number, a date, a name or a negation; that one is now history). ``stored``
            elsewhere.
        supersedes: the memory this one corrected, if any.
        superseded_by: the correction that replaced this memory, if any; a superseded memory
            is left out of recall unless ``include_superseded=True``.
    """

    id: str
    content: str
    kind: str
    agent: str
    session: str | None = None
    importance: float = 0.5
    tags: tuple[str, ...] = ()
    source: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    related: tuple[str, ...] = ()
    occurred_at: int = 0
    created_at: int = 0
    last_accessed: int = 0
    access_count: int = 0
    status: MemoryStatus = "stored"
    supersedes: str | None = None
    superseded_by: str | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """A recalled memory with its final score and the components behind it: cosine
    similarity (`vector`), BM25 relevance normalised to the best text hit (`text`), the share
    of the query's codes and numbers it contains (`exact`), `recency` and `importance`."""

    record: MemoryRecord
    score: float
    vector: float
    text: float
    exact: float
    recency: float
    importance: float


@dataclass(frozen=True, slots=True)
class Episode:
    """A finished task, summarised from a session's steps (a memory of kind ``episodic``)."""

    id: str
    task_prompt: str
    outcome: str
    success: bool
    agent: str
    session: str | None
    steps: tuple[dict[str, Any], ...] = ()
    duration_seconds: float | None = None
    tags: tuple[str, ...] = ()
    importance: float = 0.5
    occurred_at: int = 0
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Skill:
    """A named procedure and how it has fared (searchable as a ``procedural`` memory)."""

    name: str
    description: str
    steps: tuple[Any, ...]
    tags: tuple[str, ...] = ()
    runs: int = 0
    successes: int = 0
    total_duration: float = 0.0
    memory_id: str | None = None
    updated_at: int = 0
    score: float | None = None

    @property
    def success_rate(self) -> float | None:
        """Share of recorded runs that succeeded (None before the first run)."""
        return self.successes / self.runs if self.runs else None

    @property
    def mean_duration(self) -> float | None:
        """Mean duration of recorded runs, in seconds (None before the first run)."""
        return self.total_duration / self.runs if self.runs else None


@dataclass(frozen=True, slots=True)
class Introspection:
    """What an agent knows about a topic, in one object (`Agent.introspect`)."""

    topic: str
    total: int
    by_kind: dict[str, int]
    strongest: tuple[Hit, ...]
    episodes: tuple[Episode, ...]
    skills: tuple[Skill, ...]

    def summary(self) -> str:
        """A few lines a person (or a model) can read."""
        if not self.total and not self.episodes and not self.skills:
            return f"I know nothing about {self.topic!r} yet."
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.by_kind.items()))
        lines = [f"About {self.topic!r}: {self.total} memories ({kinds or 'none'})."]
        lines += [f"- {h.record.content}" for h in self.strongest]
        if self.episodes:
            ok = sum(e.success for e in self.episodes)
            lines.append(f"{len(self.episodes)} related episodes, {ok} successful.")
        if self.skills:
            lines.append("Skills: " + ", ".join(s.name for s in self.skills) + ".")
        return "\n".join(lines)


def evicting(policy: str | None) -> bool:
    """True for a ``maxmemory-policy`` that can evict this project's keys (all but
    ``noeviction``; None, a server that hides its policy, is not known to evict)."""
    return policy is not None and policy != "noeviction"


@dataclass(frozen=True, slots=True)
class Checkup:
    """What a store found wrong with itself just now (see `Health`).

    Attributes:
        full: Redis is at ``maxmemory`` under ``noeviction``: writes fail with `StorageFull`.
        evicted_keys: keys the Redis server evicted since it started (``INFO stats``), or
            ``None`` where unknown or not applicable.
        warnings: problems a person should act on, each saying what to do.
    """

    full: bool = False
    evicted_keys: int | None = None
    warnings: tuple[str, ...] = ()

    def __add__(self, other: Checkup) -> Checkup:
        evicted = [n for n in (self.evicted_keys, other.evicted_keys) if n is not None]
        return Checkup(
            self.full or other.full,
            sum(evicted) if evicted else None,
            self.warnings + other.warnings,
        )


@dataclass(frozen=True, slots=True)
class Health:
    """Which store serves calls now, and what is waiting to be replayed.

    Attributes:
        serving: the backend answering calls (``redis`` or ``sqlite``).
        primary: the configured primary backend.
        fallback: the fallback backend, or ``None`` when there is none.
        ok: calls can be served now (by the primary, or by the fallback while it is down).
        degraded: calls are served by the fallback because the primary is unreachable.
        outbox: writes made on the fallback and not yet replayed on the primary.
        switches: how often this client switched store (to the fallback and back).
        dropped: replayed writes the primary refused (logged as errors, then skipped).
        last_error: why the primary was last found unreachable.
        full: Redis is at ``maxmemory`` under ``noeviction``: writes fail with `StorageFull`.
        evicted_keys: keys Redis evicted since it started (``None`` where unknown).
        warnings: problems to act on now (an evicting policy, a full server, evicted keys,
            a damaged or lost SQLite file), each saying what to do.
        formation: the lag of memory formation from conversations (None without an
            extractor).
    """

    serving: str
    primary: str
    fallback: str | None = None
    ok: bool = True
    degraded: bool = False
    outbox: int = 0
    switches: int = 0
    dropped: int = 0
    last_error: str | None = None
    full: bool = False
    evicted_keys: int | None = None
    warnings: tuple[str, ...] = ()
    formation: FormationStatus | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["warnings"] = list(self.warnings)
        return data


@dataclass(frozen=True, slots=True)
class FormationStatus:
    """How far memory formation (facts read out of recorded turns) lags behind.

    Attributes:
        extractor: what reads the turns (``llm:<model>``).
        pending: turns recorded and not yet read.
        lag_seconds: how long the oldest of them has waited (0 when none waits).
        max_lag_seconds: the lag above which `Health.warnings` says so.
        formed: turns read since this client started.
        extracted: memories the extractor returned for them.
        failed: turns skipped because the model's reply could not be used.
        last_error: the last failure (a model out of reach, a reply that was not JSON).
        running: the background worker has started.
    """

    extractor: str
    pending: int = 0
    lag_seconds: float = 0.0
    max_lag_seconds: float = 60.0
    formed: int = 0
    extracted: int = 0
    failed: int = 0
    last_error: str | None = None
    running: bool = False


@dataclass(frozen=True, slots=True)
class TopicSummary:
    """A summary of what is known about a topic, and the memories it was made from.

    Attributes:
        topic: what was asked about.
        summary: the text ("" when nothing relevant is known).
        sources: ids of the memories summarised, strongest first.
        total: how many relevant memories were found.
        by_kind: how many of each kind.
        summarizer: what wrote the summary (``extractive``, ``llm:<model>``).
    """

    topic: str
    summary: str
    sources: tuple[str, ...]
    total: int
    by_kind: dict[str, int]
    summarizer: str
