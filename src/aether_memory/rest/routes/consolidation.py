"""Consolidation and summaries: merge related memories of a namespace, summarise what an
agent knows about a topic, close a session (saving its summary)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from aether_memory.rest.deps import Agent, Memory, Session
from aether_memory.rest.models import MemoryOut

router = APIRouter(prefix="/v1/namespaces/{ns}")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsolidateIn(_Body):
    """Which memories to consolidate, and how close a group must be."""

    kinds: list[str] = Field(default_factory=lambda: ["episodic", "fact"])
    threshold: float = Field(0.6, gt=0, le=1, description="Cosine to a group's centre.")
    min_size: int = Field(3, ge=2, le=50, description="The smallest group consolidated.")
    max_sentences: int = Field(3, ge=1, le=50, description="Sentences per summary.")
    dry_run: bool = Field(False, description="Count the groups; write nothing.")


class ConsolidationOut(BaseModel):
    """What the run did; `created` are the ids of the consolidated memories written."""

    examined: int
    candidates: int
    clusters: int
    consolidated: int
    created: list[str]


class SummarizeIn(_Body):
    """The subject to summarise."""

    topic: str
    max_sentences: int = Field(3, ge=1, le=50)


class SummaryOut(BaseModel):
    """A summary of the memories relevant to a topic, and their ids (strongest first)."""

    topic: str
    summary: str
    sources: list[str]
    total: int
    by_kind: dict[str, int]
    summarizer: str


class ClosedOut(BaseModel):
    """The session's saved summary (null when it recorded nothing)."""

    summary: MemoryOut | None


@router.post("/consolidate", name="consolidate", tags=["memories"])
async def consolidate(mem: Memory, body: ConsolidateIn) -> ConsolidationOut:
    """Merge each group of related memories into one consolidated memory linked to them
    (idempotent: a second run adds nothing)."""
    report = await mem.consolidate(
        body.kinds, body.threshold, body.min_size, body.max_sentences, body.dry_run
    )
    return ConsolidationOut(**report.as_dict())


@router.post("/agents/{agent}/summarize", name="summarize", tags=["memories"])
async def summarize(agent: Agent, body: SummarizeIn) -> SummaryOut:
    """A short summary of what the agent knows about a topic."""
    found = await agent.summarize(body.topic, body.max_sentences)
    return SummaryOut(
        topic=found.topic, summary=found.summary, sources=list(found.sources),
        total=found.total, by_kind=found.by_kind, summarizer=found.summarizer,
    )  # fmt: skip


@router.post("/agents/{agent}/sessions/{session}/close", name="close_session", tags=["sessions"])
async def close_session(session: Session) -> ClosedOut:
    """End a session: its summary is saved as an episodic memory ("compress on close")."""
    record = await session.close()
    return ClosedOut(summary=None if record is None else MemoryOut.of(record))
