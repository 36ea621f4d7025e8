"""Task queues without I/O: options, the stored forms of a task, backoff, stats.

A queue delivers each task at least once. A claim leases a task to one worker until its
visibility deadline; an ack before then completes it, a failure (or a lease that lapses)
sends it back, after a backoff, until it has been delivered `max_attempts` times, when it
goes to the dead-letter list. Every claim carries a fresh lease token, so an ack that comes
after its task was handed to someone else is refused (`LeaseLost`), never counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from aether_memory.core.errors import InvalidInput
from aether_memory.core.validate import check_int, check_number, check_text

PRIORITY_MIN, PRIORITY_MAX = -100, 100
DEFAULT_VISIBILITY = 30.0  # seconds a claim lasts before the task goes back
DEFAULT_MAX_ATTEMPTS = 5  # deliveries before a task is dead-lettered
DEFAULT_BACKOFF = 1.0  # seconds before the first retry; doubles with each attempt
DEFAULT_BACKOFF_CAP = 300.0
MAX_DELAY_SECONDS = 365 * 24 * 3600.0
MAX_ERROR_CHARS = 2000
MAX_BLOCK_SECONDS = 3600.0
MAX_PEEK = 1000

# Where a task is: waiting (ready now or later), leased to a worker, or dead-lettered.
TaskState = Literal["pending", "delayed", "in_flight", "dead"]
STATES: tuple[TaskState, ...] = ("pending", "delayed", "in_flight", "dead")


@dataclass(frozen=True, slots=True)
class QueueOptions:
    """How a queue treats its tasks (every worker of a queue should use the same).

    Attributes:
        visibility: Seconds a claim lasts; a task not acked (or extended) by then goes back.
        max_attempts: Deliveries before a task that keeps failing goes to the dead letters.
        backoff: Seconds before the first retry of a failed task; doubled for each later one.
        backoff_cap: The longest backoff, in seconds.
    """

    visibility: float = DEFAULT_VISIBILITY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff: float = DEFAULT_BACKOFF
    backoff_cap: float = DEFAULT_BACKOFF_CAP

    def __post_init__(self) -> None:
        if check_number(self.visibility, "visibility", 0, MAX_DELAY_SECONDS) <= 0:
            raise InvalidInput("visibility must be positive")
        check_int(self.max_attempts, "max_attempts", 1, 1000)
        check_number(self.backoff, "backoff", 0, MAX_DELAY_SECONDS)
        check_number(self.backoff_cap, "backoff_cap", 0, MAX_DELAY_SECONDS)

    @property
    def visibility_ms(self) -> int:
        return max(1, round(self.visibility * 1000))

    @property
    def backoff_ms(self) -> int:
        return round(self.backoff * 1000)

    @property
    def backoff_cap_ms(self) -> int:
        return round(self.backoff_cap * 1000)


def backoff_ms(attempts: int, base_ms: int, cap_ms: int) -> int:
    """The wait before retrying a task that failed on delivery `attempts` (1 for the first):
    ``base * 2**(attempts-1)``, at most `cap_ms`. The Redis scripts compute the same."""
    return int(min(cap_ms, base_ms * 2 ** max(0, attempts - 1)))


def check_priority(value: object) -> int:
    """A task's priority: an int from -100 to 100; higher is claimed first."""
    return check_int(value, "priority", PRIORITY_MIN, PRIORITY_MAX)


def check_delay(value: object) -> int:
    """A delay in seconds (0 for none) as milliseconds."""
    return round(check_number(value, "delay", 0, MAX_DELAY_SECONDS) * 1000)


def check_error(value: object) -> str:
    """The reason a task failed, as stored (long messages are cut, not refused)."""
    if isinstance(value, BaseException):
        value = f"{type(value).__name__}: {value}"
    text = check_text(value, "error", allow_empty=True)
    return text[:MAX_ERROR_CHARS]


def check_state(value: object) -> TaskState:
    if value not in STATES:
        raise InvalidInput(f"state must be one of {', '.join(STATES)}, not {value!r}")
    state: TaskState = value
    return state


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """A task as a store hands it to the worker that claimed it."""

    id: str
    body: bytes
    attempts: int
    priority: int
    created_at: int  # ms
    deadline: int  # ms: the lease ends then unless extended


@dataclass(frozen=True, slots=True)
class TaskRow:
    """A task as a store lists it (peek)."""

    id: str
    body: bytes
    state: TaskState
    priority: int
    attempts: int
    created_at: int
    at: int  # ms: due (pending, delayed), lease deadline (in flight), or when it died
    worker: str | None
    error: str | None
    dedupe_key: str | None


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """What one worker holds and has done on a queue."""

    in_flight: int = 0
    acked: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class QueueStats:
    """A queue's counts, read in one round trip.

    Attributes:
        pending: Tasks that can be claimed now.
        delayed: Tasks waiting for their delay or their retry backoff.
        in_flight: Tasks claimed and not yet acked, failed or expired.
        dead: Tasks in the dead-letter list.
        acked: Tasks completed (since the queue was created).
        failed: Failures reported by workers.
        expired: Claims whose visibility timeout passed (each a redelivery).
        workers: Per worker: tasks held now, acked and failed.
    """

    pending: int = 0
    delayed: int = 0
    in_flight: int = 0
    dead: int = 0
    acked: int = 0
    failed: int = 0
    expired: int = 0
    workers: dict[str, WorkerStats] = field(default_factory=dict)


def stats_from(
    counts: tuple[int, int, int, int], counters: dict[str, int], holding: dict[str, int]
) -> QueueStats:
    """Assemble `QueueStats` from the zset sizes, the counters hash (``acked``, ``failed``,
    ``expired``, ``acked:<worker>``, ``failed:<worker>``) and in-flight tasks per worker."""
    per: dict[str, dict[str, int]] = {w: {"in_flight": n} for w, n in holding.items()}
    for name, value in counters.items():
        kind, _, worker = name.partition(":")
        if worker and kind in ("acked", "failed"):
            per.setdefault(worker, {})[kind] = value
    return QueueStats(
        *counts,
        acked=counters.get("acked", 0),
        failed=counters.get("failed", 0),
        expired=counters.get("expired", 0),
        workers={w: WorkerStats(**v) for w, v in sorted(per.items())},
    )


def meta_field(meta: dict[str, Any], name: str) -> str | None:
    """A text field of a task's stored meta, None when empty."""
    value = meta.get(name)
    return str(value) if value not in (None, "") else None


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """A task as `peek` shows it (times in ms since the epoch).

    Attributes:
        id: The task's id (what `put` returned).
        task: The task itself, as put.
        state: ``pending``, ``delayed``, ``in_flight`` or ``dead``.
        priority: Higher is claimed first.
        attempts: How many times it was delivered.
        created_at: When it was put.
        at: When it falls due (pending, delayed), when its lease ends (in flight), or when
            it was dead-lettered.
        worker: The worker that claimed it last.
        error: The last failure (or lapsed lease) reported for it.
        dedupe_key: The key it was put under, if any.
    """

    id: str
    task: Any
    state: TaskState
    priority: int
    attempts: int
    created_at: int
    at: int
    worker: str | None
    error: str | None
    dedupe_key: str | None
