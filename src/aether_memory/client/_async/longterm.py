"""Long-term memory: remember, recall, forget, update, episodes and skills.

Source of truth for `client/_sync/longterm.py` (generated). Embedding runs off the event loop
in the async API (a worker thread) and inline in the sync one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aether_memory.client.records import (
    DEFAULT_NEAR_DUPLICATE,
    RELEVANT,
    SEMANTIC_KINDS,
    Memorable,
    check_item,
    content_hash,
    episode_from_record,
    episode_text,
    epoch_ms,
    step_summary,
    to_record,
    when_text,
)
from aether_memory.core.codec import Codec
from aether_memory.core.config import TTLs
from aether_memory.core.errors import InvalidInput, NotFound
from aether_memory.core.ids import check_name, new_id, now_ms
from aether_memory.core.query import Filters, text_terms
from aether_memory.core.ranking import (
    RankingWeights,
    coverage_share,
    exact_share,
    identifiers,
    rank,
    tokens,
)
from aether_memory.core.text import analyze, query_terms
from aether_memory.core.types import Episode, Event, Hit, Introspection, MemoryRecord, Skill
from aether_memory.storage._async.store import AsyncLongTermStore
from aether_memory.storage.rows import decode_row, text

if TYPE_CHECKING:
    from aether_memory.core.embeddings import Embedder

_KIND_TTL = {"episodic": "episodic", "procedural": "skills"}


class AsyncLongTermMemory:
    """Remember / recall / forget for one memory client; shared by its agent handles."""

    def __init__(
        self,
        store: AsyncLongTermStore,
        namespace: str,
        codec: Codec,
        ttl: TTLs,
        embedder: Embedder,
        weights: RankingWeights | None = None,
        near_duplicate: float = DEFAULT_NEAR_DUPLICATE,  # chosen on eval/: see evaluation.md
    ) -> None:
        self._store = store
        self._ns = namespace
        self._codec = codec
        self._ttl = ttl
        self.embedder = embedder
        self.weights = weights or RankingWeights()
        # The threshold depends on how the model spreads its scores: an embedder may say.
        self.near_duplicate = float(getattr(embedder, "near_duplicate", near_duplicate))

    async def _embed(self, texts: list[str]) -> list[bytes]:
        vectors = await asyncio.to_thread(self.embedder.embed, texts)
        return [v.astype("float32").tobytes() for v in vectors]

    async def _embed_query(self, query: str) -> bytes:
        cached = getattr(self.embedder, "cached", None)
        hit = None if cached is None else cached([query], query=True)
        if hit is not None:
            return bytes(hit[0].astype("float32").tobytes())
        embed_query = getattr(self.embedder, "embed_query", self.embedder.embed)
        vectors = await asyncio.to_thread(embed_query, [query])  # a model call: off the loop
        return bytes(vectors[0].astype("float32").tobytes())

    def _ttl_ms(self, kind: str) -> int | None:
        seconds = getattr(self._ttl, _KIND_TTL.get(kind, "semantic"))
        return None if seconds is None else int(seconds * 1000)

    async def remember_many(self, agent: str, items: Sequence[Memorable]) -> list[MemoryRecord]:
        """Store several memories with one embedding batch and two round trips."""
        if not items:
            return []
        for item in items:
            check_item(item)
        await self._store.setup(self._ns, self.embedder.dims, self.embedder.model)
        vectors = await self._embed([item.content for item in items])
        hashes = [content_hash(agent, item.kind, item.content) for item in items]
        scope = Filters(agents=(agent,))
        exact, nearest = await self._store.find_existing(self._ns, hashes, vectors, scope)
        ts = now_ms()
        out: list[MemoryRecord] = []
        rows: list[tuple[str, dict[str, Any], int | None]] = []
        reinforce: list[tuple[str, float]] = []
        batch_hashes: dict[str, str] = {}
        for item, vector, digest, same, near in zip(
            items, vectors, hashes, exact, nearest, strict=True
        ):
            status, existing = "created", same or batch_hashes.get(digest)
            if existing is not None:
                status = "duplicate"
            elif near is not None and near[1] >= self.near_duplicate:
                existing, status = near[0], "near_duplicate"
            if existing is not None:
                reinforce.append((existing, float(item.importance)))
                record = MemoryRecord(
                    id=existing, content=item.content, kind=item.kind, agent=agent, status=status
                )
                out.append(record)
                continue
            memory_id = new_id()
            batch_hashes[digest] = memory_id
            record, fields = self._new(agent, item, vector, digest, memory_id, ts)
            rows.append((memory_id, fields, self._ttl_ms(item.kind)))
            out.append(record)
        if rows:
            await self._store.put(self._ns, rows)
        if reinforce:
            await self._store.reinforce(self._ns, reinforce, ts)
            out = await self._stored_duplicates(out)
        return out

    def _new(
        self, agent: str, item: Memorable, vector: bytes, digest: str, memory_id: str, ts: int
    ) -> tuple[MemoryRecord, dict[str, Any]]:
        """A new memory's record and the fields a store keeps for it."""
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
            "metadata": self._codec.encode(dict(item.metadata or {})),
            "hash": digest,
            "embedding": vector,
            "v": 1,
        }
        record = MemoryRecord(
            id=memory_id, content=item.content, kind=item.kind, agent=agent,
            session=item.session, importance=float(item.importance), tags=tuple(item.tags),
            source=item.source, metadata=dict(item.metadata or {}), related=tuple(item.related),
            occurred_at=occurred, created_at=ts, last_accessed=ts, status="created",
        )  # fmt: skip
        return record, fields

    async def message_rows(
        self, agent: str, items: Sequence[Memorable], embed_texts: Sequence[str]
    ) -> tuple[list[MemoryRecord], list[tuple[str, dict[str, Any], int | None]]]:
        """New memories for conversation turns, never deduplicated (the same words said
        twice are two turns), embedded from `embed_texts`; the caller stores the rows."""
        for item in items:
            check_item(item)
        await self._store.setup(self._ns, self.embedder.dims, self.embedder.model)
        vectors = await self._embed(list(embed_texts))
        ts = now_ms()
        records, rows = [], []
        for item, vector in zip(items, vectors, strict=True):
            memory_id = new_id()
            digest = content_hash(agent, item.kind, item.content)
            record, fields = self._new(agent, item, vector, digest, memory_id, ts)
            records.append(record)
            rows.append((memory_id, fields, self._ttl_ms(item.kind)))
        return records, rows

    async def _stored_duplicates(self, records: list[MemoryRecord]) -> list[MemoryRecord]:
        """Replace the duplicates' placeholders with the stored, reinforced memories."""
        ids = [r.id for r in records if r.status != "created"]
        rows = await self._store.fetch(self._ns, ids)
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
        if not isinstance(query, str) or not query.strip():
            raise InvalidInput("a recall needs a non-empty query")
        if not 1 <= k <= 1000:
            raise InvalidInput("k must be between 1 and 1000")
        await self._store.setup(self._ns, self.embedder.dims, self.embedder.model)
        vector = await self._embed_query(query)
        # Twice k candidates from each channel: on eval/ 2x, 3x and 4x rank identically.
        n = max(k * 2, 20)
        terms = text_terms(query)
        codes = identifiers(terms)
        found = await self._store.search(self._ns, scope, vector, terms, n)
        ts = now_ms()
        weights = weights or self.weights
        coverage = None
        if weights.coverage:
            # The query's terms as the index sees them, in each candidate's text and date.
            stems = query_terms(terms)
            coverage = {
                i: coverage_share(stems, analyze(f"{c.content} {when_text(c.occurred_at)}"))
                for i, c in found.items()
            }
        ranked = rank(
            {i: c.similarity for i, c in found.items() if c.similarity is not None},
            {i: c.relevance for i, c in found.items() if c.relevance is not None},
            {i: exact_share(codes, tokens(c.content)) for i, c in found.items()} if codes else {},
            {i: c.occurred_at for i, c in found.items()},
            {i: c.importance for i, c in found.items()},
            ts,
            weights,
            coverage,
        )[:k]
        rows = await self._store.fetch(self._ns, [s.id for s in ranked], ts if touch else None)
        return [
            Hit(to_record(s.id, row, self._codec, "stored"), s.score, s.vector, s.text,
                s.exact, s.recency, s.importance)
            for s, row in zip(ranked, rows, strict=True)
            if row is not None
        ]  # fmt: skip

    async def get(self, memory_id: str) -> MemoryRecord:
        check_name(memory_id, "memory id")
        row = (await self._store.get(self._ns, [memory_id]))[0]
        if row is None:
            raise NotFound(f"no memory {memory_id!r} in namespace {self._ns!r}")
        return to_record(memory_id, row, self._codec, "stored")

    async def forget(self, memory_id: str, cascade: bool) -> int:
        """Delete a memory (and, with `cascade`, everything its `related` links reach)."""
        check_name(memory_id, "memory id")
        todo, seen, hashes = [memory_id], {memory_id}, []
        found: list[str] = []
        while todo:
            rows = await self._store.get(self._ns, todo)
            next_ids = []
            for mid, row in zip(todo, rows, strict=True):
                if row is None:
                    continue
                found.append(mid)
                data = decode_row(row)
                hashes.append(data["hash"])
                if cascade:
                    for other in data["related"]:
                        if other not in seen:
                            seen.add(other)
                            next_ids.append(other)
            todo = next_ids
        if not found:
            return 0
        return await self._store.delete(self._ns, found, hashes)

    async def update(
        self,
        memory_id: str,
        content: str | None,
        importance: float | None,
        tags: Iterable[str] | None,
        metadata: Mapping[str, Any] | None,
    ) -> MemoryRecord:
        check_name(memory_id, "memory id")
        row = (await self._store.get(self._ns, [memory_id]))[0]
        if row is None:
            raise NotFound(f"no memory {memory_id!r} in namespace {self._ns!r}")
        current = decode_row(row)
        tag_list = None if tags is None else list(tags)
        check_item(
            Memorable(
                content=current["content"] if content is None else content,
                kind=current["kind"],
                importance=current["importance"] if importance is None else importance,
                tags=tag_list or (),
            )
        )
        fields: dict[str, Any] = {}
        rehash = None
        if content is not None:
            digest = content_hash(current["agent"], current["kind"], content)
            fields["content"] = content
            fields["hash"] = digest
            fields["embedding"] = (await self._embed([content]))[0]
            rehash = (current["hash"], digest)
        if importance is not None:
            fields["importance"] = float(importance)
        if tag_list is not None:
            fields["tags"] = ",".join(tag_list)
        if metadata is not None:
            fields["metadata"] = self._codec.encode(dict(metadata))
        if fields:
            await self._store.update(self._ns, memory_id, fields, rehash)
        return await self.get(memory_id)

    # -- episodes ------------------------------------------------------------------------------
    async def save_episode(
        self,
        agent: str,
        session: str,
        steps: Sequence[Event],
        task_prompt: str,
        outcome: str,
        success: bool,
        duration_seconds: float | None,
        tags: Sequence[str],
        importance: float,
    ) -> Episode:
        """Store a finished task as an ``episodic`` memory summarising its steps."""
        if not isinstance(task_prompt, str) or not task_prompt.strip():
            raise InvalidInput("an episode needs a task prompt")
        if not isinstance(outcome, str):
            raise InvalidInput("an episode's outcome must be text")
        step_rows = [step_summary(e) for e in steps]
        content = episode_text(task_prompt, outcome, success, step_rows)
        meta = {
            "task_prompt": task_prompt,
            "outcome": outcome,
            "success": bool(success),
            "duration_seconds": duration_seconds,
            "steps": step_rows,
        }
        item = Memorable(
            content=content, kind="episodic", importance=importance, tags=tuple(tags),
            session=session, metadata=meta, source="episode",
        )  # fmt: skip
        record = (await self.remember_many(agent, [item]))[0]
        return Episode(
            id=record.id, task_prompt=task_prompt, outcome=outcome, success=bool(success),
            agent=agent, session=session, steps=tuple(step_rows),
            duration_seconds=duration_seconds, tags=tuple(tags), importance=importance,
            occurred_at=record.occurred_at,
        )  # fmt: skip

    async def search_episodes(self, query: str, limit: int, scope: Filters) -> list[Episode]:
        hits = await self.recall(query, limit, replace(scope, kinds=("episodic",)))
        return [episode_from_record(h.record, h.score) for h in hits]

    # -- skills --------------------------------------------------------------------------------
    async def save_skill(
        self, agent: str, name: str, description: str, steps: Sequence[Any], tags: Sequence[str]
    ) -> Skill:
        """Create or replace a skill; its description is searchable (``procedural``)."""
        check_name(name, "skill name")
        if not isinstance(description, str) or not description.strip():
            raise InvalidInput("a skill needs a description")
        steps_raw = self._codec.encode(list(steps))
        existing = (await self._store.skill_get(self._ns, [name]))[0]
        summary = f"{name}: {description}"
        old_id = text(existing.get("memory_id", b"")) if existing else ""
        if old_id:
            await self.update(old_id, summary, None, tags, {"skill": name})
            memory_id = old_id
        else:
            item = Memorable(
                content=summary, kind="procedural", tags=tuple(tags),
                metadata={"skill": name}, source="skill",
            )  # fmt: skip
            memory_id = (await self.remember_many(agent, [item]))[0].id
        fields = {
            "name": name,
            "description": description,
            "steps": steps_raw,
            "tags": ",".join(tags),
            "memory_id": memory_id,
            "updated_at": now_ms(),
        }
        await self._store.skill_put(self._ns, name, fields, self._ttl_ms("procedural"))
        return await self.skill(name)

    async def skill(self, name: str) -> Skill:
        check_name(name, "skill name")
        row = (await self._store.skill_get(self._ns, [name]))[0]
        if row is None:
            raise NotFound(f"no skill {name!r} in namespace {self._ns!r}")
        return self._skill(row)

    async def record_skill_execution(self, name: str, success: bool, duration: float) -> Skill:
        check_name(name, "skill name")
        if not isinstance(duration, int | float) or duration < 0:
            raise InvalidInput("duration must be a non-negative number of seconds")
        found = await self._store.skill_run(
            self._ns, name, bool(success), float(duration), self._ttl_ms("procedural")
        )
        if not found:
            raise NotFound(f"no skill {name!r} to record a run of; save_skill() it first")
        return await self.skill(name)

    async def search_skills(self, query: str, limit: int, scope: Filters) -> list[Skill]:
        hits = await self.recall(query, limit, replace(scope, kinds=("procedural",)))
        names = [h.record.metadata.get("skill") for h in hits]
        pairs = [(str(n), h.score) for n, h in zip(names, hits, strict=True) if n]
        rows = await self._store.skill_get(self._ns, [n for n, _ in pairs])
        return [
            replace(self._skill(row), score=score)
            for (_, score), row in zip(pairs, rows, strict=True)
            if row is not None
        ]

    def _skill(self, row: Mapping[str, Any]) -> Skill:
        return Skill(
            name=text(row["name"]),
            description=text(row["description"]),
            steps=tuple(self._codec.decode(row["steps"])),
            tags=tuple(t for t in text(row.get("tags", b"")).split(",") if t),
            runs=int(row.get("runs", 0)),
            successes=int(row.get("successes", 0)),
            total_duration=float(row.get("total_duration", 0.0)),
            memory_id=text(row.get("memory_id", b"")) or None,
            updated_at=int(row.get("updated_at", 0)),
        )

    # -- everything at once ----------------------------------------------------------------------
    async def search_all(
        self, query: str, limit_per_type: int, scope: Filters
    ) -> dict[str, list[Any]]:
        """Episodes, facts (fact + semantic) and skills relevant to `query`."""
        semantic = await self.recall(query, limit_per_type, replace(scope, kinds=SEMANTIC_KINDS))
        return {
            "episodic": await self.search_episodes(query, limit_per_type, scope),
            "semantic": semantic,
            "skills": await self.search_skills(query, limit_per_type, scope),
        }

    async def introspect(self, agent: str, topic: str) -> Introspection:
        scope = Filters(agents=(agent,))
        hits = await self.recall(topic, 20, scope, touch=False)
        relevant = [h for h in hits if h.vector >= RELEVANT or h.text > 0]
        by_kind: dict[str, int] = {}
        for hit in relevant:
            by_kind[hit.record.kind] = by_kind.get(hit.record.kind, 0) + 1
        strongest = sorted(relevant, key=lambda h: h.score * (0.5 + h.record.importance))[::-1]
        return Introspection(
            topic=topic,
            total=len(relevant),
            by_kind=by_kind,
            strongest=tuple(strongest[:5]),
            episodes=tuple(await self.search_episodes(topic, 3, scope)),
            skills=tuple(await self.search_skills(topic, 3, scope)),
        )
