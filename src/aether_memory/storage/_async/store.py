"""The storage protocol: what a backend must do, in terms of bytes and session keys.

Backends only move bytes; encoding, validation and policy live above them, in the client.
Every method is one round trip to the server (a pipeline, a transaction or a script).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from aether_memory.core.agent_metrics import MetricWrite
from aether_memory.core.config import SessionTTLs
from aether_memory.core.errors import AetherError
from aether_memory.core.keys import SessionKeys
from aether_memory.core.query import Filters
from aether_memory.core.types import Capabilities, Checkup
from aether_memory.storage._async.feed import AsyncFeedStore
from aether_memory.storage._async.queues import AsyncQueueStore
from aether_memory.storage.rows import Candidate, CheckpointRow, EventRow, HashKind, Row


class AsyncStore(Protocol):
    """A backend for the memory kernel."""

    longterm: AsyncLongTermStore

    @property
    def capabilities(self) -> Capabilities: ...

    async def aclose(self) -> None: ...

    async def ping(self) -> bool: ...

    async def checkup(self) -> Checkup:
        """Read what is wrong right now (eviction policy, memory, file state); at most one
        round trip. Raises `BackendUnavailable` like any call when the store is down."""
        ...

    # -- agents: identity documents and state -----------------------------------------
    async def agents(self, ns: str) -> list[str]: ...

    async def identity_put(self, ns: str, agent: str, docs: Mapping[str, bytes]) -> None: ...

    async def identity_get(self, ns: str, agent: str, name: str) -> bytes | None: ...

    async def identity_all(self, ns: str, agent: str) -> dict[str, bytes]: ...

    async def identity_delete(self, ns: str, agent: str, names: Sequence[str]) -> int: ...

    async def state_put(self, ns: str, agent: str, fields: Mapping[str, bytes]) -> None: ...

    async def state_get(self, ns: str, agent: str) -> dict[str, bytes]: ...

    # -- sessions ------------------------------------------------------------------------
    # The writes into a session (hash_set, events_append, messages_append, checkpoint_save)
    # take `opening`, the client's TTLs: with them, a write into a session that is not
    # recorded (new, or erased by any client since) also does what `session_open` does, in
    # the same round trip where the store can tell; None when the caller just recorded it.
    async def session_open(self, s: SessionKeys, now_ms: int, ttl_ms: int | None) -> None:
        """Record the session: its meta (expiring with its events after `ttl_ms`), in its
        agent's sessions, its agent in the namespace's agents."""

    async def sessions(self, ns: str, agent: str, limit: int) -> list[tuple[str, int]]: ...

    async def session_meta(self, s: SessionKeys) -> dict[str, bytes]: ...

    async def session_link(
        self, parent: SessionKeys, child: SessionKeys, now_ms: int, ttl_ms: int | None
    ) -> None: ...

    # -- working memory and scratchpad ---------------------------------------------------
    async def hash_set(
        self,
        s: SessionKeys,
        kind: HashKind,
        fields: Mapping[str, bytes],
        now_ms: int,
        ttl_ms: int | None,
        opening: SessionTTLs | None = None,
    ) -> None: ...

    async def hash_get(self, s: SessionKeys, kind: HashKind, field: str) -> bytes | None: ...

    async def hash_all(self, s: SessionKeys, kind: HashKind) -> dict[str, bytes]: ...

    async def hash_all_many(
        self, sessions: Sequence[SessionKeys], kind: HashKind
    ) -> list[dict[str, bytes]]:
        """`hash_all` of several sessions, in their order, in one round trip."""
        ...

    async def hash_delete(self, s: SessionKeys, kind: HashKind, fields: Sequence[str]) -> int: ...

    async def hash_clear(self, s: SessionKeys, kind: HashKind) -> None: ...

    # -- the episodic record ---------------------------------------------------------------
    async def events_append(
        self,
        s: SessionKeys,
        rows: Sequence[EventRow],
        now_ms: int,
        ttls: SessionTTLs,
        metrics: Sequence[MetricWrite] = (),
        opening: SessionTTLs | None = None,
    ) -> None:
        """Append events; `metrics` (the agent-metric bucket updates they make) go in the
        same round trip, applied once however often the write is retried."""
        ...

    async def events_tail(
        self, s: SessionKeys, limit: int, types: frozenset[str] | None
    ) -> list[EventRow]: ...

    async def messages_append(
        self,
        s: SessionKeys,
        rows: Sequence[EventRow],
        now_ms: int,
        ttls: SessionTTLs,
        memories: Sequence[tuple[str, Row, int | None]],
        opening: SessionTTLs | None = None,
    ) -> None:
        """`events_append` and `longterm.put` (in `s`'s namespace) in one round trip."""

    # -- checkpoints -----------------------------------------------------------------------
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
        """Save the next checkpoint (or checkpoint `n`, a number already handed out) and
        return its number; a write retried under the same `write_id` is applied once."""

    async def checkpoint_load(self, s: SessionKeys, n: int | None) -> tuple[int, bytes] | None: ...

    async def checkpoint_list(self, s: SessionKeys) -> list[tuple[int, int]]: ...

    # -- caches ----------------------------------------------------------------------------
    async def tools_get_or_put(
        self, s: SessionKeys, value: bytes | None, ttl_ms: int | None
    ) -> bytes | None: ...

    async def cache_get(self, key: str) -> bytes | None: ...

    async def cache_put(self, key: str, value: bytes, ttl_ms: int | None) -> None: ...

    # -- replay ----------------------------------------------------------------------------
    async def replay(self, writes: Sequence[tuple[str, Sequence[Any]]]) -> list[AetherError | None]:
        """Apply queued writes (`storage.outbox` operations) in order, in as few round trips
        as the backend allows; each one's refusal, or None."""

    # -- browsing (every listing is ordered by a stable key; see core.pages) ------------------
    async def sessions_page(
        self, ns: str, agent: str, before: tuple[int, str] | None, limit: int
    ) -> list[tuple[str, int]]:
        """Up to `limit` sessions by (last activity, id), newest first, after `before`."""
        ...

    async def events_page(
        self, s: SessionKeys, after: str | None, limit: int
    ) -> list[tuple[str, EventRow]]:
        """Up to `limit` events, oldest first, after position `after`, with their positions."""
        ...

    async def namespaces(self) -> list[str]:
        """Every namespace that holds anything (an admin walk of the store, never hot)."""
        ...

    # -- moving and erasing ----------------------------------------------------------------------
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
        """Replace a session with exactly this content (an import), as ordinary writes."""
        ...

    async def erase_session(self, s: SessionKeys, dry_run: bool) -> dict[str, int]:
        """Remove every key of a session, then its entry in the agent's session index."""
        ...

    async def erase_agent(self, ns: str, agent: str, dry_run: bool) -> dict[str, int]:
        """Remove an agent's identity, state and session index, then its namespace entry
        (its sessions and memories are erased first, by the caller)."""
        ...

    async def erase_namespace(self, ns: str, dry_run: bool) -> dict[str, int]:
        """Remove everything of a namespace: keys or rows, indexes, dedup state, caches."""
        ...

    # -- reading parts of hashes (large working memories read by key) ----------------------------
    async def hash_keys(self, s: SessionKeys, kind: HashKind) -> list[str]:
        """The field names of a hash, without their values, in no particular order."""
        ...

    async def hash_pick(
        self, reads: Sequence[tuple[SessionKeys, HashKind, Sequence[str] | None]]
    ) -> list[dict[str, bytes]]:
        """For each read, the named fields that exist (every field when None), in their
        order, in one round trip."""
        ...

    # -- coordination: change feed, presence, messages (see storage._async.feed) -------------
    feed: AsyncFeedStore

    # -- task queues (a role of its own, like `longterm`) ------------------------------------
    queues: AsyncQueueStore

    async def metrics_read(self, names: Sequence[str]) -> list[dict[str, bytes]]:
        """The agent-metric bucket hashes `names`, in order (empty where none is kept)."""
        ...


class AsyncLongTermStore(Protocol):
    """The long-term memory role: records, their index, dedup entries and skills."""

    @property
    def indexed(self) -> bool: ...

    async def setup(self, ns: str, dims: int, model: str) -> None: ...

    async def find_existing(
        self, ns: str, hashes: Sequence[str], vectors: Sequence[bytes], scope: Filters
    ) -> tuple[list[str | None], list[tuple[str, float, float] | None]]: ...

    async def put(self, ns: str, rows: Sequence[tuple[str, Row, int | None]]) -> None: ...

    async def reinforce(
        self,
        ns: str,
        items: Sequence[tuple[str, float]],
        now_ms: int,
        write_id: str | None = None,
    ) -> None: ...

    async def search(
        self, ns: str, scope: Filters, vector: bytes, codes: Sequence[str], n: int
    ) -> dict[str, Candidate]: ...

    async def fetch(
        self, ns: str, ids: Sequence[str], now_ms: int | None = None
    ) -> list[Row | None]: ...

    async def get(self, ns: str, ids: Sequence[str]) -> list[Row | None]: ...

    async def delete(self, ns: str, ids: Sequence[str], hashes: Sequence[str]) -> int: ...

    async def update(
        self,
        ns: str,
        memory_id: str,
        fields: Mapping[str, Any],
        rehash: tuple[str, str] | None = None,
    ) -> None: ...

    async def skill_put(
        self, ns: str, name: str, fields: Mapping[str, Any], ttl_ms: int | None
    ) -> None: ...

    async def skill_get(self, ns: str, names: Sequence[str]) -> list[Row | None]: ...

    async def skill_run(
        self,
        ns: str,
        name: str,
        success: bool,
        duration: float,
        ttl_ms: int | None,
        write_id: str | None = None,
    ) -> bool: ...

    async def page(self, ns: str, after: str | None, limit: int) -> list[tuple[str, Row | None]]:
        """Up to `limit` memory ids after `after`, in id order, each with its record (None
        for one that expired) incl. ``expires_at`` (ms, or None)."""
        ...

    async def load(self, ns: str, rows: Sequence[tuple[str, Row, int | None]]) -> None:
        """Store records exactly as exported (id, fields incl. access statistics,
        ``expires_at`` ms or None), replacing any with the same id."""
        ...

    async def skill_names(self, ns: str, after: str | None, limit: int) -> list[str]:
        """Up to `limit` skill names after `after`, in order."""
        ...

    async def skill_delete(self, ns: str, names: Sequence[str]) -> int:
        """Remove skills (their memories are forgotten separately); returns how many."""
        ...

    async def usage(self, ns: str) -> tuple[int, int] | None:
        """The namespace's hot memories and their bytes (`core.lifecycle.row_size` of the
        fields written) as every writer counts them: each write that adds memories adds to
        the count in its own transaction, and a budget pass corrects it (`add_usage`). None
        before anything was counted."""
        ...

    async def add_usage(self, ns: str, count: int, size: int) -> None:
        """Add to the count (negative: subtract)."""
        ...

    async def pass_claim(self, ns: str, owner: str, ttl_ms: int) -> bool:
        """Claim the namespace's budget pass for `owner` for `ttl_ms`, or renew its own
        claim; False while another owner's claim runs."""
        ...

    async def pass_release(self, ns: str, owner: str) -> None:
        """Give up `owner`'s claim (another owner's stays)."""
        ...


class AsyncOutboxStore(AsyncStore, Protocol):
    """A store that can also keep an outbox and a mirror: the fallback of a primary store."""

    async def outbox_spill(self, op: str, args: Sequence[Any], epoch: int) -> Any:
        """Apply the write `op` here and queue it in outbox `epoch`, in one transaction;
        `storage.outbox.OutboxClosed` once that epoch is closed."""

    async def outbox_join(self) -> int:
        """The open outbox epoch (opening one): called when the primary is lost."""

    async def outbox_state(self) -> tuple[int, int]:
        """The current epoch and its state (`storage.outbox` OPEN, CLOSING or CLOSED)."""

    async def outbox_begin_close(self) -> None:
        """Take no more entries (the last ones are being replayed)."""

    async def outbox_finish_close(self) -> bool:
        """Close the epoch if it is closing and the outbox is empty; True if it was."""

    async def outbox_peek(self, limit: int) -> list[tuple[int, bytes]]: ...

    async def outbox_remove(self, seqs: Sequence[int]) -> None: ...

    async def outbox_depth(self) -> int: ...

    async def outbox_claim(self, owner: str, ttl_ms: int) -> bool: ...

    async def outbox_release(self, owner: str) -> None: ...

    def mirror(self, op: str, args: Sequence[Any]) -> None:
        """Copy a write the primary acknowledged (never blocks on I/O)."""

    async def mirror_flush(self) -> bool:
        """Wait until every mirrored write is stored."""
