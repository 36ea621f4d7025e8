"""Long-term memory on Redis: records as hashes, found by the Query Engine where it is loaded
(HNSW vectors + BM25 full text + tag/numeric filters). Without it, the library keeps the text
index itself (postings per stemmed term, written in the record's own transaction) and finds
vectors in a Redis 8 vector set, or, on an older server, by an exact scan of the namespace's
vectors held in this process."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aether_memory.backends.redis.errors import TRANSLATE
from aether_memory.backends.redis.scripts import MEMORY_DELETE, REINFORCE, SKILL_RUN
from aether_memory.core import keys
from aether_memory.core import text as lexical
from aether_memory.core.errors import ConfigurationError
from aether_memory.core.ids import new_id
from aether_memory.core.ids import now_ms as clock_ms
from aether_memory.core.query import Filters
from aether_memory.core.ranking import cosine
from aether_memory.core.types import Capabilities
from aether_memory.storage.rows import Candidate, Row, decode_row, text

if TYPE_CHECKING:
    import numpy

log = logging.getLogger("aether_memory")

INDEX_VERSION = 2
EF_RUNTIME = 100  # HNSW's default (10) found only 60% of the exact top 10 at 100k; 100 finds 99%
FIELDS = (
    "content", "kind", "agent", "session", "tags", "source", "importance", "occurred_at",
    "created_at", "related", "metadata", "hash", "supersedes", "superseded_by",
)  # fmt: skip
# What an export needs of a record besides `FIELDS`.
EXPORT_FIELDS = (*FIELDS, "when", "v", "embedding", "superseded_at")
# What ranking needs of a candidate; full records are fetched for the winners only.
RANKING_FIELDS = ("content", "importance", "occurred_at")
FILTER_FIELDS = ("kind", "agent", "session", "tags", "occurred_at", "importance", "superseded_by")
NEAR_POOL = 10  # neighbours a vector set offers per new memory, to find a live one in scope
# How far a plain-Redis search widens to fill `n` from a narrow scope; beyond this a recall may
# come back short (the Query Engine filters inside the index instead).
PLAIN_MAX_CANDIDATES = 12_800
# Without the Query Engine: the postings read per query term (its heaviest first), so a common
# term costs a bounded read; such a term has a low idf and ranks little anyway.
POSTINGS_PER_TERM = 1000
_TAG_FIELDS = ("kind", "agent", "session", "tags", "source")

# KEYS: the content-hash map.  ARGV: the memory key prefix, then content hashes.
# Per hash: the id stored under it if that memory still exists, else false. An entry whose
# memory expired or was evicted is removed (the memory keys share the map's hash tag).
LIVE_HASHES = """
local out = {}
for i = 2, #ARGV do
  local id = redis.call('HGET', KEYS[1], ARGV[i])
  if id and redis.call('EXISTS', ARGV[1] .. id) == 0 then
    redis.call('HDEL', KEYS[1], ARGV[i])
    id = false
  end
  out[i - 1] = id
end
return out
"""

# One row per memory as the store returns it: field name -> raw value.


def _schema(dims: int) -> list[Any]:
    schema: list[Any] = ["content", "TEXT", "when", "TEXT", "WEIGHT", "0.5"]
    for name in _TAG_FIELDS:
        schema += [name, "TAG", "SEPARATOR", ",", "CASESENSITIVE"]
    for name in ("importance", "occurred_at", "created_at", "superseded_at"):
        schema += [name, "NUMERIC"]
    schema += ["embedding", "VECTOR", "HNSW", "10", "TYPE", "FLOAT32", "DIM", str(dims),
               "DISTANCE_METRIC", "COSINE", "M", "16", "EF_CONSTRUCTION", "200"]  # fmt: skip
    return schema


class AsyncRedisLongTerm:
    """The long-term memory role of the Redis store."""

    def __init__(self, client: Any, capabilities: Capabilities) -> None:
        self._r = client
        self._caps = capabilities
        self._ready: set[str] = set()
        self._warned = False
        self._vectors: dict[str, _Vectors] = {}

    @property
    def indexed(self) -> bool:
        return self._caps.search

    async def setup(self, ns: str, dims: int, model: str) -> None:
        """Create the namespace's index if it is missing (idempotent, once per client), and
        refuse an embedder other than the one the namespace's memories were embedded with."""
        if ns in self._ready:
            return
        with TRANSLATE:
            first: bytes | None = await self._r.set(
                keys.embedder(ns), f"{model}|{dims}", nx=True, get=True
            )
        if first is not None and text(first) != f"{model}|{dims}":
            used = text(first).rsplit("|", 1)[0]
            raise ConfigurationError(
                f"namespace {ns!r} holds memories embedded with {used!r}; recalling them with "
                f"{model!r} would compare unrelated vectors. Use that embedder, or another "
                "namespace for this one."
            )
        if self.indexed:
            try:
                with TRANSLATE:
                    await self._r.execute_command(
                        "FT.CREATE", keys.memory_index(ns, INDEX_VERSION), "ON", "HASH",
                        "PREFIX", "1", keys.memory_prefix(ns), "SCHEMA", *_schema(dims),
                    )  # fmt: skip
            except Exception as exc:
                if "already exists" not in str(exc).lower():
                    raise
                await self._add_field(ns, "superseded_at", "NUMERIC")
        elif not self._warned:
            self._warned = True
            vectors = (
                "a vector set"
                if self._caps.vector_sets
                else "an exact scan of the namespace's vectors, copied into each client (fine "
                "for thousands of memories per namespace, slow for hundreds of thousands)"
            )
            log.warning(
                "aether-memory: this Redis has no Query Engine (RediSearch); long-term recall "
                "uses %s and a text index kept by the library, and applies filters after "
                "the search. Load the search module (or use Redis 8) for large namespaces.",
                vectors,
            )
        await self._backfill_ids(ns)
        self._ready.add(ns)

    def _q_setup(self, pipe: Any, ns: str, dims: int, model: str) -> None:
        # Replayed: the embedder a fallback accepted. The index follows on this client's
        # next `setup` (creating it indexes the replayed records too).
        pipe.set(keys.embedder(ns), f"{model}|{dims}", nx=True)

    async def _backfill_ids(self, ns: str) -> None:
        """List the memories a namespace held before it kept a list of ids (the dedup hash
        names every one of them), once; stale ids are skipped by `page`."""
        with TRANSLATE:
            if await self._r.exists(keys.memory_ids(ns)):
                return
            ids = await self._r.hvals(keys.content_hashes(ns))
            if ids:
                await self._r.zadd(keys.memory_ids(ns), dict.fromkeys(ids, 0))

    def forget_namespace(self, ns: str) -> None:
        """The namespace was erased: its index must be created again on the next use."""
        self._ready.discard(ns)
        self._vectors.pop(ns, None)

    def can_queue(self, name: str) -> bool:
        """Whether the write `name` has a pipelined form here (`_q_` + name) that needs no
        read first: without the Query Engine, a delete or an update reads the memory's index
        terms, so a replay runs it whole."""
        return self.indexed or name not in ("delete", "update")

    async def _add_field(self, ns: str, name: str, kind: str) -> None:
        """Add a field to an index made by an earlier version. Documents without the field
        need no re-indexing: the field is only ever set by a later write."""
        try:
            with TRANSLATE:
                await self._r.execute_command(
                    "FT.ALTER", keys.memory_index(ns, INDEX_VERSION), "SCHEMA", "ADD", name, kind
                )
        except Exception as exc:
            if "duplicate" not in str(exc).lower():
                raise

    async def find_existing(
        self, ns: str, hashes: Sequence[str], vectors: Sequence[bytes], scope: Filters
    ) -> tuple[list[str | None], list[tuple[str, float, float] | None]]:
        """For each item: the memory stored under its content hash if it still exists, and
        its nearest live neighbour in `scope` as (id, cosine similarity, importance). One
        round trip with the Query Engine; two on plain Redis (neighbours, then their fields)."""
        pipe = self._r.pipeline(transaction=False)
        pipe.eval(LIVE_HASHES, 1, keys.content_hashes(ns), keys.memory_prefix(ns), *hashes)
        scan = not self.indexed and not self._caps.vector_sets
        if scan:
            pipe.get(keys.vector_generation(ns))
        for vector in vectors:
            if self.indexed:
                self._knn(pipe, ns, scope, vector, 1, ("importance",))
            elif not scan:
                pipe.execute_command(
                    "VSIM", keys.vectors(ns), "FP32", vector, "COUNT", NEAR_POOL, "WITHSCORES"
                )
        with TRANSLATE:
            replies = await pipe.execute()
        exact = [None if v is None else text(v) for v in replies[0]]
        if scan:
            matrix = await self._scan_matrix(ns, replies[1])
            pools = [dict(matrix.nearest(vector, NEAR_POOL)) for vector in vectors]
            return exact, await self._nearest_plain(ns, scope, vectors, pools)
        if not self.indexed:
            pools = [{text(k): 2 * float(v) - 1 for k, v in (r or {}).items()} for r in replies[1:]]
            return exact, await self._nearest_plain(ns, scope, vectors, pools)
        nearest: list[tuple[str, float, float] | None] = []
        for reply in replies[1:]:
            results = reply[b"results"]
            if not results:
                nearest.append(None)
                continue
            attrs = results[0][b"extra_attributes"]
            if not attrs:  # expired after the index listed it
                nearest.append(None)
                continue
            memory_id = text(results[0][b"id"]).rsplit(":", 1)[1]
            sim = 1.0 - float(attrs[b"dist"])
            nearest.append((memory_id, sim, float(attrs.get(b"importance", 0.5))))
        return exact, nearest

    async def _nearest_plain(
        self, ns: str, scope: Filters, vectors: Sequence[bytes], pools: Sequence[dict[str, float]]
    ) -> list[tuple[str, float, float] | None]:
        """The best live neighbour in `scope` of each pool (id -> cosine similarity, from a
        vector set or the exact scan): those hold the vectors of expired and evicted memories
        too, and know nothing of the filters."""
        ids = list(dict.fromkeys(i for pool in pools for i in pool))
        pipe = self._r.pipeline(transaction=False)
        for memory_id in ids:
            pipe.hmget(keys.memory(ns, memory_id), list(FILTER_FIELDS))
        with TRANSLATE:
            rows = dict(zip(ids, await pipe.execute(), strict=True)) if ids else {}
        out: list[tuple[str, float, float] | None] = []
        for vector, pool in zip(vectors, pools, strict=True):
            best = None
            for memory_id, sim in pool.items():
                row = _present(dict(zip(FILTER_FIELDS, rows[memory_id], strict=True)))
                if "kind" in row and scope.matches(decode_row(row)):
                    best = (memory_id, sim, float(row.get("importance", 0.5)))
                    break
            if best is None and len(pool) == NEAR_POOL:  # all out of scope: look further
                found = await self._search_plain(ns, scope, vector, (), 1)
                best = next(
                    ((i, c.similarity or 0.0, c.importance) for i, c in found.items()), None
                )
            out.append(best)
        return out

    async def put(self, ns: str, rows: Sequence[tuple[str, Row, int | None]]) -> None:
        """Store records (id, fields incl. ``embedding`` and ``hash``, ttl ms) atomically."""
        pipe = self._r.pipeline(transaction=True)
        self._q_put(pipe, ns, rows)
        with TRANSLATE:
            await pipe.execute()

    def _q_put(self, pipe: Any, ns: str, rows: Sequence[tuple[str, Row, int | None]]) -> None:
        """Queue the commands of `put` on `pipe` (for a write that also does other things)."""
        hashes, expiring = {}, []
        for memory_id, fields, ttl_ms in rows:
            key = keys.memory(ns, memory_id)
            pipe.hset(key, mapping=fields)
            if ttl_ms is not None:
                pipe.pexpire(key, ttl_ms)
                expiring.append((fields["hash"], ttl_ms))
            hashes[fields["hash"]] = memory_id
            pipe.zadd(keys.memory_ids(ns), {memory_id: 0})
            if not self.indexed:
                self._index_plain(pipe, ns, memory_id, fields)
        pipe.hset(keys.content_hashes(ns), mapping=hashes)
        if field_ttl(self._caps.server_version):
            # The dedup entry dies with its memory (a lookup also drops one that outlived it).
            for digest, ttl_ms in expiring:
                pipe.hpexpire(keys.content_hashes(ns), ttl_ms, digest)

    def _index_plain(
        self, pipe: Any, ns: str, memory_id: str, fields: Mapping[str, Any], old: Any = None
    ) -> None:
        """Queue what the Query Engine would index: the vector, and one posting per term
        (moving the old terms' postings when `old`, the memory's term list, is given)."""
        if "embedding" in fields:
            if self._caps.vector_sets:
                pipe.execute_command(
                    "VADD", keys.vectors(ns), "FP32", fields["embedding"], memory_id
                )
            else:
                pipe.hset(keys.vector_hash(ns), memory_id, fields["embedding"])
                pipe.incr(keys.vector_generation(ns))
        if "content" in fields:
            for term in text(old or b"").split(","):
                if term:
                    pipe.zrem(keys.term(ns, term), memory_id)
            weights = lexical.term_weights(f"{text(fields['content'])} {fields.get('when', '')}")
            for term, weight in weights.items():
                pipe.zadd(keys.term(ns, term), {memory_id: weight})
            pipe.hset(keys.memory_terms(ns), memory_id, ",".join(weights))

    async def reinforce(
        self,
        ns: str,
        items: Sequence[tuple[str, float]],
        now_ms: int,
        write_id: str | None = None,
    ) -> None:
        """Count a repeated memory: access_count + 1; importance rises to the new value.
        `write_id` names the write: a retry of it counts nothing again."""
        pipe = self._r.pipeline(transaction=False)
        self._q_reinforce(pipe, ns, items, now_ms, write_id)
        with TRANSLATE:
            await pipe.execute()

    def _q_reinforce(
        self,
        pipe: Any,
        ns: str,
        items: Sequence[tuple[str, float]],
        now_ms: int,
        write_id: str | None = None,
    ) -> None:
        counts, seen, applied = keys.access_counts(ns), keys.last_accessed(ns), keys.applied(ns)
        write_id = write_id or new_id()
        for i, (memory_id, importance) in enumerate(items):
            # EVAL rather than EVALSHA: a rare path, and the script is small.
            pipe.eval(
                REINFORCE, 4, keys.memory(ns, memory_id), counts, seen, applied, memory_id,
                importance, now_ms, f"{write_id}/{i}",
            )  # fmt: skip

    async def search(
        self, ns: str, scope: Filters, vector: bytes, terms: Sequence[str], n: int
    ) -> dict[str, Candidate]:
        """Up to `n` nearest memories in `scope` and up to `n` in `scope` with the best
        full-text relevance for `terms` (the query's words, stop words dropped), with what
        ranking needs. One round trip with the Query Engine; two without."""
        if not self.indexed:
            return await self._search_plain(ns, scope, vector, terms, n)
        pipe = self._r.pipeline(transaction=False)
        self._knn(pipe, ns, scope, vector, n, RANKING_FIELDS)
        if terms:
            # BM25 over the whole namespace: the Query Engine stems both sides alike.
            # With the vector, so a text match is also ranked by its similarity.
            pipe.execute_command(
                "FT.SEARCH", keys.memory_index(ns, INDEX_VERSION), scope.text_query(terms),
                "SCORER", "BM25STD", "WITHSCORES", "RETURN", len(RANKING_FIELDS) + 1,
                *RANKING_FIELDS, "embedding", "LIMIT", 0, n, "DIALECT", 2,
            )  # fmt: skip
        with TRANSLATE:
            replies = await pipe.execute()
        out: dict[str, Candidate] = {}
        for result in replies[0][b"results"]:
            attrs = result[b"extra_attributes"]
            if not attrs:
                continue  # expired after the index listed it: the engine found no fields
            out[_memory_id(result)] = _ranked(attrs, 1.0 - float(attrs[b"dist"]), None)
        if terms:
            for result in replies[1][b"results"]:
                if not result[b"extra_attributes"]:
                    continue  # expired, as above
                memory_id = _memory_id(result)
                score = float(result[b"score"])
                known = out.get(memory_id)
                if known is None:
                    attrs = result[b"extra_attributes"]
                    sim = cosine(vector, attrs.get(b"embedding"))
                    out[memory_id] = _ranked(attrs, sim, score)
                else:
                    out[memory_id] = known._replace(relevance=score)
        return out

    def _knn(
        self, pipe: Any, ns: str, scope: Filters, vector: bytes, n: int, fields: Sequence[str]
    ) -> None:
        where = scope.compile()
        # The exclusion of superseded memories alone keeps nearly every memory, and for it the
        # engine picks a brute-force scan (measured 5x slower at 20k); filtering the graph's
        # neighbours in batches costs what no filter does.
        policy = "" if where == "*" or scope.narrows else " HYBRID_POLICY BATCHES"
        query = f"({where})=>[KNN {n} @embedding $vec{policy} EF_RUNTIME {EF_RUNTIME} AS dist]"
        pipe.execute_command(
            "FT.SEARCH", keys.memory_index(ns, INDEX_VERSION), query, "PARAMS", 2, "vec", vector,
            "SORTBY", "dist", "RETURN", len(fields) + 1, *fields, "dist",
            "LIMIT", 0, n, "DIALECT", 2,
        )  # fmt: skip

    async def _search_plain(
        self, ns: str, scope: Filters, vector: bytes, terms: Sequence[str], n: int
    ) -> dict[str, Candidate]:
        # Filters run here, after both searches: ask for more when there are any, and again
        # (4x wider) while the scope leaves fewer than `n` neighbours and the set has more.
        everything = Filters(include_superseded=True)
        unfiltered = scope == everything
        wide = n if scope in (Filters(), everything) else max(n * 8, 200)
        stems = lexical.query_terms(terms)
        wanted = list(dict.fromkeys((*RANKING_FIELDS, *FILTER_FIELDS, "embedding")))
        scan = not self._caps.vector_sets
        while True:
            pipe = self._r.pipeline(transaction=False)
            if scan:
                pipe.get(keys.vector_generation(ns))
            else:
                pipe.execute_command(
                    "VSIM", keys.vectors(ns), "FP32", vector, "COUNT", wide, "WITHSCORES"
                )
            pipe.hlen(keys.memory_terms(ns))
            for term in stems:
                pipe.zcard(keys.term(ns, term))
                pipe.zrange(
                    keys.term(ns, term), 0, POSTINGS_PER_TERM - 1, desc=True, withscores=True
                )
            with TRANSLATE:
                replies = await pipe.execute()
            if scan:
                near = dict((await self._scan_matrix(ns, replies[0])).nearest(vector, wide))
            else:
                near = {text(k): 2 * float(v) - 1 for k, v in (replies[0] or {}).items()}
            relevance = lexical.bm25(
                [{text(m): float(w) for m, w in r} for r in replies[3::2]],
                [int(c) for c in replies[2::2]],
                int(replies[1]),
            )
            best = sorted(relevance, key=relevance.__getitem__, reverse=True)[:wide]
            ids = list(dict.fromkeys([*near, *best]))
            pipe = self._r.pipeline(transaction=False)
            for memory_id in ids:
                pipe.hmget(keys.memory(ns, memory_id), wanted)
            with TRANSLATE:
                rows = await pipe.execute()
            out: dict[str, Candidate] = {}
            by_vector = by_text = 0
            for memory_id, values in zip(ids, rows, strict=True):
                if values[0] is None:
                    continue  # expired or forgotten since it was indexed
                row = _present(dict(zip(wanted, values, strict=True)))
                if not unfiltered and not scope.matches(decode_row(row)):
                    continue
                sim, score = near.get(memory_id), relevance.get(memory_id)
                if sim is None:
                    sim = cosine(vector, row["embedding"])
                keep_vector = memory_id in near and by_vector < n
                keep_text = score is not None and memory_id in best and by_text < n
                if keep_vector or keep_text:
                    by_vector += keep_vector
                    by_text += keep_text
                    out[memory_id] = _candidate(row, sim, score)
            if by_vector >= n or len(near) < wide or wide >= PLAIN_MAX_CANDIDATES:
                return out
            wide = min(wide * 4, PLAIN_MAX_CANDIDATES)

    async def _scan_matrix(self, ns: str, generation: Any) -> _Vectors:
        """The namespace's vectors as of `generation` (re-read only when it moved on)."""
        gen = int(generation or 0)
        cached = self._vectors.get(ns)
        if cached is not None and cached.gen == gen:
            return cached
        with TRANSLATE:
            pipe = self._r.pipeline(transaction=True)
            pipe.get(keys.vector_generation(ns))
            pipe.hgetall(keys.vector_hash(ns))
            gen_now, rows = await pipe.execute()
        matrix = _Vectors(int(gen_now or 0), {text(k): v for k, v in rows.items()})
        self._vectors[ns] = matrix
        return matrix

    async def fetch(
        self, ns: str, ids: Sequence[str], now_ms: int | None = None
    ) -> list[Row | None]:
        """Full records with their access count and last access; with `now_ms`, count this
        as an access first. One pipelined round trip.

        Access statistics live outside the records: any write to an indexed hash makes the
        Query Engine re-index the document, vector included (~1.8 ms each at 100k).
        """
        if not ids:
            return []
        pipe = self._r.pipeline(transaction=False)
        counts, seen = keys.access_counts(ns), keys.last_accessed(ns)
        for memory_id in ids:
            pipe.hmget(keys.memory(ns, memory_id), list(FIELDS))
        if now_ms is not None:
            for memory_id in ids:
                pipe.hincrby(counts, memory_id, 1)
            pipe.hset(seen, mapping=dict.fromkeys(ids, now_ms))
        pipe.hmget(counts, list(ids))
        pipe.hmget(seen, list(ids))
        with TRANSLATE:
            replies = await pipe.execute()
        out: list[Row | None] = []
        for values, count, when in zip(replies[: len(ids)], replies[-2], replies[-1], strict=True):
            if values[0] is None:
                out.append(None)
                continue
            row = {name: v for name, v in zip(FIELDS, values, strict=True) if v is not None}
            row["access_count"] = count or 0
            row["last_accessed"] = when or row.get("created_at", 0)
            out.append(row)
        return out

    async def get(self, ns: str, ids: Sequence[str]) -> list[Row | None]:
        return await self.fetch(ns, ids)

    async def delete(self, ns: str, ids: Sequence[str], hashes: Sequence[str]) -> int:
        """Delete memories and their dedup entries (read from the records themselves, so an
        id whose record the caller never saw is deleted whole); returns how many existed."""
        if not ids:
            return 0
        old = await self._terms_of(ns, ids)
        pipe = self._r.pipeline(transaction=True)
        self._q_delete(pipe, ns, ids, hashes, old)
        with TRANSLATE:
            replies = await pipe.execute()
        return int(replies[0])

    def _q_delete(
        self,
        pipe: Any,
        ns: str,
        ids: Sequence[str],
        hashes: Sequence[str],
        old: Sequence[Any] | None = None,
    ) -> None:
        """Queue a delete; without the Query Engine `old` (the memories' index terms, from
        `_terms_of`) says which postings to remove, so a replay runs `delete` itself."""
        shared = (keys.content_hashes(ns), keys.access_counts(ns), keys.last_accessed(ns))
        records = [keys.memory(ns, memory_id) for memory_id in ids]
        pipe.eval(MEMORY_DELETE, 3 + len(ids), *shared, *records, *ids)
        pipe.zrem(keys.memory_ids(ns), *ids)
        if not self.indexed:
            for memory_id, terms in zip(ids, old or [None] * len(ids), strict=True):
                for term in text(terms or b"").split(","):
                    if term:
                        pipe.zrem(keys.term(ns, term), memory_id)
                if self._caps.vector_sets:
                    pipe.execute_command("VREM", keys.vectors(ns), memory_id)
            pipe.hdel(keys.memory_terms(ns), *ids)
            if not self._caps.vector_sets:
                pipe.hdel(keys.vector_hash(ns), *ids)
                pipe.incr(keys.vector_generation(ns))

    async def update(
        self,
        ns: str,
        memory_id: str,
        fields: Mapping[str, Any],
        rehash: tuple[str, str] | None = None,
    ) -> None:
        """Change fields of a memory (a None value removes the field); `rehash` moves its
        dedup entry (old hash, new hash)."""
        old = await self._terms_of(ns, [memory_id]) if not self.indexed else [None]
        pipe = self._r.pipeline(transaction=True)
        self._q_update(pipe, ns, memory_id, fields, rehash, old[0])
        with TRANSLATE:
            await pipe.execute()

    def _q_update(
        self,
        pipe: Any,
        ns: str,
        memory_id: str,
        fields: Mapping[str, Any],
        rehash: tuple[str, str] | None = None,
        old: Any = None,
    ) -> None:
        """Queue an update; `old` as for `_q_delete`."""
        key = keys.memory(ns, memory_id)
        if kept := {k: v for k, v in fields.items() if v is not None}:
            pipe.hset(key, mapping=kept)
        if gone := [k for k, v in fields.items() if v is None]:
            pipe.hdel(key, *gone)
        if rehash is not None:
            pipe.hdel(keys.content_hashes(ns), rehash[0])
            pipe.hset(keys.content_hashes(ns), rehash[1], memory_id)
        if not self.indexed:
            self._index_plain(pipe, ns, memory_id, fields, old)

    async def _terms_of(self, ns: str, ids: Sequence[str]) -> list[Any]:
        """The index terms of memories (none with the Query Engine, which keeps its own)."""
        if self.indexed or not ids:
            return [None] * len(ids)
        with TRANSLATE:
            terms: list[Any] = await self._r.hmget(keys.memory_terms(ns), list(ids))
        return terms

    # -- skills ------------------------------------------------------------------------------
    async def skill_put(
        self, ns: str, name: str, fields: Mapping[str, Any], ttl_ms: int | None
    ) -> None:
        pipe = self._r.pipeline(transaction=True)
        self._q_skill_put(pipe, ns, name, fields, ttl_ms)
        with TRANSLATE:
            await pipe.execute()

    def _q_skill_put(
        self, pipe: Any, ns: str, name: str, fields: Mapping[str, Any], ttl_ms: int | None
    ) -> None:
        key = keys.skill(ns, name)
        pipe.hset(key, mapping=dict(fields))
        if ttl_ms is not None:
            pipe.pexpire(key, ttl_ms)
        pipe.zadd(keys.skill_names(ns), {name: 0})

    async def skill_get(self, ns: str, names: Sequence[str]) -> list[Row | None]:
        pipe = self._r.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(keys.skill(ns, name))
        with TRANSLATE:
            replies = await pipe.execute()
        return [{text(k): v for k, v in r.items()} if r else None for r in replies]

    async def skill_run(
        self,
        ns: str,
        name: str,
        success: bool,
        duration: float,
        ttl_ms: int | None,
        write_id: str | None = None,
    ) -> bool:
        """Count a run (False if there is no skill); a retry of `write_id` counts nothing."""
        pipe = self._r.pipeline(transaction=False)
        self._q_skill_run(pipe, ns, name, success, duration, ttl_ms, write_id)
        with TRANSLATE:
            found = (await pipe.execute())[0]
        return bool(found)

    def _q_skill_run(
        self,
        pipe: Any,
        ns: str,
        name: str,
        success: bool,
        duration: float,
        ttl_ms: int | None,
        write_id: str | None = None,
    ) -> None:
        pipe.eval(
            SKILL_RUN, 2, keys.skill(ns, name), keys.applied(ns), int(success), duration,
            ttl_ms or 0, write_id or new_id(), clock_ms(),
        )  # fmt: skip

    # -- browsing and moving -------------------------------------------------------------------
    async def page(self, ns: str, after: str | None, limit: int) -> list[tuple[str, Row | None]]:
        """Memory ids after `after` from the id list, with their records (two round trips);
        ids whose record expired are dropped from the list on the way."""
        start = "-" if after is None else f"({after}"
        with TRANSLATE:
            found = await self._r.zrange(
                keys.memory_ids(ns), start, "+", bylex=True, offset=0, num=limit
            )
        ids = [text(i) for i in found]
        if not ids:
            return []
        pipe = self._r.pipeline(transaction=False)
        for memory_id in ids:
            pipe.hmget(keys.memory(ns, memory_id), list(EXPORT_FIELDS))
            pipe.pexpiretime(keys.memory(ns, memory_id))
        pipe.hmget(keys.access_counts(ns), ids)
        pipe.hmget(keys.last_accessed(ns), ids)
        with TRANSLATE:
            replies = await pipe.execute()
        out: list[tuple[str, Row | None]] = []
        stale = []
        for i, memory_id in enumerate(ids):
            values, expires = replies[2 * i], replies[2 * i + 1]
            if values[0] is None:
                stale.append(memory_id)
                out.append((memory_id, None))
                continue
            row = {n: v for n, v in zip(EXPORT_FIELDS, values, strict=True) if v is not None}
            row["access_count"] = replies[-2][i] or 0
            row["last_accessed"] = replies[-1][i] or row.get("created_at", 0)
            row["expires_at"] = None if expires < 0 else int(expires)
            out.append((memory_id, row))
        if stale:
            with TRANSLATE:
                await self._r.zrem(keys.memory_ids(ns), *stale)
        return out

    async def load(self, ns: str, rows: Sequence[tuple[str, Row, int | None]]) -> None:
        """Records exactly as exported, replacing any with the same id, in one transaction."""
        old = await self._terms_of(ns, [memory_id for memory_id, _, _ in rows])
        pipe = self._r.pipeline(transaction=True)
        for (memory_id, fields, expires_at), terms in zip(rows, old, strict=True):
            key = keys.memory(ns, memory_id)
            record = {k: v for k, v in fields.items() if k not in _STATISTICS}
            pipe.delete(key)
            pipe.hset(key, mapping=record)
            if expires_at is not None:
                pipe.pexpireat(key, expires_at)
            pipe.zadd(keys.memory_ids(ns), {memory_id: 0})
            pipe.hset(keys.content_hashes(ns), record["hash"], memory_id)
            pipe.hset(keys.access_counts(ns), memory_id, int(fields.get("access_count", 0)))
            pipe.hset(keys.last_accessed(ns), memory_id, int(fields.get("last_accessed", 0)))
            if not self.indexed:
                self._index_plain(pipe, ns, memory_id, record, terms)
        with TRANSLATE:
            await pipe.execute()

    async def skill_names(self, ns: str, after: str | None, limit: int) -> list[str]:
        start = "-" if after is None else f"({after}"
        with TRANSLATE:
            names = await self._r.zrange(
                keys.skill_names(ns), start, "+", bylex=True, offset=0, num=limit
            )
        return [text(n) for n in names]

    async def skill_delete(self, ns: str, names: Sequence[str]) -> int:
        if not names:
            return 0
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(*(keys.skill(ns, name) for name in names))
        pipe.zrem(keys.skill_names(ns), *names)
        with TRANSLATE:
            replies = await pipe.execute()
        return int(replies[0])


_STATISTICS = frozenset({"access_count", "last_accessed", "expires_at"})


def field_ttl(version: str) -> bool:
    """Whether a server expires single hash fields (HPEXPIRE: Redis 7.4 and later)."""
    parts = version.split(".")
    try:
        return (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0) >= (7, 4)
    except ValueError:
        return False


def _present(row: dict[str, Any]) -> Row:
    """The fields a record has (HMGET answers None for the others)."""
    return {k: v for k, v in row.items() if v is not None}


class _Vectors:
    """A namespace's vectors as of one write count, for an exact cosine scan."""

    def __init__(self, gen: int, rows: Mapping[str, bytes]) -> None:
        import numpy as np  # only here: importing the package must not load numpy

        self.gen = gen
        self.ids = list(rows)
        flat = np.frombuffer(b"".join(rows.values()), np.float32)
        matrix = flat.reshape(len(rows), -1) if rows else flat.reshape(0, 0)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self.unit: numpy.ndarray = np.divide(
            matrix, norms, out=np.zeros_like(matrix), where=norms > 0
        )

    def nearest(self, vector: bytes, n: int) -> list[tuple[str, float]]:
        import numpy as np

        if not self.ids:
            return []
        query = np.frombuffer(vector, np.float32)
        sims = self.unit @ (query / (float(np.linalg.norm(query)) or 1.0))
        top = np.argpartition(-sims, n - 1)[:n] if len(sims) > n else np.arange(len(sims))
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(self.ids[i], float(sims[i])) for i in top]


def _candidate(
    row: Mapping[str, Any], similarity: float | None, relevance: float | None = None
) -> Candidate:
    return Candidate(
        similarity,
        text(row["content"]),
        int(float(row.get("occurred_at") or 0)),
        float(row.get("importance") or 0.5),
        relevance,
    )


def _memory_id(result: Mapping[bytes, Any]) -> str:
    key: bytes = result[b"id"]
    return key[key.rindex(b":") + 1 :].decode()


def _ranked(
    attrs: Mapping[bytes, Any], similarity: float | None, relevance: float | None
) -> Candidate:
    """A candidate straight from a search reply's attributes (the hot path: no dict)."""
    return Candidate(
        similarity,
        attrs[b"content"].decode(),
        int(attrs.get(b"occurred_at", 0)),
        float(attrs.get(b"importance", 0.5)),
        relevance,
    )
