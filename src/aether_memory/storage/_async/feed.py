"""The feed role of a store: the change feed, presence, inboxes and broadcasts.

Notifications themselves are appended by the writes (each store's own write paths); this
role reads them and holds the coordination writes that are not memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

# A notification as a store returns it: position, fields (agent, kind, id, op, at, body, to).
FeedEntry = tuple[str, dict[str, Any]]
# A message as an inbox returns it: id, sender, body (JSON bytes), at (ms).
InboxRow = tuple[str, str, bytes, int]


def never() -> bool:
    """A subscription's default `stop`: only the store's close ends it."""
    return False


class AsyncFeedStore(Protocol):
    """Change feed, presence and messages of one namespace-scoped store."""

    def subscribe(
        self, ns: str, after: str | None, stop: Callable[[], bool] = never
    ) -> AsyncIterator[FeedEntry]:
        """Every notification of `ns` after position `after` (None: from now), in order, as
        they come, resuming by itself after a lost connection; ends when the store is closed
        or `stop()` says so (within a second or so, so a worker thread iterating it
        finishes). Raises
        `core.feed.FeedTruncated` if the feed no longer holds `after`."""
        ...

    async def last(self, ns: str) -> str:
        """The position of the newest notification of `ns`."""
        ...

    async def heartbeat(self, ns: str, agent: str, value: bytes, status: str, now: int) -> None:
        """Store an agent's heartbeat; notify when the status it reads as changes."""
        ...

    async def presence(self, ns: str) -> tuple[list[str], dict[str, bytes]]:
        """The namespace's agents and stored heartbeats (one round trip)."""
        ...

    async def send(self, ns: str, sender: str, to: str, body: bytes, now: int) -> str:
        """Append a message to `to`'s inbox and notify; returns the message id."""
        ...

    async def inbox(self, ns: str, agent: str, ack: str | None, limit: int) -> list[InboxRow]:
        """Acknowledge `agent`'s messages up to `ack`, then read up to `limit` after it."""
        ...

    async def broadcast(self, ns: str, sender: str, channel: str, body: bytes, now: int) -> None:
        """Notify every subscriber of `ns` (kind ``broadcast``, id `channel`)."""
        ...


async def close_stream(stream: AsyncIterator[Any]) -> None:
    """Close a subscription now (its connection with it), not when it is garbage-collected:
    a generator left inside another's ``async for`` is not closed with the outer one."""
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()
