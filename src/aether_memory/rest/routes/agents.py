"""Agents: their identity documents, their state and their sessions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from aether_memory.client.common import MAX_BATCH
from aether_memory.core.agent_metrics import MAX_BUCKET_S, AgentMetrics
from aether_memory.core.errors import InvalidInput, NotFound
from aether_memory.rest.deps import Agent, Name

router = APIRouter(prefix="/v1/namespaces/{ns}")
AGENT = "/agents/{agent}"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentityOut(BaseModel):
    """Every identity document of an agent, by name."""

    documents: dict[str, str]


class DocumentIn(_Body):
    """One identity document's text."""

    text: str


class DocumentsIn(_Body):
    """Several identity documents, by name, stored in one write (others are kept)."""

    documents: dict[str, str] = Field(max_length=MAX_BATCH)


class DocumentOut(BaseModel):
    """One identity document."""

    name: str
    text: str


class DeletedOut(BaseModel):
    """Whether the item existed before it was deleted."""

    deleted: bool


class StateOut(BaseModel):
    """An agent's state: every field set so far, and ``updated_at`` (ms)."""

    state: dict[str, Any]


class StateIn(_Body):
    """Fields to set (the others are kept); names follow the id rule."""

    fields: dict[str, Any] = Field(max_length=MAX_BATCH)


class NewSessionOut(BaseModel):
    """A new session id (nothing is stored until the session's first write)."""

    id: str


@router.get(AGENT + "/identity", name="get_identity", tags=["identity"])
async def get_identity(agent: Agent) -> IdentityOut:
    """Every identity document of the agent (persona, mission, rules)."""
    return IdentityOut(documents=await agent.identity.all())


@router.patch(
    AGENT + "/identity",
    name="put_identity_documents",
    tags=["identity"],
    status_code=status.HTTP_204_NO_CONTENT,
)
async def put_identity_documents(agent: Agent, body: DocumentsIn) -> None:
    """Store several identity documents in one write; documents not named are kept."""
    await agent.identity.put_many(body.documents)


@router.get(AGENT + "/identity/{name}", name="get_identity_document", tags=["identity"])
async def get_identity_document(agent: Agent, name: Name) -> DocumentOut:
    """One identity document (404 if there is none by that name)."""
    text = await agent.identity.get(name)
    if text is None:
        raise NotFound(f"agent {agent.id!r} has no identity document {name!r}")
    return DocumentOut(name=name, text=text)


@router.put(
    AGENT + "/identity/{name}",
    name="put_identity_document",
    tags=["identity"],
    status_code=status.HTTP_204_NO_CONTENT,
)
async def put_identity_document(agent: Agent, name: Name, body: DocumentIn) -> None:
    """Store or replace one identity document (kept with no TTL)."""
    await agent.identity.put(name, body.text)


@router.delete(AGENT + "/identity/{name}", name="delete_identity_document", tags=["identity"])
async def delete_identity_document(agent: Agent, name: Name) -> DeletedOut:
    """Remove one identity document."""
    return DeletedOut(deleted=await agent.identity.delete(name))


@router.get(AGENT + "/state", name="get_state", tags=["state"])
async def get_state(agent: Agent) -> StateOut:
    """The agent's state (empty if never set)."""
    return StateOut(state=await agent.state.get())


@router.patch(
    AGENT + "/state", name="set_state", tags=["state"], status_code=status.HTTP_204_NO_CONTENT
)
async def set_state(agent: Agent, body: StateIn) -> None:
    """Set the given fields of the agent's state (the others are kept)."""
    if "self" in body.fields:
        # `AgentState.set(**fields)` binds its own `self`: the name cannot be a field.
        raise InvalidInput("'self' cannot be a state field name")
    await agent.state.set(**body.fields)


@router.post(
    AGENT + "/sessions",
    name="new_session",
    tags=["sessions"],
    status_code=status.HTTP_201_CREATED,
)
async def new_session(agent: Agent) -> NewSessionOut:
    """A fresh, time-sortable session id; the session exists from its first write."""
    return NewSessionOut(id=agent.session().id)


@router.get(AGENT + "/metrics", name="get_agent_metrics", tags=["agents"])
async def get_agent_metrics(
    agent: Agent,
    since: str | None = Query(
        None, description="ISO 8601 time, or seconds ago; default: 60 buckets back."
    ),
    bucket: float = Query(60, description="Bucket width in seconds (a whole number of minutes)."),
    tool: str | None = Query(None, description="Only this tool's series."),
) -> AgentMetrics:
    """The agent's calls, errors, latency and tokens per time bucket (its total and each
    tool's), oldest first; buckets with no calls are left out."""
    return await agent.metrics(since=_since(since), bucket=bucket, tool=tool)


def _since(text: str | None) -> datetime | timedelta | None:
    if text is None:
        return None
    wrong = InvalidInput(f"since must be ISO 8601 or a number of seconds ago, not {text!r}")
    try:
        seconds = float(text)
    except ValueError:
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise wrong from None
    if not 0 <= seconds <= MAX_BUCKET_S:  # NaN fails this too
        raise wrong
    return timedelta(seconds=seconds)
