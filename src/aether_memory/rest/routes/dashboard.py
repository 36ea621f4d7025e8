"""What the dashboard reads beyond the other routes: which namespaces a key reaches, a
namespace's store health, a diff of two checkpoints, and a search of long-term memory that
shows each hit's score components without counting as a recall."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from aether_memory.client.records import MAX_CONTENT_CHARS, recall_filters
from aether_memory.core.diff import json_diff
from aether_memory.rest.auth import Caller
from aether_memory.rest.deps import Memory, Session
from aether_memory.rest.models import HitOut
from aether_memory.rest.routes.longterm import MAX_RESULTS, Timestamp
from aether_memory.rest.routes.sessions import MAX_CHECKPOINT_N

router = APIRouter()
NS = "/v1/namespaces/{ns}"
SESSION = NS + "/agents/{agent}/sessions/{session}"

CheckpointN = Annotated[int, Path(ge=1, le=MAX_CHECKPOINT_N)]


class AccessOut(BaseModel):
    """What the caller's key reaches: ``namespaces`` is null for every namespace."""

    auth: bool = Field(description="False when the server has no API keys.")
    namespaces: list[str] | None
    admin: bool = Field(description="The key may list every namespace.")


class HealthOut(BaseModel):
    """The namespace's store as the library sees it: which store serves, the fallback and its
    outbox, persistence and eviction. ``last_error`` is shown to an admin key only (it may
    name the store's address)."""

    serving: str
    primary: str
    fallback: str | None
    ok: bool
    degraded: bool
    outbox: int
    switches: int
    dropped: int
    last_error: str | None = None
    full: bool
    evicted_keys: int | None
    warnings: list[str]
    server_version: str
    search: bool
    aof: bool | None
    fsync: str | None
    rdb: bool | None
    maxmemory_policy: str | None


class ChangeOut(BaseModel):
    """One difference between two checkpoints, at a JSON Pointer."""

    path: str
    op: str = Field(description="added, removed or changed")
    before: Any = None
    after: Any = None


class DiffOut(BaseModel):
    """What changed from checkpoint `a` to checkpoint `b`, in document order."""

    a: int
    b: int
    changes: list[ChangeOut]


class SearchIn(BaseModel):
    """A search of the namespace's long-term memory (filters as in recall)."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(max_length=MAX_CONTENT_CHARS)
    k: int = Field(10, ge=1, le=MAX_RESULTS)
    kinds: list[str] | None = None
    tags: list[str] | None = None
    agents: list[str] | None = None
    session: str | None = None
    since: Timestamp | None = None
    until: Timestamp | None = None
    include_superseded: bool = Field(False, strict=True)


class SearchOut(BaseModel):
    """Hits, best first, each with the parts of its score."""

    hits: list[HitOut]


def _scope(caller: Caller) -> AccessOut:
    admin = caller.may_administer(None)
    if not caller.auth:
        return AccessOut(auth=False, namespaces=None, admin=admin)
    reach: set[str] = set()
    for key in (caller.key, caller.admin):
        if key is not None and key.namespaces is None:
            return AccessOut(auth=True, namespaces=None, admin=admin)
        if key is not None and key.namespaces is not None:
            reach |= key.namespaces
    return AccessOut(auth=True, namespaces=sorted(reach), admin=admin)


@router.get("/v1/access", name="get_access", tags=["namespaces"])
async def get_access(caller: Caller) -> AccessOut:
    """The namespaces the caller's key may use (null: every one)."""
    return _scope(caller)


@router.get(NS + "/health", name="namespace_health", tags=["health"])
async def namespace_health(mem: Memory, caller: Caller) -> HealthOut:
    """Which store serves this namespace now, the fallback's outbox, persistence and
    eviction (``aether doctor`` checks the same)."""
    health = (await mem.health()).as_dict()
    if not caller.is_admin:
        health["last_error"] = None
    caps = mem.capabilities
    return HealthOut(
        **health, server_version=caps.server_version, search=caps.search, aof=caps.aof,
        fsync=caps.fsync, rdb=caps.rdb, maxmemory_policy=caps.maxmemory_policy,
    )  # fmt: skip


@router.get(SESSION + "/checkpoints/{a}/diff/{b}", name="diff_checkpoints", tags=["checkpoints"])
async def diff_checkpoints(session: Session, a: CheckpointN, b: CheckpointN) -> DiffOut:
    """What changed between two checkpoints' states (404 if either is gone)."""
    before, after = await session.restore(a), await session.restore(b)
    changes = [
        ChangeOut(path=c.path, op=c.op, before=c.before, after=c.after)
        for c in json_diff(before, after)
    ]
    return DiffOut(a=a, b=b, changes=changes)


@router.post(NS + "/memories/search", name="search_memories", tags=["memories"])
async def search_memories(mem: Memory, body: SearchIn) -> SearchOut:
    """The `k` memories of the namespace that best answer the query, each with its score
    components (vector, text, exact, recency, importance); unlike recall, a search does not
    count as an access of what it finds."""
    scope = recall_filters(
        kinds=body.kinds, session=body.session, tags=body.tags, since=body.since,
        until=body.until, agent=body.agents, include_superseded=body.include_superseded,
    )  # fmt: skip
    hits = await mem.longterm.recall(body.query, body.k, scope, touch=False)
    return SearchOut(hits=[HitOut.of(h) for h in hits])
