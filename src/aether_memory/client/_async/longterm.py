"""Long-term memory: remember, recall, forget, update, browse and erase (episodes and skills,
which are memories too, are in `experience.py`).

Source of truth for `client/_sync/longterm.py` (generated). Embedding runs off the event loop
in the async API (a worker thread) and inline in the sync one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aether_memory.client.records import (
    DEFAULT_CORRECTION_FLOOR,
    DEFAULT_NEAR_DUPLICATE,
    MAX_CONTENT_CHARS,
    Memorable,
    check_item,
    check_tags,
    content_hash,
    date_terms,
    epoch_ms,
    to_record,
    when_text,
)
from aether_memory.core import telemetry
from aether_memory.core.codec import Codec
from aether_memory.core.errors import NotFound
from aether_memory.core.facts import fact_differences, value_correction
from aether_memory.core.ids import check_name, new_id, now_ms
from aether_memory.core.query import Filters, text_terms
from aether_memory.core.ranking import (
    RankingWeights,
    Scored,
    coverage_share,
    exact_share,
    identifiers,
    rank,
    tokens,
)
from aether_memory.core.text import query_terms, term_set
from aether_memory.core.types import (
    Hit,
    MemoryRecord,
    MemoryStatus,
)
from aether_memory.core.validate import (
    check_flag,
    check_int,
    check_mapping,
    check_number,
    check_text,
)
from aether_memory.storage._async.store import AsyncLongTermStore
from aether_memory.storage.rows import Candidate, decode_row, text

if TYPE_CHECKING:
    from aether_memory.client._async.archive import AsyncLifecycle
    from aether_memory.client._async.kernel import AsyncKernel
    from aether_memory.core.embeddings import Embedder

_KIND_TTL = {"episodic": "episodic", "procedural": "skills"}


class AsyncLongTermMemory:
    """Remember / recall / forget for one memory client; shared by its agent handles."""

    def __init__(
        self,
        kernel: AsyncKernel,
        embedder: Embedder,
        weights: RankingWeights | None = None,
        near_duplicate: float = DEFAULT_NEAR_DUPLICATE,  # chosen on eval/: see evaluation.md
    ) -> None:
        self._k = kernel
        self._ns = kernel.namespace
        self._codec = kernel.codec
        self._ttl = kernel.options.ttl
        self.embedder = embedder
        self.weights = weights or RankingWeights()
        # The threshold depends on how the model spreads its scores: an embedder may say.
        self.near_duplicate = float(getattr(embedder, "near_duplicate", near_duplicate))
        floor = float(getattr(embedder, "correction_floor", DEFAULT_CORRECTION_FLOOR))
        self.correction_floor = min(floor, self.near_duplicate)
        # Set by the client when an archive or a hot budget is configured.
        self.lifecycle: AsyncLifecycle | None = None

    @property
    def port(self) -> AsyncLongTermStore:
        """The long-term role of the store (a refusing stand-in once the memory is closed)."""
        return self._k.longterm

    @property
    def namespace(self) -> str:
        return self._ns

    @property
    def codec(self) -> Codec:
        return self._codec

    async def embed(self, texts: list[str]) -> list[bytes]:
        """The embeddings of `texts` as the store keeps them (float32 bytes), off the loop."""
        vectors = await asyncio.to_thread(self.embedder.embed, texts)
        return [v.astype("float32").tobytes() for v in vectors]

    async def query_vector(self, query: str) -> bytes:
        """The embedding of a recall query (float32 bytes; cached like a recall's)."""
        check_text(query, "a recall's query", max_chars=MAX_CONTENT_CHARS)
        return await self._embed_query(query)

    async def _embed_query(self, query: str) -> bytes:
        cached = getattr(self.embedder, "cached", None)
        hit = None if cached is None else cached([query], query=True)
        if hit is not None:
            return bytes(hit[0].astype("float32").tobytes())
        embed_query = getattr(self.embedder, "embed_query", self.embedder.embed)
        vectors = await asyncio.to_thread(embed_query, [query])  # a model call: off the loop
        return bytes(vectors[0].astype("float32").tobytes())

    def ttl_ms(self, kind: str) -> int | None:
        """How long a new memory of `kind` lives (ms; None: for ever)."""
        if self.lifecycle is not None:
            return self.lifecycle.ttl_ms(kind)  # the lifetime plus the sync service's grace
        seconds = getattr(self._ttl, _KIND_TTL.get(kind, "semantic"))
        return None if seconds is None else int(seconds * 1000)

    async def remember_many(
        self, agent: str, items: Sequence[Memorable], among: Sequence[str] | None = None
    ) -> list[MemoryRecord]:
        """Store several memories with one embedding batch and two round trips; with
        `among` (kinds), near-duplicates and corrections are looked for only among memories
        of those kinds (a fact read out of a turn is not a repetition of the turn)."""
        if not items:
            return []
        items = [check_item(item) for item in items]
        # Encoded before any I/O: a value JSON cannot hold is refused even when the memory
        # turns out to be a duplicate (whose metadata is then not stored).
        metadata = [self._codec.encode(dict(item.metadata or {})) for item in items]
        await self.port.setup(self._ns, self.embedder.dims, self.embedder.model)
        vectors = await self.embed([item.content for item in items])
        hashes = [content_hash(agent, item.kind, item.content) for item in items]
        scope = Filters(agents=(agent,), kinds=() if among is None else tuple(among))
        exact, nearest = await self.port.find_existing(self._ns, hashes, vectors, scope)
        said = await self._near_contents(exact, nearest)
        ts = now_ms()
        out: list[MemoryRecord] = []
        rows: list[tuple[str, dict[str, Any], int | None]] = []
        reinforce: list[tuple[str, float]] = []
        superseded: list[tuple[str, str]] = []
        batch_hashes: dict[str, str] = {}
        for item, meta, vector, digest, same, near in zip(
            items, metadata, vectors, hashes, exact, nearest, strict=True
        ):
            status: MemoryStatus = "created"
            existing, corrects = same or batch_hashes.get(digest), None
            if existing is not None:
                status = "duplicate"
            elif near is not None and near[0] in said and near[1] < self.near_duplicate:
                if value_correction(said[near[0]], item.content):
                    corrects, status = near[0], "superseded"  # only a value changed
            elif near is not None and near[0] in said:
                differs = fact_differences(said[near[0]], item.content)
                if not differs:
                    existing, status = near[0], "near_duplicate"
                elif "code" not in differs:
                    # Close in meaning but not in its numbers, dates, names or polarity: a
                    # correction, kept beside the memory it replaces. (Another code is
                    # another thing: a memory of its own.)
                    corrects, status = near[0], "superseded"
            if existing is not None:
                reinforce.append((existing, float(item.importance)))
                record = MemoryRecord(
                    id=existing, content=item.content, kind=item.kind, agent=agent, status=status
                )
                out.append(record)
                continue
            memory_id = new_id()
            if corrects is not None:
                superseded.append((corrects, memory_id))
            batch_hashes[digest] = memory_id
            record, fields = self.new_record(
                agent, item, vector, digest, memory_id, ts, meta, status, corrects
            )
            rows.append((memory_id, fields, self.ttl_ms(item.kind)))
            out.append(record)
        if rows:
            await self.port.put(self._ns, rows)
        for old, new in superseded:  # after the correction is stored: never neither of them
            await self.port.update(self._ns, old, {"superseded_by": new, "superseded_at": ts})
        if reinforce:
            await self.port.reinforce(self._ns, reinforce, ts)
            out = await self._stored_duplicates(out)
            out = [await self._restated(r, ts) for r in out]
        if rows and self.lifecycle is not None:  # over a hot budget: the weakest leave now
            await self.lifecycle.note_created(len(rows))
        return out

    async def _restated(self, record: MemoryRecord, ts: int) -> MemoryRecord:
        """A fact said again after a correction replaced it corrects the correction: it is
        current again, and what replaced it becomes history."""
        current = record.superseded_by
        if record.status != "duplicate" or current is None:
            return record
        row = (await self.port.get(self._ns, [current]))[0]
        alive = row is not None and decode_row(row)["superseded_by"] is None
        revived: dict[str, Any] = {"superseded_by": None, "superseded_at": None, "supersedes": None}
        if alive:
            revived["supersedes"] = current
        await self.port.update(self._ns, record.id, revived)
        if not alive:
            return replace(record, superseded_by=None)
        await self.port.update(self._ns, current, {"superseded_by": record.id, "superseded_at": ts})
        return replace(record, status="superseded", supersedes=current, superseded_by=None)

    async def _near_contents(
        self, exact: Sequence[str | None], nearest: Sequence[tuple[str, float, float] | None]
    ) -> dict[str, str]:
        """The text of each live near-duplicate or correction candidate (one read, only if there
        is one)."""
        ids = [
            near[0]
            for same, near in zip(exact, nearest, strict=True)
            if same is None and near is not None and near[1] >= self.correction_floor
        ]
        if not ids:
            return {}
        rows = await self.port.get(self._ns, ids)
        return {i: text(row["content"]) for i, row in zip(ids, rows, strict=True) if row}

    def new_record(
        self,
        agent: str,
        item: Memorable,
        vector: bytes,
        digest: str,
        memory_id: str,
        ts: int,
        meta: bytes | None = None,
        status: MemoryStatus = "created",
        supersedes: str | None = None,
    ) -> tuple[MemoryRecord, dict[str, Any]]:
        """A new memory's record and the fields a store keeps for it (`meta`: its metadata
        already encoded; `supersedes`: the memory it corrects)."""
        occurred = epoch_ms(item.occurred_at, ts)
        fields: dict[str, Any] = {
            "content": item.content,
            "when": when_text(occurred),
            "kind": item.kind,
            "agent": agent,
            "session": item.session or "",
            "tags": ",".join(item.tags),
            "source": item.source or "",
            "importance": float(item.importance),
            "occurred_at": occurred,
            "created_at": ts,
            "last_accessed": ts,
            "access_count": 0,
            "related": ",".join(item.related),
            "metadata": self._codec.encode(dict(item.metadata or {})) if meta is None else meta,
            "hash": digest,
            "embedding": vector,
            "v": 1,
        }
        if supersedes is not None:
            fields["supersedes"] = supersedes
        record = MemoryRecord(
            id=memory_id, content=item.content, kind=item.kind, agent=agent,
            session=item.session, importance=float(item.importance), tags=tuple(item.tags),
            source=item.source, metadata=dict(item.metadata or {}), related=tuple(item.related),
            occurred_at=occurred, created_at=ts, last_accessed=ts, status=status,
            supersedes=supersedes,
        )  # fmt: skip
        return record, fields

    async def message_rows(
        self, agent: str, items: Sequence[Memorable], embed_texts: Sequence[str]
    ) -> tuple[list[MemoryRecord], list[tuple[str, dict[str, Any], int | None]]]:
        """New memories for conversation turns, never deduplicated (the same words said
        twice are two turns), embedded from `embed_texts`; the caller stores the rows."""
        items = [check_item(item) for item in items]
        await self.port.setup(self._ns, self.embedder.dims, self.embedder.model)
        vectors = await self.embed(list(embed_texts))
        ts = now_ms()
        records, rows = [], []
        for item, vector in zip(items, vectors, strict=True):
            memory_id = new_id()
            digest = content_hash(agent, item.kind, item.content)
            record, fields = self.new_record(agent, item, vector, digest, memory_id, ts)
            records.append(record)
            rows.append((memory_id, fields, self.ttl_ms(item.kind)))
        return records, rows

    async def _stored_duplicates(self, records: list[MemoryRecord]) -> list[MemoryRecord]:
        """Replace the duplicates' placeholders with the stored, reinforced memories."""
        ids = [r.id for r in records if r.status in ("duplicate", "near_duplicate")]
        rows = await self.port.fetch(self._ns, ids)
        stored = {
            memory_id: to_record(memory_id, row, self._codec, "stored")
            for memory_id, row in zip(ids, rows, strict=True)
            if row is not None
        }
        return [replace(stored[r.id], status=r.status) if r.id in stored else r for r in records]

    async def recall(
        self,
        query: str,
        k: int,
        scope: Filters,
        weights: RankingWeights | None = None,
        touch: bool = True,
    ) -> list[Hit]:
        """The `k` memories in `scope` that best answer `query`, best first."""
        check_text(query, "a recall's query", max_chars=MAX_CONTENT_CHARS)
        k = check_int(k, "k", 1, 1000)
        await self.port.setup(self._ns, self.embedder.dims, self.embedder.model)
        with telemetry.recall_phase("embedding"):
            vector = await self._embed_query(query)
        # Twice k candidates from each channel: on eval/ 2x, 3x and 4x rank identically.
        n = max(k * 2, 20)
        terms = text_terms(query)
        codes = identifiers(terms)
        with telemetry.recall_phase("search"):
            found = await self.port.search(self._ns, scope, vector, terms, n)
        with telemetry.recall_phase("ranking"):
            ranked = self._rank(found, terms, codes, weights, k)
        with telemetry.recall_phase("fetch"):
            ts = now_ms()
            rows = await self.port.fetch(self._ns, [s.id for s in ranked], ts if touch else None)
        return [
            Hit(to_record(s.id, row, self._codec, "stored"), s.score, s.vector, s.text,
                s.exact, s.recency, s.importance)
            for s, row in zip(ranked, rows, strict=True)
            if row is not None
        ]  # fmt: skip

    def _rank(
        self,
        found: Mapping[str, Candidate],
        terms: list[str],
        codes: list[str],
        weights: RankingWeights | None,
        limit: int,
    ) -> list[Scored]:
        ts = now_ms()
        weights = weights or self.weights
        coverage = None
        if weights.coverage:
            # The query's terms as the index sees them, in each candidate's text and date;
            # only text matches need it (the share gates text relevance alone).
            stems = query_terms(terms)
            coverage = {
                i: coverage_share(stems, term_set(c.content).union(date_terms(c.occurred_at)))
                for i, c in found.items()
                if c.relevance is not None
            }
        return rank(
            {i: c.similarity for i, c in found.items() if c.similarity is not None},
            {i: c.relevance for i, c in found.items() if c.relevance is not None},
            {i: exact_share(codes, tokens(c.content)) for i, c in found.items()} if codes else {},
            {i: c.occurred_at for i, c in found.items()},
            {i: c.importance for i, c in found.items()},
            ts,
            weights,
            coverage,
            limit,
        )

    async def get(self, memory_id: str) -> MemoryRecord:
        check_name(memory_id, "memory id")
        row = (await self.port.get(self._ns, [memory_id]))[0]
        if row is None:
            raise NotFound(f"no memory {memory_id!r} in namespace {self._ns!r}")
        return to_record(memory_id, row, self._codec, "stored")

    async def forget(self, memory_id: str, cascade: bool) -> int:
        """Delete a memory (and, with `cascade`, everything its `related` links reach)."""
        check_name(memory_id, "memory id")
        check_flag(cascade, "cascade")
        todo, seen, hashes = [memory_id], {memory_id}, []
        found: list[str] = []
        corrected: list[tuple[str, str]] = []  # (what a forgotten correction replaced, it)
        while todo:
            rows = await self.port.get(self._ns, todo)
            next_ids = []
            for mid, row in zip(todo, rows, strict=True):
                if row is None:
                    continue
                found.append(mid)
                data = decode_row(row)
                hashes.append(data["hash"])
                if data["supersedes"]:
                    corrected.append((data["supersedes"], mid))
                if cascade:
                    for other in data["related"]:
                        if other not in seen:
                            seen.add(other)
                            next_ids.append(other)
            todo = next_ids
        if not found:
            # Not here, but perhaps on a primary that is down: a fallback queues the delete
            # for it (a healthy store deletes nothing and says 0).
            return await self.port.delete(self._ns, [memory_id], [])
        removed = await self.port.delete(self._ns, found, hashes)
        await self._restore(corrected)
        return removed

    async def _restore(self, corrected: Sequence[tuple[str, str]]) -> None:
        """Bring back into recall the memories whose correction was forgotten."""
        if not corrected:
            return
        rows = await self.port.get(self._ns, [old for old, _ in corrected])
        for (old, correction), row in zip(corrected, rows, strict=True):
            if row is not None and decode_row(row)["superseded_by"] == correction:
                await self.port.update(
                    self._ns, old, {"superseded_by": None, "superseded_at": None}
                )

    async def update(
        self,
        memory_id: str,
        content: str | None,
        importance: float | None,
        tags: Iterable[str] | None,
        metadata: Mapping[str, Any] | None,
    ) -> MemoryRecord:
        check_name(memory_id, "memory id")
        # Every argument is checked before the memory is read: a refused call touches nothing.
        if content is not None:
            check_text(content, "a memory's content", max_chars=MAX_CONTENT_CHARS)
        if importance is not None:
            importance = check_number(importance, "importance", 0.0, 1.0)
        tag_list = None if tags is None else list(check_tags(tags))
        if metadata is not None:
            metadata = check_mapping(metadata, "metadata")
        row = (await self.port.get(self._ns, [memory_id]))[0]
        if row is None:
            raise NotFound(f"no memory {memory_id!r} in namespace {self._ns!r}")
        current = decode_row(row)
        fields: dict[str, Any] = {}
        rehash = None
        if content is not None:
            digest = content_hash(current["agent"], current["kind"], content)
            fields["content"] = content
            fields["hash"] = digest
            fields["embedding"] = (await self.embed([content]))[0]
            rehash = (current["hash"], digest)
        if importance is not None:
            fields["importance"] = float(importance)
        if tag_list is not None:
            fields["tags"] = ",".join(tag_list)
        if metadata is not None:
            fields["metadata"] = self._codec.encode(dict(metadata))
        if fields:
            await self.port.update(self._ns, memory_id, fields, rehash)
        return await self.get(memory_id)

    # -- browsing and erasing --------------------------------------------------------------------
    async def browse(
        self, scope: Filters, after: str | None, limit: int, superseded_only: bool = False
    ) -> tuple[list[MemoryRecord], str | None]:
        """Up to `limit` memories in `scope` (with `superseded_only`, only those a correction
        replaced) after id `after`, in id (creation) order, and the id to continue after
        (None at the end). A selective filter reads a bounded number of records per call,
        so a page may come back short with a continuation."""
        out: list[MemoryRecord] = []
        budget, chunk = max(limit * 20, 2000), min(max(limit, 100), 1000)
        examined = 0
        while True:
            rows = await self.port.page(self._ns, after, chunk)
            for memory_id, row in rows:
                after, examined = memory_id, examined + 1
                if row is None:
                    continue
                fields = decode_row(row)
                if not scope.matches(fields) or (
                    superseded_only and not fields.get("superseded_by")
                ):
                    continue
                out.append(to_record(memory_id, row, self._codec, "stored"))
                if len(out) == limit:
                    return out, memory_id
            if len(rows) < chunk:
                return out, None
            if examined >= budget:
                return out, after

    async def erase(self, scope: Filters, dry_run: bool) -> dict[str, int]:
        """Forget every memory in `scope`, and the skills those memories describe."""
        memories = skills = 0
        after: str | None = None
        while True:
            found, after = await self.browse(scope, after, 500)
            names = [str(r.metadata["skill"]) for r in found if r.metadata.get("skill")]
            memories += len(found)
            skills += len(names)
            if found and not dry_run:
                hashes = [content_hash(r.agent, r.kind, r.content) for r in found]
                await self.port.delete(self._ns, [r.id for r in found], hashes)
                await self.port.skill_delete(self._ns, names)
            if after is None:
                return {"memories": memories, "skills": skills}

    async def merge_metadata(self, memory_ids: Sequence[str], values: Mapping[str, Any]) -> int:
        """Set `values` in the metadata of each memory (its other keys kept); returns how
        many exist. For marks the library keeps (consolidated, formed), not for callers."""
        rows = await self.port.get(self._ns, list(memory_ids))
        done = 0
        for memory_id, row in zip(memory_ids, rows, strict=True):
            if row is None:
                continue  # forgotten or expired meanwhile
            raw = decode_row(row)["metadata"]
            meta = self._codec.decode(raw) if raw else {}
            meta = {**meta, **values} if isinstance(meta, dict) else {"value": meta, **values}
            await self.port.update(self._ns, memory_id, {"metadata": self._codec.encode(meta)})
            done += 1
        return done
