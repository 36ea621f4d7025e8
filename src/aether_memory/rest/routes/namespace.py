"""What belongs to the whole namespace: the tool-result cache, long-term memories by id, and
the one-time setup of the search index."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from aether_memory.rest.deps import Memory, Name
from aether_memory.rest.models import MemoryOut

router = APIRouter(prefix="/v1/namespaces/{ns}")

MemoryId = Name


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LookupIn(_Body):
    """The tool's arguments (hashed as canonical JSON: key order does not matter)."""

    args: Any = Field(description="Any JSON value.")


class LookupOut(BaseModel):
    """Whether the result was cached, and the result (``null`` on a miss)."""

    hit: bool
    result: Any


class CachePutIn(_Body):
    """A tool's result to cache under its arguments."""

    args: Any = Field(description="Any JSON value.")
    result: Any = Field(description="Any JSON value.")
    ttl: float | None = Field(
        None,
        ge=0.001,
        le=10 * 365 * 86400,
        description="Seconds, at least 1 ms (default: the tool-results TTL).",
    )


class UpdateIn(_Body):
    """Fields of a memory to change (new content is embedded again)."""

    content: str | None = None
    importance: float | None = Field(None, ge=0, le=1)
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None


class ForgottenOut(BaseModel):
    """How many memories were removed."""

    removed: int


@router.post("/cache/{tool}/lookup", name="cache_lookup", tags=["cache"])
async def cache_lookup(mem: Memory, tool: Name, body: LookupIn) -> LookupOut:
    """The cached result of `tool` called with these arguments, if any."""
    hit, result = await mem.cache.lookup(tool, body.args)
    return LookupOut(hit=hit, result=result)


@router.put(
    "/cache/{tool}", name="cache_put", tags=["cache"], status_code=status.HTTP_204_NO_CONTENT
)
async def cache_put(mem: Memory, tool: Name, body: CachePutIn) -> None:
    """Cache the result of `tool` for these arguments."""
    await mem.cache.put(tool, body.args, body.result, ttl=body.ttl)


@router.get("/memories/{memory_id}", name="get_memory", tags=["memories"])
async def get_memory(mem: Memory, memory_id: MemoryId) -> MemoryOut:
    """One long-term memory by id (404 if it is gone)."""
    return MemoryOut.of(await mem.longterm.get(memory_id))


@router.patch("/memories/{memory_id}", name="update_memory", tags=["memories"])
async def update_memory(mem: Memory, memory_id: MemoryId, body: UpdateIn) -> MemoryOut:
    """Change a memory in place; returns it."""
    record = await mem.longterm.update(
        memory_id, body.content, body.importance, body.tags, body.metadata
    )
    return MemoryOut.of(record)


@router.delete("/memories/{memory_id}", name="forget_memory", tags=["memories"])
async def forget_memory(
    mem: Memory,
    memory_id: MemoryId,
    cascade: bool = Query(False, description="Also forget the memories its links reach."),
) -> ForgottenOut:
    """Delete a memory (and with `cascade`, those its ``related`` links reach)."""
    return ForgottenOut(removed=await mem.longterm.forget(memory_id, cascade))


@router.post("/setup", name="setup", tags=["namespaces"], status_code=status.HTTP_204_NO_CONTENT)
async def setup(mem: Memory) -> None:
    """Create the namespace's search index now rather than on the first remember/recall
    (idempotent; loads no model)."""
    await mem.setup()
