"""Memory formation in the background: facts and preferences read out of recorded turns.

Source of truth for `client/_sync/formation.py` (generated: an owned task here, a daemon
thread there). `add_messages` stays as fast as without it: it hands the new turns' ids to
`AsyncFormation.notify` and returns. The worker sends them, a session's batch at a time, to
the extractor (`core.extract`), stores what it returns through `remember` (so a repeated fact
is reinforced and a changed one supersedes the old one), each linked (``related``) to the
turns it came from, and marks each turn (``metadata["formed"]``). A turn is marked only after
its memories are stored, so a process that stops loses nothing: when a worker starts (the
first turn it is told of, or `drain()`) it finds the namespace's unmarked turns again.

Its lag (turns waiting, and for how long the oldest) is in `AsyncMemory.health()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aether_memory.client._async.loops import AsyncLoop
from aether_memory.client.records import Memorable
from aether_memory.core.errors import AetherError, BackendUnavailable
from aether_memory.core.extract import EXTRACTED_KINDS
from aether_memory.core.ids import now_ms
from aether_memory.core.types import FormationStatus
from aether_memory.storage.rows import decode_row

if TYPE_CHECKING:
    from aether_memory.client._async.longterm import AsyncLongTermMemory
    from aether_memory.core.extract import LLMExtractor

__all__ = ["DEFAULT_BATCH", "DEFAULT_MAX_LAG", "EXTRACTION_SOURCE", "AsyncFormation"]

log = logging.getLogger("aether_memory")

EXTRACTION_SOURCE = "extraction"
FORMED = "formed"
DEFAULT_BATCH = 20  # turns per extractor call
DEFAULT_MAX_LAG = 60.0  # seconds a turn may wait before health() warns
_IDLE = 5.0  # seconds between looks for work when nothing was notified
_RETRY_CAP = 60.0
_PAGE = 500


@dataclass(frozen=True, slots=True)
class _Turn:
    id: str
    agent: str
    session: str
    content: str
    at: int  # when it was recorded (ms)


class AsyncFormation(AsyncLoop):
    """The background extractor of one memory client (started on first use, drained on
    close: what it has not read stays unmarked, for the next start)."""

    def __init__(
        self,
        longterm: AsyncLongTermMemory,
        extractor: LLMExtractor,
        batch: int = DEFAULT_BATCH,
        max_lag: float = DEFAULT_MAX_LAG,
    ) -> None:
        super().__init__()
        self._lt = longterm
        self.extractor = extractor
        self.batch = batch
        self.max_lag = max_lag
        self._queue: deque[_Turn] = deque()
        self._queued: set[str] = set()
        self._lock = asyncio.Lock()  # one batch at a time: the worker, or a drain() call
        self._scanned = False
        self._formed = 0
        self._extracted = 0
        self._failed = 0
        self._last_error: str | None = None

    def notify(self, turns: list[tuple[str, str, str, str]]) -> None:
        """New turns (memory id, agent, session, content) to read; starts the worker."""
        at = now_ms()
        for memory_id, agent, session, content in turns:
            if memory_id not in self._queued:
                self._queued.add(memory_id)
                self._queue.append(_Turn(memory_id, agent, session, content, at))
        self._start()
        self._wake.set()

    def status(self) -> FormationStatus:
        """How far behind the worker is (what `health()` reports)."""
        oldest = self._queue[0].at if self._queue else None
        lag = 0.0 if oldest is None else max(0.0, (now_ms() - oldest) / 1000)
        return FormationStatus(
            extractor=self.extractor.name, pending=len(self._queue), lag_seconds=round(lag, 3),
            max_lag_seconds=self.max_lag, formed=self._formed, extracted=self._extracted,
            failed=self._failed, last_error=self._last_error, running=self._task is not None,
        )  # fmt: skip

    async def drain(self, seconds: float = 60.0) -> FormationStatus:
        """Read every turn waiting now, in this call (for tests, scripts and the CLI); the
        status after. Turns the model could not be reached for stay waiting."""
        if not self._scanned:
            await self._scan()
        deadline = now_ms() + seconds * 1000
        while self._queue and now_ms() < deadline:
            if not await self._step():
                break
        return self.status()

    async def _loop(self) -> None:
        delay = 1.0
        while not self._closing:
            self._wake.clear()  # before looking: a notify from now on wakes the pause
            try:
                if not self._scanned:
                    await self._scan()
                if not self._queue:
                    await self._pause(_IDLE)
                    continue
                if await self._step():
                    delay = 1.0
                else:
                    await self._pause(delay)
                    delay = min(delay * 2, _RETRY_CAP)
            except Exception as exc:  # the loop reports (health, log) and carries on
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.error("aether-memory: memory formation failed (%s); retrying", exc)
                await self._pause(delay)
                delay = min(delay * 2, _RETRY_CAP)

    async def _scan(self) -> None:
        """Queue the namespace's turns not yet read (those a stopped process left)."""
        lt = self._lt
        after: str | None = None
        found: list[_Turn] = []
        while True:
            rows = await lt.port.page(lt.namespace, after, _PAGE)
            for memory_id, row in rows:
                after = memory_id
                if row is None or memory_id in self._queued:
                    continue
                data = decode_row(row)
                if data["kind"] != "message" or self._formed_mark(data["metadata"]):
                    continue
                found.append(_Turn(memory_id, data["agent"], data["session"] or "",
                                   data["content"], data["created_at"]))  # fmt: skip
            if len(rows) < _PAGE:
                break
        for turn in found:
            self._queued.add(turn.id)
        self._queue.extendleft(reversed(found))  # older than anything notified since
        self._scanned = True

    def _formed_mark(self, raw: Any) -> bool:
        meta = self._lt.codec.decode(raw) if raw else {}
        return isinstance(meta, dict) and bool(meta.get(FORMED))

    async def _step(self) -> bool:
        """Read one batch (the first turns, of one agent's session); False if the model or
        the store could not be reached (the batch stays queued)."""
        async with self._lock:
            if not self._queue:
                return True
            return await self._read(self._batch())

    def _batch(self) -> list[_Turn]:
        # Only the worker takes from the left; notify() appends on the right.
        first, batch = self._queue[0], []
        for turn in list(self._queue)[: self.batch]:
            if (turn.agent, turn.session) != (first.agent, first.session):
                break
            batch.append(turn)
        return batch

    async def _read(self, batch: list[_Turn]) -> bool:
        first = batch[0]
        try:
            found = await asyncio.to_thread(self.extractor.extract, [t.content for t in batch])
            items = [
                Memorable(
                    content=e.content, kind=e.kind, session=first.session or None,
                    source=EXTRACTION_SOURCE,
                    related=tuple(batch[i].id for i in e.turns) or tuple(t.id for t in batch),
                )
                for e in found
            ]  # fmt: skip
            if items:
                await self._lt.remember_many(first.agent, items, among=EXTRACTED_KINDS)
            await self._lt.merge_metadata([t.id for t in batch], {FORMED: True})
        except BackendUnavailable as exc:
            self._last_error = str(exc)
            return False
        except AetherError as exc:
            # The model's reply could not be used: these turns are skipped, and said so.
            self._last_error = f"{type(exc).__name__}: {exc}"
            self._failed += len(batch)
            log.warning("aether-memory: memory formation skipped %d turns: %s", len(batch), exc)
            await self._lt.merge_metadata([t.id for t in batch], {FORMED: True})
            found = []
        self._extracted += len(found)
        self._formed += len(batch)
        for _ in batch:
            self._queue.popleft()
        self._queued.difference_update(t.id for t in batch)
        return True
