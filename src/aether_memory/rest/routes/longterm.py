"""Long-term memory of an agent: remember, recall, episodes, skills, search, context and
introspection. (A memory by id — get, update, forget — is in `routes.namespace`: ids are
unique in the namespace, whichever agent formed the memory.)

Searches are POST with a JSON body: they take structured filters, and a recall updates the
access statistics of what it returns, so it is not a safe GET.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from aether_memory.client.common import MAX_BATCH
from aether_memory.client.records import MAX_CONTENT_CHARS, Memorable
from aether_memory.rest.deps import Agent, Name
from aether_memory.rest.models import (
    EpisodeOut,
    HitOut,
    IntrospectionOut,
    MemoryOut,
    SearchAllOut,
    SkillOut,
)

router = APIRouter(prefix="/v1/namespaces/{ns}/agents/{agent}")

MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_RESULTS = 1000


def _epoch_ms(value: datetime | int) -> int:
    """Milliseconds for a datetime (naive = UTC) or epoch milliseconds, within 1970-9999."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        try:
            value = int(value.timestamp() * 1000)
        except (OverflowError, ValueError):
            value = -1
    if not 0 <= value <= MAX_MS:
        raise ValueError("a time must be between 1970 and 9999 (epoch milliseconds or ISO 8601)")
    return value


Timestamp = Annotated[
    datetime | int,
    AfterValidator(_epoch_ms),
    Field(description="Epoch milliseconds, or an ISO 8601 date-time (naive means UTC)."),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RememberIn(_Body):
    """A memory to store."""

    content: str = Field(max_length=MAX_CONTENT_CHARS)
    kind: str = "fact"
    importance: float = Field(0.5, ge=0, le=1)
    tags: list[str] = []
    session: str | None = None
    source: str | None = None
    metadata: dict[str, Any] | None = None
    related: list[str] = []
    occurred_at: Timestamp | None = None

    def memorable(self) -> Memorable:
        return Memorable(
            content=self.content, kind=self.kind, importance=self.importance,
            tags=tuple(self.tags), session=self.session, source=self.source,
            metadata=self.metadata, related=tuple(self.related), occurred_at=self.occurred_at,
        )  # fmt: skip


class RememberManyIn(_Body):
    """Several memories (or plain texts, stored as facts) in one batch."""

    items: list[RememberIn | str] = Field(max_length=MAX_BATCH)


class MemoriesOut(BaseModel):
    """Memories, in the order they were given."""

    memories: list[MemoryOut]


class RecallIn(_Body):
    """What to recall, and the filters (the whole namespace unless `agents` narrows it)."""

    query: str
    k: int = Field(5, ge=1, le=MAX_RESULTS)
    kinds: list[str] | None = None
    session: str | None = None
    tags: list[str] | None = None
    since: Timestamp | None = None
    until: Timestamp | None = None
    min_importance: float | None = Field(None, ge=0, le=1, strict=True)
    agents: list[str] | None = Field(None, description="Only memories of these agents.")
    include_superseded: bool = Field(
        False, strict=True, description="Also memories replaced by a correction (history)."
    )
    include_archive: bool = Field(
        False, strict=True, description="Also search the archive (503 without one)."
    )


class HitsOut(BaseModel):
    """Recalled memories, best first."""

    hits: list[HitOut]


class SearchIn(_Body):
    """A query and how many results."""

    query: str
    limit: int = Field(5, ge=1, le=MAX_RESULTS)


class EpisodesOut(BaseModel):
    """Episodes, most relevant first."""

    episodes: list[EpisodeOut]


class SkillIn(_Body):
    """A skill's description and steps (its run statistics are kept on replace)."""

    description: str
    steps: list[Any] = Field(max_length=MAX_BATCH)
    tags: list[str] = []


class ExecutionIn(_Body):
    """One run of a skill."""

    success: bool
    duration: float = Field(ge=0, allow_inf_nan=False, description="Seconds.")


class SkillsOut(BaseModel):
    """Skills, most relevant first."""

    skills: list[SkillOut]


class SearchAllIn(_Body):
    """A query for episodes, facts and skills at once."""

    query: str
    limit_per_type: int = Field(3, ge=1, le=100)


class ContextIn(_Body):
    """What the prompt block is for, and its size."""

    query: str
    budget_tokens: int = Field(2000, ge=1, le=1_000_000)
    session: str | None = Field(None, description="Include this session's state and steps.")
    detailed_steps: int = Field(5, ge=0, le=1000)
    limit_per_type: int = Field(2, ge=1, le=100)


class ContextOut(BaseModel):
    """The prompt block: identity, working memory, recent steps, memories, episodes, skills."""

    context: str


class TopicIn(_Body):
    """The subject to introspect."""

    topic: str


@router.post(
    "/memories",
    name="remember",
    tags=["memories"],
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": MemoryOut, "description": "Known already: reinforced"}},
)
async def remember(agent: Agent, body: RememberIn, response: Response) -> MemoryOut:
    """Store a long-term memory, recallable at once. The same text is not stored twice and
    a near-identical one reinforces the existing memory: then the status is 200 and the
    record's ``status`` says ``duplicate`` or ``near_duplicate``. A near-identical one that
    differs in a number, a date, a name or a negation is a correction: it is stored (201,
    ``superseded``, ``supersedes`` naming the old memory) and the old one leaves recall."""
    record = await agent.remember(
        body.content, kind=body.kind, importance=body.importance, tags=body.tags,
        session=body.session, source=body.source, metadata=body.metadata,
        related=body.related, occurred_at=body.occurred_at,
    )  # fmt: skip
    if record.status not in ("created", "superseded"):
        response.status_code = status.HTTP_200_OK
    return MemoryOut.of(record)


@router.post(
    "/memories/batch",
    name="remember_many",
    tags=["memories"],
    status_code=status.HTTP_201_CREATED,
)
async def remember_many(agent: Agent, body: RememberManyIn) -> MemoriesOut:
    """Store several memories with one embedding batch (each with its own ``status``)."""
    items = [i if isinstance(i, str) else i.memorable() for i in body.items]
    return MemoriesOut(memories=[MemoryOut.of(r) for r in await agent.remember_many(items)])


@router.post("/recall", name="recall", tags=["memories"])
async def recall(agent: Agent, body: RecallIn) -> HitsOut:
    """The `k` memories that best answer the query, best first (memories superseded by a
    correction only with ``include_superseded``; archived ones brought back with
    ``include_archive``)."""
    hits = await agent.recall(
        body.query, k=body.k, kinds=body.kinds, session=body.session, tags=body.tags,
        since=body.since, until=body.until, min_importance=body.min_importance,
        agent=body.agents, include_superseded=body.include_superseded,
        include_archive=body.include_archive,
    )  # fmt: skip
    return HitsOut(hits=[HitOut.of(h) for h in hits])


@router.post("/episodes/search", name="search_episodes", tags=["episodes"])
async def search_episodes(agent: Agent, body: SearchIn) -> EpisodesOut:
    """Past episodes (of any agent in the namespace) relevant to the query."""
    found = await agent.search_episodes(body.query, body.limit)
    return EpisodesOut(episodes=[EpisodeOut.of(e) for e in found])


@router.put("/skills/{name}", name="save_skill", tags=["skills"])
async def save_skill(agent: Agent, name: Name, body: SkillIn) -> SkillOut:
    """Create or replace a skill (shared by the namespace; run statistics are kept)."""
    return SkillOut.of(await agent.save_skill(name, body.description, body.steps, body.tags))


@router.get("/skills/{name}", name="get_skill", tags=["skills"])
async def get_skill(agent: Agent, name: Name) -> SkillOut:
    """One skill with its success rate and mean duration (404 if there is none)."""
    return SkillOut.of(await agent.skill(name))


@router.post("/skills/{name}/executions", name="record_skill_execution", tags=["skills"])
async def record_skill_execution(agent: Agent, name: Name, body: ExecutionIn) -> SkillOut:
    """Count one run of the skill; returns it with its updated statistics."""
    return SkillOut.of(await agent.record_skill_execution(name, body.success, body.duration))


@router.post("/skills/search", name="search_skills", tags=["skills"])
async def search_skills(agent: Agent, body: SearchIn) -> SkillsOut:
    """Skills whose name and description match the query."""
    found = await agent.search_skills(body.query, body.limit)
    return SkillsOut(skills=[SkillOut.of(s) for s in found])


@router.post("/search", name="search_all", tags=["memories"])
async def search_all(agent: Agent, body: SearchAllIn) -> SearchAllOut:
    """Episodes, facts and skills relevant to the query, in one call."""
    return SearchAllOut.of(await agent.search_all(body.query, body.limit_per_type))


@router.post("/context", name="context", tags=["memories"])
async def context(agent: Agent, body: ContextIn) -> ContextOut:
    """One prompt block for the query within a token budget, most useful first."""
    text = await agent.context(
        body.query, budget_tokens=body.budget_tokens, session=body.session,
        detailed_steps=body.detailed_steps, limit_per_type=body.limit_per_type,
    )  # fmt: skip
    return ContextOut(context=text)


@router.post("/introspect", name="introspect", tags=["memories"])
async def introspect(agent: Agent, body: TopicIn) -> IntrospectionOut:
    """What the agent knows about a topic (counts, strongest memories, episodes, skills)."""
    return IntrospectionOut.of(await agent.introspect(body.topic))
