"""What `aether inspect` and `aether search` show, gathered as plain data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aether_memory.client._sync.memory import Memory
from aether_memory.core.errors import (
    NotFound,
)
from aether_memory.core.ids import check_name
from aether_memory.core.query import Filters
from aether_memory.core.types import CheckpointInfo, Event, Hit, SessionInfo


@dataclass(frozen=True, slots=True)
class AgentReport:
    """What `aether inspect agent` shows."""

    agent: str
    identity: dict[str, str]
    state: dict[str, Any]
    sessions: list[SessionInfo]


@dataclass(frozen=True, slots=True)
class SessionReport:
    """What `aether inspect session` shows."""

    agent: str
    session: str
    meta: dict[str, Any]
    working: dict[str, Any]
    scratch: dict[str, Any]
    events: list[Event]
    checkpoints: list[CheckpointInfo]


def agent_report(mem: Memory, agent_id: str, sessions: int = 20) -> AgentReport:
    """An agent's identity documents, state and most recently active sessions.

    Raises:
        NotFound: The agent has no identity, state or session in the namespace.
    """
    agent = mem.agent(agent_id)
    report = AgentReport(
        agent=agent.id,
        identity=agent.identity.all(),
        state=agent.state.get(),
        sessions=agent.sessions(limit=sessions),
    )
    if not (report.identity or report.state or report.sessions):
        raise NotFound(f"agent {agent_id!r} has nothing stored in namespace {mem.namespace!r}")
    return report


def session_report(mem: Memory, agent_id: str, session_id: str, events: int = 20) -> SessionReport:
    """A session's meta, working memory, scratchpad, last events and checkpoints.

    Raises:
        NotFound: Nothing of the session is stored (never written, or expired).
    """
    session = mem.agent(agent_id).session(session_id)
    report = SessionReport(
        agent=agent_id,
        session=session.id,
        meta=session.meta(),
        working=session.working.all(),
        scratch=session.scratch.all(),
        events=session.events(limit=events),
        checkpoints=session.checkpoints(),
    )
    if not (report.meta or report.working or report.scratch or report.events or report.checkpoints):
        raise NotFound(
            f"no session {session_id!r} of agent {agent_id!r} in namespace {mem.namespace!r}"
        )
    return report


def search_memories(
    mem: Memory, query: str, k: int = 5, agent: str | None = None, kinds: Sequence[str] = ()
) -> list[Hit]:
    """Long-term recall over the namespace (or one agent's memories), best first.

    An admin's look does not count as an access: the memories' recall statistics (which
    feed nothing but `introspect`) are left alone.
    """
    scope = Filters(
        kinds=tuple(check_name(k_, "memory kind") for k_ in kinds),
        agents=() if agent is None else (check_name(agent, "agent id"),),
    )
    return mem.longterm.recall(query, k, scope, touch=False)
