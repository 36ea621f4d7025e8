"""The lifecycle of long-term memory: the sync service that moves what leaves the hot tier into
the archive, the hot budget, and rehydration. See docs/lifecycle.md for the design.

Source of truth for `client/_sync/archive.py` (generated). The archive port is blocking: the
async API calls it from a worker thread.

Every move writes the archive first and deletes the hot copy second, and every archive write
is an upsert by id: a pass killed between the two leaves a memory in both places, and the next
pass finishes the move (the copy is still due) or drops the stale archive copy (a hot copy
that is not due is the newer one: it was rehydrated). So a pass can stop anywhere and be run
again; it loses and duplicates nothing.

A skill is two things in the hot tier: its searchable ``procedural`` memory and its record
(steps, runs). They leave together: the record travels inside the memory's archived document
(`SKILL_FIELD`) and is deleted after the memory's hot copy; a rehydrated skill memory brings
its record back first. A move cut short between the two deletes leaves the record hot for its
grace period, and a copy of it in the archive: nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aether_memory.client._async.loops import AsyncScheduler
from aether_memory.core.errors import ConfigurationError, Conflict, InvalidInput
from aether_memory.core.ids import check_name, new_id, now_ms
from aether_memory.core.lifecycle import (
    DEFAULT_SYNC_BATCH,
    DEFAULT_SYNC_INTERVAL,
    HotBudget,
    Standing,
    decay_score,
    due,
    kind_lifetime,
    over_budget,
    pack_row,
    row_size,
    unpack_row,
)
from aether_memory.core.query import text_terms
from aether_memory.core.validate import check_int
from aether_memory.storage.archive import Archive, Archived, ArchiveMatch, fuse
from aether_memory.storage.rows import Row, decode_row, text

if TYPE_CHECKING:
    from aether_memory.client._async.kernel import AsyncKernel
    from aether_memory.client._async.memory import AsyncMemory

log = logging.getLogger("aether_memory")

BYTES_ESTIMATE_MARGIN = 0.95
PASS_CLAIM_MS = 30_000  # a pass's claim on its namespace, renewed every page and batch
PASS_WAIT_POLL = 0.2  # seconds between tries of a pass waiting for another one to finish
MAX_PASSES = 3  # passes in a row a writer runs while the shared count stays over the budget

MAX_REHYDRATE = 1000
SKILL_FIELD = "$skill"  # an archived skill memory's record (pack_row JSON), never a hot field
_STATISTICS = ("expires_at",)  # what a hot row says about its hot copy only


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one sync pass did.

    Attributes:
        scanned: hot memories looked at.
        archived: memories past their hot lifetime moved to the archive.
        evicted: memories moved to the archive because the namespace was over its hot budget.
        deleted: memories removed without an archive (over budget, no archive configured).
        repaired: memories an interrupted move or rehydration had left in both places.
    """

    scanned: int = 0
    archived: int = 0
    evicted: int = 0
    deleted: int = 0
    repaired: int = 0


@dataclass(frozen=True, slots=True)
class ArchiveStatus:
    """The namespace's two tiers: hot memories, archived ones, and how many hot ones are due
    to move on the next pass."""

    archive: str | None
    hot: int
    archived: int
    due: int


class AsyncLifecycle:
    """Moves one namespace's long-term memories between the hot store and the archive."""

    def __init__(
        self,
        kernel: AsyncKernel,
        archive: Archive | None,
        budget: HotBudget,
        grace: float,
        dims: int,
    ) -> None:
        self._k = kernel
        self._codec = kernel.codec
        self._ns = kernel.namespace
        self.archive = archive
        self._ttl = kernel.options.ttl
        self.budget = budget
        self._grace_ms = int(grace * 1000) if archive is not None else 0
        self._dims = dims
        self._ready = False
        self._owner = new_id()  # this client's name on the namespace's pass claim
        # How long a claim of this client's lasts unrenewed: what a pass killed mid-way
        # makes the next one wait, at most.
        self.claim_ms = PASS_CLAIM_MS
        self._counted = False  # whether this client has measured the namespace once

    @property
    def grace_ms(self) -> int:
        """The extra TTL a hot copy gets so the sync service can move it before it expires."""
        return self._grace_ms

    def ttl_ms(self, kind: str) -> int | None:
        """The hot TTL of a new memory of `kind` (its lifetime plus the grace)."""
        seconds = kind_lifetime(self._ttl, kind)
        return None if seconds is None else int(seconds * 1000) + self._grace_ms

    def _need_archive(self) -> Archive:
        if self.archive is None:
            raise ConfigurationError(
                "no archive is configured: pass archive= to Memory.open or set AETHER_ARCHIVE_URL"
            )
        return self.archive

    async def _setup(self) -> Archive:
        archive = self._need_archive()
        if not self._ready:
            await asyncio.to_thread(archive.setup, self._dims)
            self._ready = True
        return archive

    # -- moving out ----------------------------------------------------------------------------
    async def run(self, *, now: int | None = None, batch: int = DEFAULT_SYNC_BATCH) -> SyncReport:
        """One sync pass over the namespace: move every memory past its hot lifetime to the
        archive, then, over a hot budget, the lowest-scored ones, `batch` at a time.

        One pass runs on a namespace at a time, across processes (a claim stored with the
        namespace's count): this one waits for another to finish.

        Args:
            now: the time to judge lifetimes by (ms; default: the clock).
            batch: memories read and moved per round trip.

        Raises:
            Conflict: another process's pass held the namespace for longer than a claim
                lasts (it is renewing it: still running).
        """
        batch = check_int(batch, "batch", 1, 10_000)
        ts = now_ms() if now is None else check_int(now, "now", 0, 2**53)
        archive = await self._setup() if self.archive is not None else None
        waited = 0.0
        while not await self._k.longterm.pass_claim(self._ns, self._owner, self.claim_ms):
            if waited * 1000 > 2 * PASS_CLAIM_MS:
                raise Conflict(f"another process is running a pass over namespace {self._ns!r}")
            await asyncio.sleep(PASS_WAIT_POLL)
            waited += PASS_WAIT_POLL
        try:
            return await self._pass(archive, ts, batch)
        finally:
            await self._k.longterm.pass_release(self._ns, self._owner)

    async def _pass(self, archive: Archive | None, ts: int, batch: int) -> SyncReport:
        """`run` under the namespace's claim. The shared count is kept true: each removal
        subtracts itself, and the pass corrects what the count had drifted from the
        namespace it read (memories that expired or were forgotten since the last pass)."""
        counted = await self._k.longterm.usage(self._ns) or (0, 0)
        after: str | None = None
        scanned = scanned_bytes = archived = repaired = 0
        pending: list[tuple[str, Row]] = []
        standings: list[Standing] = []
        kept: dict[str, Row] = {}
        while True:
            page = await self._k.longterm.page(self._ns, after, batch)
            if not page:
                break
            after = page[-1][0]
            live = [(i, row) for i, row in page if row is not None]
            scanned += len(live)
            scanned_bytes += sum(row_size(row) for _, row in live)
            both = (
                await asyncio.to_thread(archive.contains, self._ns, [i for i, _ in live])
                if archive is not None
                else set()
            )
            stale = []
            for memory_id, row in live:
                if archive is not None and due(_expires(row), ts, self._grace_ms):
                    pending.append((memory_id, row))
                    repaired += memory_id in both
                    continue
                if memory_id in both:
                    stale.append(memory_id)  # rehydrated, then interrupted: hot is newer
                data = decode_row(row)
                standings.append(
                    Standing(memory_id, decay_score(
                        data["importance"], data["last_accessed"] or data["created_at"],
                        data["access_count"], ts,
                    ), row_size(row))
                )  # fmt: skip
                if self.budget.active:
                    kept[memory_id] = row
            if stale and archive is not None:
                repaired += await asyncio.to_thread(archive.delete, self._ns, stale)
            if len(pending) >= batch:
                archived += await self._move(pending, ts)
                pending = []
            await self._k.longterm.pass_claim(self._ns, self._owner, self.claim_ms)  # renewed
        archived += await self._move(pending, ts)
        evicted = deleted = 0
        if self.budget.active:
            out = over_budget(standings, self.budget)
            for i in range(0, len(out), batch):
                chunk = [(memory_id, kept[memory_id]) for memory_id in out[i : i + batch]]
                if archive is not None:
                    evicted += await self._move(chunk, ts)
                else:
                    deleted += await self._drop(chunk)
                await self._k.longterm.pass_claim(self._ns, self._owner, self.claim_ms)  # renewed
        # Writes during the pass were counted by their writers, and removals by `_drop`; what
        # is left to correct is the difference between the count and what the pass read.
        await self._k.longterm.add_usage(self._ns, scanned - counted[0], scanned_bytes - counted[1])
        self._counted = True
        if deleted:
            log.warning(
                "deleted %d memories of namespace %r over its hot budget: no archive is "
                "configured", deleted, self._ns,
            )  # fmt: skip
        return SyncReport(scanned, archived, evicted, deleted, repaired)

    async def _move(self, rows: Sequence[tuple[str, Row]], ts: int) -> int:
        """Archive rows, then delete their hot copies (in this order: see the module);
        returns how many hot copies this call deleted."""
        if not rows:
            return 0
        archive = self._need_archive()
        skills = await self._skills_of(rows)
        memories = []
        for memory_id, row in rows:
            kept = {k: v for k, v in row.items() if k not in _STATISTICS and k != SKILL_FIELD}
            if memory_id in skills:
                kept[SKILL_FIELD] = pack_row(skills[memory_id][1]).decode()
            memories.append(Archived(memory_id, kept, ts))
        await asyncio.to_thread(archive.put, self._ns, memories)
        moved = await self._drop(rows)
        if skills:
            await self._k.longterm.skill_delete(self._ns, [name for name, _ in skills.values()])
        return moved

    async def _skills_of(self, rows: Sequence[tuple[str, Row]]) -> dict[str, tuple[str, Row]]:
        """The skill records (name, fields) of the skill memories among `rows`, by memory id."""
        names: dict[str, str] = {}
        for memory_id, row in rows:
            if text(row.get("source", b"")) != "skill" or not row.get("metadata"):
                continue
            meta = self._codec.decode(row["metadata"])
            name = meta.get("skill") if isinstance(meta, dict) else None
            if isinstance(name, str) and name:
                names[memory_id] = name
        if not names:
            return {}
        found = await self._k.longterm.skill_get(self._ns, list(names.values()))
        return {
            memory_id: (name, record)
            for (memory_id, name), record in zip(names.items(), found, strict=True)
            if record is not None and text(record.get("memory_id", b"")) == memory_id
        }

    async def _drop(self, rows: Sequence[tuple[str, Row]]) -> int:
        """Delete hot copies and take them off the shared count; returns how many existed
        (a copy another pass deleted first is not counted twice)."""
        ids = [memory_id for memory_id, _ in rows]
        removed = await self._k.longterm.delete(
            self._ns, ids, [text(row.get("hash", b"")) for _, row in rows]
        )
        if removed and ids:
            size = sum(row_size(row) for _, row in rows) * removed // len(ids)
            await self._k.longterm.add_usage(self._ns, -removed, -size)
        return removed

    async def note_created(self, n: int) -> None:
        """`n` new hot memories were written (their writes counted them, with every other
        writer's, in the namespace's shared count); over the hot budget, run a pass to
        bring the namespace back under it. The first call of a client measures the namespace
        with a pass (a namespace written before the count was kept). Within the budget no
        pass runs: a pass reads the whole namespace. Another process's pass running means
        the namespace is being brought under the budget already: this call leaves it."""
        if not self.budget.active or n <= 0:
            return
        for _ in range(MAX_PASSES):
            if self._counted and self._within(await self._k.longterm.usage(self._ns)):
                return
            if not await self._k.longterm.pass_claim(self._ns, self._owner, self.claim_ms):
                return
            try:
                archive = await self._setup() if self.archive is not None else None
                await self._pass(archive, now_ms(), DEFAULT_SYNC_BATCH)
            finally:
                await self._k.longterm.pass_release(self._ns, self._owner)

    def _within(self, usage: tuple[int, int] | None) -> bool:
        if usage is None:
            return False
        count, size = self.budget.count, self.budget.bytes
        # Fields as written are a little smaller than as stored (numbers, fields the store
        # adds): a pass runs before the byte count is within 5% of the budget.
        return (count is None or usage[0] <= count) and (
            size is None or usage[1] <= size * BYTES_ESTIMATE_MARGIN
        )

    # -- coming back ---------------------------------------------------------------------------
    async def rehydrate(self, ids: Sequence[str], *, now: int | None = None) -> list[str]:
        """Bring archived memories back into the hot tier with a fresh lifetime (the hot
        copy first, then the archive's removed); returns the ids that were archived."""
        return [m.id for m in await self.rehydrate_rows(ids, now=now)]

    async def rehydrate_rows(self, ids: Sequence[str], *, now: int | None = None) -> list[Archived]:
        """`rehydrate`, returning the memories as they were archived."""
        ids = [check_name(i, "memory id") for i in ids]
        if len(ids) > MAX_REHYDRATE:
            raise InvalidInput(f"at most {MAX_REHYDRATE} ids per rehydration, not {len(ids)}")
        archive = await self._setup()
        found = [m for m in await asyncio.to_thread(archive.get, self._ns, ids) if m is not None]
        if not found:
            return []
        ts = now_ms() if now is None else now
        rows: list[tuple[str, Row, int | None]] = []
        skills: list[tuple[Row, int | None]] = []
        for m in found:
            ttl = self.ttl_ms(text(m.row.get("kind", b"fact")))
            row = {k: v for k, v in m.row.items() if k != SKILL_FIELD}
            rows.append((m.id, row, None if ttl is None else ts + ttl))
            if m.row.get(SKILL_FIELD):
                skills.append((unpack_row(text(m.row[SKILL_FIELD])), ttl))
        for record, ttl in skills:  # the record first: a skill memory never points at nothing
            await self._k.longterm.skill_put(self._ns, text(record["name"]), record, ttl)
        await self._k.longterm.load(self._ns, rows)
        await asyncio.to_thread(archive.delete, self._ns, [m.id for m in found])
        return found

    async def archive_back(self, memories: Sequence[Archived]) -> int:
        """Return just-rehydrated memories to the archive as they were (a recall that
        rehydrated them did not use them)."""
        return await self._move([(m.id, m.row) for m in memories], now_ms())

    async def forget(self, ids: Sequence[str]) -> int:
        """Delete archived memories (a `forget` reaches both tiers); returns how many."""
        if self.archive is None or not ids:
            return 0
        archive = await self._setup()
        return await asyncio.to_thread(archive.delete, self._ns, list(ids))

    async def erase(self, dry_run: bool) -> int:
        """Erase the namespace's archive (with `dry_run`, count it)."""
        if self.archive is None:
            return 0
        archive = await self._setup()
        if dry_run:
            return await asyncio.to_thread(archive.count, self._ns)
        return await asyncio.to_thread(archive.erase, self._ns)

    async def search(self, vector: bytes, n: int, query: str = "") -> list[ArchiveMatch]:
        """The archived memories that best answer a query, best first: the `n` nearest to
        `vector` and the `n` whose text best matches `query`'s words, fused as hot recall
        fuses its two channels (`core.ranking`)."""
        archive = await self._setup()
        terms = text_terms(query) if query else []
        found = await asyncio.to_thread(archive.search, self._ns, vector, terms, n)
        return fuse(found)

    async def archived(self, ids: Sequence[str]) -> list[Archived | None]:
        """Archived memories by id (None where the archive has none)."""
        archive = await self._setup()
        return await asyncio.to_thread(archive.get, self._ns, list(ids))

    async def status(self, *, now: int | None = None) -> ArchiveStatus:
        """Counts of both tiers (a walk of the namespace's hot id list)."""
        ts = now_ms() if now is None else now
        hot = pending = 0
        after: str | None = None
        while page := await self._k.longterm.page(self._ns, after, DEFAULT_SYNC_BATCH):
            after = page[-1][0]
            for _, row in page:
                if row is not None:
                    hot += 1
                    pending += self.archive is not None and due(_expires(row), ts, self._grace_ms)
        if self.archive is None:
            return ArchiveStatus(None, hot, 0, 0)
        archive = await self._setup()
        count = await asyncio.to_thread(archive.count, self._ns)
        return ArchiveStatus(archive.description, hot, count, pending)


def _expires(row: Row) -> int | None:
    value: Any = row.get("expires_at")
    return None if value is None else int(value)


class AsyncArchiveScheduler(AsyncScheduler[SyncReport]):
    """Sync passes (`AsyncLifecycle.run`) every `every` seconds in the background of a
    service (an owned task; a daemon thread in the sync API), until closed: what leaves the
    hot tier is moved while the service runs. `run` are the pass's arguments (``batch``).

    Example:
        async with AsyncArchiveScheduler(mem, every=300):
            await serve()   # a pass every five minutes meanwhile

    Attributes:
        runs: passes finished; `last` the report of the latest, `last_error` why the latest
            failed (the next pass retries: a pass is resumable).
    """

    job = "the archive sync"

    def __init__(
        self, memory: AsyncMemory, every: float = DEFAULT_SYNC_INTERVAL, **run: Any
    ) -> None:
        super().__init__(every)
        self._memory = memory
        self._run = run

    async def _once(self) -> SyncReport:
        return await self._memory.lifecycle.run(**self._run)
