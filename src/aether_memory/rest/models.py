"""Response bodies: pydantic mirrors of the library's records (`aether_memory.core.types`).

Request bodies live next to the routes that take them. Each model here has an ``of``
constructor from the library's dataclass, so routes stay one line. Times are ISO 8601 in UTC
(``2026-05-01T12:00:00.000Z``), each with the same instant in epoch milliseconds beside it
(``<name>_ms``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from aether_memory.core.pages import Erasure
from aether_memory.core.types import (
    CheckpointInfo,
    Episode,
    Event,
    Hit,
    Introspection,
    MemoryRecord,
    MemoryStatus,
    SessionInfo,
    Skill,
)


def iso(ms: int) -> str:
    """Epoch milliseconds as ISO 8601 in UTC, to the millisecond."""
    try:
        moment = datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        moment = datetime.fromtimestamp(0, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class EventOut(BaseModel):
    """One event of a session's record (a step, a tool call, a message)."""

    id: str
    type: str
    data: Any
    outcome: str
    ts: str
    ts_ms: int
    latency_ms: float | None = None
    trace_id: str | None = Field(
        None, description="The OpenTelemetry trace it was recorded in (32 hex digits), if any."
    )

    @classmethod
    def of(cls, e: Event) -> EventOut:
        return cls(
            id=e.id, type=e.type, data=e.data, outcome=e.outcome, ts=iso(e.ts), ts_ms=e.ts,
            latency_ms=e.latency_ms, trace_id=e.trace_id,
        )  # fmt: skip


class SessionOut(BaseModel):
    """A session and when it was last active."""

    id: str
    last_active: str
    last_active_ms: int

    @classmethod
    def of(cls, s: SessionInfo) -> SessionOut:
        return cls(id=s.id, last_active=iso(s.last_active), last_active_ms=s.last_active)


class CheckpointOut(BaseModel):
    """A saved checkpoint: its number and when it was made."""

    n: int
    created_at: str
    created_at_ms: int

    @classmethod
    def of(cls, c: CheckpointInfo) -> CheckpointOut:
        return cls(n=c.n, created_at=iso(c.created_at), created_at_ms=c.created_at)


class MemoryOut(BaseModel):
    """A long-term memory; ``status`` says what `remember` did (created, duplicate,
    near_duplicate, superseded) and is ``stored`` elsewhere. ``supersedes`` names the memory a
    correction replaced; ``superseded_by`` the correction that replaced this one."""

    id: str
    content: str
    kind: str
    agent: str
    session: str | None = None
    importance: float
    tags: list[str]
    source: str | None = None
    metadata: dict[str, Any]
    related: list[str]
    occurred_at: str
    occurred_at_ms: int
    created_at: str
    created_at_ms: int
    last_accessed: str
    last_accessed_ms: int
    access_count: int
    status: MemoryStatus
    supersedes: str | None = None
    superseded_by: str | None = None

    @classmethod
    def of(cls, r: MemoryRecord) -> MemoryOut:
        return cls(
            id=r.id, content=r.content, kind=r.kind, agent=r.agent, session=r.session,
            importance=r.importance, tags=list(r.tags), source=r.source,
            metadata=dict(r.metadata), related=list(r.related), occurred_at=iso(r.occurred_at),
            occurred_at_ms=r.occurred_at, created_at=iso(r.created_at),
            created_at_ms=r.created_at, last_accessed=iso(r.last_accessed),
            last_accessed_ms=r.last_accessed, access_count=r.access_count, status=r.status,
            supersedes=r.supersedes, superseded_by=r.superseded_by,
        )  # fmt: skip


class HitOut(BaseModel):
    """A recalled memory, its score and the parts of the score."""

    record: MemoryOut
    score: float
    vector: float
    text: float
    exact: float
    recency: float
    importance: float

    @classmethod
    def of(cls, h: Hit) -> HitOut:
        return cls(
            record=MemoryOut.of(h.record), score=h.score, vector=h.vector, text=h.text,
            exact=h.exact, recency=h.recency, importance=h.importance,
        )  # fmt: skip


class EpisodeOut(BaseModel):
    """A finished task summarised from a session's steps."""

    id: str
    task_prompt: str
    outcome: str
    success: bool
    agent: str
    session: str | None
    steps: list[dict[str, Any]]
    duration_seconds: float | None = None
    tags: list[str]
    importance: float
    occurred_at: str
    occurred_at_ms: int
    score: float | None = None

    @classmethod
    def of(cls, e: Episode) -> EpisodeOut:
        return cls(
            id=e.id, task_prompt=e.task_prompt, outcome=e.outcome, success=e.success,
            agent=e.agent, session=e.session, steps=list(e.steps),
            duration_seconds=e.duration_seconds, tags=list(e.tags), importance=e.importance,
            occurred_at=iso(e.occurred_at), occurred_at_ms=e.occurred_at, score=e.score,
        )  # fmt: skip


class SkillOut(BaseModel):
    """A named procedure with its run statistics."""

    name: str
    description: str
    steps: list[Any]
    tags: list[str]
    runs: int
    successes: int
    total_duration: float
    success_rate: float | None
    mean_duration: float | None
    memory_id: str | None = None
    updated_at: str
    updated_at_ms: int
    score: float | None = None

    @classmethod
    def of(cls, s: Skill) -> SkillOut:
        return cls(
            name=s.name, description=s.description, steps=list(s.steps), tags=list(s.tags),
            runs=s.runs, successes=s.successes, total_duration=s.total_duration,
            success_rate=s.success_rate, mean_duration=s.mean_duration,
            memory_id=s.memory_id, updated_at=iso(s.updated_at), updated_at_ms=s.updated_at,
            score=s.score,
        )  # fmt: skip


class SearchAllOut(BaseModel):
    """Episodes, facts and skills relevant to one query."""

    episodic: list[EpisodeOut]
    semantic: list[HitOut]
    skills: list[SkillOut]

    @classmethod
    def of(cls, found: dict[str, list[Any]]) -> SearchAllOut:
        return cls(
            episodic=[EpisodeOut.of(e) for e in found["episodic"]],
            semantic=[HitOut.of(h) for h in found["semantic"]],
            skills=[SkillOut.of(s) for s in found["skills"]],
        )


class IntrospectionOut(BaseModel):
    """What an agent knows about a topic; ``summary`` is the same as text."""

    topic: str
    total: int
    by_kind: dict[str, int]
    strongest: list[HitOut]
    episodes: list[EpisodeOut]
    skills: list[SkillOut]
    summary: str

    @classmethod
    def of(cls, i: Introspection) -> IntrospectionOut:
        return cls(
            topic=i.topic, total=i.total, by_kind=dict(i.by_kind),
            strongest=[HitOut.of(h) for h in i.strongest],
            episodes=[EpisodeOut.of(e) for e in i.episodes],
            skills=[SkillOut.of(s) for s in i.skills], summary=i.summary(),
        )  # fmt: skip


class ErasureOut(BaseModel):
    """What an erasure removed (with ``dry_run``, what it would remove), by kind."""

    scope: str
    target: str
    counts: dict[str, int]
    total: int
    dry_run: bool

    @classmethod
    def of(cls, e: Erasure) -> ErasureOut:
        return cls(
            scope=e.scope, target=e.target, counts=dict(e.counts), total=e.total,
            dry_run=e.dry_run,
        )  # fmt: skip
