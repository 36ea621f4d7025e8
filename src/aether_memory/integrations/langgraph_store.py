"""LangGraph's long-term store (`BaseStore`) on aether memory: `AetherStore`.

    from aether_memory.integrations.langgraph import AetherStore

    store = AetherStore(mem, index={"fields": ["text"]})   # semantic search with mem's embedder
    graph = builder.compile(checkpointer=AetherSaver(mem), store=store)

Each LangGraph namespace (a tuple of strings) is one aether session of the agent
``langgraph-store``; each item is one working-memory key of it, holding the value, its
timestamps, its expiry and, with an index, the vectors of its indexed fields (from the
memory's embedder: the local model by default, loaded on first use). A search reads the
namespaces under its prefix and ranks by cosine similarity in the client — exact, and meant for
the thousands of items per prefix an agent's store holds, not for millions. TTLs are in
minutes, as LangGraph gives them; an expired item is invisible at once and removed by the next
search over it. Needs ``pip install 'aether-memory[langgraph]'``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from aether_memory.client._sync.memory import Memory
from aether_memory.core.ids import now_ms
from aether_memory.integrations._common import needs
from aether_memory.integrations._sync.threads import ThreadStore

try:
    from langgraph.store.base import (
        BaseStore,
        GetOp,
        Item,
        ListNamespacesOp,
        MatchCondition,
        Op,
        PutOp,
        Result,
        SearchItem,
        SearchOp,
        TTLConfig,
    )
    from langgraph.store.base.embed import get_text_at_path, tokenize_path
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(needs("langgraph", "langgraph")) from exc

DEFAULT_AGENT = "langgraph-store"
REGISTRY = "namespaces"  # the thread that lists every namespace ever written
ITEM = "k:"
_MINUTE_MS = 60_000

__all__ = ["DEFAULT_AGENT", "AetherStore"]


class AetherStore(BaseStore):
    """A LangGraph store on a `Memory` (the async methods run the sync ones in a thread).

    Args:
        memory: an open `Memory`; the store uses its connection and never closes it.
        index: ``{"fields": [...]}`` to embed those fields of each value (``["$"]``: the
            whole value) with the memory's embedder; None: no semantic search (a query is
            then ignored, as LangGraph's own stores do).
        ttl: LangGraph's TTL config (``default_ttl`` and ``refresh_on_read``, minutes).
        agent: the aether agent whose sessions hold the namespaces.
    """

    supports_ttl = True

    def __init__(
        self,
        memory: Memory,
        *,
        index: dict[str, Any] | None = None,
        ttl: TTLConfig | None = None,
        agent: str = DEFAULT_AGENT,
    ) -> None:
        self.memory = memory
        self.threads = ThreadStore(memory, agent)
        self.index_fields: list[str] | None = None
        if index is not None:
            self.index_fields = list(index.get("fields") or ["$"])
        self.ttl_config = ttl
        self._registered: set[str] = set()

    # -- BaseStore -----------------------------------------------------------------------------
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run get, put, search and list-namespaces operations, in order."""
        results: list[Result] = []
        for op in ops:
            if isinstance(op, GetOp):
                results.append(self._get(op))
            elif isinstance(op, PutOp):
                self._put(op)
                results.append(None)
            elif isinstance(op, SearchOp):
                results.append(self._search(op))
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(op))
            else:
                raise TypeError(f"unknown store operation {op!r}")
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await asyncio.to_thread(self.batch, list(ops))

    # -- operations ----------------------------------------------------------------------------
    def _get(self, op: GetOp) -> Item | None:
        thread = _thread(op.namespace)
        record = self.threads.get(thread, ITEM + op.key)
        if not isinstance(record, dict) or _expired(record, now_ms()):
            return None
        if op.refresh_ttl and record.get("ttl"):
            record = _refreshed(record, now_ms())
            self.threads.save(thread, {ITEM + op.key: record})
        return _item(record)

    def _put(self, op: PutOp) -> None:
        thread = _thread(op.namespace)
        if op.value is None:
            self.threads.delete(thread, [ITEM + op.key])
            return
        ts = now_ms()
        previous = self.threads.get(thread, ITEM + op.key)
        created = previous.get("c", ts) if isinstance(previous, dict) else ts
        ttl = op.ttl if isinstance(op.ttl, int | float) else None
        record = {
            "ns": list(op.namespace),
            "key": op.key,
            "value": op.value,
            "c": created,
            "u": ts,
            "ttl": ttl,
            "exp": None if ttl is None else ts + int(ttl * _MINUTE_MS),
            "vec": self._vectors(op),
        }
        self.threads.save(thread, {ITEM + op.key: record})
        if thread not in self._registered:
            self.threads.save(REGISTRY, {thread: {"ns": list(op.namespace)}})
            self._registered.add(thread)

    def _search(self, op: SearchOp) -> list[SearchItem]:
        ts = now_ms()
        found: list[dict[str, Any]] = []
        for namespace in self._namespaces():
            if namespace[: len(op.namespace_prefix)] != op.namespace_prefix:
                continue
            thread = _thread(namespace)
            records = self.threads.load(thread)
            expired = [k for k, r in records.items() if isinstance(r, dict) and _expired(r, ts)]
            if expired:
                self.threads.delete(thread, expired)
            found.extend(
                r
                for k, r in sorted(records.items())
                if k.startswith(ITEM)
                and k not in expired
                and isinstance(r, dict)
                and all(_matches(r["value"].get(f), v) for f, v in (op.filter or {}).items())
            )
        scores: list[float | None] = [None] * len(found)
        if op.query and self.index_fields is not None and found:
            query = self.memory.longterm.embedder.embed([op.query])[0]
            scores = [_score(query, r.get("vec")) for r in found]
            order = sorted(range(len(found)), key=lambda i: -(scores[i] or -2.0))
            found, scores = [found[i] for i in order], [scores[i] for i in order]
        page = slice(op.offset, op.offset + op.limit)
        kept = list(zip(found[page], scores[page], strict=True))
        if op.refresh_ttl:
            for record, _ in kept:
                if record.get("ttl"):
                    refreshed = _refreshed(record, ts)
                    self.threads.save(
                        _thread(tuple(record["ns"])), {ITEM + record["key"]: refreshed}
                    )
        return [_search_item(record, score) for record, score in kept]

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        namespaces = [
            ns
            for ns in self._namespaces()
            if all(_namespace_matches(c, ns) for c in op.match_conditions or ())
        ]
        if op.max_depth is not None:
            namespaces = [ns[: op.max_depth] for ns in namespaces]
        return sorted(set(namespaces))[op.offset : op.offset + op.limit]

    # -- helpers -------------------------------------------------------------------------------
    def _namespaces(self) -> list[tuple[str, ...]]:
        registry = self.threads.load(REGISTRY)
        return [tuple(entry["ns"]) for entry in registry.values() if isinstance(entry, dict)]

    def _vectors(self, op: PutOp) -> list[list[float]] | None:
        fields = self.index_fields
        if fields is None or op.index is False:
            return None
        if isinstance(op.index, list):
            fields = op.index
        texts = [
            text
            for path in fields
            for text in (
                [orjson.dumps(op.value).decode()]
                if path == "$"
                else get_text_at_path(op.value, tokenize_path(path))
            )
            if text
        ]
        if not texts:
            return None
        vectors = self.memory.longterm.embedder.embed(texts)
        return [[round(float(x), 6) for x in row] for row in vectors]


def _thread(namespace: Sequence[str]) -> str:
    return orjson.dumps(list(namespace)).decode()


def _expired(record: dict[str, Any], ts: int) -> bool:
    exp = record.get("exp")
    return exp is not None and exp <= ts


def _refreshed(record: dict[str, Any], ts: int) -> dict[str, Any]:
    return {**record, "exp": ts + int(record["ttl"] * _MINUTE_MS)}


def _datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "value": record["value"],
        "key": record["key"],
        "namespace": tuple(record["ns"]),
        "created_at": _datetime(record["c"]),
        "updated_at": _datetime(record["u"]),
    }


def _item(record: dict[str, Any]) -> Item:
    return Item(**_fields(record))


def _search_item(record: dict[str, Any], score: float | None) -> SearchItem:
    return SearchItem(**_fields(record), score=score)


def _score(query: Any, vectors: list[list[float]] | None) -> float | None:
    if not vectors:
        return None
    # Rows are L2-normalised: the dot product is the cosine; a value's best field counts.
    return float(np.max(np.asarray(vectors, dtype=np.float32) @ query))


def _namespace_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[-len(path) :]
    return all(p == "*" or p == n for p, n in zip(path, part, strict=True)) if path else True


def _matches(value: Any, wanted: Any) -> bool:
    """LangGraph's filter semantics: equality, nested objects, and $eq/$ne/$gt/$gte/$lt/$lte."""
    if isinstance(wanted, dict):
        if any(k.startswith("$") for k in wanted):
            return all(_compare(value, k, v) for k, v in wanted.items())
        return isinstance(value, dict) and all(_matches(value.get(k), v) for k, v in wanted.items())
    return bool(value == wanted)


def _compare(value: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return bool(value == operand)
    if operator == "$ne":
        return bool(value != operand)
    if value is None:
        return False
    number, limit = float(value), float(operand)
    if operator == "$gt":
        return number > limit
    if operator == "$gte":
        return number >= limit
    if operator == "$lt":
        return number < limit
    if operator == "$lte":
        return number <= limit
    raise ValueError(f"unsupported filter operator {operator!r}")
