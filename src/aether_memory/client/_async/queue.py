"""`AsyncQueue`: a named task queue of a namespace, and the tasks its workers claim.

This file is the source of truth; `client/_sync/queue.py` is generated from it. Handles do
no I/O when created; every operation is one round trip, except a claim that blocks, which
waits between claims (on Redis for a put to wake it, on SQLite by polling).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aether_memory.core import telemetry
from aether_memory.core.errors import InvalidInput, LeaseLost
from aether_memory.core.ids import check_name, new_id, now_ms
from aether_memory.core.queues import (
    MAX_BLOCK_SECONDS,
    MAX_PEEK,
    QueueOptions,
    QueueStats,
    TaskInfo,
    TaskState,
    check_delay,
    check_error,
    check_priority,
    check_state,
)
from aether_memory.core.validate import check_limit, check_number, check_strings, check_text

if TYPE_CHECKING:
    from aether_memory.client._async.memory import AsyncMemory

MAX_DEDUPE_CHARS = 256


class AsyncQueue:
    """A task queue: at-least-once delivery with leases, retries and dead letters.

    Get one with `AsyncMemory.queue`. Every process that opens the same name in the same
    namespace shares the queue; no other namespace can see it.

    Example:
        jobs = mem.queue("jobs")
        await jobs.put({"url": "https://example.org"}, priority=5)
        task = await jobs.claim("worker-1", block=10)
        if task is not None:
            ...  # do the work
            await task.ack()
    """

    def __init__(self, memory: AsyncMemory, name: str, options: QueueOptions) -> None:
        self._memory = memory
        self._k = memory.kernel
        self.name = check_name(name, "queue name")
        self.options = options
        telemetry.watch_queue(memory, self.name)

    def __repr__(self) -> str:
        return f"<AsyncQueue {self._memory.namespace}/{self.name}>"

    @property
    def _ns(self) -> str:
        return self._memory.namespace

    @telemetry.traced("queue.put")
    async def put(
        self,
        task: Any,
        priority: int = 0,
        delay: float = 0,
        dedupe_key: str | None = None,
    ) -> str:
        """Add a task (any JSON value) and return its id.

        Args:
            task: What the worker gets.
            priority: -100 to 100; higher is claimed first, then oldest first.
            delay: Seconds before it can be claimed.
            dedupe_key: While a task put under this key is in the queue (pending, in flight
                or dead), another put with it adds nothing and returns that task's id.
        """
        body = self._k.codec.encode(task)
        priority = check_priority(priority)
        delay_ms = check_delay(delay)
        if dedupe_key is not None:
            dedupe_key = check_text(dedupe_key, "dedupe_key", max_chars=MAX_DEDUPE_CHARS)
        store = self._k.store.queues
        return await store.put(
            self._ns, self.name, new_id(), body, priority, delay_ms, dedupe_key, now_ms()
        )

    @telemetry.traced("queue.claim")
    async def claim(self, worker: str, block: float | None = None) -> AsyncClaimedTask | None:
        """Lease the next task to `worker` for `options.visibility` seconds.

        Args:
            worker: Who holds the lease (shown in stats).
            block: Seconds to wait for a task when none is ready (None or 0: return at once).

        Returns:
            The task, or None if none was ready (within `block`). Its ``attempts`` says how
            often it was delivered: above 1, an earlier claim failed or lapsed.
        """
        worker = check_name(worker, "worker")
        wait = 0.0 if block is None else check_number(block, "block", 0, MAX_BLOCK_SECONDS)
        store = self._k.store.queues
        opts = self.options
        until = time.monotonic() + wait
        while True:
            token = new_id()
            now = now_ms()
            row, next_ms = await store.claim(
                self._ns, self.name, worker, token, now, opts.visibility_ms, opts.max_attempts
            )
            if row is not None:
                return AsyncClaimedTask(self, row.id, self._k.codec.decode(row.body), worker,
                                 token, row.attempts, row.priority, row.created_at,
                                 row.deadline)  # fmt: skip
            left = until - time.monotonic()
            if left <= 0:
                return None
            if next_ms is not None:  # a delayed task or a lapsing lease wakes us then
                left = min(left, max(0.0, (next_ms - now) / 1000) + 0.001)
            await store.wait(self._ns, self.name, left)

    def claimed(self, task_id: str, lease: str, worker: str = "-") -> AsyncClaimedTask:
        """A handle on a task claimed elsewhere, from its id and the `lease` its claim
        returned (how REST and MCP clients ack, fail or extend): no I/O, and nothing is
        checked until it is used."""
        task_id = check_name(task_id, "task id")
        lease = check_name(lease, "lease")
        return AsyncClaimedTask(self, task_id, None, worker, lease, 0, 0, 0, 0)

    @telemetry.traced("queue.stats")
    async def stats(self) -> QueueStats:
        """Pending, delayed, in-flight and dead counts, totals, and per-worker figures."""
        return await self._k.store.queues.stats(self._ns, self.name, now_ms())

    @telemetry.traced("queue.peek")
    async def peek(self, state: TaskState = "pending", limit: int = 20) -> list[TaskInfo]:
        """The first `limit` tasks in `state` (``pending``, ``delayed``, ``in_flight`` or
        ``dead``), in the order they leave it; changes nothing."""
        state = check_state(state)
        limit = check_limit(limit, hi=MAX_PEEK)
        rows = await self._k.store.queues.peek(self._ns, self.name, state, limit)
        decode = self._k.codec.decode
        return [
            TaskInfo(
                r.id,
                decode(r.body),
                r.state,
                r.priority,
                r.attempts,
                r.created_at,
                r.at,
                r.worker,
                r.error,
                r.dedupe_key,
            )
            for r in rows
        ]

    @telemetry.traced("queue.retry_dead")
    async def retry_dead(self, ids: Iterable[str] | None = None, limit: int = 100) -> int:
        """Send dead tasks back to pending with their delivery count reset: these `ids`, or
        the `limit` oldest. Returns how many moved."""
        limit = check_limit(limit, hi=MAX_PEEK)
        given = () if ids is None else check_strings(ids, "ids")
        chosen = [check_name(i, "task id") for i in given]
        if len(chosen) > MAX_PEEK:
            raise InvalidInput(f"at most {MAX_PEEK} ids at once, not {len(chosen)}")
        store = self._k.store.queues
        return await store.retry_dead(self._ns, self.name, chosen, limit, now_ms())


class AsyncClaimedTask:
    """A task leased to one worker: `ack` it when done, `fail` it, or `extend` the lease.

    Attributes:
        id: The task's id.
        task: The task, as put.
        worker: Who holds the lease.
        attempts: How many times it has been delivered (this delivery included).
        priority: Its priority.
        created_at: When it was put (ms).
        deadline: When the lease ends unless extended (ms since the epoch).
    """

    __slots__ = ("_queue", "_token", "attempts", "created_at", "deadline", "id", "priority",
                 "task", "worker")  # fmt: skip

    def __init__(
        self,
        queue: AsyncQueue,
        task_id: str,
        task: Any,
        worker: str,
        token: str,
        attempts: int,
        priority: int,
        created_at: int,
        deadline: int,
    ) -> None:
        self._queue = queue
        self._token = token
        self.id = task_id
        self.task = task
        self.worker = worker
        self.attempts = attempts
        self.priority = priority
        self.created_at = created_at
        self.deadline = deadline

    def __repr__(self) -> str:
        return f"<AsyncClaimedTask {self.id} of {self._queue.name} held by {self.worker}>"

    @property
    def lease(self) -> str:
        """This claim's token: whoever has it can ack, fail or extend the task (see
        `AsyncQueue.claimed`), until the lease ends."""
        return self._token

    @property
    def redelivered(self) -> bool:
        """Whether an earlier delivery of this task failed or lapsed."""
        return self.attempts > 1

    def _lost(self, what: str) -> LeaseLost:
        return LeaseLost(
            f"cannot {what} task {self.id} of queue {self._queue.name!r}: the lease of "
            f"{self.worker} ended (its visibility timeout passed and the task went back to "
            "the queue, or it was acked or failed already); nothing was changed"
        )

    @telemetry.traced("task.ack")
    async def ack(self) -> None:
        """Complete the task.

        Raises:
            LeaseLost: The lease ended first; the task will be (or was) delivered again.
        """
        q = self._queue
        if not await q._k.store.queues.ack(q._ns, q.name, self.id, self._token):
            raise self._lost("acknowledge")

    @telemetry.traced("task.fail")
    async def fail(self, error: str | BaseException = "") -> TaskState:
        """Give the task back: it is retried after a backoff (``"delayed"``), or, at its
        last allowed attempt, dead-lettered (``"dead"``).

        Raises:
            LeaseLost: The lease ended first.
        """
        q = self._queue
        o = q.options
        state = await q._k.store.queues.fail(
            q._ns, q.name, self.id, self._token, check_error(error), now_ms(), o.max_attempts,
            o.backoff_ms, o.backoff_cap_ms,
        )  # fmt: skip
        if state is None:
            raise self._lost("fail")
        return state

    @telemetry.traced("task.extend")
    async def extend(self, seconds: float | None = None) -> int:
        """Keep the lease `seconds` (default: the queue's visibility) from now; returns the
        new deadline (ms).

        Raises:
            LeaseLost: The lease ended first.
        """
        q = self._queue
        ms = q.options.visibility_ms
        if seconds is not None:
            ms = max(1, round(check_number(seconds, "seconds", 0, MAX_BLOCK_SECONDS * 24) * 1000))
        deadline = now_ms() + ms
        if not await q._k.store.queues.extend(q._ns, q.name, self.id, self._token, deadline):
            raise self._lost("extend")
        self.deadline = deadline
        return deadline
