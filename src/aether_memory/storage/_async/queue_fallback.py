"""Task queues through a fallback store: what a queue does while the primary is down.

A queue's truth (what is pending, who holds which lease, how often each task was
delivered) lives on the primary alone. During an outage:

- a **put** is queued in the fallback's outbox (applied nowhere else) and replayed onto the
  primary, in order, when it answers: a producer keeps going and no task is lost. Replayed
  puts keep their ids and their original time (a delay counts from the put), and a dedupe
  key is checked on the primary when the put lands there;
- a **claim, ack, fail, extend**, stats, peek or retry raises `BackendUnavailable`: the
  fallback knows neither the tasks nor the leases, so serving claims from it could hand a
  task to a second worker as if for the first time. A lease whose ack could not be sent
  lapses on the primary and its task is delivered again, counted as a redelivery (its
  ``attempts`` grow), never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aether_memory.core.errors import BackendUnavailable
from aether_memory.core.queues import ClaimRow, QueueStats, TaskRow, TaskState

if TYPE_CHECKING:
    from aether_memory.storage._async.fallback import AsyncFallbackStore


class AsyncFallbackQueues:
    """The queue role of `AsyncFallbackStore`."""

    def __init__(self, outer: AsyncFallbackStore) -> None:
        self._outer = outer

    async def _primary(self, method: str, *args: Any) -> Any:
        outer = self._outer
        if not outer._up or outer._primary is None:
            raise BackendUnavailable(
                f"{outer._primary_name} is unreachable: task queues are served by it alone "
                "(puts are queued for it meanwhile); retry",
                maybe_applied=False,
            )
        try:
            return await getattr(outer._primary.queues, method)(*args)
        except BackendUnavailable as exc:
            await outer._degrade(str(exc))
            raise

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
        held: str = await self._outer._call("queues.put", *args)
        return held

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
        found: tuple[ClaimRow | None, int | None] = await self._primary("claim", *args)
        return found

    async def ack(self, ns: str, queue: str, task_id: str, token: str) -> bool:
        return bool(await self._primary("ack", ns, queue, task_id, token))

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
        state: TaskState | None = await self._primary("fail", *args)
        return state

    async def extend(self, ns: str, queue: str, task_id: str, token: str, deadline_ms: int) -> bool:
        return bool(await self._primary("extend", ns, queue, task_id, token, deadline_ms))

    async def stats(self, ns: str, queue: str, now_ms: int) -> QueueStats:
        found: QueueStats = await self._primary("stats", ns, queue, now_ms)
        return found

    async def peek(self, ns: str, queue: str, state: TaskState, limit: int) -> list[TaskRow]:
        rows: list[TaskRow] = await self._primary("peek", ns, queue, state, limit)
        return rows

    async def retry_dead(
        self, ns: str, queue: str, task_ids: Sequence[str], limit: int, now_ms: int
    ) -> int:
        return int(await self._primary("retry_dead", ns, queue, task_ids, limit, now_ms))

    async def wait(self, ns: str, queue: str, seconds: float) -> None:
        await self._primary("wait", ns, queue, seconds)
