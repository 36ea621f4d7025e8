"""The task-queue role of the SQLite store: `QueueTables` in a worker thread per call.

A blocking claim polls: the file has no way to wake a waiter in another process, so `wait`
sleeps `POLL_INTERVAL` (or less, when a delayed task falls due sooner) between claims.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aether_memory.backends.sqlite.queues import QueueTables
from aether_memory.core.queues import ClaimRow, QueueStats, TaskRow, TaskState

POLL_INTERVAL = 0.05  # seconds between claims of a blocked worker on SQLite


class AsyncSqliteQueues:
    """Task queues in one SQLite file (several processes may share it)."""

    def __init__(self, tables: QueueTables) -> None:
        self._tables = tables

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
        args = (ns, queue, task_id, body, priority, delay_ms, dedupe_key, now_ms)
        return await asyncio.to_thread(self._tables.put, *args)

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
        args = (ns, queue, worker, token, now_ms, visibility_ms, max_attempts)
        return await asyncio.to_thread(self._tables.claim, *args)

    async def ack(self, ns: str, queue: str, task_id: str, token: str) -> bool:
        return await asyncio.to_thread(self._tables.ack, ns, queue, task_id, token)

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
        args = (ns, queue, task_id, token, error, now_ms, max_attempts, backoff_ms, backoff_cap_ms)
        return await asyncio.to_thread(self._tables.fail, *args)

    async def extend(self, ns: str, queue: str, task_id: str, token: str, deadline_ms: int) -> bool:
        return await asyncio.to_thread(self._tables.extend, ns, queue, task_id, token, deadline_ms)

    async def stats(self, ns: str, queue: str, now_ms: int) -> QueueStats:
        return await asyncio.to_thread(self._tables.stats, ns, queue, now_ms)

    async def peek(self, ns: str, queue: str, state: TaskState, limit: int) -> list[TaskRow]:
        return await asyncio.to_thread(self._tables.peek, ns, queue, state, limit)

    async def retry_dead(
        self, ns: str, queue: str, task_ids: Sequence[str], limit: int, now_ms: int
    ) -> int:
        retry = self._tables.retry_dead
        return await asyncio.to_thread(retry, ns, queue, task_ids, limit, now_ms)

    async def wait(self, ns: str, queue: str, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(min(seconds, POLL_INTERVAL))
