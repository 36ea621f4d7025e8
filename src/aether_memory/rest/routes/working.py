"""A session's working memory and scratchpad: the same routes for both, JSON values by key.

Keys are any non-empty string up to 1024 characters; in a path, percent-encode what a URL
cannot carry (``/`` may stay as it is: the key is the rest of the path).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from aether_memory.client._async.session import AsyncSession
from aether_memory.client._async.working import AsyncWorkingMemory
from aether_memory.client.common import MAX_BATCH, MAX_FIELD_CHARS
from aether_memory.core.errors import NotFound
from aether_memory.rest.deps import Session

router = APIRouter(prefix="/v1/namespaces/{ns}/agents/{agent}/sessions/{session}")

Key = Annotated[
    str, Path(min_length=1, max_length=MAX_FIELD_CHARS, description="The key (any string).")
]
_MISSING = object()


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ValuesOut(BaseModel):
    """Every key and value."""

    values: dict[str, Any]


class ValuesIn(_Body):
    """Keys and JSON values to set in one write (other keys are kept)."""

    values: dict[str, Any] = Field(max_length=MAX_BATCH)


class ValueIn(_Body):
    """The JSON value to store under the key."""

    value: Any


class ValueOut(BaseModel):
    """One key and its value."""

    key: str
    value: Any


class KeysIn(_Body):
    """Keys to remove."""

    keys: list[str] = Field(max_length=MAX_BATCH)


class RemovedOut(BaseModel):
    """How many of the keys existed."""

    deleted: int


def _add_routes(kind: Literal["working", "scratch"], what: str) -> None:
    def handle(session: AsyncSession) -> AsyncWorkingMemory:
        memory: AsyncWorkingMemory = getattr(session, kind)
        return memory

    @router.get(f"/{kind}", name=f"{kind}_all", tags=[kind], summary=f"Read all of {what}")
    async def read_all(session: Session) -> ValuesOut:
        return ValuesOut(values=await handle(session).all())

    @router.patch(
        f"/{kind}",
        name=f"{kind}_update",
        tags=[kind],
        summary=f"Set several keys of {what} in one write",
        status_code=status.HTTP_204_NO_CONTENT,
    )
    async def update(session: Session, body: ValuesIn) -> None:
        await handle(session).update(body.values)

    @router.delete(
        f"/{kind}",
        name=f"{kind}_clear",
        tags=[kind],
        summary=f"Remove every key of {what}",
        status_code=status.HTTP_204_NO_CONTENT,
    )
    async def clear(session: Session) -> None:
        await handle(session).clear()

    @router.post(
        f"/{kind}/delete",
        name=f"{kind}_delete_keys",
        tags=[kind],
        summary=f"Remove several keys of {what}",
    )
    async def delete_keys(session: Session, body: KeysIn) -> RemovedOut:
        return RemovedOut(deleted=await handle(session).delete(*body.keys))

    @router.get(
        f"/{kind}/{{key:path}}",
        name=f"{kind}_get",
        tags=[kind],
        summary=f"Read one key of {what} (404 if absent)",
    )
    async def get(session: Session, key: Key) -> ValueOut:
        value = await handle(session).get(key, _MISSING)
        if value is _MISSING:
            raise NotFound(f"session {session.id!r} has no {kind} key {key!r}")
        return ValueOut(key=key, value=value)

    @router.put(
        f"/{kind}/{{key:path}}",
        name=f"{kind}_set",
        tags=[kind],
        summary=f"Set one key of {what}",
        status_code=status.HTTP_204_NO_CONTENT,
    )
    async def set_(session: Session, key: Key, body: ValueIn) -> None:
        await handle(session).set(key, body.value)

    @router.delete(
        f"/{kind}/{{key:path}}",
        name=f"{kind}_delete",
        tags=[kind],
        summary=f"Remove one key of {what}",
    )
    async def delete(session: Session, key: Key) -> RemovedOut:
        return RemovedOut(deleted=await handle(session).delete(key))


_add_routes("working", "working memory (1 h sliding TTL)")
_add_routes("scratch", "the scratchpad (15 min sliding TTL)")
