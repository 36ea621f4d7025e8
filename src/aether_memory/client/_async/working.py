"""A session's working memory and scratchpad."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aether_memory.client.common import check_batch, check_field
from aether_memory.core import telemetry
from aether_memory.core.ids import now_ms
from aether_memory.core.validate import check_mapping
from aether_memory.storage.rows import HashKind

if TYPE_CHECKING:
    from aether_memory.client._async.session import AsyncSession


class AsyncWorkingMemory:
    """A session's working memory (or scratchpad): JSON values by key, with a sliding TTL."""

    def __init__(self, session: AsyncSession, kind: HashKind) -> None:
        self._keys = session._keys
        self._k = session._k
        self._kind = kind
        self._ttl_ms = self._k.ttls.working_ms if kind == "working" else self._k.ttls.scratch_ms

    @telemetry.traced("working.set")
    async def set(self, key: str, value: Any) -> None:
        """Store `value` under `key`; restarts the TTL."""
        fields = {check_field(key): self._k.codec.encode(value)}
        telemetry.annotate("bytes", len(fields[key]))
        await self._write(fields)

    @telemetry.traced("working.update")
    async def update(self, values: Mapping[str, Any]) -> None:
        """Store several keys in one write; restarts the TTL."""
        check_batch(check_mapping(values, "values"), "update")
        encode = self._k.codec.encode
        fields = {check_field(k): encode(v) for k, v in values.items()}
        if fields:
            await self._write(fields)

    async def _write(self, fields: Mapping[str, bytes]) -> None:
        await self._k.store.hash_set(
            self._keys, self._kind, fields, now_ms(), self._ttl_ms, self._k.ttls
        )

    @telemetry.traced("working.get")
    async def get(self, key: str, default: Any = None) -> Any:
        """The value of `key`, or `default`."""
        raw = await self._k.store.hash_get(self._keys, self._kind, check_field(key))
        return default if raw is None else self._k.codec.decode(raw)

    @telemetry.traced("working.all")
    async def all(self) -> dict[str, Any]:
        """Every key and value."""
        raw = await self._k.store.hash_all(self._keys, self._kind)
        decode = self._k.codec.decode
        return {k: decode(v) for k, v in raw.items()}

    @telemetry.traced("working.delete")
    async def delete(self, *keys_: str) -> int:
        """Remove the given keys; returns how many existed."""
        if not keys_:
            return 0
        fields = [check_field(k) for k in keys_]
        return await self._k.store.hash_delete(self._keys, self._kind, fields)

    @telemetry.traced("working.clear")
    async def clear(self) -> None:
        """Remove every key."""
        await self._k.store.hash_clear(self._keys, self._kind)

    async def keys(self) -> list[str]:
        """Every key, without the values (cheap on a large working memory), sorted."""
        return sorted(await self._k.store.hash_keys(self._keys, self._kind))
