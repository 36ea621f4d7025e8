"""The AetherOS kernel memory API (`RedisMemory`), on aether memory.

The kernel's code runs unchanged: ``RedisMemory()`` connects as the environment says
(``REDIS_URL`` first, see `aether_memory.core.config`), and its eight methods keep their
names, arguments and return values. Underneath: identity documents of one agent (no TTL), the
session's tool schema (cached once per session: the first stored schema wins, as "build once"
means), numbered checkpoints (the latest is loaded), and episodes as events of the session's
record — JSON, never pickle, never ``KEYS``.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from aether_memory.client._sync.memory import Memory

DEFAULT_AGENT = "aether"
EPISODE_EVENT = "episode"

__all__ = ["DEFAULT_AGENT", "RedisMemory"]


class _NoSchema(Exception):
    """Raised by the getter's build function: nothing is stored yet."""


def _absent() -> Any:
    raise _NoSchema


class RedisMemory:
    """The kernel's memory: identity, tool schemas, checkpoints and episodes.

    Args:
        url: the store (default: the environment; ``REDIS_URL`` as the kernel sets it).
        namespace: the aether namespace (default ``AETHER_NAMESPACE``, else ``default``).
        agent: the agent whose memory this is.
    """

    def __init__(
        self, url: str | None = None, *, namespace: str | None = None, agent: str = DEFAULT_AGENT
    ) -> None:
        self.memory = Memory.open(url, namespace=namespace)
        self.agent = self.memory.agent(agent)

    def store_identity(self, name: str, content: str) -> None:
        """Store (or replace) the identity document `name` (e.g. ``mission.md``)."""
        self.agent.identity.put(name, content)

    def get_identity(self, name: str) -> str | None:
        """The identity document `name`, or None."""
        return self.agent.identity.get(name)

    def store_tool_schema(self, session_id: str, schema: Any) -> None:
        """Cache the session's tool schema (once per session: a later call keeps the first)."""
        self.agent.session(session_id).tool_schema(lambda: schema)

    def get_tool_schema(self, session_id: str) -> Any:
        """The session's cached tool schema, or None."""
        try:
            return self.agent.session(session_id).tool_schema(_absent)
        except _NoSchema:
            return None

    def store_checkpoint(self, session_id: str, state: Any) -> None:
        """Save the session's state (each call is a new numbered checkpoint)."""
        self.agent.session(session_id).checkpoint(state)

    def load_checkpoint(self, session_id: str) -> Any:
        """The session's latest state, or None."""
        return self.agent.session(session_id).restore()

    def append_episode(self, session_id: str, event: Any) -> None:
        """Append one event to the session's episodic record."""
        self.agent.session(session_id).record(EPISODE_EVENT, event)

    def get_episodes(self, session_id: str, limit: int = 20) -> list[Any]:
        """The session's last `limit` episode events, oldest first."""
        events = self.agent.session(session_id).events(limit=limit, types=(EPISODE_EVENT,))
        return [e.data for e in events]

    def close(self) -> None:
        """Close the connection."""
        self.memory.close()

    def __enter__(self) -> RedisMemory:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
