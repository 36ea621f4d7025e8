"""Coordination: the change feed as Server-Sent Events, presence, inboxes and broadcasts.

The feed stream sends each notification as one event: ``id`` its position, ``event`` its
kind, ``data`` the notification as JSON. A client that reconnects with ``Last-Event-ID``
(what `EventSource` does by itself) resumes after that position and misses nothing the feed
still holds; one that asks for a position the feed no longer holds gets a ``truncated`` event
(``data``: ``{"oldest": position}``) and the stream ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Header, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from aether_memory.core.feed import (
    DEFAULT_HEARTBEAT_TTL,
    MAX_INBOX_READ,
    FeedTruncated,
    check_agents,
    check_kinds,
    check_position,
)
from aether_memory.rest.auth import Caller, check_namespace
from aether_memory.rest.deps import Agent, Memory, Namespace, get_pool
from aether_memory.storage._async.feed import close_stream

router = APIRouter(prefix="/v1/namespaces/{ns}")
AGENT = "/agents/{agent}"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HeartbeatIn(_Body):
    """An agent's heartbeat: it reads as `status` for `ttl` seconds, then as offline."""

    status: str = "online"
    current_task: str | None = None
    ttl: float = DEFAULT_HEARTBEAT_TTL


class AgentStatusOut(BaseModel):
    """An agent's presence."""

    agent: str
    status: str
    online: bool
    current_task: str | None
    last_seen: int | None
    expires_at: int | None


class PresenceOut(BaseModel):
    """Every agent of the namespace with its presence."""

    agents: list[AgentStatusOut]


class SendIn(_Body):
    """A message to another agent of the namespace."""

    to: str
    body: Any = Field(description="Any JSON value.")


class SentOut(BaseModel):
    """The id of the message in the recipient's inbox."""

    id: str


class InboxIn(_Body):
    """Acknowledge up to message `ack` (those handled), then read up to `limit` after it."""

    ack: str | None = None
    limit: int = Field(default=100, ge=1, le=MAX_INBOX_READ)


class InboxMessageOut(BaseModel):
    id: str
    sender: str
    body: Any
    at: int


class InboxOut(BaseModel):
    """The agent's unacknowledged messages, oldest first."""

    messages: list[InboxMessageOut]


class BroadcastIn(_Body):
    """A broadcast to every subscriber of the namespace's feed."""

    channel: str
    body: Any = Field(description="Any JSON value.")
    agent: str = ""


class PositionOut(BaseModel):
    """The position of the newest notification."""

    position: str


def _event(position: str, kind: str, data: Any) -> bytes:
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (position.encode(), kind.encode(),
                                                 orjson.dumps(data))  # fmt: skip


@router.get(
    "/feed",
    name="feed",
    tags=["coordination"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def feed(
    request: Request,
    ns: Namespace,
    caller: Caller,
    kinds: list[str] | None = Query(default=None),
    agents: list[str] | None = Query(default=None),
    after: str | None = None,
    last_event_id: str | None = Header(default=None),
) -> StreamingResponse:
    """The namespace's notifications as Server-Sent Events, from now, after `after`, or after
    the ``Last-Event-ID`` header (which wins: it is how a client resumes)."""
    check_namespace(caller, ns)
    start = last_event_id or after
    if start is not None:
        check_position(start, "Last-Event-ID" if last_event_id else "after")
    check_kinds(kinds)
    check_agents(agents)
    pool = get_pool(request)

    # The client is leased for as long as the stream runs, not for the handler's call.
    async def events() -> AsyncIterator[bytes]:
        async with pool.lease(ns) as mem:
            yield b": subscribed\n\n"
            notes = mem.subscribe(kinds, agents, start)
            try:
                async for note in notes:
                    yield _event(note.position, note.kind, note.as_dict())
            except FeedTruncated as exc:
                yield b"event: truncated\ndata: %s\n\n" % orjson.dumps({"oldest": exc.oldest})
            finally:
                await close_stream(notes)  # its connection goes when the client does

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.get("/feed/position", name="feed_position", tags=["coordination"])
async def feed_position(mem: Memory) -> PositionOut:
    """The newest notification's position (subscribe after it for what follows)."""
    return PositionOut(position=await mem.feed.position())


@router.get("/presence", name="agents_status", tags=["coordination"])
async def agents_status(mem: Memory) -> PresenceOut:
    """Every agent of the namespace and its presence (offline once its heartbeat expired)."""
    found = await mem.agents_status()
    return PresenceOut(agents=[AgentStatusOut(**s.as_dict()) for s in found])


@router.put(
    AGENT + "/heartbeat",
    name="heartbeat",
    tags=["coordination"],
    status_code=status.HTTP_204_NO_CONTENT,
)
async def heartbeat(agent: Agent, body: HeartbeatIn) -> None:
    """Say the agent is alive (a change of status is a ``presence`` notification)."""
    await agent.heartbeat(body.status, body.current_task, body.ttl)


@router.post(AGENT + "/messages", name="send_message", tags=["coordination"], status_code=201)
async def send_message(agent: Agent, body: SendIn) -> SentOut:
    """Put a message from this agent into another agent's inbox."""
    return SentOut(id=await agent.send(body.to, body.body))


@router.post(AGENT + "/inbox", name="read_inbox", tags=["coordination"])
async def read_inbox(agent: Agent, body: InboxIn) -> InboxOut:
    """Acknowledge the messages up to `ack`, then read the next ones (at least once: a
    message stays until acknowledged)."""
    found = await agent.inbox(body.limit, body.ack)
    return InboxOut(messages=[InboxMessageOut(**m.as_dict()) for m in found])


@router.post(
    "/broadcasts",
    name="broadcast",
    tags=["coordination"],
    status_code=status.HTTP_204_NO_CONTENT,
)
async def broadcast(mem: Memory, body: BroadcastIn) -> None:
    """Tell every subscriber of the namespace's feed (kind ``broadcast``, id `channel`)."""
    await mem.broadcast(body.channel, body.body, body.agent)
