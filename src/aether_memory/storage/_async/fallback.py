"""A primary store with a fallback that takes over while the primary is unreachable.

Healthy, every call goes to the primary, and each acknowledged write is also copied into the
fallback (the *mirror*: one queue append on the caller's path, applied by a thread), so
that during an outage the fallback serves what the agent had: identity, state, sessions,
working memory, recent events, checkpoint numbers, long-term memories and skills.

When the primary raises `BackendUnavailable` (refused, timed out, killed), the mirror is
flushed, and calls are served by the fallback; each write is applied there and queued in its
outbox in one transaction. Several processes sharing the fallback file queue into one open
outbox *epoch*, in the order they acknowledged their writes. A background loop probes the
primary with backoff; once it answers, one process (holding a lease) replays the outbox in
pipelined batches while writers keep writing, and closes the epoch in the transaction that
finds it empty. Until then no process writes to the primary directly (a write that finds
its epoch closed goes to the primary instead), so per-key and per-session order is the
order of acknowledgement.

Every replayed write is idempotent: records and hashes are overwritten with the same values,
and counters (checkpoints, events, skill runs, reinforcement) carry write ids that the
primary's scripts remember, so a retried or re-replayed write (after a crash mid-replay, or
one whose first attempt timed out but landed) is applied once. A checkpoint made during an
outage is numbered after every number the fallback has seen (the mirror's), and replayed
under that number: a number handed out keeps meaning the same state.
"""

# The protocol methods below delegate to `_call`, which returns what the store returned.
# mypy: disable-error-code="no-any-return"

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from aether_memory.core import telemetry
from aether_memory.core.agent_metrics import MetricWrite
from aether_memory.core.config import SessionTTLs
from aether_memory.core.errors import AetherError, BackendUnavailable, StorageFull
from aether_memory.core.ids import new_id
from aether_memory.core.keys import SessionKeys
from aether_memory.core.query import Filters
from aether_memory.core.types import Capabilities, Checkup, Health
from aether_memory.storage import background
from aether_memory.storage._async.feed import (
    AsyncFeedStore,
    FeedEntry,
    InboxRow,
    close_stream,
    never,
)
from aether_memory.storage._async.queue_fallback import AsyncFallbackQueues
from aether_memory.storage._async.queues import AsyncQueueStore
from aether_memory.storage._async.store import AsyncLongTermStore, AsyncOutboxStore, AsyncStore
from aether_memory.storage.outbox import (
    CLOSING,
    FEED_WRITES,
    OPEN,
    WRITES,
    OutboxClosed,
    decode,
)
from aether_memory.storage.rows import Candidate, CheckpointRow, EventRow, HashKind, Row

log = logging.getLogger("aether_memory")

RETRY_FIRST = 0.05  # seconds before the first probe of the primary
RETRY_MAX = 2.0
LEASE_MS = 30_000  # how long a replay lease lasts without being renewed
CLOSING_POLL = 0.002  # seconds between looks at an outbox whose last entries are replayed
REPLAY_BATCH = 512  # writes per pipelined round trip of the replay
_ATTEMPTS = 3  # a write may meet a closed epoch, then an unreachable primary, then fall back
# Caches are not worth a copy; everything else is what the fallback must serve in an outage.
# Nor are the feed's writes (heartbeats, messages): the feed is read from the primary only.
# Queue puts are owed to the primary alone: the fallback never serves a queue.
MIRRORED = WRITES - {"cache_put", "queues.put"} - FEED_WRITES


def _method(store: AsyncStore, op: str) -> Callable[..., Awaitable[Any]]:
    role, _, name = op.rpartition(".")
    method: Callable[..., Awaitable[Any]] = getattr(getattr(store, role) if role else store, name)
    return method


class AsyncFallbackStore:
    """`primary` while it answers, `fallback` (plus an outbox) while it does not."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[AsyncStore]],
        fallback: AsyncOutboxStore,
        primary: AsyncStore | None,
        primary_name: str = "redis",
    ) -> None:
        self._connect = connect
        self._primary = primary
        self._fallback = fallback
        self._primary_name = primary_name
        self._up = primary is not None
        self._lock = asyncio.Lock()  # held by fallback writes and by the switch back
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._owner = new_id()  # this client, as the holder of the replay lease
        self._epoch = 0  # the outbox epoch this client's fallback writes join
        self._switches = 0
        self._dropped = 0
        self._last_error: str | None = None
        self.longterm: AsyncLongTermStore = AsyncFallbackLongTerm(self)
        self.feed: AsyncFeedStore = AsyncFallbackFeed(self)
        self.queues: AsyncQueueStore = AsyncFallbackQueues(self)
        telemetry.watch(self)

    # -- read by the telemetry gauges, from the metric reader's thread (no network I/O) -------
    @property
    def primary_name(self) -> str:
        """The primary backend's name (``redis``)."""
        return self._primary_name

    def serving_fallback(self) -> bool:
        """True while calls are served from the fallback file."""
        return not self._up

    def outbox_depth_now(self) -> int:
        """Writes queued for replay, read from the fallback file now."""
        depth: Callable[[], int] | None = getattr(self._fallback, "outbox_depth_now", None)
        return 0 if depth is None else depth()

    @classmethod
    async def open(
        cls,
        connect: Callable[[], Awaitable[AsyncStore]],
        fallback: AsyncOutboxStore,
        primary_name: str = "redis",
    ) -> AsyncFallbackStore:
        """Connect to the primary if it answers; start on the fallback otherwise, or when an
        earlier process left writes in the outbox (they must reach the primary first)."""
        try:
            primary: AsyncStore | None = await connect()
        except BackendUnavailable as exc:
            primary = None
            error: str | None = str(exc)
        else:
            error = None
        store = cls(connect, fallback, primary, primary_name)
        if primary is None or await fallback.outbox_depth():
            await store._degrade(error or "writes from an earlier outage wait for replay")
        return store

    @property
    def serving(self) -> AsyncStore:
        """The store that answers calls now."""
        return self._primary if self._up and self._primary is not None else self._fallback

    @property
    def capabilities(self) -> Capabilities:
        return self.serving.capabilities

    @property
    def degraded(self) -> bool:
        return not self._up

    async def health(self) -> Health:
        """The current state; pings the primary first, so an outage nobody has written
        through yet is noticed here too."""
        if self._up:
            await self.ping()
        return Health(
            serving=self._primary_name if self._up else self._fallback.capabilities.backend,
            primary=self._primary_name,
            fallback=self._fallback.capabilities.backend,
            degraded=not self._up,
            outbox=await self._fallback.outbox_depth(),
            switches=self._switches,
            dropped=self._dropped,
            last_error=self._last_error,
        )

    async def checkup(self) -> Checkup:
        """The fallback file's problems, and the primary's while it serves."""
        found = await self._fallback.checkup()
        if self._up and self._primary is not None:
            with contextlib.suppress(BackendUnavailable):  # the next call switches over
                found = await self._primary.checkup() + found
        return found

    async def _call(self, op: str, *args: Any) -> Any:
        for _ in range(_ATTEMPTS):
            if self._up and self._primary is not None:
                try:
                    result = await _method(self._primary, op)(*args)
                except BackendUnavailable as exc:
                    await self._degrade(str(exc))
                else:
                    if op in MIRRORED:
                        self._mirror(op, args, result)
                    return result
            if op not in WRITES:
                return await _method(self._fallback, op)(*args)
            try:
                return await self._fallback.outbox_spill(op, args, self._epoch)
            except OutboxClosed:
                await self._resume()  # another process replayed the outbox: back to primary
        raise BackendUnavailable(
            f"{self._primary_name} and the fallback kept trading places; try again",
            maybe_applied=False,
        )

    def _mirror(self, op: str, args: tuple[Any, ...], result: Any) -> None:
        if op == "checkpoint_save":  # the copy keeps the number the primary gave
            self._fallback.mirror(op, (*args[:6], result, *args[7:]))
        elif op != "longterm.skill_run" or result:
            self._fallback.mirror(op, args)

    async def _degrade(self, error: str) -> None:
        """Serve from the fallback (after it has every write this client saw acknowledged),
        and make sure the reconnect loop runs."""
        self._last_error = error
        async with self._lock:
            if self._up or not self._epoch:
                if not await self._fallback.mirror_flush():
                    log.error("aether-memory: the mirror did not flush in time; the fallback "
                              "may lack the latest acknowledged writes")  # fmt: skip
                self._epoch = await self._fallback.outbox_join()
                self._switch(up=False)
            if self._task is None and not self._closing:
                self._task = background.start_task(self._recover())

    async def _resume(self) -> None:
        """The outbox epoch this client joined takes no more writes. Wait while its last
        entries are replayed (one pipelined batch), then use the primary (connecting if
        needed; an unreachable one degrades again, into a new epoch)."""
        deadline = time.monotonic() + LEASE_MS / 1000  # a replayer that died lets go by then
        while True:
            epoch, state = await self._fallback.outbox_state()
            if state == OPEN and epoch == self._epoch:
                return  # reopened: queue the write after all
            if state != CLOSING:
                break
            if time.monotonic() > deadline:
                raise BackendUnavailable("the outbox replay stalled", maybe_applied=False)
            await asyncio.sleep(CLOSING_POLL)
        try:
            if self._primary is None:
                self._primary = await self._connect()
        except BackendUnavailable as exc:
            self._epoch = 0
            await self._degrade(str(exc))
            return
        await self._back_up()

    def _switch(self, up: bool) -> None:
        """Change store (the caller holds the lock, or nothing else runs yet)."""
        self._up = up
        self._switches += 1
        if up:
            self._task = None  # the loop ends here: a new outage starts a new one
        telemetry.store_switched(self._primary_name if up else "fallback")
        if up:
            log.warning("aether-memory: %s is back; outbox replayed, calls go to it again",
                        self._primary_name)  # fmt: skip
        else:
            log.warning(
                "aether-memory: %s is unreachable (%s); serving from the %s fallback, writes "
                "are queued for replay", self._primary_name, self._last_error,
                self._fallback.capabilities.backend,
            )  # fmt: skip

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _recover(self) -> None:
        """Probe the primary with backoff until the outbox is replayed and it serves again."""
        delay = RETRY_FIRST
        while not self._closing and not self._up:
            await self._pause(delay)
            if self._closing or self._up:
                return
            try:
                if self._primary is None:
                    self._primary = await self._connect()
                await self._primary.ping()
                if await self._replay(self._primary):
                    return
            except (BackendUnavailable, StorageFull) as exc:
                self._last_error = str(exc)
            except Exception:  # never die: the client would stay on the fallback for good
                log.exception("aether-memory: replaying the outbox failed; will retry")
            delay = min(delay * 2, RETRY_MAX)

    async def _replay(self, primary: AsyncStore) -> bool:
        """Apply the outbox to `primary`, oldest first, in pipelined batches while writers go
        on queueing; when it is nearly empty, take no more entries (writers wait for one
        batch), replay the rest and close the epoch. True once calls are on the primary.
        Another process holding the lease replays it for us."""
        if not await self._fallback.outbox_claim(self._owner, LEASE_MS):
            epoch, state = await self._fallback.outbox_state()
            if state == CLOSING or (state == OPEN and epoch == self._epoch):
                return False
            await self._back_up()
            return True
        closing = False
        try:
            while not self._closing:
                batch = await self._fallback.outbox_peek(REPLAY_BATCH)
                if batch:
                    await self._apply_batch(primary, batch)
                    await self._fallback.outbox_claim(self._owner, LEASE_MS)  # renew
                if len(batch) < REPLAY_BATCH and not closing:
                    await self._fallback.outbox_begin_close()
                    closing = True
                elif not batch and closing:
                    if await self._fallback.outbox_finish_close():
                        closing = False
                        await self._back_up()
                        return True
                    closing = False  # reopened by a process that lost the primary
            return False
        finally:
            if closing:  # stopped half way (primary lost again, or closing): writers queue again
                await self._fallback.outbox_join()
            await self._fallback.outbox_release(self._owner)

    async def _back_up(self) -> None:
        async with self._lock:
            if not self._up:
                self._switch(up=True)

    async def _apply_batch(self, primary: AsyncStore, batch: list[tuple[int, bytes]]) -> None:
        """Apply outbox entries in one round trip, then remove them (a crash in between
        replays them again, which applies nothing twice). A write the primary has no room
        for, or cannot take right now, stays queued with every entry after it, and the
        error is raised: the replay is retried later.

        Raises:
            StorageFull: The primary is full.
            BackendUnavailable: The primary could not take a write.
        """
        decoded: list[tuple[int, tuple[str, list[Any]] | None]] = []
        for seq, entry in batch:
            try:
                decoded.append((seq, decode(entry)))
            except AetherError as exc:  # a damaged entry cannot be replayed: say so, skip it
                self._refused("an outbox entry", exc)
                decoded.append((seq, None))
        errors = iter(await primary.replay([w for _, w in decoded if w is not None]))
        done: list[int] = []
        for seq, write in decoded:
            error = None if write is None else next(errors)
            if isinstance(error, StorageFull | BackendUnavailable):
                await self._fallback.outbox_remove(done)
                raise error  # kept: retried once the primary has room again
            if write is not None and error is not None:
                self._refused(write[0], error)
            done.append(seq)
        await self._fallback.outbox_remove(done)

    def _refused(self, what: str, exc: Exception) -> None:
        self._dropped += 1
        log.error("aether-memory: %s refused a replayed %s (%s); skipped it",
                  self._primary_name, what, exc)  # fmt: skip

    async def aclose(self) -> None:
        telemetry.unwatch(self)  # a closed client's last state is no longer a fact to report
        self._closing = True
        self._wake.set()
        await background.finish_task(self._task)
        try:
            if self._primary is not None:
                await self._primary.aclose()
        finally:
            await self._fallback.aclose()

    async def ping(self) -> bool:
        return await self._call("ping")

    # -- the storage protocol, method by method ------------------------------------------------
    async def agents(self, ns: str) -> list[str]:
        return await self._call("agents", ns)

    async def identity_put(self, ns: str, agent: str, docs: Mapping[str, bytes]) -> None:
        return await self._call("identity_put", ns, agent, docs)

    async def identity_get(self, ns: str, agent: str, name: str) -> bytes | None:
        return await self._call("identity_get", ns, agent, name)

    async def identity_all(self, ns: str, agent: str) -> dict[str, bytes]:
        return await self._call("identity_all", ns, agent)

    async def identity_delete(self, ns: str, agent: str, names: Sequence[str]) -> int:
        return await self._call("identity_delete", ns, agent, names)

    async def state_put(self, ns: str, agent: str, fields: Mapping[str, bytes]) -> None:
        return await self._call("state_put", ns, agent, fields)

    async def state_get(self, ns: str, agent: str) -> dict[str, bytes]:
        return await self._call("state_get", ns, agent)

    async def session_open(self, s: SessionKeys, now_ms: int, ttl_ms: int | None) -> None:
        return await self._call("session_open", s, now_ms, ttl_ms)

    async def sessions(self, ns: str, agent: str, limit: int) -> list[tuple[str, int]]:
        return await self._call("sessions", ns, agent, limit)

    async def session_meta(self, s: SessionKeys) -> dict[str, bytes]:
        return await self._call("session_meta", s)

    async def session_link(
        self, parent: SessionKeys, child: SessionKeys, now_ms: int, ttl_ms: int | None
    ) -> None:
        return await self._call("session_link", parent, child, now_ms, ttl_ms)

    async def hash_set(
        self,
        s: SessionKeys,
        kind: HashKind,
        fields: Mapping[str, bytes],
        now_ms: int,
        ttl_ms: int | None,
        opening: SessionTTLs | None = None,
    ) -> None:
        return await self._call("hash_set", s, kind, fields, now_ms, ttl_ms, opening)

    async def hash_get(self, s: SessionKeys, kind: HashKind, field: str) -> bytes | None:
        return await self._call("hash_get", s, kind, field)

    async def hash_all(self, s: SessionKeys, kind: HashKind) -> dict[str, bytes]:
        return await self._call("hash_all", s, kind)

    async def hash_all_many(
        self, sessions: Sequence[SessionKeys], kind: HashKind
    ) -> list[dict[str, bytes]]:
        return await self._call("hash_all_many", sessions, kind)

    async def hash_delete(self, s: SessionKeys, kind: HashKind, fields: Sequence[str]) -> int:
        return await self._call("hash_delete", s, kind, fields)

    async def hash_clear(self, s: SessionKeys, kind: HashKind) -> None:
        return await self._call("hash_clear", s, kind)

    async def events_append(
        self,
        s: SessionKeys,
        rows: Sequence[EventRow],
        now_ms: int,
        ttls: SessionTTLs,
        metrics: Sequence[MetricWrite] = (),
        opening: SessionTTLs | None = None,
    ) -> None:
        return await self._call("events_append", s, rows, now_ms, ttls, metrics, opening)

    async def messages_append(
        self,
        s: SessionKeys,
        rows: Sequence[EventRow],
        now_ms: int,
        ttls: SessionTTLs,
        memories: Sequence[tuple[str, Row, int | None]],
        opening: SessionTTLs | None = None,
    ) -> None:
        return await self._call("messages_append", s, rows, now_ms, ttls, memories, opening)

    async def events_tail(
        self, s: SessionKeys, limit: int, types: frozenset[str] | None
    ) -> list[EventRow]:
        return await self._call("events_tail", s, limit, types)

    async def checkpoint_save(
        self,
        s: SessionKeys,
        state: bytes,
        now_ms: int,
        ttls: SessionTTLs,
        keep: int,
        write_id: str | None = None,
        n: int = 0,
        opening: SessionTTLs | None = None,
    ) -> int:
        # The write id is fixed before the first attempt: a save that timed out on the
        # primary (and may land there) and is then queued is still applied once.
        wid = write_id or new_id()
        return await self._call("checkpoint_save", s, state, now_ms, ttls, keep, wid, n, opening)

    async def checkpoint_load(self, s: SessionKeys, n: int | None) -> tuple[int, bytes] | None:
        return await self._call("checkpoint_load", s, n)

    async def checkpoint_list(self, s: SessionKeys) -> list[tuple[int, int]]:
        return await self._call("checkpoint_list", s)

    async def tools_get_or_put(
        self, s: SessionKeys, value: bytes | None, ttl_ms: int | None
    ) -> bytes | None:
        return await self._call("tools_get_or_put", s, value, ttl_ms)

    async def cache_get(self, key: str) -> bytes | None:
        return await self._call("cache_get", key)

    async def cache_put(self, key: str, value: bytes, ttl_ms: int | None) -> None:
        return await self._call("cache_put", key, value, ttl_ms)

    async def replay(self, writes: Sequence[tuple[str, Sequence[Any]]]) -> list[AetherError | None]:
        return await self.serving.replay(writes)

    # -- browsing, moving and erasing (an erasure's dry run is queued like the real one:
    # replayed, it counts and removes nothing) -------------------------------------------------
    async def sessions_page(
        self, ns: str, agent: str, before: tuple[int, str] | None, limit: int
    ) -> list[tuple[str, int]]:
        return await self._call("sessions_page", ns, agent, before, limit)

    async def events_page(
        self, s: SessionKeys, after: str | None, limit: int
    ) -> list[tuple[str, EventRow]]:
        return await self._call("events_page", s, after, limit)

    async def namespaces(self) -> list[str]:
        return await self._call("namespaces")

    async def session_load(
        self,
        s: SessionKeys,
        meta: Mapping[str, bytes],
        last_active: int,
        hashes: Mapping[str, Mapping[str, bytes]],
        tools: bytes | None,
        events: Sequence[EventRow],
        checkpoints: Sequence[CheckpointRow],
        ttls: SessionTTLs,
    ) -> None:
        return await self._call(
            "session_load", s, meta, last_active, hashes, tools, events, checkpoints, ttls
        )

    async def erase_session(self, s: SessionKeys, dry_run: bool) -> dict[str, int]:
        return await self._call("erase_session", s, dry_run)

    async def erase_agent(self, ns: str, agent: str, dry_run: bool) -> dict[str, int]:
        return await self._call("erase_agent", ns, agent, dry_run)

    async def erase_namespace(self, ns: str, dry_run: bool) -> dict[str, int]:
        return await self._call("erase_namespace", ns, dry_run)

    async def hash_keys(self, s: SessionKeys, kind: HashKind) -> list[str]:
        return await self._call("hash_keys", s, kind)

    async def hash_pick(
        self, reads: Sequence[tuple[SessionKeys, HashKind, Sequence[str] | None]]
    ) -> list[dict[str, bytes]]:
        return await self._call("hash_pick", reads)

    async def metrics_read(self, names: Sequence[str]) -> list[dict[str, bytes]]:
        return await self._call("metrics_read", names)


class AsyncFallbackLongTerm:
    """The long-term role of `AsyncFallbackStore` (same switching, same outbox)."""

    def __init__(self, outer: AsyncFallbackStore) -> None:
        self._outer = outer

    @property
    def indexed(self) -> bool:
        return self._outer.serving.longterm.indexed

    async def setup(self, ns: str, dims: int, model: str) -> None:
        return await self._outer._call("longterm.setup", ns, dims, model)

    async def find_existing(
        self, ns: str, hashes: Sequence[str], vectors: Sequence[bytes], scope: Filters
    ) -> tuple[list[str | None], list[tuple[str, float, float] | None]]:
        return await self._outer._call("longterm.find_existing", ns, hashes, vectors, scope)

    async def put(self, ns: str, rows: Sequence[tuple[str, Row, int | None]]) -> None:
        return await self._outer._call("longterm.put", ns, rows)

    async def reinforce(
        self,
        ns: str,
        items: Sequence[tuple[str, float]],
        now_ms: int,
        write_id: str | None = None,
    ) -> None:
        wid = write_id or new_id()
        return await self._outer._call("longterm.reinforce", ns, items, now_ms, wid)

    async def search(
        self, ns: str, scope: Filters, vector: bytes, codes: Sequence[str], n: int
    ) -> dict[str, Candidate]:
        return await self._outer._call("longterm.search", ns, scope, vector, codes, n)

    async def fetch(
        self, ns: str, ids: Sequence[str], now_ms: int | None = None
    ) -> list[Row | None]:
        return await self._outer._call("longterm.fetch", ns, ids, now_ms)

    async def get(self, ns: str, ids: Sequence[str]) -> list[Row | None]:
        return await self._outer._call("longterm.get", ns, ids)

    async def delete(self, ns: str, ids: Sequence[str], hashes: Sequence[str]) -> int:
        return await self._outer._call("longterm.delete", ns, ids, hashes)

    async def update(
        self,
        ns: str,
        memory_id: str,
        fields: Mapping[str, Any],
        rehash: tuple[str, str] | None = None,
    ) -> None:
        return await self._outer._call("longterm.update", ns, memory_id, fields, rehash)

    async def skill_put(
        self, ns: str, name: str, fields: Mapping[str, Any], ttl_ms: int | None
    ) -> None:
        return await self._outer._call("longterm.skill_put", ns, name, fields, ttl_ms)

    async def skill_get(self, ns: str, names: Sequence[str]) -> list[Row | None]:
        return await self._outer._call("longterm.skill_get", ns, names)

    async def skill_run(
        self,
        ns: str,
        name: str,
        success: bool,
        duration: float,
        ttl_ms: int | None,
        write_id: str | None = None,
    ) -> bool:
        wid = write_id or new_id()
        return await self._outer._call(
            "longterm.skill_run", ns, name, success, duration, ttl_ms, wid
        )

    async def page(self, ns: str, after: str | None, limit: int) -> list[tuple[str, Row | None]]:
        return await self._outer._call("longterm.page", ns, after, limit)

    async def load(self, ns: str, rows: Sequence[tuple[str, Row, int | None]]) -> None:
        return await self._outer._call("longterm.load", ns, rows)

    async def skill_names(self, ns: str, after: str | None, limit: int) -> list[str]:
        return await self._outer._call("longterm.skill_names", ns, after, limit)

    async def skill_delete(self, ns: str, names: Sequence[str]) -> int:
        return await self._outer._call("longterm.skill_delete", ns, names)

    # The count and the pass claim are served by whichever store serves the namespace now
    # (never queued: an outage's writes are counted by the fallback they went to).
    async def usage(self, ns: str) -> tuple[int, int] | None:
        return await self._outer._call("longterm.usage", ns)

    async def add_usage(self, ns: str, count: int, size: int) -> None:
        return await self._outer._call("longterm.add_usage", ns, count, size)

    async def pass_claim(self, ns: str, owner: str, ttl_ms: int) -> bool:
        return await self._outer._call("longterm.pass_claim", ns, owner, ttl_ms)

    async def pass_release(self, ns: str, owner: str) -> None:
        return await self._outer._call("longterm.pass_release", ns, owner)


class AsyncFallbackFeed:
    """The feed role of `AsyncFallbackStore`.

    The feed, presence and inboxes are read from the primary only: notifications carry the
    primary's positions, and a subscriber waits through an outage (reconnecting) and resumes
    where it was. Heartbeats, messages and broadcasts made during an outage are queued in the
    outbox like every write and reach the feed when they are replayed, in order (a write
    replayed twice after a crash mid-replay is notified twice: at least once).
    """

    def __init__(self, outer: AsyncFallbackStore) -> None:
        self._outer = outer

    def _primary(self) -> AsyncStore:
        outer = self._outer
        if outer._up and outer._primary is not None:
            return outer._primary
        raise BackendUnavailable(
            f"{outer._primary_name} is unreachable: the feed, presence and inboxes are read "
            "from it only (writes are queued meanwhile); try again when it is back",
            maybe_applied=False,
        )

    async def _read(self, name: str, *args: Any) -> Any:
        store = self._primary()
        try:
            return await getattr(store.feed, name)(*args)
        except BackendUnavailable as exc:
            await self._outer._degrade(str(exc))
            raise

    async def subscribe(
        self, ns: str, after: str | None, stop: Callable[[], bool] = never
    ) -> AsyncIterator[FeedEntry]:
        primary = self._outer._primary
        while primary is None:  # opened during an outage: wait for the reconnect loop
            if self._outer._closing or stop():
                return
            await asyncio.sleep(RETRY_MAX)
            primary = self._outer._primary
        stream = primary.feed.subscribe(ns, after, stop)
        try:
            async for position, fields in stream:
                yield position, fields
        finally:
            await close_stream(stream)

    async def last(self, ns: str) -> str:
        return await self._read("last", ns)

    async def heartbeat(self, ns: str, agent: str, value: bytes, status: str, now: int) -> None:
        return await self._outer._call("feed.heartbeat", ns, agent, value, status, now)

    async def presence(self, ns: str) -> tuple[list[str], dict[str, bytes]]:
        return await self._read("presence", ns)

    async def send(self, ns: str, sender: str, to: str, body: bytes, now: int) -> str:
        return await self._outer._call("feed.send", ns, sender, to, body, now)

    async def inbox(self, ns: str, agent: str, ack: str | None, limit: int) -> list[InboxRow]:
        return await self._read("inbox", ns, agent, ack, limit)

    async def broadcast(self, ns: str, sender: str, channel: str, body: bytes, now: int) -> None:
        return await self._outer._call("feed.broadcast", ns, sender, channel, body, now)
