"""The change feed, presence and messages of `AsyncMemory` and `AsyncAgent`.

Every write to a namespace's shared memory (memories, episodes, skills and their runs,
identity, agent state) and every presence change, message and broadcast appends a
notification to the namespace's feed in the write's own round trip; `subscribe` delivers them
in order, once, resuming from a position after a disconnection or a restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING

from aether_memory.core.feed import (
    DEFAULT_HEARTBEAT_TTL,
    MAX_HEARTBEAT_TTL,
    MAX_INBOX_READ,
    AgentStatus,
    InboxMessage,
    Notification,
    agent_statuses,
    check_agents,
    check_kinds,
    check_position,
    check_status,
    check_task,
    decode_body,
    encode_body,
    notification,
    presence_value,
)
from aether_memory.core.ids import check_name, now_ms
from aether_memory.core.validate import check_int, check_number
from aether_memory.storage._async.feed import FeedEntry, close_stream

if TYPE_CHECKING:
    from aether_memory.client._async.memory import AsyncMemory


class AsyncFeed:
    """The feed of one namespace (``mem.feed``); `AsyncMemory` and `AsyncAgent` delegate here."""

    def __init__(self, memory: AsyncMemory) -> None:
        self._k = memory.kernel
        self._ns = memory.namespace

    def subscribe(
        self,
        kinds: Iterable[str] | None = None,
        agents: Iterable[str] | None = None,
        after: str | None = None,
    ) -> AsyncIterator[Notification]:
        """Notifications of this namespace as they happen: ``async for n in mem.subscribe():``.

        Args:
            kinds: only these kinds (``memory``, ``episode``, ``skill``, ``skill_run``,
                ``identity``, ``state``, ``presence``, ``message``, ``broadcast``).
            agents: only notifications by (or about) these agents.
            after: resume after this position (a notification's ``position``); None starts
                from now, ``"0"`` from the oldest notification the feed still holds.

        The iteration ends when this memory is closed.

        Raises:
            ClientClosed: this memory is closed.
            FeedTruncated: (while iterating) the feed no longer holds `after`: notifications
                after it may be lost. Its ``oldest`` is where the feed now starts.
        """
        wanted_kinds = check_kinds(kinds)
        wanted_agents = check_agents(agents)
        start = None if after is None else check_position(after, "after")
        store = self._k.store  # a closed memory raises at `.feed`, now
        # Ends when this memory closes, a view among them (a view shares the store).
        stream = store.feed.subscribe(self._ns, start, lambda: self._k.store is not store)
        return self._notifications(stream, wanted_kinds, wanted_agents)

    async def _notifications(
        self,
        stream: AsyncIterator[FeedEntry],
        kinds: frozenset[str] | None,
        agents: frozenset[str] | None,
    ) -> AsyncIterator[Notification]:
        try:
            async for position, fields in stream:
                note = notification(self._ns, position, fields)
                if kinds is not None and note.kind not in kinds:
                    continue
                if agents is not None and note.agent not in agents and note.to not in agents:
                    continue
                yield note
        finally:
            await close_stream(stream)

    async def position(self) -> str:
        """The position of the newest notification (subscribe ``after`` it for what follows)."""
        return await self._k.store.feed.last(self._ns)

    async def agents_status(self) -> list[AgentStatus]:
        """Every agent of the namespace with its presence, in one round trip, by agent id."""
        agents, beats = await self._k.store.feed.presence(self._ns)
        return agent_statuses(agents, beats, now_ms())

    async def heartbeat(
        self,
        agent: str,
        status: str = "online",
        current_task: str | None = None,
        ttl: float = DEFAULT_HEARTBEAT_TTL,
    ) -> None:
        check_name(agent, "agent id")
        status, task = check_status(status), check_task(current_task)
        ttl = check_number(ttl, "ttl", 0.001, MAX_HEARTBEAT_TTL)
        now = now_ms()
        value = presence_value(status, task, now, now + int(ttl * 1000))
        await self._k.store.feed.heartbeat(self._ns, agent, value, status, now)

    async def send(self, sender: str, to_agent: str, body: object) -> str:
        check_name(sender, "agent id")
        to = check_name(to_agent, "to_agent")
        return await self._k.store.feed.send(self._ns, sender, to, encode_body(body), now_ms())

    async def inbox(
        self, agent: str, limit: int = 100, ack: str | None = None
    ) -> list[InboxMessage]:
        check_name(agent, "agent id")
        limit = check_int(limit, "limit", 1, MAX_INBOX_READ)
        ack = None if ack is None else check_position(ack, "ack")
        rows = await self._k.store.feed.inbox(self._ns, agent, ack, limit)
        return [InboxMessage(mid, sender, decode_body(body), at) for mid, sender, body, at in rows]

    async def broadcast(self, channel: str, body: object, sender: str = "") -> None:
        check_name(channel, "channel")
        if sender:
            check_name(sender, "agent id")
        raw = encode_body(body)
        await self._k.store.feed.broadcast(self._ns, sender, channel, raw, now_ms())
