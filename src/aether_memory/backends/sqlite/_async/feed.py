"""The feed role of the SQLite store: polling the change log, presence and inboxes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from time import monotonic

from aether_memory.backends.sqlite.feed import FeedTables
from aether_memory.core.errors import AetherError
from aether_memory.core.feed import READ_BATCH, SQLITE_POLL_SECONDS, check_held
from aether_memory.core.ids import now_ms
from aether_memory.storage._async.feed import FeedEntry, InboxRow, never

SWEEP_EVERY = 1.0  # seconds between a subscriber's presence sweeps (each a read; a write if due)


class AsyncSqliteFeed:
    """Feed, presence and messages in one SQLite file (shared by every process on it)."""

    def __init__(self, tables: FeedTables, poll: float = SQLITE_POLL_SECONDS) -> None:
        self._tables = tables
        self._poll = poll

    async def last(self, ns: str) -> str:
        return await asyncio.to_thread(self._tables.last, ns)

    async def subscribe(
        self, ns: str, after: str | None, stop: Callable[[], bool] = never
    ) -> AsyncIterator[FeedEntry]:
        """Rows after `after`, polled every `poll` seconds (SQLite has no push); about once a
        second, the agents whose heartbeat ran out are announced first. Ends when the store
        is closed."""
        if self._tables.closed or stop():  # made before the close, first iterated after
            return
        position = await self.last(ns) if after is None else after
        check, next_sweep = True, 0.0
        while not (self._tables.closed or stop()):
            try:
                if monotonic() >= next_sweep:
                    await asyncio.to_thread(self._tables.sweep, ns, now_ms())
                    next_sweep = monotonic() + SWEEP_EVERY
                read = await asyncio.to_thread(self._tables.read, ns, position, READ_BATCH)
            except AetherError:
                if self._tables.closed or stop():  # closed by another thread mid-read
                    return
                raise
            first, entries = read
            if check:
                check_held(ns, position, first)
            check = False
            for entry in entries:
                position = entry[0]
                yield entry
            if len(entries) < READ_BATCH:
                await asyncio.sleep(self._poll)
            else:
                check = True  # far behind: make sure the trim did not pass this position

    async def heartbeat(self, ns: str, agent: str, value: bytes, status: str, now: int) -> None:
        await asyncio.to_thread(self._tables.heartbeat, ns, agent, value, status, now)

    async def presence(self, ns: str) -> tuple[list[str], dict[str, bytes]]:
        return await asyncio.to_thread(self._tables.presence, ns)

    async def send(self, ns: str, sender: str, to: str, body: bytes, now: int) -> str:
        return await asyncio.to_thread(self._tables.send, ns, sender, to, body, now)

    async def inbox(self, ns: str, agent: str, ack: str | None, limit: int) -> list[InboxRow]:
        rows: list[InboxRow] = await asyncio.to_thread(self._tables.inbox, ns, agent, ack, limit)
        return rows

    async def broadcast(self, ns: str, sender: str, channel: str, body: bytes, now: int) -> None:
        await asyncio.to_thread(self._tables.broadcast, ns, sender, channel, body, now)
