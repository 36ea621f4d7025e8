"""Task queues of a namespace: put, claim, and the claimed task's ack, fail and extend.

HTTP keeps no claim between requests, so a claim returns the task's ``lease`` (a token) and
the ack, fail and extend of that task send it back; whoever holds the lease may use it, and
a lease that ended (the visibility timeout passed and the task went back) is refused with
409 ``lease_lost``. A claim that waits (``block``) holds the request open at most 20 s.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from aether_memory.client._async.queue import MAX_DEDUPE_CHARS, AsyncQueue
from aether_memory.core.queues import (
    DEFAULT_BACKOFF,
    DEFAULT_BACKOFF_CAP,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_VISIBILITY,
    MAX_PEEK,
    PRIORITY_MAX,
    PRIORITY_MIN,
    QueueStats,
    TaskInfo,
    TaskState,
)
from aether_memory.rest.deps import NAME_PATTERN, Memory

router = APIRouter(prefix="/v1/namespaces/{ns}/queues/{queue}", tags=["queues"])
MAX_BLOCK = 20.0

QueueName = Annotated[str, Path(pattern=NAME_PATTERN, description="The queue's name.")]
TaskId = Annotated[str, Path(pattern=NAME_PATTERN, description="The task's id.")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Policy(_Body):
    """How the queue treats tasks (every client of a queue should send the same)."""

    visibility: float = Field(DEFAULT_VISIBILITY, gt=0, description="Seconds a claim lasts.")
    max_attempts: int = Field(DEFAULT_MAX_ATTEMPTS, ge=1, le=1000)
    backoff: float = Field(DEFAULT_BACKOFF, ge=0, description="Seconds before the first retry.")
    backoff_cap: float = Field(DEFAULT_BACKOFF_CAP, ge=0)


class PutIn(_Body):
    """A task (any JSON value) and how to queue it."""

    task: Any
    priority: int = Field(0, ge=PRIORITY_MIN, le=PRIORITY_MAX, description="Higher first.")
    delay: float = Field(0, ge=0, description="Seconds before it can be claimed.")
    dedupe_key: str | None = Field(None, min_length=1, max_length=MAX_DEDUPE_CHARS)


class PutOut(BaseModel):
    """The id of the task the queue holds (an earlier one's, for a repeated dedupe key)."""

    id: str


class ClaimIn(Policy):
    """Who claims, and how long to wait for a task."""

    worker: str = Field(pattern=NAME_PATTERN)
    block: float = Field(0, ge=0, le=MAX_BLOCK, description="Seconds to wait for a task.")


class ClaimOut(BaseModel):
    """A claimed task: send `lease` back to ack, fail or extend it."""

    id: str
    task: Any
    attempts: int
    priority: int
    created_at: int
    deadline: int
    lease: str


class LeaseIn(Policy):
    """The lease a claim returned."""

    lease: str = Field(pattern=NAME_PATTERN)


class FailIn(LeaseIn):
    """The lease, and what went wrong."""

    error: str = Field("", max_length=2000)


class FailOut(BaseModel):
    """Where the task went: ``delayed`` (retried after its backoff) or ``dead``."""

    state: TaskState


class ExtendIn(LeaseIn):
    """The lease, and for how long to keep it from now (default: the visibility)."""

    seconds: float | None = Field(None, gt=0)


class ExtendOut(BaseModel):
    """The lease's new deadline (ms since the epoch)."""

    deadline: int


class RetryIn(_Body):
    """Dead tasks to send back: these ids, or the oldest `limit`."""

    ids: list[str] | None = Field(None, max_length=MAX_PEEK)
    limit: int = Field(100, ge=1, le=MAX_PEEK)


class RetryOut(BaseModel):
    """How many dead tasks went back to pending."""

    moved: int


_DEFAULT_POLICY = Policy.model_validate({})


def _queue(mem: Any, name: str, policy: Policy | None = None) -> AsyncQueue:
    p = policy or _DEFAULT_POLICY
    queue: AsyncQueue = mem.queue(
        name,
        visibility=p.visibility,
        max_attempts=p.max_attempts,
        backoff=p.backoff,
        backoff_cap=p.backoff_cap,
    )
    return queue


@router.post("/tasks", name="queue_put", summary="Add a task", status_code=201)
async def put(mem: Memory, queue: QueueName, body: PutIn) -> PutOut:
    q = _queue(mem, queue)
    return PutOut(id=await q.put(body.task, body.priority, body.delay, body.dedupe_key))


@router.post(
    "/claim",
    name="queue_claim",
    summary="Lease the next task to a worker (204 if none is ready within `block`)",
    responses={204: {"description": "No task was ready."}},
    response_model=ClaimOut,
)
async def claim(mem: Memory, queue: QueueName, body: ClaimIn) -> Any:
    task = await _queue(mem, queue, body).claim(body.worker, block=body.block)
    if task is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return ClaimOut(
        id=task.id,
        task=task.task,
        attempts=task.attempts,
        priority=task.priority,
        created_at=task.created_at,
        deadline=task.deadline,
        lease=task.lease,
    )


@router.post(
    "/tasks/{task_id}/ack",
    name="queue_ack",
    summary="Complete a claimed task (409 lease_lost if its lease ended)",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def ack(mem: Memory, queue: QueueName, task_id: TaskId, body: LeaseIn) -> None:
    await _queue(mem, queue, body).claimed(task_id, body.lease).ack()


@router.post(
    "/tasks/{task_id}/fail",
    name="queue_fail",
    summary="Give a claimed task back: retried after a backoff, or dead-lettered",
)
async def fail(mem: Memory, queue: QueueName, task_id: TaskId, body: FailIn) -> FailOut:
    state = await _queue(mem, queue, body).claimed(task_id, body.lease).fail(body.error)
    return FailOut(state=state)


@router.post("/tasks/{task_id}/extend", name="queue_extend", summary="Keep a claim longer")
async def extend(mem: Memory, queue: QueueName, task_id: TaskId, body: ExtendIn) -> ExtendOut:
    claimed = _queue(mem, queue, body).claimed(task_id, body.lease)
    return ExtendOut(deadline=await claimed.extend(body.seconds))


@router.get("/stats", name="queue_stats", summary="Pending, delayed, in flight, dead, per worker")
async def stats(mem: Memory, queue: QueueName) -> QueueStats:
    return await _queue(mem, queue).stats()


@router.get("/tasks", name="queue_peek", summary="List the first tasks in a state (no change)")
async def peek(
    mem: Memory,
    queue: QueueName,
    state: TaskState = "pending",
    limit: Annotated[int, Query(ge=0, le=MAX_PEEK)] = 20,
) -> list[TaskInfo]:
    return await _queue(mem, queue).peek(state, limit)


@router.post("/retry-dead", name="queue_retry_dead", summary="Send dead tasks back to pending")
async def retry_dead(mem: Memory, queue: QueueName, body: RetryIn) -> RetryOut:
    return RetryOut(moved=await _queue(mem, queue).retry_dead(body.ids, body.limit))
