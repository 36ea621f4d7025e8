"""`AsyncAgent`: one agent's identity, state, sessions, long-term memory and messages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aether_memory.client._async.identity import AsyncAgentState, AsyncIdentity
from aether_memory.client._async.run import AsyncAgentRun
from aether_memory.client._async.session import AsyncSession
from aether_memory.client.common import check_batch, context_sections
from aether_memory.client.listing import add_counts
from aether_memory.client.records import (
    MAX_EPISODE_STEPS,
    RELEVANT,
    Memorable,
    memorable,
    recall_filters,
)
from aether_memory.core import telemetry
from aether_memory.core.agent_metrics import AgentMetrics, bucket_keys, check_bucket, fold, window
from aether_memory.core.context import render
from aether_memory.core.errors import InvalidInput
from aether_memory.core.feed import DEFAULT_HEARTBEAT_TTL, InboxMessage
from aether_memory.core.ids import check_name, new_id, now_ms
from aether_memory.core.pages import (
    DEFAULT_LIMIT,
    Erasure,
    Page,
    check_page_limit,
    decode_cursor,
    encode_cursor,
)
from aether_memory.core.query import Filters
from aether_memory.core.types import (
    Episode,
    Event,
    Hit,
    Introspection,
    MemoryRecord,
    SessionInfo,
    Skill,
    TopicSummary,
)
from aether_memory.core.validate import check_flag, check_int, check_limit, check_strings
from aether_memory.tools._async.runner import AsyncTools

if TYPE_CHECKING:
    from aether_memory.client._async.memory import AsyncMemory


MAX_BUDGET_TOKENS = 10_000_000


class AsyncAgent:
    """One agent: its identity documents, its state and its sessions."""

    def __init__(self, memory: AsyncMemory, agent_id: str) -> None:
        self.memory = memory
        self._k = memory.kernel
        self.id = agent_id
        self.identity = AsyncIdentity(self)
        self.state = AsyncAgentState(self)
        self.tools = AsyncTools(self)

    def session(self, session_id: str | None = None) -> AsyncSession:
        """The handle of a session; without an id, a new session with a fresh id (no I/O)."""
        sid = new_id() if session_id is None else check_name(session_id, "session id")
        return AsyncSession(self, sid)

    def run(
        self,
        session: str | AsyncSession | None = None,
        task: str | None = None,
        cacheable: Iterable[str] = (),
        cache_ttl: float | None = None,
    ) -> AsyncAgentRun:
        """A recorded task for any agent loop: ``async with agent.run(...) as run:``.

        Args:
            session: the session to work in (an id, a handle, or None for a new one).
            task: what the run is for; it becomes the episode's task prompt.
            cacheable: names of tools whose results may be reused for the same arguments.
            cache_ttl: how long cached tool results live, in seconds (default: settings).
        """
        handle = self.session(session) if not isinstance(session, AsyncSession) else session
        return AsyncAgentRun(self, handle, task, cacheable, cache_ttl)

    @telemetry.traced("agent.working_of")
    async def working_of(self, session_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The working memory of several sessions (``session.working.all()`` of each), in
        their order, in one round trip."""
        check_batch(session_ids, "working_of")
        handles = [self.session(sid) for sid in session_ids]
        if not handles:
            return []
        store = self._k.store
        found = await store.hash_all_many([h._keys for h in handles], "working")
        decode = self._k.codec.decode
        return [{k: decode(v) for k, v in raw.items()} for raw in found]

    @telemetry.traced("agent.sessions")
    async def sessions(self, limit: int = 100) -> list[SessionInfo]:
        """This agent's sessions, most recently active first."""
        limit = check_limit(limit)
        rows = await self._k.store.sessions(self.memory.namespace, self.id, limit)
        return [SessionInfo(sid, ts) for sid, ts in rows]

    @telemetry.traced("agent.list_sessions")
    async def list_sessions(
        self, cursor: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> Page[SessionInfo]:
        """This agent's sessions, most recently active first, a page at a time. The cursor
        is the last session's (activity, id): a session active since moves ahead of it."""
        check_page_limit(limit)
        key = decode_cursor(cursor, "sessions")
        before = None
        if key is not None:
            if len(key) != 2 or not isinstance(key[0], int) or not isinstance(key[1], str):
                raise InvalidInput("this cursor belongs to another listing, not to sessions")
            before = (key[0], key[1])
        rows = await self._k.store.sessions_page(self.memory.namespace, self.id, before,
                                                      limit)  # fmt: skip
        items = tuple(SessionInfo(sid, ts) for sid, ts in rows)
        if len(rows) < limit:
            return Page(items)
        return Page(items, encode_cursor("sessions", [rows[-1][1], rows[-1][0]]))

    @telemetry.traced("agent.erase")
    async def erase(self, dry_run: bool = False) -> Erasure:
        """Erase this agent: every session (working memory, events, checkpoints, tool
        schema), every memory it formed and the skills they describe, its identity and
        state, and its entry in the namespace — or with `dry_run`, count them.

        Sessions go first and the agent's own index last, so an interrupted erasure is
        finished by calling it again.
        """
        mem, dry = self.memory, bool(dry_run)
        counts: dict[str, int] = {}
        before: tuple[int, str] | None = None
        while True:
            rows = await self._k.store.sessions_page(mem.namespace, self.id, before, 200)
            for sid, _ in rows:
                found = await self._k.store.erase_session(self.session(sid)._keys, dry)
                add_counts(counts, found)
            if len(rows) < 200:
                break
            before = (rows[-1][1], rows[-1][0])
        add_counts(counts, await mem.longterm.erase(Filters(agents=(self.id,)), dry))
        add_counts(counts, await self._k.store.erase_agent(mem.namespace, self.id, dry))
        return Erasure("agent", self.id, counts, dry)

    # -- long-term memory ---------------------------------------------------------------------
    @telemetry.traced("remember")
    async def remember(
        self,
        content: str,
        kind: str = "fact",
        importance: float = 0.5,
        tags: Sequence[str] = (),
        session: str | AsyncSession | None = None,
        source: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        related: Sequence[str] = (),
        occurred_at: datetime | int | None = None,
    ) -> MemoryRecord:
        """Store a long-term memory; recallable as soon as this returns.

        The same text from this agent (same kind) is not stored twice, and a near-identical
        memory is reinforced instead of copied: the returned record's ``status`` says which
        (``created``, ``duplicate`` or ``near_duplicate``). A near-identical memory that
        differs in a number, a date, a name or a negation is a correction: it is stored with
        ``status="superseded"`` and ``supersedes`` naming the memory it replaces, which stays
        (``superseded_by``) but leaves recall unless ``include_superseded=True``.
        """
        telemetry.annotate("kind", kind)
        item = Memorable(
            content=content, kind=kind, importance=importance, tags=tags,
            session=session.id if isinstance(session, AsyncSession) else session,
            source=source, metadata=metadata, related=related, occurred_at=occurred_at,
        )  # fmt: skip
        return (await self.memory.longterm.remember_many(self.id, [item]))[0]

    @telemetry.traced("remember_many")
    async def remember_many(
        self, items: Iterable[Memorable | Mapping[str, Any] | str]
    ) -> list[MemoryRecord]:
        """Store several memories in one batch (one embedding call, two round trips)."""
        batch = [memorable(item) for item in check_strings(items, "remember_many's items")]
        check_batch(batch, "remember_many")
        return await self.memory.longterm.remember_many(self.id, batch)

    @telemetry.traced("recall", hits=True)
    async def recall(
        self,
        query: str,
        k: int = 5,
        kinds: Iterable[str] | None = None,
        session: str | AsyncSession | None = None,
        tags: Iterable[str] | None = None,
        since: datetime | int | None = None,
        min_importance: float | None = None,
        agent: str | Iterable[str] | None = None,
        until: datetime | int | None = None,
        include_superseded: bool = False,
        include_archive: bool = False,
    ) -> list[Hit]:
        """The `k` memories that best answer `query`, best first, from the whole namespace
        unless `agent` (an id or several) narrows it; every filter value is escaped.

        With `include_archive`, the archive is searched too, by text and by vector as hot
        recall is: its text matches and its memories nearer to the query than the weakest hot
        hit come back into the hot tier and are ranked with the rest;
        those the answer does not use return to the archive (`ConfigurationError` without an
        archive).

        `kinds` and `tags` are lists (a bare string is refused with `InvalidInput`, as is any
        filter of the wrong type); `since`/`until` bound ``occurred_at``. Memories superseded
        by a correction are left out unless `include_superseded` asks for the history.
        """
        scope = recall_filters(
            kinds=kinds, session=session.id if isinstance(session, AsyncSession) else session,
            tags=tags, since=since, until=until, min_importance=min_importance, agent=agent,
            include_superseded=include_superseded,
        )  # fmt: skip
        if not check_flag(include_archive, "include_archive"):
            return await self.memory.longterm.recall(query, k, scope)
        longterm, lifecycle = self.memory.longterm, self.memory.lifecycle
        hits = await longterm.recall(query, k, scope, touch=False)
        n = max(k * 2, 20)
        found = await lifecycle.search(await longterm.query_vector(query), n, query)
        # Only text matches and archived memories closer to the query than the weakest hot
        # hit can place (the best `n` of them, fused as hot recall fuses).
        floor = min((h.vector for h in hits), default=-1.0) if len(hits) >= k else -1.0
        back = await lifecycle.rehydrate_rows(
            [m.id for m in found[:n] if m.relevance is not None or m.similarity > floor]
        )
        hits = await longterm.recall(query, k, scope)
        used = {hit.record.id for hit in hits}
        await lifecycle.archive_back([m for m in back if m.id not in used])
        return hits

    @telemetry.traced("forget")
    async def forget(self, memory_id: str, cascade: bool = False) -> int:
        """Delete a memory; with `cascade`, also the memories its `related` links reach
        (within this namespace, each once). Returns how many were removed. An archived copy
        is deleted too (a cascade follows the links of hot memories only)."""
        removed = await self.memory.longterm.forget(memory_id, cascade)
        return removed + await self.memory.lifecycle.forget([memory_id])  # 0 without an archive

    @telemetry.traced("memory.update")
    async def update(
        self,
        memory_id: str,
        content: str | None = None,
        importance: float | None = None,
        tags: Iterable[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> MemoryRecord:
        """Change a memory in place (new content is embedded again); returns it."""
        return await self.memory.longterm.update(memory_id, content, importance, tags, metadata)

    @telemetry.traced("memory.get")
    async def memory_record(self, memory_id: str) -> MemoryRecord:
        """One long-term memory by id (`NotFound` if it is gone)."""
        return await self.memory.longterm.get(memory_id)

    @telemetry.traced("introspect")
    async def introspect(self, topic: str) -> Introspection:
        """What this agent knows about `topic`: counts by kind, its strongest memories,
        related episodes and skills (``.summary()`` renders it as text)."""
        return await self.memory.experience.introspect(self.id, topic)

    @telemetry.traced("summarize")
    async def summarize(self, topic: str, max_sentences: int = 3) -> TopicSummary:
        """A summary of what this agent knows about `topic`: its relevant memories (up to
        20, strongest first) condensed by the memory's summariser."""
        report = await self.memory.experience.introspect(self.id, topic)
        hits = await self.memory.longterm.recall(topic, 20, Filters(agents=(self.id,)),
                                                 touch=False)  # fmt: skip
        sources = [h for h in hits if h.vector >= RELEVANT or h.text > 0]
        summarizer = self.memory.summarizer
        texts = [h.record.content for h in sources]
        text = ""
        if texts:
            text = await asyncio.to_thread(summarizer.summarize, texts, max_sentences)
        return TopicSummary(topic, text, tuple(h.record.id for h in sources), report.total,
                            report.by_kind, summarizer.name)  # fmt: skip

    # -- episodes and skills (shared by the namespace) -------------------------------------------
    @telemetry.traced("search_episodes", hits=True)
    async def search_episodes(self, query: str, limit: int = 5) -> list[Episode]:
        """Past episodes (of any agent in the namespace) relevant to `query`."""
        return await self.memory.experience.search_episodes(query, limit, Filters())

    @telemetry.traced("skill.save")
    async def save_skill(
        self, name: str, description: str, steps: Sequence[Any], tags: Sequence[str] = ()
    ) -> Skill:
        """Create or replace the skill `name` (its run statistics are kept)."""
        return await self.memory.experience.save_skill(self.id, name, description, steps, tags)

    @telemetry.traced("skill.record_execution")
    async def record_skill_execution(self, name: str, success: bool, duration: float) -> Skill:
        """Count one run of a skill; returns it with its success rate and mean duration."""
        return await self.memory.experience.record_skill_execution(name, success, duration)

    @telemetry.traced("skill.get")
    async def skill(self, name: str) -> Skill:
        """The skill `name` (`NotFound` if there is none)."""
        return await self.memory.experience.skill(name)

    @telemetry.traced("search_skills", hits=True)
    async def search_skills(self, query: str, limit: int = 5) -> list[Skill]:
        """Skills whose name and description match `query`."""
        return await self.memory.experience.search_skills(query, limit, Filters())

    @telemetry.traced("search_all")
    async def search_all(self, query: str, limit_per_type: int = 3) -> dict[str, list[Any]]:
        """``{"episodic": [Episode], "semantic": [Hit], "skills": [Skill]}`` for `query`."""
        return await self.memory.experience.search_all(query, limit_per_type, Filters())

    @telemetry.traced("context")
    async def context(
        self,
        query: str,
        budget_tokens: int = 2000,
        session: str | AsyncSession | None = None,
        detailed_steps: int = 5,
        limit_per_type: int = 2,
    ) -> str:
        """The prompt block for `query`: identity, working memory, recent steps, relevant
        memories, episodes and skills, most useful first, within `budget_tokens`."""
        budget_tokens = check_int(budget_tokens, "budget_tokens", 1, MAX_BUDGET_TOKENS)
        detailed_steps = check_limit(detailed_steps, "detailed_steps", MAX_EPISODE_STEPS * 50)
        limit_per_type = check_int(limit_per_type, "limit_per_type", 1, 1000)
        handle = self.session(session) if isinstance(session, str) else session
        identity = await self.identity.all()
        working: dict[str, Any] = {}
        steps: list[Event] = []
        if handle is not None:
            working = await handle.working.all()
            steps = await handle.events(limit=detailed_steps, types=("step", "tool_call"))
        found = await self.search_all(query, limit_per_type)
        return render(
            context_sections(identity, working, steps, found["semantic"], found["episodic"],
                             found["skills"]),
            budget_tokens,
        )  # fmt: skip

    # -- coordination: presence and messages ------------------------------------------------------
    async def heartbeat(
        self,
        status: str = "online",
        current_task: str | None = None,
        ttl: float = DEFAULT_HEARTBEAT_TTL,
    ) -> None:
        """Say this agent is alive: it reads as `status` (with `current_task`) in
        `agents_status()` for `ttl` seconds, then as offline. A change of the status it
        reads as is a ``presence`` notification."""
        await self.memory.feed.heartbeat(self.id, status, current_task, ttl)

    async def send(self, to_agent: str, body: Any) -> str:
        """Put a message (any JSON value) in `to_agent`'s inbox; returns its id."""
        return await self.memory.feed.send(self.id, to_agent, body)

    async def inbox(self, limit: int = 100, ack: str | None = None) -> list[InboxMessage]:
        """Acknowledge the messages up to id `ack` (those handled), then read up to `limit`
        after it, oldest first. Messages stay until acknowledged: a reader that crashes
        before acking reads them again (at least once)."""
        return await self.memory.feed.inbox(self.id, limit, ack)

    @telemetry.traced("agent.metrics")
    async def metrics(
        self,
        since: datetime | timedelta | None = None,
        bucket: timedelta | float = 60,
        tool: str | None = None,
    ) -> AgentMetrics:
        """This agent's calls, errors, latency and tokens over time, in `bucket`-wide
        buckets (a whole number of minutes) from `since` (a time, a span back from now, or
        None for 60 buckets back) to now; one round trip.

        Each bucket is the agent's total (``tool=None``) or one tool's share; asking for a
        `tool` keeps only its series. Minute buckets are kept two days and hour buckets 35
        days (see `aether_memory.core.agent_metrics`); `since` is moved up to what is kept.
        """
        width = check_bucket(bucket)
        if tool is not None:
            check_name(tool, "tool name")
        now = now_ms()
        since_s, res = window(since, width, now)
        names = bucket_keys(self.memory.namespace, self.id, since_s, res, now)
        stored = await self._k.store.metrics_read(names)
        return fold(self.id, since_s, width, res, stored, tool)

    def __repr__(self) -> str:
        return f"AsyncAgent({self.id!r}, namespace={self.memory.namespace!r})"
