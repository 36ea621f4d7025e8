"""Consolidation: related memories merged into one consolidated memory that links them.

Source of truth for `client/_sync/consolidation.py` (generated). A run walks the namespace in
id order, a window of candidates at a time; groups related ones (`core.clusters`) per agent;
stores for each group one ``semantic`` memory (source ``consolidation``) whose ``related``
lists the group and whose text is the group's summary; then marks each source
(``metadata["consolidated_into"]``).

Repeatable and resumable: a consolidated memory's id is derived from its sources, and a run
skips marked sources and consolidated memories, so a second run adds nothing, and a run cut
short between the two writes stores the same memory again (same id) and then marks its sources.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aether_memory.client._async.loops import AsyncScheduler
from aether_memory.client.records import Memorable, check_item, content_hash
from aether_memory.core.clusters import DEFAULT_MIN_SIZE, DEFAULT_THRESHOLD, cluster_id, clusters
from aether_memory.core.ids import now_ms
from aether_memory.core.summarize import DEFAULT_SENTENCES
from aether_memory.core.validate import check_int, check_number, check_strings
from aether_memory.storage.rows import decode_row

if TYPE_CHECKING:
    from aether_memory.client._async.longterm import AsyncLongTermMemory
    from aether_memory.client._async.memory import AsyncMemory
    from aether_memory.core.summarize import Summarizer

log = logging.getLogger("aether_memory")

CONSOLIDATION_SOURCE = "consolidation"
MARK = "consolidated_into"
DEFAULT_KINDS = ("episodic", "fact")
DEFAULT_WINDOW = 2000  # candidates clustered together (bounds a run's memory use)
_PAGE = 500
_MAX_TAGS = 20


@dataclass(frozen=True, slots=True)
class Consolidation:
    """What a consolidation run did.

    Attributes:
        examined: memories read.
        candidates: memories that could be consolidated (right kind, not yet consolidated).
        clusters: groups consolidated in this run.
        consolidated: source memories marked in this run.
        created: ids of the consolidated memories written in this run.
    """

    examined: int = 0
    candidates: int = 0
    clusters: int = 0
    consolidated: int = 0
    created: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "examined": self.examined,
            "candidates": self.candidates,
            "clusters": self.clusters,
            "consolidated": self.consolidated,
            "created": list(self.created),
        }


@dataclass(slots=True)
class _Candidate:
    id: str
    agent: str
    content: str
    importance: float
    occurred_at: int
    tags: tuple[str, ...]
    vector: Any


class AsyncConsolidator:
    """Runs consolidation over one namespace's long-term memory."""

    def __init__(self, longterm: AsyncLongTermMemory, summarizer: Summarizer) -> None:
        self._lt = longterm
        self.summarizer = summarizer

    async def run(
        self,
        kinds: Sequence[str] = DEFAULT_KINDS,
        threshold: float = DEFAULT_THRESHOLD,
        min_size: int = DEFAULT_MIN_SIZE,
        max_sentences: int = DEFAULT_SENTENCES,
        window: int = DEFAULT_WINDOW,
        dry_run: bool = False,
        agents: Sequence[str] | None = None,
    ) -> Consolidation:
        """Consolidate every group of related memories of `kinds` (see the module); with
        `agents`, only the memories of those agents are candidates."""
        wanted = frozenset(check_strings(kinds, "kinds"))
        owners = None if agents is None else frozenset(check_strings(agents, "agents"))
        threshold = check_number(threshold, "threshold", 0.01, 1.0)
        min_size = check_int(min_size, "min_size", 2, 50)
        max_sentences = check_int(max_sentences, "max_sentences", 1, 50)
        window = check_int(window, "window", 10, 100_000)
        lt = self._lt
        await lt.port.setup(lt.namespace, lt.embedder.dims, lt.embedder.model)
        report = Consolidation()
        pending: list[_Candidate] = []
        after: str | None = None
        examined = 0
        while True:
            rows = await lt.port.page(lt.namespace, after, _PAGE)
            examined += len(rows)
            marked: list[tuple[_Candidate, str]] = []
            for memory_id, row in rows:
                after = memory_id
                found, mark = self._candidate(memory_id, row, wanted, owners)
                if found is not None and mark is None:
                    pending.append(found)
                elif found is not None and mark is not None:
                    marked.append((found, mark))
            if marked:
                # A source whose consolidated memory was forgotten is a candidate again.
                targets = sorted({mark for _, mark in marked})
                alive = {t for t, r in zip(targets, await lt.port.get(lt.namespace, targets),
                                           strict=True) if r is not None}  # fmt: skip
                pending += [found for found, mark in marked if mark not in alive]
            if len(pending) >= window or (len(rows) < _PAGE and pending):
                report = await self._window(pending, threshold, min_size, max_sentences,
                                            dry_run, report)  # fmt: skip
                pending = []
            if len(rows) < _PAGE:
                return _more(report, examined=examined)

    def _candidate(
        self, memory_id: str, row: Any, wanted: frozenset[str], owners: frozenset[str] | None
    ) -> tuple[_Candidate | None, str | None]:
        """The memory as a candidate (None if it cannot be one), and the consolidated
        memory it is marked as merged into, if any."""
        import numpy

        if row is None or not row.get("embedding"):
            return None, None
        data = decode_row(row)
        if data["kind"] not in wanted or data["superseded_by"]:
            return None, None
        if owners is not None and data["agent"] not in owners:
            return None, None
        if data["source"] == CONSOLIDATION_SOURCE:
            return None, None
        vector = numpy.frombuffer(row["embedding"], dtype=numpy.float32)
        if vector.shape[0] != self._lt.embedder.dims:
            return None, None  # stored by another embedder: not comparable
        meta = self._lt.codec.decode(data["metadata"]) if data["metadata"] else {}
        mark = meta.get(MARK) if isinstance(meta, dict) else None
        found = _Candidate(memory_id, data["agent"], data["content"], data["importance"],
                           data["occurred_at"], data["tags"], vector)  # fmt: skip
        return found, mark if isinstance(mark, str) and mark else None

    async def _window(
        self,
        found: list[_Candidate],
        threshold: float,
        min_size: int,
        max_sentences: int,
        dry_run: bool,
        report: Consolidation,
    ) -> Consolidation:
        import numpy

        report = _more(report, candidates=len(found))
        found = sorted(found, key=lambda c: c.id)  # id order: the same groups every run
        groups: list[list[_Candidate]] = []
        by_agent: dict[str, list[_Candidate]] = {}
        for item in found:
            by_agent.setdefault(item.agent, []).append(item)
        for agent in sorted(by_agent):
            members = by_agent[agent]
            matrix = numpy.stack([m.vector for m in members])
            groups += [[members[i] for i in g] for g in clusters(matrix, threshold, min_size)]
        if not groups:
            return report
        if dry_run:
            return _more(report, clusters=len(groups), consolidated=sum(map(len, groups)))
        summaries = [
            await asyncio.to_thread(self.summarizer.summarize, [m.content for m in g],
                                    max_sentences)
            for g in groups
        ]  # fmt: skip
        lt = self._lt
        vectors = await lt.embed(summaries)
        ts = now_ms()
        rows: list[tuple[str, dict[str, Any], int | None]] = []
        ids: list[str] = []
        for group, summary, vector in zip(groups, summaries, vectors, strict=True):
            memory_id = cluster_id([m.id for m in group])
            tags: dict[str, None] = {}
            for member in group:
                tags.update(dict.fromkeys(member.tags))
            memorable = check_item(
                Memorable(
                    content=summary, kind="semantic",
                    importance=max(m.importance for m in group), tags=tuple(tags)[:_MAX_TAGS],
                    source=CONSOLIDATION_SOURCE, related=tuple(m.id for m in group),
                    occurred_at=max(m.occurred_at for m in group),
                    metadata={"consolidates": len(group), "summarizer": self.summarizer.name},
                )
            )  # fmt: skip
            # A digest of the group, not of the text: a summary that repeats one source word
            # for word must not take over that source's duplicate entry.
            digest = content_hash(group[0].agent, "semantic", f"{CONSOLIDATION_SOURCE}:{memory_id}")
            _, fields = lt.new_record(group[0].agent, memorable, vector, digest, memory_id, ts)
            rows.append((memory_id, fields, lt.ttl_ms("semantic")))
            ids.append(memory_id)
        await lt.port.put(lt.namespace, rows)  # first the consolidated memories...
        marked = 0
        for group, memory_id in zip(groups, ids, strict=True):  # ...then the marks on sources
            marked += await lt.merge_metadata([m.id for m in group], {MARK: memory_id})
        return _more(report, clusters=len(groups), consolidated=marked, created=tuple(ids))


def _more(report: Consolidation, **add: Any) -> Consolidation:
    return Consolidation(
        examined=report.examined + add.get("examined", 0),
        candidates=report.candidates + add.get("candidates", 0),
        clusters=report.clusters + add.get("clusters", 0),
        consolidated=report.consolidated + add.get("consolidated", 0),
        created=report.created + tuple(add.get("created", ())),
    )


class AsyncConsolidationScheduler(AsyncScheduler[Consolidation]):
    """Consolidation every `every` seconds, in the background of a service (an owned task;
    a daemon thread in the sync API), until closed. `run` are `AsyncMemory.consolidate`'s
    arguments.

    Example:
        async with AsyncConsolidationScheduler(mem, every=3600):
            await serve()   # consolidation runs hourly meanwhile

    Attributes:
        runs: runs finished; `last` the report of the latest, `last_error` why the latest
            failed (the next run retries: a run is resumable).
    """

    job = "consolidation"

    def __init__(self, memory: AsyncMemory, every: float, **run: Any) -> None:
        super().__init__(every)
        self._memory = memory
        self._run = run

    async def _once(self) -> Consolidation:
        return await self._memory.consolidate(**self._run)
