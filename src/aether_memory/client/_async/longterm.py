"""Long-term memory: remember, recall, forget, update — for `AsyncAgent`.

Source of truth for `client/_sync/longterm.py` (generated). Embedding runs off the event loop
in the async API (a worker thread) and inline in the sync one.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aether_memory.backends.redis._async.longterm import AsyncRedisLongTerm, decode_row
from aether_memory.core.codec import Codec
from aether_memory.core.config import TTLs
from aether_memory.core.errors import InvalidInput, NotFound
from aether_memory.core.ids import check_name, check_tag, new_id, now_ms
from aether_memory.core.query import Filters, text_terms
from aether_memory.core.ranking import RankingWeights, rank
from aether_memory.core.types import Hit, MemoryRecord

if TYPE_CHECKING:
    from aether_memory.core.embeddings import Embedder

DEFAULT_NEAR_DUPLICATE = 0.95
MAX_CONTENT_CHARS = 32_000
MAX_TAGS = 32
_KIND_TTL = {"episodic": "episodic", "procedural": "skills"}


@dataclass(frozen=True, slots=True)
class Memorable:
    """One item for `remember_many` (the same fields as `remember`)."""

    content: str
    kind: str = "fact"
    importance: float = 0.5
    tags: Sequence[str] = ()
    session: str | None = None
    source: str | None = None
    metadata: Mapping[str, Any] | None = None
    related: Sequence[str] = ()
    occurred_at: datetime | int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def content_hash(agent: str, kind: str, content: str) -> str:
    """Identity of a memory's text: the same words from the same agent, of the same kind."""
    normal = " ".join(content.split()).lower()
    return hashlib.blake2b(f"{agent}\0{kind}\0{normal}".encode(), digest_size=16).hexdigest()


def epoch_ms(value: datetime | int | float | None, default: int) -> int:
    """Milliseconds since the epoch for a datetime (naive = UTC) or a number of ms."""
    if value is None:
        return default
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp() * 1000)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    raise InvalidInput("occurred_at must be a datetime or epoch milliseconds")


def _when_text(ms: int) -> str:
    """Words for the date, indexed with the text so 'in March' or '2026' can match."""
    day = datetime.fromtimestamp(ms / 1000, UTC)
    return day.strftime("%Y %B %d %A %Y-%m-%d")


def _check_item(item: Memorable) -> None:
    if not isinstance(item.content, str) or not item.content.strip():
        raise InvalidInput("a memory's content must be non-empty text")
    if len(item.content) > MAX_CONTENT_CHARS:
        raise InvalidInput(f"a memory's content is limited to {MAX_CONTENT_CHARS} characters")
    check_name(item.kind, "memory kind")
    if not 0.0 <= float(item.importance) <= 1.0:
        raise InvalidInput("importance must be between 0 and 1")
    if len(item.tags) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags per memory")
    for tag in item.tags:
        check_tag(tag)
    for other in item.related:
        check_name(other, "related memory id")
    if item.session is not None:
        check_name(item.session, "session id")
    if item.source is not None:
        check_name(item.source, "source")


def to_record(memory_id: str, row: Mapping[str, Any], codec: Codec, status: str) -> MemoryRecord:
    data = decode_row(dict(row))
    raw_meta = data.pop("metadata")
    data.pop("hash")
    metadata = codec.decode(raw_meta) if raw_meta else {}
    return MemoryRecord(id=memory_id, metadata=metadata, status=status, **data)


class AsyncLongTermMemory:
    """Remember / recall / forget for one memory client; shared by its agent handles."""

    def __init__(
        self,
        store: AsyncRedisLongTerm,
        namespace: str,
        codec: Codec,
        ttl: TTLs,
        embedder: Embedder,
        weights: RankingWeights | None = None,
        near_duplicate: float = DEFAULT_NEAR_DUPLICATE,
    ) -> None:
        self._store = store
        self._ns = namespace
        self._codec = codec
        self._ttl = ttl
        self.embedder = embedder
        self.weights = weights or RankingWeights()
        self.near_duplicate = near_duplicate

    async def _embed(self, texts: list[str]) -> list[bytes]:
        vectors = await asyncio.to_thread(self.embedder.embed, texts)
        return [v.astype("float32").tobytes() for v in vectors]

    async def _embed_query(self, text: str) -> bytes:
        embed_query = getattr(self.embedder, "embed_query", self.embedder.embed)
        vectors = await asyncio.to_thread(embed_query, [text])
        return bytes(vectors[0].astype("float32").tobytes())

    def _ttl_ms(self, kind: str) -> int | None:
        seconds = getattr(self._ttl, _KIND_TTL.get(kind, "semantic"))
        return None if seconds is None else int(seconds * 1000)

    async def remember_many(self, agent: str, items: Sequence[Memorable]) -> list[MemoryRecord]:
        """Store several memories with one embedding batch and two round trips."""
        if not items:
            return []
        for item in items:
            _check_item(item)
        await self._store.setup(self._ns, self.embedder.dims)
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
            occurred = epoch_ms(item.occurred_at, ts)
            fields: dict[str, Any] = {
                "content": item.content,
                "when": _when_text(occurred),
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
            batch_hashes[digest] = memory_id
            rows.append((memory_id, fields, self._ttl_ms(item.kind)))
            out.append(
                MemoryRecord(
                    id=memory_id, content=item.content, kind=item.kind, agent=agent,
                    session=item.session, importance=float(item.importance),
                    tags=tuple(item.tags), source=item.source,
                    metadata=dict(item.metadata or {}), related=tuple(item.related),
                    occurred_at=occurred, created_at=ts, last_accessed=ts, status="created",
                )
            )  # fmt: skip
        if rows:
            await self._store.put(self._ns, rows)
        if reinforce:
            await self._store.reinforce(self._ns, reinforce, ts)
        return out

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
        await self._store.setup(self._ns, self.embedder.dims)
        vector = await self._embed_query(query)
        n = max(k * 4, 40)
        by_vector, by_text, rows = await self._store.search(
            self._ns, scope, vector, text_terms(query), n
        )
        ts = now_ms()
        decoded = {memory_id: decode_row(row) for memory_id, row in rows.items()}
        ranked = rank(
            by_vector,
            by_text,
            {i: d["occurred_at"] for i, d in decoded.items()},
            {i: d["importance"] for i, d in decoded.items()},
            ts,
            weights or self.weights,
        )[:k]
        hits = [
            Hit(to_record(s.id, rows[s.id], self._codec, "stored"), s.score, s.vector, s.text,
                s.recency, s.importance)
            for s in ranked
        ]  # fmt: skip
        if touch:
            await self._store.touch(self._ns, [h.record.id for h in hits], ts)
        return hits

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
        current = await self.get(memory_id)
        fields: dict[str, Any] = {}
        if content is not None:
            item = Memorable(content=content, kind=current.kind)
            _check_item(item)
            fields["content"] = content
            fields["hash"] = content_hash(current.agent, current.kind, content)
            fields["embedding"] = (await self._embed([content]))[0]
        if importance is not None:
            _check_item(Memorable(content="x", importance=importance))
            fields["importance"] = float(importance)
        if tags is not None:
            tag_list = list(tags)
            _check_item(Memorable(content="x", tags=tag_list))
            fields["tags"] = ",".join(tag_list)
        if metadata is not None:
            fields["metadata"] = self._codec.encode(dict(metadata))
        if fields:
            await self._store.update(self._ns, memory_id, fields)
        return await self.get(memory_id)
