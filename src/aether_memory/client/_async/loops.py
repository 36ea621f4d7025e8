"""Owned background loops: the base of every worker a client or a service runs beside its
work (memory formation, the consolidation and archive schedulers).

Source of truth for `client/_sync/loops.py` (generated: an owned task here, a daemon thread
there). A loop is started explicitly, woken or paused through one event, and stopped by
`aclose`, which waits for it (a run in progress that outlasts the wait is cut short).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Generic, Self, TypeVar

from aether_memory.core.validate import check_number
from aether_memory.storage import background

log = logging.getLogger("aether_memory")

T = TypeVar("T")
MAX_EVERY = 30 * 86_400.0  # a scheduler's longest period (seconds)


class AsyncLoop:
    """A background loop with an owner: `_loop` runs in an owned task until `aclose`."""

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def _start(self) -> None:
        if self._task is None and not self._closing:
            self._task = background.start_task(self._loop())

    async def _loop(self) -> None:
        raise NotImplementedError

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds`, or less if woken (or closed)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def aclose(self) -> None:
        """Stop the loop, after the step in progress if it ends within the stop timeout."""
        self._closing = True
        self._wake.set()
        # A model call or a run in progress may outlast the wait: it is cut short (what it
        # had not finished is found again by the next start), and closing goes on.
        with contextlib.suppress(TimeoutError):
            await background.finish_task(self._task)
        self._task = None


class AsyncScheduler(AsyncLoop, Generic[T]):
    """A job every `every` seconds until closed (the first run right away); a failed run is
    reported here and in the log, and retried on the next period.

    Attributes:
        runs: runs finished; `last` the result of the latest, `last_error` why the latest
            failed (None when it did not).
    """

    job = "a scheduled job"  # what the log calls it

    def __init__(self, every: float) -> None:
        super().__init__()
        self.every = check_number(every, "every", 1.0, MAX_EVERY)
        self.runs = 0
        self.last: T | None = None
        self.last_error: str | None = None

    def start(self) -> None:
        """Start the loop (the first run is right away)."""
        self._start()

    async def _once(self) -> T:
        raise NotImplementedError

    async def _loop(self) -> None:
        while not self._closing:
            try:
                self.last = await self._once()
                self.last_error = None
            except Exception as exc:  # reported on the scheduler and in the log; retried
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("aether-memory: %s failed (%s); retrying later", self.job, exc)
            self.runs += 1
            await self._pause(self.every)

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
