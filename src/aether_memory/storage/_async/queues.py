"""The task-queue role of a store: leases, acks and dead letters, in bytes (the client
encodes tasks). Each method is one round trip, except `wait`, which blocks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aether_memory.core.queues import ClaimRow, QueueStats, TaskRow, TaskState


class AsyncQueueStore(Protocol):
    """Task queues, each named inside a namespace."""

    async def put(
        self,
        ns: str,
        queue: str,
        task_id: str,
        body: bytes,
        priority: int,
        delay_ms: int,
        dedupe_key: str | None,
        now_ms: int,
    ) -> str:
        """Add a task (unless its id, or its dedupe key, is held already); the id held."""
        ...

    async def claim(
        self,
        ns: str,
        queue: str,
        worker: str,
        token: str,
        now_ms: int,
        visibility_ms: int,
        max_attempts: int,
    ) -> tuple[ClaimRow | None, int | None]:
        """Lease the first ready task to `worker` under `token`, or (None, when the next
        task falls due or lease lapses, in ms, or None)."""
        ...

    async def ack(self, ns: str, queue: str, task_id: str, token: str) -> bool:
        """Complete a task; False if `token` no longer holds its lease."""
        ...

    async def fail(
        self,
        ns: str,
        queue: str,
        task_id: str,
        token: str,
        error: str,
        now_ms: int,
        max_attempts: int,
        backoff_ms: int,
        backoff_cap_ms: int,
    ) -> TaskState | None:
        """Send a task back (``delayed``, for its backoff) or to the dead letters (``dead``);
        None if `token` no longer holds its lease."""
        ...

    async def extend(self, ns: str, queue: str, task_id: str, token: str, deadline_ms: int) -> bool:
        """Move a lease's deadline; False if `token` no longer holds it."""
        ...

    async def stats(self, ns: str, queue: str, now_ms: int) -> QueueStats: ...

    async def peek(self, ns: str, queue: str, state: TaskState, limit: int) -> list[TaskRow]:
        """The first `limit` tasks in `state`, in the order they leave it."""
        ...

    async def retry_dead(
        self, ns: str, queue: str, task_ids: Sequence[str], limit: int, now_ms: int
    ) -> int:
        """Move dead tasks (these ids, or the oldest `limit`) back to pending; how many."""
        ...

    async def wait(self, ns: str, queue: str, seconds: float) -> None:
        """Block up to `seconds` or until a task may have become ready (no error if not)."""
        ...
