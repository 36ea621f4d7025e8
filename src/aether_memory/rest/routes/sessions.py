"""Sessions: meta and history, rotation, the event record, checkpoints, the tool schema and
saving a session as an episode."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from aether_memory.client.common import MAX_BATCH
from aether_memory.core.errors import InvalidInput
from aether_memory.rest.deps import Session
from aether_memory.rest.models import EpisodeOut, EventOut

router = APIRouter(prefix="/v1/namespaces/{ns}/agents/{agent}/sessions/{session}")

MAX_EVENTS_READ = 10_000
MAX_CHECKPOINT_N = 2**53


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetaOut(BaseModel):
    """The session's meta: agent, created_at (ms), parent and rotated_to when linked."""

    meta: dict[str, Any]


class HistoryOut(BaseModel):
    """The chain of session ids this session belongs to, oldest first."""

    sessions: list[str]


class RotatedOut(BaseModel):
    """The new session that continues this one (working memory carried over)."""

    id: str


class EventIn(_Body):
    """One event to append."""

    type: str = Field(description="e.g. step, tool_call, user_message, assistant_message.")
    data: Any = Field(description="Any JSON value.")
    outcome: str = "success"
    latency_ms: float | None = Field(None, allow_inf_nan=False)
    tokens_in: int | None = Field(None, ge=0, description="Model tokens the call read.")
    tokens_out: int | None = Field(None, ge=0, description="Model tokens the call wrote.")

    def row(self) -> tuple[str, Any, str, float | None, tuple[int, int] | None]:
        tokens = None
        if self.tokens_in is not None or self.tokens_out is not None:
            tokens = (self.tokens_in or 0, self.tokens_out or 0)
        return self.type, self.data, self.outcome, self.latency_ms, tokens


class EventsIn(_Body):
    """Several events, appended in order in one round trip."""

    events: list[EventIn] = Field(max_length=MAX_BATCH)


class MessageIn(_Body):
    """One conversation turn: who said it (`speaker`, or `role`), what, and when."""

    speaker: str | None = Field(None, description="Who said it; `role` if absent.")
    role: str | None = Field(None, description="e.g. user, assistant.")
    content: str
    at: datetime | int | None = Field(None, description="ISO 8601 or epoch ms; now if absent.")


class MessagesIn(_Body):
    """Conversation turns, in order: recorded as events and made recallable in one batch."""

    messages: list[MessageIn] = Field(max_length=MAX_BATCH)


class MessageOut(BaseModel):
    """A recorded turn: its event, its memory, and what was said."""

    event_id: str
    memory_id: str
    speaker: str
    content: str
    at: int


class MessagesOut(BaseModel):
    """The recorded turns, in order."""

    messages: list[MessageOut]


class StepIn(_Body):
    """One step of the agent's work (an event of type ``step``)."""

    action: str
    observation: Any = None
    reasoning: str | None = None
    success: bool = True
    data: dict[str, Any] = Field(
        default_factory=dict, description="More fields stored with the step."
    )


class EventsOut(BaseModel):
    """Events, oldest first."""

    events: list[EventOut]


class CheckpointIn(_Body):
    """The state to save as the session's next checkpoint."""

    state: Any = Field(description="Any JSON value.")


class CheckpointSavedOut(BaseModel):
    """The number of the checkpoint just saved (1, 2, ...)."""

    n: int


class StateOut(BaseModel):
    """A checkpoint's state (``null`` for latest when the session has none)."""

    state: Any


class ToolSchemaIn(_Body):
    """The tool schema to store if the session has none yet."""

    value: Any = Field(description="Any JSON value, e.g. a list of function schemas.")


class ToolSchemaOut(BaseModel):
    """The session's tool schema: the stored one if any, else the one just given."""

    value: Any


class EpisodeIn(_Body):
    """How the session's task went, to be summarised with its steps as an episode."""

    task_prompt: str
    outcome: str
    success: bool
    duration_seconds: float | None = Field(None, ge=0, allow_inf_nan=False)
    tags: list[str] = []
    importance: float = Field(0.5, ge=0, le=1)


@router.get("/meta", name="session_meta", tags=["sessions"])
async def session_meta(session: Session) -> MetaOut:
    """The session's meta (empty if it never had a write)."""
    return MetaOut(meta=await session.meta())


@router.get("/history", name="session_history", tags=["sessions"])
async def session_history(session: Session) -> HistoryOut:
    """The chain of sessions linked to this one by rotation, oldest first."""
    return HistoryOut(sessions=await session.history())


@router.post(
    "/rotate", name="rotate_session", tags=["sessions"], status_code=status.HTTP_201_CREATED
)
async def rotate_session(session: Session) -> RotatedOut:
    """Start a new session linked to this one, carrying the working memory over."""
    return RotatedOut(id=(await session.rotate()).id)


@router.post("/events", name="record_event", tags=["events"], status_code=status.HTTP_201_CREATED)
async def record_event(session: Session, body: EventIn) -> EventOut:
    """Append one event to the session's record."""
    return EventOut.of(await session.record(*body.row()))


@router.post(
    "/events/batch",
    name="record_events",
    tags=["events"],
    status_code=status.HTTP_201_CREATED,
)
async def record_events(session: Session, body: EventsIn) -> EventsOut:
    """Append several events in order, in one round trip."""
    rows = [e.row() for e in body.events]
    return EventsOut(events=[EventOut.of(e) for e in await session.record_many(rows)])


@router.post("/messages", name="add_messages", tags=["events"], status_code=status.HTTP_201_CREATED)
async def add_messages(session: Session, body: MessagesIn) -> MessagesOut:
    """Record conversation turns as events and recallable memories (kind ``message``)."""
    added = await session.add_messages(
        [m.model_dump(exclude_none=True, exclude_defaults=True) for m in body.messages]
    )
    return MessagesOut(
        messages=[
            MessageOut(
                event_id=m.event_id, memory_id=m.memory_id, speaker=m.speaker,
                content=m.content, at=m.at,
            )
            for m in added
        ]
    )  # fmt: skip


@router.get("/events", name="list_events", tags=["events"])
async def list_events(
    session: Session,
    limit: int = Query(20, ge=0, le=MAX_EVENTS_READ, description="The last N events."),
    types: Annotated[
        list[str] | None, Query(alias="type", description="Only these types (repeatable).")
    ] = None,
) -> EventsOut:
    """The last `limit` events (of the given types, if any), oldest first."""
    events = await session.events(limit=limit, types=types)
    return EventsOut(events=[EventOut.of(e) for e in events])


@router.post("/steps", name="add_step", tags=["events"], status_code=status.HTTP_201_CREATED)
async def add_step(session: Session, body: StepIn) -> EventOut:
    """Record one step (action, observation, reasoning, success and any other fields)."""
    clash = sorted(_STEP_FIELDS.intersection(body.data))
    if clash:
        raise InvalidInput(f"data may not repeat the step's own fields: {', '.join(clash)}")
    event = await session.add_step(
        body.action, body.observation, reasoning=body.reasoning, success=body.success, **body.data
    )
    return EventOut.of(event)


_STEP_FIELDS = frozenset({"self", "action", "observation", "reasoning", "success"})


@router.post(
    "/checkpoints",
    name="save_checkpoint",
    tags=["checkpoints"],
    status_code=status.HTTP_201_CREATED,
)
async def save_checkpoint(session: Session, body: CheckpointIn) -> CheckpointSavedOut:
    """Save the state as the session's next checkpoint."""
    return CheckpointSavedOut(n=await session.checkpoint(body.state))


@router.get("/checkpoints/latest", name="restore_latest", tags=["checkpoints"])
async def restore_latest(session: Session) -> StateOut:
    """The state of the latest checkpoint (``null`` when there is none)."""
    return StateOut(state=await session.restore())


@router.get("/checkpoints/{n}", name="restore_checkpoint", tags=["checkpoints"])
async def restore_checkpoint(
    session: Session, n: Annotated[int, Path(ge=1, le=MAX_CHECKPOINT_N)]
) -> StateOut:
    """The state of checkpoint `n` (404 if never saved, trimmed or expired)."""
    return StateOut(state=await session.restore(n))


@router.post("/tool-schema", name="tool_schema", tags=["sessions"])
async def tool_schema(session: Session, body: ToolSchemaIn) -> ToolSchemaOut:
    """Get or put the session's tool schema: the first one stored wins, later calls get it."""
    return ToolSchemaOut(value=await session.tool_schema(lambda: body.value))


@router.post(
    "/episode", name="save_episode", tags=["episodes"], status_code=status.HTTP_201_CREATED
)
async def save_episode(session: Session, body: EpisodeIn) -> EpisodeOut:
    """Summarise the session's steps and tool calls into a searchable episode."""
    episode = await session.save_episode(
        body.task_prompt, body.outcome, body.success, body.duration_seconds, body.tags,
        body.importance,
    )  # fmt: skip
    return EpisodeOut.of(episode)
