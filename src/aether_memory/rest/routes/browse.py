"""Browsing and erasing: cursor-paged listings of every collection, and erasure of a session,
an agent or a whole namespace (the last one with an admin key).

Every listing takes ``limit`` (1-1000) and ``cursor``, and answers with its items, ``next``
(the URL of the next page, also sent as a ``Link: <...>; rel="next"`` header) and
``next_cursor`` (the opaque token alone); both are null on the last page. A cursor is built
from the last item's sort key, so pages do not shift when items are added or removed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from aether_memory.core.config import DEFAULT_NAMESPACE
from aether_memory.core.pages import DEFAULT_LIMIT, MAX_LIMIT, Page
from aether_memory.rest.auth import Caller, check_admin
from aether_memory.rest.deps import Agent, Memory, Namespace, Session, get_pool
from aether_memory.rest.models import (
    CheckpointOut,
    EpisodeOut,
    ErasureOut,
    EventOut,
    MemoryOut,
    SessionOut,
    SkillOut,
)
from aether_memory.rest.routes.longterm import Timestamp

router = APIRouter()
NS = "/v1/namespaces/{ns}"
AGENT = NS + "/agents/{agent}"
SESSION = AGENT + "/sessions/{session}"

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1-1000).")]
Cursor = Annotated[
    str | None,
    Query(max_length=2048, description="The `next_cursor` of the previous page."),
]
DryRun = Annotated[bool, Query(description="Count what would be erased; erase nothing.")]


class _Paged(BaseModel):
    next: str | None = None
    next_cursor: str | None = None


class AgentsOut(_Paged):
    """Agent ids, in order."""

    agents: list[str]


class NamespacesOut(_Paged):
    """Namespaces that hold anything, in order."""

    namespaces: list[str]


class SessionsOut(_Paged):
    """Sessions, most recently active first."""

    sessions: list[SessionOut]


class EventsPageOut(_Paged):
    """Events, oldest first."""

    events: list[EventOut]


class CheckpointsOut(_Paged):
    """Checkpoints by number."""

    checkpoints: list[CheckpointOut]


class MemoriesOut(_Paged):
    """Long-term memories, oldest first."""

    memories: list[MemoryOut]


class EpisodesOut(_Paged):
    """Episodes, oldest first."""

    episodes: list[EpisodeOut]


class SkillsOut(_Paged):
    """Skills by name."""

    skills: list[SkillOut]


def _links(request: Request, response: Response, page: Page[Any]) -> dict[str, str | None]:
    """The `next` fields of a page, and its Link header."""
    if page.next is None:
        return {"next": None, "next_cursor": None}
    url = str(request.url.include_query_params(cursor=page.next))
    response.headers["Link"] = f'<{url}>; rel="next"'
    return {"next": url, "next_cursor": page.next}


@router.get("/v1/namespaces", name="list_namespaces", tags=["namespaces"])
async def list_namespaces(
    request: Request,
    response: Response,
    caller: Caller,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> NamespacesOut:
    """Every namespace that holds anything (an admin key for every namespace, ``*``)."""
    check_admin(caller, None)
    async with get_pool(request).lease(DEFAULT_NAMESPACE) as mem:
        page = await mem.list_namespaces(cursor, limit)
    return NamespacesOut(namespaces=list(page), **_links(request, response, page))


@router.get(NS + "/agents", name="list_agents", tags=["agents"])
async def list_agents(
    request: Request, response: Response, mem: Memory, limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> AgentsOut:  # fmt: skip
    """Agents that have written anything in this namespace, in order."""
    page = await mem.list_agents(cursor, limit)
    return AgentsOut(agents=list(page), **_links(request, response, page))


@router.get(AGENT + "/sessions", name="list_sessions", tags=["sessions"])
async def list_sessions(
    request: Request, response: Response, agent: Agent, limit: Limit = 100,
    cursor: Cursor = None,
) -> SessionsOut:  # fmt: skip
    """The agent's sessions, most recently active first."""
    page = await agent.list_sessions(cursor, limit)
    return SessionsOut(sessions=[SessionOut.of(s) for s in page], **_links(request, response, page))


@router.get(SESSION + "/log", name="list_event_log", tags=["events"])
async def list_event_log(
    request: Request, response: Response, session: Session, limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> EventsPageOut:  # fmt: skip
    """The session's whole event record, oldest first, a page at a time (``/events`` gives
    the last N)."""
    page = await session.list_events(cursor, limit)
    events = [EventOut.of(e) for e in page]
    return EventsPageOut(events=events, **_links(request, response, page))


@router.get(SESSION + "/checkpoints", name="list_checkpoints", tags=["checkpoints"])
async def list_checkpoints(
    request: Request, response: Response, session: Session, limit: Limit = 100,
    cursor: Cursor = None,
) -> CheckpointsOut:  # fmt: skip
    """The session's checkpoints by number."""
    page = await session.list_checkpoints(cursor, limit)
    saved = [CheckpointOut.of(c) for c in page]
    return CheckpointsOut(checkpoints=saved, **_links(request, response, page))


@router.get(NS + "/memories", name="list_memories", tags=["memories"])
async def list_memories(
    request: Request,
    response: Response,
    mem: Memory,
    kind: Annotated[list[str] | None, Query(description="Only these kinds (repeatable).")] = None,
    tag: Annotated[list[str] | None, Query(description="Any of these tags (repeatable).")] = None,
    agent: Annotated[list[str] | None, Query(description="Only these agents (repeatable).")] = None,
    session: Annotated[str | None, Query(description="Only this session.")] = None,
    since: Annotated[Timestamp | None, Query(description="occurred_at from (ms or ISO).")] = None,
    until: Annotated[Timestamp | None, Query(description="occurred_at up to (ms or ISO).")] = None,
    include_superseded: Annotated[
        bool, Query(description="Also memories a correction replaced.")
    ] = False,
    superseded_only: Annotated[
        bool, Query(description="Only memories a correction replaced.")
    ] = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> MemoriesOut:
    """The namespace's long-term memories, oldest first, filtered (current ones unless
    ``include_superseded`` or ``superseded_only``); reading them does not count as
    recalling them."""
    page = await mem.list_memories(
        kinds=kind, agent=agent, session=session, tags=tag, since=since, until=until,
        include_superseded=include_superseded, superseded_only=superseded_only,
        cursor=cursor, limit=limit,
    )  # fmt: skip
    memories = [MemoryOut.of(r) for r in page]
    return MemoriesOut(memories=memories, **_links(request, response, page))


@router.get(NS + "/episodes", name="list_episodes", tags=["episodes"])
async def list_episodes(
    request: Request,
    response: Response,
    mem: Memory,
    agent: Annotated[list[str] | None, Query(description="Only these agents (repeatable).")] = None,
    session: Annotated[str | None, Query(description="Only this session.")] = None,
    since: Annotated[Timestamp | None, Query(description="occurred_at from (ms or ISO).")] = None,
    until: Annotated[Timestamp | None, Query(description="occurred_at up to (ms or ISO).")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> EpisodesOut:
    """Saved episodes, oldest first."""
    page = await mem.list_episodes(
        agent=agent, session=session, since=since, until=until, cursor=cursor, limit=limit
    )
    episodes = [EpisodeOut.of(e) for e in page]
    return EpisodesOut(episodes=episodes, **_links(request, response, page))


@router.get(NS + "/skills", name="list_skills", tags=["skills"])
async def list_skills(
    request: Request, response: Response, mem: Memory, limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> SkillsOut:  # fmt: skip
    """The namespace's skills by name."""
    page = await mem.list_skills(cursor, limit)
    return SkillsOut(skills=[SkillOut.of(s) for s in page], **_links(request, response, page))


@router.delete(SESSION, name="erase_session", tags=["sessions"])
async def erase_session(
    session: Session,
    dry_run: DryRun = False,
    memories: Annotated[
        bool, Query(description="Also erase the long-term memories recorded in the session.")
    ] = False,
) -> ErasureOut:
    """Erase a session: working memory, scratchpad, events, checkpoints, tool schema and
    its index entry (and with `memories`, its long-term memories)."""
    return ErasureOut.of(await session.erase(dry_run=dry_run, memories=memories))


@router.delete(AGENT, name="erase_agent", tags=["agents"])
async def erase_agent(agent: Agent, dry_run: DryRun = False) -> ErasureOut:
    """Erase an agent: its sessions, the memories it formed and their skills, its identity
    and state. Calling it again finishes an erasure that was interrupted."""
    return ErasureOut.of(await agent.erase(dry_run=dry_run))


@router.delete(NS, name="erase_namespace", tags=["namespaces"])
async def erase_namespace(
    request: Request, ns: Namespace, caller: Caller, dry_run: DryRun = False
) -> ErasureOut:
    """Erase everything of a namespace, indexes and dedup state included (an admin key for
    this namespace)."""
    check_admin(caller, ns)
    async with get_pool(request).lease(ns) as mem:
        return ErasureOut.of(await mem.erase_namespace(dry_run=dry_run))
