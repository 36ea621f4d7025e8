"""What each memory tool is called, what it is for and what it takes (pure data).

The descriptions are written for a model: when to use the tool, what it returns. The argument
models give both the JSON schemas and the validation of incoming calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Format = Literal["openai", "anthropic", "mcp"]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class ForgetMemory(_Args):
    memory_id: str = Field(description="The id returned by store_memory or search_memory.")
    cascade: bool = Field(False, description="Also forget the memories linked from this one.")


class SummarizeMemory(_Args):
    topic: str = Field(description="The subject to summarise what you know about.")


class GetWorkingMemory(_Args):
    session: str = Field(description="The session id.")
    key: str | None = Field(None, description="One key; omit to get all of working memory.")


class SetWorkingMemory(_Args):
    session: str = Field(description="The session id.")
    values: dict[str, Any] = Field(description="Keys and JSON values to set (others are kept).")


class RecordEvent(_Args):
    session: str = Field(description="The session id.")
    event_type: str = Field(description="e.g. tool_call, user_message, observation, decision.")
    data: dict[str, Any] = Field(description="What happened, as a JSON object.")
    outcome: str = Field("success", description="success, failure, or another short word.")


class Turn(_Args):
    speaker: str = Field(description="Who said it (a name, or user / assistant).")
    content: str = Field(description="What was said.")
    at: str | None = Field(None, description="When, as ISO 8601; omit for now.")


class AddMessages(_Args):
    session: str = Field(description="The session id.")
    messages: list[Turn] = Field(max_length=1000, description="The turns, oldest first.")


class Checkpoint(_Args):
    session: str = Field(description="The session id.")
    state: dict[str, Any] = Field(description="Everything needed to resume the task.")


class RestoreCheckpoint(_Args):
    session: str = Field(description="The session id.")
    n: int | None = Field(None, ge=1, description="Checkpoint number; omit for the latest.")


class GetContext(_Args):
    query: str = Field(description="The task or question the context is for.")
    session: str | None = Field(
        None, description="Include this session's working memory and steps."
    )
    budget_tokens: int = Field(2000, ge=50, le=32000, description="Size limit of the block.")


@dataclass(frozen=True)
class ToolSpec:
    """One memory tool: its name, its description for a model, its argument model."""

    name: str
    description: str
    args: type[BaseModel]

    def schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments (without pydantic's titles)."""
        schema: dict[str, Any] = _strip_titles(self.args.model_json_schema())
        return schema

    def as_format(self, fmt: Format) -> dict[str, Any]:
        if fmt == "openai":
            return {
                "type": "function",
                "function": {
                    "name": self.name,
                    "description": self.description,
                    "parameters": self.schema(),
                },
            }
        if fmt == "anthropic":
            return {
                "name": self.name,
                "description": self.description,
                "input_schema": self.schema(),
            }
        return {"name": self.name, "description": self.description, "inputSchema": self.schema()}


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "store_memory",
        "Save something worth remembering across sessions: a fact about the user or the world, "
        "a decision, a lesson from a failure. Repeating a known fact reinforces it instead of "
        "duplicating it. Returns the memory id and whether it was new.",
        StoreMemory,
    ),
    ToolSpec(
        "search_memory",
        "Look up long-term memory before answering from scratch: returns the most relevant "
        "memories (newest facts win over outdated ones) with their ids, kinds, dates and scores.",
        SearchMemory,
    ),
    ToolSpec(
        "forget_memory",
        "Delete a memory that is wrong or that the user asked you to forget. Returns how many "
        "memories were removed.",
        ForgetMemory,
    ),
    ToolSpec(
        "summarize_memory",
        "Answer 'what do I know about X?': counts by kind, the strongest memories, related past "
        "episodes and skills, as a short text.",
        SummarizeMemory,
    ),
    ToolSpec(
        "get_working_memory",
        "Read the current session's working memory (scratch state of the task in progress).",
        GetWorkingMemory,
    ),
    ToolSpec(
        "set_working_memory",
        "Update the current session's working memory: goals, intermediate results, plans. "
        "It expires an hour after the last write; use store_memory for anything lasting.",
        SetWorkingMemory,
    ),
    ToolSpec(
        "record_event",
        "Append an event (a tool call, an observation, a decision) to the session's episodic "
        "record, so that later you or another agent can see what happened, in order.",
        RecordEvent,
    ),
    ToolSpec(
        "add_messages",
        "Record turns of a conversation (who said what, when) in the session, each one "
        "searchable later with search_memory. Returns the memory id of each turn.",
        AddMessages,
    ),
    ToolSpec(
        "checkpoint",
        "Save the task's state so it can resume after a crash or in another process. Returns "
        "the checkpoint number.",
        Checkpoint,
    ),
    ToolSpec(
        "restore_checkpoint",
        "Load the latest (or a numbered) checkpoint of a session to resume its task.",
        RestoreCheckpoint,
    ),
    ToolSpec(
        "get_context",
        "Get one prompt block with who you are, the session's working memory and recent steps, "
        "and the memories, past episodes and skills relevant to a task, within a token budget.",
        GetContext,
    ),
)

BY_NAME = {tool.name: tool for tool in TOOLS}
