"""The write-through mirror: writes the primary store acknowledged, copied into the fallback
file by one owned thread, so that during an outage the fallback serves what the agent had
(identity, state, sessions, working memory, recent events, checkpoint numbers, long-term
memories and skills).

A write costs the caller one append to an in-memory queue; the thread applies what queued in
the last `LINGER` seconds in one SQLite transaction. The queue is bounded: when the thread falls
behind by `MAX_PENDING` writes, the oldest are dropped and counted (the mirror is a copy, not the
record: Redis holds them). Before falling back, the fallback store flushes the queue, so the
fallback knows every write this process saw acknowledged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from aether_memory.core.errors import AetherError

log = logging.getLogger("aether_memory")

MAX_PENDING = 100_000
BATCH = 2048
# Seconds the thread lets writes gather before applying them: one transaction then carries
# many, and the thread wakes (and takes the GIL from the callers) 50 times a second at most.
LINGER = 0.02
FLUSH_TIMEOUT = 10.0  # seconds a flush waits for the thread

Write = tuple[str, Sequence[Any]]


class Mirror:
    """A queue of writes and the thread that applies them with `apply` (a batch at a time)."""

    def __init__(self, apply: Callable[[list[Write]], None]) -> None:
        self._apply = apply
        self._queue: deque[Write] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._busy = False
        self._closing = False
        self._urgent = 0  # flushes waiting: no lingering then
        self.dropped = 0
        self.failed = 0
        self.last_error: str | None = None

    def put(self, op: str, args: Sequence[Any]) -> None:
        """Queue one acknowledged write (never blocks on I/O)."""
        with self._cond:
            if self._closing:
                return
            if len(self._queue) >= MAX_PENDING:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append((op, args))
            if len(self._queue) == 1:
                self._cond.notify()  # the thread waits for a first write only
            if self._thread is None:  # started on first use: nothing runs at import or open
                self._thread = threading.Thread(
                    target=self._run, name="aether-memory-mirror", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                until = time.monotonic() + LINGER
                while not (self._closing or self._urgent) and time.monotonic() < until:
                    self._cond.wait(until - time.monotonic())  # a flush or close cuts it short
                batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
                self._busy = True
            try:
                self._apply_batch(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _apply_batch(self, batch: list[Write]) -> None:
        try:
            self._apply(batch)
            return
        except AetherError:
            pass  # one bad write: apply them one by one, so the others still land
        except Exception:
            log.exception("aether-memory: mirroring writes into the fallback failed")
        for write in batch:
            try:
                self._apply([write])
            except Exception as exc:
                self.failed += 1
                self.last_error = f"{write[0]}: {exc}"
                log.warning("aether-memory: the fallback could not mirror %s (%s)", write[0], exc)

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> bool:
        """Wait until every queued write is applied; False if that took over `timeout`."""
        with self._cond:
            self._urgent += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)
            finally:
                self._urgent -= 1

    @property
    def pending(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        """Apply what is queued, then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(FLUSH_TIMEOUT)
