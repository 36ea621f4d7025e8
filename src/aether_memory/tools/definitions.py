"""What each memory tool is called, what it is for and what it takes (pure data).

The descriptions are written for a model: when to use the tool, what it returns. The argument
models give both the JSON schemas and the validation of incoming calls.

Every schema is *strict*, as OpenAI's strict function calling and Anthropic's strict tool use
want it: each object lists all its properties as required and forbids others
(``additionalProperties: false``), an optional argument is nullable (``null`` means "the
default", which the description states), and free-form objects (working-memory values, event
data, checkpoint state) are JSON text, since a strict schema cannot leave an object open. The
validation accepts what providers send: ``null`` for an omitted optional, and such a JSON text
or the object itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

Format = Literal["openai", "anthropic", "mcp"]
SESSION_ARG: Final = "session"


def _json_object(value: Any) -> Any:
    if isinstance(value, str | bytes):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise ValueError("must be a JSON object")
    return value


JsonObject = Annotated[
    dict[str, Any],
    BeforeValidator(_json_object),
    WithJsonSchema({"type": "string"}),
]
"""A free-form JSON object: JSON text in the schema, an object or that text in a call."""


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _nulls_mean_defaults(cls, data: Any) -> Any:
        # Strict-mode providers send every property; null stands for "not given".
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class StoreMemory(_Args):
    content: str = Field(
        description="The fact, event or lesson to remember, in one or two sentences."
    )
    kind: str = Field("fact", description="fact, episodic, semantic, procedural, or your own word.")
    importance: float = Field(0.5, ge=0, le=1, description="0 (trivia) to 1 (must not forget).")
    tags: list[str] = Field(default_factory=list, description="Labels to filter by later.")


class SearchMemory(_Args):
    query: str = Field(description="What you want to know, in natural language.")
    k: int = Field(5, ge=1, le=50, description="How many memories to return.")
    kinds: list[str] | None = Field(None, description="Only these kinds (e.g. ['fact']).")
    tags: list[str] | None = Field(None, description="Only memories with one of these tags.")
    include_superseded: bool = Field(
        False, description="Also outdated memories that a correction replaced (history)."
    )
    include_archive: bool = Field(
        False,
        description="Also search the archive of old memories (slower; those found come back "
        "into memory). Only when an archive is configured.",
    )


class ForgetMemory(_Args):
    memory_id: str = Field(description="The id returned by store_memory or search_memory.")
    cascade: bool = Field(False, description="Also forget the memories linked from this one.")


class SummarizeMemory(_Args):
    topic: str = Field(description="The subject to summarise what you know about.")


class GetWorkingMemory(_Args):
    session: str = Field(description="The session id.")
    key: str | None = Field(None, description="One key; null for all of working memory.")


class SetWorkingMemory(_Args):
    session: str = Field(description="The session id.")
    values: JsonObject = Field(
        description='Keys and values to set (others are kept), as a JSON object: {"goal": "..."}.'
    )


class RecordEvent(_Args):
    session: str = Field(description="The session id.")
    event_type: str = Field(description="e.g. tool_call, user_message, observation, decision.")
    data: JsonObject = Field(description="What happened, as a JSON object.")
    outcome: str = Field("success", description="success, failure, or another short word.")


class Turn(_Args):
    speaker: str = Field(description="Who said it (a name, or user / assistant).")
    content: str = Field(description="What was said.")
    at: str | None = Field(None, description="When, as ISO 8601; null for now.")


class AddMessages(_Args):
    session: str = Field(description="The session id.")
    messages: list[Turn] = Field(max_length=1000, description="The turns, oldest first.")


class Checkpoint(_Args):
    session: str = Field(description="The session id.")
    state: JsonObject = Field(description="Everything needed to resume the task, as a JSON object.")


class RestoreCheckpoint(_Args):
    session: str = Field(description="The session id.")
    n: int | None = Field(None, ge=1, description="Checkpoint number; null for the latest.")


class GetContext(_Args):
    query: str = Field(description="The task or question the context is for.")
    session: str | None = Field(
        None, description="Include this session's working memory and steps."
    )
    budget_tokens: int = Field(2000, ge=50, le=32000, description="Size limit of the block.")


class SendMessage(_Args):
    to_agent: str = Field(description="The id of the agent to send to (same namespace).")
    message: str = Field(max_length=60_000, description="What to tell it, as text.")


class ReadInbox(_Args):
    ack: str | None = Field(
        None,
        description="The id of the last message you have handled (they are then removed); "
        "null to acknowledge nothing.",
    )
    limit: int = Field(20, ge=1, le=1000, description="How many messages to return.")


class AgentsStatus(_Args):
    pass


class ClaimTask(_Args):
    queue: str = Field(description="The task queue's name.")
    wait_seconds: float = Field(
        0, ge=0, le=20, description="How long to wait for a task when none is ready."
    )


class CompleteTask(_Args):
    queue: str = Field(description="The task queue's name.")
    task_id: str = Field(description="The id claim_task returned.")
    lease: str = Field(description="The lease claim_task returned.")
    success: bool = Field(True, description="false if the task failed (it will be retried).")
    error: str | None = Field(None, description="What went wrong, when success is false.")


class ConsolidateMemory(_Args):
    kinds: list[str] = Field(
        default_factory=lambda: ["episodic", "fact"], description="The kinds to consolidate."
    )
    dry_run: bool = Field(False, description="Only count the groups; change nothing.")


@dataclass(frozen=True)
class Hints:
    """What a tool does to memory, for clients that ask before running (MCP annotations)."""

    read_only: bool
    destructive: bool = False
    idempotent: bool = False


READS: Final = Hints(read_only=True, idempotent=True)


@dataclass(frozen=True)
class ToolSpec:
    """One memory tool: its name, title, description for a model, argument model and hints."""

    name: str
    title: str
    description: str
    args: type[BaseModel]
    hints: Hints

    @property
    def takes_session(self) -> bool:
        """Whether the tool has a ``session`` argument (fixed by ``tools.bound(session)``)."""
        return SESSION_ARG in self.args.model_fields

    def schema(self, bound: bool = False) -> dict[str, Any]:
        """The strict JSON schema of the arguments; `bound` leaves ``session`` out."""
        return strict_schema(self.args, omit=(SESSION_ARG,) if bound else ())

    def as_format(self, fmt: Format, bound: bool = False) -> dict[str, Any]:
        """The tool as OpenAI (strict), Anthropic or MCP (titled, annotated) expect it."""
        schema = self.schema(bound)
        if fmt == "openai":
            return {
                "type": "function",
                "function": {
                    "name": self.name,
                    "description": self.description,
                    "parameters": schema,
                    "strict": True,
                },
            }
        if fmt == "anthropic":
            return {"name": self.name, "description": self.description, "input_schema": schema}
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": schema,
            "annotations": {
                "title": self.title,
                "readOnlyHint": self.hints.read_only,
                "destructiveHint": self.hints.destructive,
                "idempotentHint": self.hints.idempotent,
                "openWorldHint": False,
            },
        }


def strict_schema(model: type[BaseModel], omit: tuple[str, ...] = ()) -> dict[str, Any]:
    """The strict-mode JSON schema of an argument model: every property required, the
    optional ones nullable with their default in the description, no titles, no defaults,
    ``additionalProperties: false``; nested models (a list of turns) are inlined the same
    way, so the schema has no ``$defs`` to resolve."""
    raw = model.model_json_schema()
    return _strict_object(raw, raw.get("$defs", {}), omit)


def _strict_object(
    raw: dict[str, Any], defs: dict[str, Any], omit: tuple[str, ...] = ()
) -> dict[str, Any]:
    required = set(raw.get("required", ()))
    properties: dict[str, Any] = {}
    for name, prop in raw["properties"].items():
        if name in omit:
            continue
        prop = _inline({k: v for k, v in prop.items() if k not in ("title", "default")}, defs)
        if name not in required:
            prop = _nullable(prop)
            default = raw["properties"][name].get("default")
            if default is not None:
                note = f"Default: {orjson.dumps(default).decode()}."
                prop["description"] = f"{prop.get('description', '')} {note}".strip()
        properties[name] = prop
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _inline(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """`prop` with every ``$ref`` to a nested model replaced by its strict schema."""
    ref = prop.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        rest = {k: v for k, v in prop.items() if k != "$ref"}
        return {**_strict_object(defs[ref.rsplit("/", 1)[1]], defs), **rest}
    out = dict(prop)
    if isinstance(out.get("items"), dict):
        out["items"] = _inline(out["items"], defs)
    if isinstance(out.get("anyOf"), list):
        out["anyOf"] = [_inline(o, defs) if isinstance(o, dict) else o for o in out["anyOf"]]
    return out


def _nullable(prop: dict[str, Any]) -> dict[str, Any]:
    if "anyOf" in prop:
        options = [{k: v for k, v in o.items() if k != "title"} for o in prop["anyOf"]]
        if {"type": "null"} not in options:
            options.append({"type": "null"})
        return {**prop, "anyOf": options}
    kind = prop.get("type")
    if isinstance(kind, str):
        return {**prop, "type": [kind, "null"]}
    return {"anyOf": [prop, {"type": "null"}]}


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "store_memory",
        "Store a memory",
        "Save something worth remembering across sessions: a fact about the user or the world, "
        "a decision, a lesson from a failure. Repeating a known fact reinforces it instead of "
        "duplicating it; a correction (the same fact with a new number, date, name or a "
        "negation) supersedes the old one. Returns the memory id and its status: created, "
        "duplicate, near_duplicate or superseded.",
        StoreMemory,
        Hints(read_only=False),
    ),
    ToolSpec(
        "search_memory",
        "Search memory",
        "Look up long-term memory before answering from scratch: returns the most relevant "
        "memories with their ids, kinds, dates and scores. Facts replaced by a correction are "
        "left out unless include_superseded is true.",
        SearchMemory,
        READS,
    ),
    ToolSpec(
        "forget_memory",
        "Forget a memory",
        "Delete a memory that is wrong or that the user asked you to forget. Returns how many "
        "memories were removed.",
        ForgetMemory,
        Hints(read_only=False, destructive=True, idempotent=True),
    ),
    ToolSpec(
        "summarize_memory",
        "Summarize what is known",
        "Answer 'what do I know about X?': a short summary of the memories relevant to the "
        "topic, the ids of those memories, and how many of each kind there are.",
        SummarizeMemory,
        READS,
    ),
    ToolSpec(
        "get_working_memory",
        "Read working memory",
        "Read the current session's working memory (scratch state of the task in progress).",
        GetWorkingMemory,
        READS,
    ),
    ToolSpec(
        "set_working_memory",
        "Update working memory",
        "Update the current session's working memory: goals, intermediate results, plans. "
        "It expires an hour after the last write; use store_memory for anything lasting.",
        SetWorkingMemory,
        Hints(read_only=False, destructive=True, idempotent=True),
    ),
    ToolSpec(
        "record_event",
        "Record an event",
        "Append an event (a tool call, an observation, a decision) to the session's episodic "
        "record, so that later you or another agent can see what happened, in order.",
        RecordEvent,
        Hints(read_only=False),
    ),
    ToolSpec(
        "add_messages",
        "Record conversation turns",
        "Record turns of a conversation (who said what, when) in the session, each one "
        "searchable later with search_memory. Returns the memory id of each turn.",
        AddMessages,
        Hints(read_only=False),
    ),
    ToolSpec(
        "checkpoint",
        "Save a checkpoint",
        "Save the task's state so it can resume after a crash or in another process. Returns "
        "the checkpoint number.",
        Checkpoint,
        Hints(read_only=False),
    ),
    ToolSpec(
        "restore_checkpoint",
        "Restore a checkpoint",
        "Load the latest (or a numbered) checkpoint of a session to resume its task.",
        RestoreCheckpoint,
        READS,
    ),
    ToolSpec(
        "get_context",
        "Get the context block",
        "Get one prompt block with who you are, the session's working memory and recent steps, "
        "and the memories, past episodes and skills relevant to a task, within a token budget.",
        GetContext,
        READS,
    ),
    ToolSpec(
        "send_message",
        "Send a message to an agent",
        "Send a text message to another agent of your team; it waits in that agent's inbox "
        "until the agent reads and acknowledges it. Returns the message id.",
        SendMessage,
        Hints(read_only=False),
    ),
    ToolSpec(
        "read_inbox",
        "Read your inbox",
        "Read the messages other agents sent you, oldest first, each with its id and sender. "
        "Pass the id of the last message you have dealt with as ack: those are removed, and "
        "the rest are returned again until you acknowledge them.",
        ReadInbox,
        Hints(read_only=False, destructive=True, idempotent=True),
    ),
    ToolSpec(
        "agents_status",
        "See which agents are online",
        "List every agent of your team with its status (online ones say what they work on; "
        "an agent that stopped sending heartbeats reads as offline).",
        AgentsStatus,
        READS,
    ),
    ToolSpec(
        "claim_task",
        "Claim a task",
        "Take the next task from a shared task queue, to work on it alone: returns its id, "
        "the task, how many times it was delivered, and a lease; or null when none is ready. "
        "Call complete_task with the id and lease when done, before the lease ends (30 s by "
        "default), or the task goes back to the queue for another agent.",
        ClaimTask,
        Hints(read_only=False),
    ),
    ToolSpec(
        "complete_task",
        "Complete a task",
        "Report a claimed task done (success true) or failed (success false, with the error: "
        "it is retried later, and dead-lettered after repeated failures). Returns the task's "
        "state; an error lease_lost means the lease ended first and the task went to another "
        "agent.",
        CompleteTask,
        Hints(read_only=False),
    ),
    ToolSpec(
        "consolidate_memory",
        "Consolidate your memories",
        "Tidy your long-term memory: each group of closely related memories of yours (say, "
        "many notes about one habit) is merged into one summary memory linked to them; the "
        "originals are kept. Running it again changes nothing. Returns how many memories were "
        "examined and merged, and the ids of the summary memories written.",
        ConsolidateMemory,
        Hints(read_only=False, idempotent=True),
    ),
)

BY_NAME = {tool.name: tool for tool in TOOLS}
