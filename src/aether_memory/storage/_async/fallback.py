"""A primary store with a fallback that takes over while the primary is unreachable.

Healthy, every call goes straight to the primary. When the primary raises
`BackendUnavailable` (refused, timed out, killed), calls are served by the fallback and each
write is also queued in the fallback's outbox. A background loop probes the primary with
backoff; once it answers, the outbox is replayed in order, and only when it is empty do calls
go to the primary again. Writes made meanwhile join the outbox, so none is lost or reordered.

Replay is idempotent where the data allows: events carry client ids (a copy is skipped on
read), hashes and records are overwritten with the same values. Counters (checkpoint
numbers, reinforcement, skill runs) are the exception: an entry is removed right after it is
applied, so only a crash between the two replays one entry twice. Reads during an outage
see what the fallback holds, not the primary's data.
"""

# The protocol methods below delegate to `_call`, which returns what the store returned.
# mypy: disable-error-code="no-any-return"

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from opentelemetry import metrics

from aether_memory.core.config import SessionTTLs
from aether_memory.core.errors import AetherError, BackendUnavailable
from aether_memory.core.ids import new_id
from aether_memory.core.keys import SessionKeys
from aether_memory.core.query import Filters
from aether_memory.core.types import Capabilities, Health
from aether_memory.storage import background
from aether_memory.storage._async.store import (
    AsyncLongTermStore,
    AsyncOutboxStore,
    AsyncStore,
    EventRow,
    HashKind,
)
from aether_memory.storage.outbox import WRITES, decode, encode
from aether_memory.storage.rows import Candidate, Row

log = logging.getLogger("aether_memory")

RETRY_FIRST = 0.05  # seconds before the first probe of the primary
RETRY_MAX = 2.0
LEASE_MS = 30_000  # how long a replay lease lasts without being renewed
REPLAY_BATCH = 256

_switches = metrics.get_meter("aether_memory").create_counter(
    "aether.store.switches", description="Switches between the primary and the fallback store"
)


def _method(store: AsyncStore, op: str) -> Callable[..., Awaitable[Any]]:
    role, _, name = op.rpartition(".")
    method: Callable[..., Awaitable[Any]] = getattr(store.longterm if role else store, name)
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
        self._switches = 0
        self._dropped = 0
        self._last_error: str | None = None
        self.longterm: AsyncLongTermStore = AsyncFallbackLongTerm(self)

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
        if primary is None:
            store._last_error = error
            store._switch(up=False)
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

    async def _call(self, op: str, *args: Any) -> Any:
        if self._up:
            try:
                return await _method(self._primary, op)(*args)  # type: ignore[arg-type]
            except BackendUnavailable as exc:
                await self._degrade(str(exc))
        if op in WRITES:
            return await self._spill(op, args)
        return await _method(self._fallback, op)(*args)

    async def _spill(self, op: str, args: tuple[Any, ...]) -> Any:
        """A write while degraded: on the fallback, then queued for the primary."""
        entry = encode(op, args)
        async with self._lock:
            if not self._up:
                return await self._fallback.outbox_spill(op, args, entry)
        return await self._call(op, *args)  # the primary came back while we waited

    async def _degrade(self, error: str) -> None:
        """Serve from the fallback, and make sure the reconnect loop runs."""
        self._last_error = error
        async with self._lock:
            if self._up:
                self._switch(up=False)
            if self._task is None and not self._closing:
                self._task = background.start_task(self._recover())

    def _switch(self, up: bool) -> None:
        """Change store (the caller holds the lock, or nothing else runs yet)."""
        self._up = up
        self._switches += 1
        if up:
            self._task = None  # the loop ends here: a new outage starts a new one
        _switches.add(1, {"to": self._primary_name if up else "fallback"})
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
        while not self._closing:
            await self._pause(delay)
            if self._closing:
                return
            try:
                if self._primary is None:
                    self._primary = await self._connect()
                await self._primary.ping()
                if await self._replay(self._primary):
                    return
            except BackendUnavailable as exc:
                self._last_error = str(exc)
            except Exception:  # never die: the client would stay on the fallback for good
                log.exception("aether-memory: replaying the outbox failed; will retry")
            delay = min(delay * 2, RETRY_MAX)

    async def _replay(self, primary: AsyncStore) -> bool:
        """Apply the outbox to `primary`, oldest first; True once it is empty and calls have
        switched to the primary. Another process holding the lease replays it for us."""
        if not await self._fallback.outbox_claim(self._owner, LEASE_MS):
            return await self._switch_back_if_empty()
        try:
            # Catch up while writes keep arriving; once they arrive as fast as the replay
            # goes, hold them off (they wait on the lock) and replay the rest.
            depth = await self._fallback.outbox_depth()
            while depth > REPLAY_BATCH:
                await self._apply_batch(primary)
                if self._closing:
                    return False
                await self._fallback.outbox_claim(self._owner, LEASE_MS)  # renew
                depth, before = await self._fallback.outbox_depth(), depth
                if depth >= before:
                    break
            async with self._lock:
                while await self._apply_batch(primary):
                    pass
                self._switch(up=True)
            return True
        finally:
            await self._fallback.outbox_release(self._owner)

    async def _apply_batch(self, primary: AsyncStore) -> int:
        """Apply the oldest outbox entries; each is removed as soon as it is applied."""
        batch = await self._fallback.outbox_peek(REPLAY_BATCH)
        for seq, entry in batch:
            op, args = decode(entry)
            try:
                await _method(primary, op)(*args)
            except BackendUnavailable:
                raise
            except AetherError as exc:
                self._dropped += 1
                log.error("aether-memory: %s refused a replayed %s (%s); skipped it",
                          self._primary_name, op, exc)  # fmt: skip
            await self._fallback.outbox_remove([seq])
        return len(batch)

    async def _switch_back_if_empty(self) -> bool:
        async with self._lock:
            if await self._fallback.outbox_depth():
                return False
            self._switch(up=True)
            return True

    async def aclose(self) -> None:
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
    ) -> None:
        return await self._call("hash_set", s, kind, fields, now_ms, ttl_ms)

    async def hash_get(self, s: SessionKeys, kind: HashKind, field: str) -> bytes | None:
        return await self._call("hash_get", s, kind, field)

    async def hash_all(self, s: SessionKeys, kind: HashKind) -> dict[str, bytes]:
        return await self._call("hash_all", s, kind)

    async def hash_delete(self, s: SessionKeys, kind: HashKind, fields: Sequence[str]) -> int:
        return await self._call("hash_delete", s, kind, fields)

    async def hash_clear(self, s: SessionKeys, kind: HashKind) -> None:
        return await self._call("hash_clear", s, kind)

    async def events_append(
        self, s: SessionKeys, rows: Sequence[EventRow], now_ms: int, ttls: SessionTTLs
    ) -> None:
        return await self._call("events_append", s, rows, now_ms, ttls)

    async def messages_append(
        self,
        s: SessionKeys,
        rows: Sequence[EventRow],
        now_ms: int,
        ttls: SessionTTLs,
        memories: Sequence[tuple[str, Row, int | None]],
    ) -> None:
        return await self._call("messages_append", s, rows, now_ms, ttls, memories)

    async def events_tail(
        self, s: SessionKeys, limit: int, types: frozenset[str] | None
    ) -> list[EventRow]:
        return await self._call("events_tail", s, limit, types)

    async def checkpoint_save(
        self, s: SessionKeys, state: bytes, now_ms: int, ttls: SessionTTLs, keep: int
    ) -> int:
        return await self._call("checkpoint_save", s, state, now_ms, ttls, keep)

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

    async def reinforce(self, ns: str, items: Sequence[tuple[str, float]], now_ms: int) -> None:
        return await self._outer._call("longterm.reinforce", ns, items, now_ms)

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
        self, ns: str, name: str, success: bool, duration: float, ttl_ms: int | None
    ) -> bool:
        return await self._outer._call("longterm.skill_run", ns, name, success, duration, ttl_ms)
