"""`AsyncSession`: one working session: its events, checkpoints, tool schema and the
chain of sessions it belongs to.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aether_memory.client._async.working import AsyncWorkingMemory
from aether_memory.client.common import check_batch
from aether_memory.client.events import event_rows
from aether_memory.client.listing import add_counts, text_key
from aether_memory.client.records import MAX_EPISODE_STEPS, Memorable, check_message, session_texts
from aether_memory.core import telemetry
from aether_memory.core.agent_metrics import metric_writes
from aether_memory.core.errors import NotFound
from aether_memory.core.ids import check_name, new_id, now_ms
from aether_memory.core.keys import SessionKeys
from aether_memory.core.pages import (
    DEFAULT_LIMIT,
    Erasure,
    Page,
    check_page_limit,
    decode_cursor,
    encode_cursor,
)
from aether_memory.core.query import Filters
from aether_memory.core.types import CheckpointInfo, Episode, Event, MemoryRecord, Message
from aether_memory.core.validate import check_flag, check_int, check_limit, check_strings
from aether_memory.storage.rows import EventRow

if TYPE_CHECKING:
    from aether_memory.client._async.agent import AsyncAgent


_MAX_CHAIN = 1_000
MAX_SESSION_EVENTS = 500  # events a session summary reads (the last ones)
MAX_SUMMARY_LINKS = 100
_SUMMARISED = ("message", "step", "tool_call")
MAX_CHECKPOINT_NUMBER = 2**53  # stored as a zset score, a double


class AsyncSession:
    """One working session of an agent: working memory, scratchpad, events, checkpoints."""

    def __init__(self, agent: AsyncAgent, session_id: str) -> None:
        self.agent = agent
        self.id = session_id
        self._mem = agent.memory
        self._k = agent.memory.kernel
        self._keys: SessionKeys = SessionKeys.build(self._k.namespace, agent.id, session_id)
        self.working = AsyncWorkingMemory(self, "working")
        self.scratch = AsyncWorkingMemory(self, "scratch")

    def __repr__(self) -> str:
        return f"AsyncSession({self.id!r}, agent={self.agent.id!r})"

    # -- the episodic record ------------------------------------------------------------------
    @telemetry.traced("add_step")
    async def add_step(
        self,
        action: str,
        observation: Any,
        reasoning: str | None = None,
        success: bool = True,
        **data: Any,
    ) -> Event:
        """Record one step of the agent's work (an event of type ``step``)."""
        success = check_flag(success, "success")
        payload = {"action": action, "observation": observation, "reasoning": reasoning, **data}
        outcome = "success" if success else "failure"
        return (await self._append([("step", payload, outcome)]))[0]

    @telemetry.traced("record")
    async def record(
        self,
        event_type: str,
        data: Any,
        outcome: str = "success",
        latency_ms: float | None = None,
        tokens: tuple[int, int] | Mapping[str, int] | None = None,
    ) -> Event:
        """Append one event (tool call, message, step...) to the session's record.

        `tokens` (``(in, out)`` or ``{"in": n, "out": n}``) counts the model tokens the call
        used, in the agent's metrics (see `AsyncAgent.metrics`).
        """
        return (await self._append([(event_type, data, outcome, latency_ms, tokens)]))[0]

    @telemetry.traced("record_many")
    async def record_many(self, events: Iterable[Sequence[Any]]) -> list[Event]:
        """Append several events in one round trip, in order.

        Each item is ``(event_type, data)``, ``(event_type, data, outcome, latency_ms)`` or
        ``(event_type, data, outcome, latency_ms, tokens)``. The agent's metrics are
        updated in the same round trip.
        """
        return await self._append(events)

    async def _append(self, events: Iterable[Sequence[Any]]) -> list[Event]:
        ts = now_ms()
        built, rows, samples = event_rows(events, self._k.codec.encode, ts, telemetry.trace_id())
        if rows:
            metrics = metric_writes(self._keys.ns, self._keys.agent, samples)
            telemetry.annotate("bytes", lambda: sum(len(row[5]) for row in rows))
            ttls = self._k.ttls
            await self._k.store.events_append(self._keys, rows, ts, ttls, metrics, ttls)
        return built

    @telemetry.traced("add_messages")
    async def add_messages(self, messages: Iterable[Mapping[str, Any]]) -> list[Message]:
        """Record conversation turns: each becomes a ``message`` event of this session and a
        long-term memory (kind ``message``, content ``"{speaker}: {content}"``, the speaker
        in its metadata, the time as its ``occurred_at``) that `recall` finds.

        Each item is ``{"speaker" or "role": str, "content": str, "at": datetime | epoch ms
        | ISO 8601 text}`` (``at`` defaults to now). One embedding call and one round trip
        per batch (the first one into a session also records the session); turns are never
        merged as duplicates. A bad item raises `InvalidInput` and nothing is written.
        """
        ts = now_ms()
        turns = [check_message(m, ts) for m in messages]
        check_batch(turns, "add_messages")
        if not turns:
            return []
        items = [
            Memorable(
                content=f"{speaker}: {content}", kind="message", session=self.id,
                source="message", metadata={"speaker": speaker}, occurred_at=at,
            )
            for speaker, content, at in turns
        ]  # fmt: skip
        longterm = self._mem.longterm
        records, memories = await longterm.message_rows(
            self.agent.id, items, [item.content for item in items]
        )
        encode = self._k.codec.encode
        events: list[EventRow] = []
        out: list[Message] = []
        trace = telemetry.trace_id()
        for (speaker, content, at), record in zip(turns, records, strict=True):
            data = {"speaker": speaker, "content": content, "at": at, "memory_id": record.id}
            event_id = new_id()
            events.append((event_id, "message", "success", ts, None, encode(data), trace))
            out.append(Message(event_id, record.id, speaker, content, at))
        ttls = self._k.ttls
        await self._k.store.messages_append(self._keys, events, ts, ttls, memories, ttls)
        formation = self._mem.formation
        if formation is not None:  # read in the background: this call does not wait for it
            formation.notify([(m.memory_id, self.agent.id, self.id, r.content)
                              for m, r in zip(out, records, strict=True)])  # fmt: skip
        return out

    @telemetry.traced("events", hits=True)
    async def events(self, limit: int = 20, types: Iterable[str] | None = None) -> list[Event]:
        """The last `limit` events (of the given types, if any), oldest first."""
        limit = check_limit(limit)
        wanted = None
        if types is not None:
            wanted = frozenset(check_name(t, "event type") for t in check_strings(types, "types"))
        if limit == 0:
            return []
        rows = await self._k.store.events_tail(self._keys, limit, wanted)
        decode = self._k.codec.decode
        return [Event(i, t, decode(d), o, ts, lat, tr) for i, t, o, ts, lat, d, tr in rows]

    # -- checkpoints ---------------------------------------------------------------------------
    @telemetry.traced("checkpoint")
    async def checkpoint(self, state: Any) -> int:
        """Save `state` as the session's next checkpoint; returns its number (1, 2, ...)."""
        raw = self._k.codec.encode(state)
        telemetry.annotate("bytes", len(raw))
        ttls = self._k.ttls
        return await self._k.store.checkpoint_save(
            self._keys, raw, now_ms(), ttls, self._mem.options.max_checkpoints, opening=ttls
        )

    @telemetry.traced("restore")
    async def restore(self, n: int | None = None) -> Any:
        """The state of checkpoint `n`, or of the latest one when `n` is None.

        Returns None when the session has no checkpoint; raises `NotFound` when a given `n`
        does not exist (never saved, trimmed, or expired).
        """
        if n is not None:
            n = check_int(n, "checkpoint number", 1, MAX_CHECKPOINT_NUMBER)
        found = await self._k.store.checkpoint_load(self._keys, n)
        if found is None:
            if n is None:
                return None
            raise NotFound(f"session {self.id!r} has no checkpoint {n}")
        telemetry.annotate("bytes", len(found[1]))
        return self._k.codec.decode(found[1])

    @telemetry.traced("checkpoints")
    async def checkpoints(self) -> list[CheckpointInfo]:
        """The session's checkpoints, oldest first."""
        rows = await self._k.store.checkpoint_list(self._keys)
        return [CheckpointInfo(n, ts) for n, ts in rows]

    @telemetry.traced("list_checkpoints")
    async def list_checkpoints(
        self, cursor: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> Page[CheckpointInfo]:
        """The session's checkpoints by number, a page at a time."""
        check_page_limit(limit)
        key = decode_cursor(cursor, "checkpoints")
        after = key[0] if key and isinstance(key[0], int) else 0
        rows = [r for r in await self._k.store.checkpoint_list(self._keys) if r[0] > after]
        items = tuple(CheckpointInfo(n, ts) for n, ts in rows[:limit])
        more = len(rows) > limit
        return Page(items, encode_cursor("checkpoints", [items[-1].n]) if more else None)

    @telemetry.traced("list_events")
    async def list_events(
        self, cursor: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> Page[Event]:
        """The session's events, oldest first, a page at a time."""
        check_page_limit(limit)
        key = decode_cursor(cursor, "events")
        rows = await self._k.store.events_page(self._keys, text_key(key), limit)
        decode = self._k.codec.decode
        items = tuple(
            Event(i, t, decode(d), o, ts, lat, tr) for _, (i, t, o, ts, lat, d, tr) in rows
        )
        last = rows[-1][0] if len(rows) == limit else None
        return Page(items, None if last is None else encode_cursor("events", [last]))

    @telemetry.traced("session.erase")
    async def erase(self, dry_run: bool = False, memories: bool = False) -> Erasure:
        """Erase this session — working memory, scratchpad, events, checkpoints, tool schema
        and its entry in the agent's session index — or with `dry_run`, count them. With
        `memories`, the long-term memories recorded in this session go too (they are
        shared by the namespace, so they are kept by default)."""
        mem, dry = self._mem, bool(dry_run)
        counts: dict[str, int] = {}
        if memories:
            scope = Filters(agents=(self.agent.id,), sessions=(self.id,))
            add_counts(counts, await mem.longterm.erase(scope, dry))
        add_counts(counts, await self._k.store.erase_session(self._keys, dry))
        return Erasure("session", f"{self.agent.id}/{self.id}", counts, dry)

    # -- tool schema -----------------------------------------------------------------------------
    @telemetry.traced("tool_schema")
    async def tool_schema(self, build: Callable[[], Any] | Callable[[], Awaitable[Any]]) -> Any:
        """The session's tool schema: `build()` runs once per session, later calls read it.

        When two processes build at once, the first to store wins and both return its value.
        """
        store, codec = self._k.store, self._k.codec
        raw = await store.tools_get_or_put(self._keys, None, None)
        if raw is not None:
            return codec.decode(raw)
        value = build()
        if inspect.isawaitable(value):
            value = await value
        raw = await store.tools_get_or_put(
            self._keys, codec.encode(value), self._k.ttls.checkpoints_ms
        )
        return value if raw is None else codec.decode(raw)

    # -- continuity ------------------------------------------------------------------------------
    @telemetry.traced("rotate")
    async def rotate(self) -> AsyncSession:
        """Start a new session linked to this one, carrying the working memory over; first,
        this session's summary is saved (see `close`), unless the options say not to."""
        if self._mem.options.summarize_on_rotate:
            await self.summarize()
        new = self.agent.session()
        ts, ttls, store = now_ms(), self._k.ttls, self._k.store
        await store.session_link(self._keys, new._keys, ts, ttls.events_ms)
        working = await store.hash_all(self._keys, "working")
        if working:
            await store.hash_set(new._keys, "working", working, ts, ttls.working_ms)
        return new

    @telemetry.traced("session.summarize")
    async def summarize(self, max_sentences: int = 3) -> MemoryRecord | None:
        """Save this session's summary ("compress on close"): its conversation turns, steps
        and tool calls condensed by the memory's summariser into an ``episodic`` memory
        (source ``session_summary``, linked to the turns it summarises). None when the
        session recorded nothing; the same summary saved twice is one memory."""
        rows = await self._k.store.events_tail(self._keys, MAX_SESSION_EVENTS,
                                                  frozenset(_SUMMARISED))  # fmt: skip
        decode = self._k.codec.decode
        texts, turns = session_texts([(row[1], decode(row[5])) for row in rows])
        if not texts:
            return None
        summarizer = self._mem.summarizer
        text = await asyncio.to_thread(summarizer.summarize, texts, max_sentences)
        if not text:
            return None
        item = Memorable(
            content=text, kind="episodic", session=self.id, source="session_summary",
            related=tuple(turns[:MAX_SUMMARY_LINKS]),
            metadata={"summarizer": summarizer.name, "events": len(rows)},
        )  # fmt: skip
        # Compared with episodes only: a one-turn session's summary is not that turn again.
        stored = await self._mem.longterm.remember_many(self.agent.id, [item], among=("episodic",))
        return stored[0]

    @telemetry.traced("session.close")
    async def close(self) -> MemoryRecord | None:
        """End this session: its summary is saved (`summarize`), unless the options say
        not to; returns it. The session's records are kept until their TTL."""
        if not self._mem.options.summarize_on_rotate:
            return None
        return await self.summarize()

    @telemetry.traced("history")
    async def history(self) -> list[str]:
        """The chain of session ids this session belongs to, oldest first."""
        store, agent = self._k.store, self.agent
        meta = await store.session_meta(self._keys)
        chain = [self.id]
        seen = {self.id}
        back = meta
        while (parent := back.get("parent")) is not None and len(chain) < _MAX_CHAIN:
            sid = parent.decode()
            if sid in seen:
                break
            seen.add(sid)
            chain.insert(0, sid)
            back = await store.session_meta(agent.session(sid)._keys)
        forward = meta
        while (child := forward.get("rotated_to")) is not None and len(chain) < _MAX_CHAIN:
            sid = child.decode()
            if sid in seen:
                break
            seen.add(sid)
            chain.append(sid)
            forward = await store.session_meta(agent.session(sid)._keys)
        return chain

    @telemetry.traced("save_episode")
    async def save_episode(
        self,
        task_prompt: str,
        outcome: str,
        success: bool,
        duration_seconds: float | None = None,
        tags: Sequence[str] = (),
        importance: float = 0.5,
    ) -> Episode:
        """Summarise this session's steps and tool calls into a searchable episode."""
        steps = await self.events(limit=MAX_EPISODE_STEPS, types=("step", "tool_call"))
        return await self._mem.experience.save_episode(
            self.agent.id, self.id, steps, task_prompt, outcome, success, duration_seconds,
            tags, importance,
        )  # fmt: skip

    @telemetry.traced("session.meta")
    async def meta(self) -> dict[str, Any]:
        """The session's meta: agent, created_at (ms), parent and rotated_to when linked."""
        raw = await self._k.store.session_meta(self._keys)
        meta: dict[str, Any] = {k: v.decode() for k, v in raw.items()}
        for name in ("created_at", "checkpoint_seq"):
            if name in meta:
                meta[name] = int(meta[name])
        return meta
