"""An agent's identity documents and its self-described state."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aether_memory.client.common import check_batch, read_documents
from aether_memory.core import telemetry
from aether_memory.core.errors import InvalidInput
from aether_memory.core.ids import check_name, now_ms
from aether_memory.core.validate import check_mapping

if TYPE_CHECKING:
    from aether_memory.client._async.agent import AsyncAgent


class AsyncIdentity:
    """An agent's identity documents (persona, mission, rules): text kept with no TTL."""

    def __init__(self, agent: AsyncAgent) -> None:
        self._agent = agent
        self._k = agent.memory.kernel

    @telemetry.traced("identity.put")
    async def put(self, name: str, text: str) -> None:
        """Store (or replace) the document `name`."""
        await self.put_many({name: text})

    @telemetry.traced("identity.put_many")
    async def put_many(self, docs: Mapping[str, str]) -> None:
        """Store several documents in one write."""
        check_batch(check_mapping(docs, "documents"), "identity.put_many")
        encoded = {}
        for name, text in docs.items():
            if not isinstance(text, str):
                raise InvalidInput(f"identity document {name!r} must be text (str)")
            encoded[check_name(name, "identity document name")] = self._k.codec.encode(text)
        if encoded:
            await self._k.store.identity_put(self._k.namespace, self._agent.id, encoded)

    @telemetry.traced("identity.get")
    async def get(self, name: str) -> str | None:
        """The document `name`, or None."""
        raw = await self._k.store.identity_get(
            self._k.namespace, self._agent.id, check_name(name, "identity document name")
        )
        return None if raw is None else str(self._k.codec.decode(raw))

    @telemetry.traced("identity.all")
    async def all(self) -> dict[str, str]:
        """Every document of the agent, by name."""
        raw = await self._k.store.identity_all(self._k.namespace, self._agent.id)
        decode = self._k.codec.decode
        return {name: decode(value) for name, value in sorted(raw.items())}

    @telemetry.traced("identity.delete")
    async def delete(self, name: str) -> bool:
        """Remove the document `name`; True if it existed."""
        check_name(name, "identity document name")
        removed = await self._k.store.identity_delete(self._k.namespace, self._agent.id, [name])
        return removed > 0

    @telemetry.traced("identity.load_dir")
    async def load_dir(self, path: str | Path, pattern: str = "*.md") -> int:
        """Load every file matching `pattern` in `path`, named by its stem; returns how many."""
        # Identity folders are a few small files read once at boot: reading them inline is
        # simpler than a thread hop and blocks the loop for microseconds.
        docs = read_documents(Path(path), pattern)
        await self.put_many(docs)
        return len(docs)


class AsyncAgentState:
    """An agent's self-description: status, current task, active tools, and any other field."""

    def __init__(self, agent: AsyncAgent) -> None:
        self._agent = agent
        self._k = agent.memory.kernel

    @telemetry.traced("state.set")
    async def set(self, /, **fields: Any) -> None:
        """Update the given fields (others are kept); ``updated_at`` is set to now (ms)."""
        encode = self._k.codec.encode
        encoded = {check_name(k, "state field"): encode(v) for k, v in fields.items()}
        encoded["updated_at"] = encode(now_ms())
        await self._k.store.state_put(self._k.namespace, self._agent.id, encoded)

    @telemetry.traced("state.get")
    async def get(self) -> dict[str, Any]:
        """All fields of the state (empty if never set)."""
        raw = await self._k.store.state_get(self._k.namespace, self._agent.id)
        decode = self._k.codec.decode
        return {k: decode(v) for k, v in raw.items()}
