"""Long-term memory on Redis: records as hashes, found by the Query Engine where it is loaded
(HNSW vectors + BM25 full text + tag/numeric filters). Without it, the library keeps the text
index itself (postings per stemmed term, written in the record's own transaction) and finds
vectors in a Redis 8 vector set, or, on an older server, by an exact scan of the namespace's
vectors held in this process."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from redis.asyncio.cluster import RedisCluster

from aether_memory.backends.redis._async.replicated import unwrapped
from aether_memory.backends.redis.errors import TRANSLATE
from aether_memory.backends.redis.notes import q_note, q_note_record
from aether_memory.backends.redis.scripts import (
    FEED_SCRUB,
    MEMORY_DELETE,
    PASS_CLAIM,
    PASS_RELEASE,
    RECOUNT_TERMS,
    REINFORCE,
    SKILL_RUN,
)
from aether_memory.core import keys
from aether_memory.core import text as lexical
from aether_memory.core.errors import ConfigurationError
from aether_memory.core.feed import memory_kind, update_op
from aether_memory.core.ids import new_id
from aether_memory.core.ids import now_ms as clock_ms
from aether_memory.core.lifecycle import row_size
from aether_memory.core.query import Filters
from aether_memory.core.ranking import cosine, cosines
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
# The postings the engine may score for one recall's full-text query: each term costs a scan
# of every memory holding it (~40,000 postings took 6 ms at 100k), so in a namespace larger
# than this the commonest words (they tell memories apart least) are left out first.
TEXT_BUDGET = 5000
KNOWN_TERMS = 20_000  # term counts kept per namespace between searches (~3 MB at most)
_TAG_FIELDS = ("kind", "agent", "session", "tags", "source")

# KEYS: the content-hash map, then the memory keys the map names.  ARGV: per memory key, its
# content hash and id.  Returns per memory whether it exists; the map's entry of one that
# expired or was evicted is removed (unless it names another memory by now).
DROP_DEAD_HASHES = """
local out = {}
for i = 2, #KEYS do
  local h, id = ARGV[2 * i - 3], ARGV[2 * i - 2]
  local alive = redis.call('EXISTS', KEYS[i])
  if alive == 0 and redis.call('HGET', KEYS[1], h) == id then redis.call('HDEL', KEYS[1], h) end
  out[i - 1] = alive
end
return out
"""

# KEYS: the access-count map, the last-accessed map, then one memory key per id.
# ARGV: now ms, the number of fields, the fields, then the ids (in KEYS' order).
# Per memory: {its fields' values, its access count, its last access}, each access counted
# first; a memory that does not exist is not counted (its values are all false).
# One command instead of a command per memory and per statistic: on a recall, the client's
# time packing and parsing them was most of the second round trip.
FETCH_TOUCH = """
local fields = {unpack(ARGV, 3, 2 + tonumber(ARGV[2]))}
local out = {}
for i = 3, #KEYS do
  local id = ARGV[#fields + i]
  local values = redis.call('HMGET', KEYS[i], unpack(fields))
  local count = false
  if values[1] then
    count = redis.call('HINCRBY', KEYS[1], id, 1)
    redis.call('HSET', KEYS[2], id, ARGV[1])
  end
  out[i - 2] = {values, count}
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
        self._sizes: dict[str, int] = {}  # counted memories per namespace, as last read
        # Each namespace's term counts (by term id) as the last search that used them read
        # them: the text budget is chosen from them without a round trip of its own.
        self._costs: dict[str, dict[str, int]] = {}

    @property
    def indexed(self) -> bool:
        return self._caps.search

    def _on_shard(self, ns: str) -> dict[str, Any]:
        """Sends a Query Engine command to the shard of namespace `ns` on a cluster: the
        index lives there, and redis-py's async cluster pipeline cannot tell which key an
        ``FT.*`` command names (it would pick any node, and be sent elsewhere with MOVED)."""
        if not isinstance(unwrapped(self._r), RedisCluster):
            return {}
        cluster: Any = self._r  # the sync client's methods are untyped
        return {"target_nodes": cluster.get_node_from_key(keys.namespace_tag(ns))}

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
                        **self._on_shard(ns),
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
        self._sizes.pop(ns, None)
        self._costs.pop(ns, None)

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
                    "FT.ALTER",
                    keys.memory_index(ns, INDEX_VERSION),
                    "SCHEMA",
                    "ADD",
                    name,
                    kind,
                    **self._on_shard(ns),
                )
        except Exception as exc:
            if "duplicate" not in str(exc).lower():
                raise

    async def _live(self, ns: str, hashes: Sequence[str], found: Sequence[Any]) -> list[str | None]:
        """The ids the content-hash map gave, each kept only if its memory still exists (a
        second round trip, only when the map named any)."""
        ids = [None if v is None else text(v) for v in found]
        named = sorted({(h, i) for h, i in zip(hashes, ids, strict=True) if i is not None})
        if not named:
            return ids
        with TRANSLATE:
            alive = await self._r.execute_command(
                "EVAL", DROP_DEAD_HASHES, 1 + len(named), keys.content_hashes(ns),
                *(keys.memory(ns, i) for _, i in named), *(x for pair in named for x in pair),
            )  # fmt: skip
        live = {i for (_, i), flag in zip(named, alive, strict=True) if int(flag)}
        return [i if i in live else None for i in ids]

    async def find_existing(
        self, ns: str, hashes: Sequence[str], vectors: Sequence[bytes], scope: Filters
    ) -> tuple[list[str | None], list[tuple[str, float, float] | None]]:
        """For each item: the memory stored under its content hash if it still exists, and
        its nearest live neighbour in `scope` as (id, cosine similarity, importance). One
        round trip with the Query Engine; two on plain Redis (neighbours, then their fields)."""
        pipe = self._r.pipeline(transaction=False)
        pipe.hmget(keys.content_hashes(ns), list(hashes))
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
        exact = await self._live(ns, hashes, replies[0])
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
            pipe.hset(key, mapping=self._q_count_terms(pipe, ns, key, fields))
            if ttl_ms is not None:
                pipe.pexpire(key, ttl_ms)
                expiring.append((fields["hash"], ttl_ms))
            hashes[fields["hash"]] = memory_id
            pipe.zadd(keys.memory_ids(ns), {memory_id: 0})
            if not self.indexed:
                self._index_plain(pipe, ns, memory_id, fields)
            kind = memory_kind(text(fields.get("kind", "")))
            q_note(pipe, ns, text(fields.get("agent", "")), kind, memory_id, "remembered")
        pipe.hset(keys.content_hashes(ns), mapping=hashes)
        self._q_usage(pipe, ns, len(rows), sum(row_size(fields) for _, fields, _ in rows))
        if field_ttl(self._caps.server_version):
            # The dedup entry dies with its memory (a lookup also drops one that outlived it).
            for digest, ttl_ms in expiring:
                pipe.hpexpire(keys.content_hashes(ns), ttl_ms, digest)

    def _q_count_terms(
        self, pipe: Any, ns: str, key: str, fields: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """Queue the recount of a memory's index terms for the Query Engine's full-text
        budget; returns `fields` with the terms (`tc`) to write, so a delete can subtract
        them. Terms are counted under a digest, never in words; a deleted memory's counts go
        with it (`MEMORY_DELETE`), an expired one's stay (which only makes the estimate a
        little high)."""
        if not self.indexed or fields.get("content") is None:
            return fields
        terms = ",".join(_term_id(t) for t in lexical.term_weights(_index_text(fields)))
        pipe.execute_command("EVAL", RECOUNT_TERMS, 2, keys.term_counts(ns), key, terms)
        return {**fields, "tc": terms}

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
            weights = lexical.term_weights(_index_text(fields))
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
            pipe.execute_command(
                "EVAL", REINFORCE, 4, keys.memory(ns, memory_id), counts, seen, applied, memory_id,
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
        ids = [_term_id(lexical.stem(t)) for t in terms]
        if terms and self._sizes.get(ns, TEXT_BUDGET + 1) > TEXT_BUDGET:
            terms = await self._affordable(ns, terms, ids)
        pipe = self._r.pipeline(transaction=False)
        history = scope.include_superseded
        self._knn(pipe, ns, scope, vector, n, RANKING_FIELDS)
        # The namespace's size and the query's term counts, for the next recall's budget.
        pipe.hmget(keys.term_counts(ns), ["*", *ids])
        if terms:
            # BM25 over the whole namespace: the Query Engine stems both sides alike.
            # With the vector, so a text match is also ranked by its similarity.
            pipe.execute_command(
                "FT.SEARCH", keys.memory_index(ns, INDEX_VERSION), scope.text_query(terms),
                "SCORER", "BM25STD", "WITHSCORES", "RETURN", len(RANKING_FIELDS) + 2,
                *RANKING_FIELDS, "embedding", "superseded_at", "LIMIT", 0, n, "DIALECT", 2,
                **self._on_shard(ns),
            )  # fmt: skip
        with TRANSLATE:
            replies = await pipe.execute()
        self._learn(ns, ids, replies[1])
        out: dict[str, Candidate] = {}
        for result in replies[0][b"results"]:
            attrs = result[b"extra_attributes"]
            if not attrs:
                continue  # expired after the index listed it: the engine found no fields
            out[_memory_id(result)] = _ranked(attrs, 1.0 - float(attrs[b"dist"]), None)
        if terms:
            unseen = []  # text matches the vector search did not return
            for result in replies[2][b"results"]:
                attrs = result[b"extra_attributes"]
                if not attrs:
                    continue  # expired, as above
                if b"superseded_at" in attrs and not history:
                    continue  # history, left out here rather than in the query (text_query)
                memory_id = _memory_id(result)
                score = float(result[b"score"])
                known = out.get(memory_id)
                if known is None:
                    unseen.append((memory_id, attrs, score))
                else:
                    out[memory_id] = known._replace(relevance=score)
            sims = cosines(vector, [attrs.get(b"embedding") for _, attrs, _ in unseen])
            for (memory_id, attrs, score), sim in zip(unseen, sims, strict=True):
                out[memory_id] = _ranked(attrs, sim, score)
        return out

    async def _affordable(self, ns: str, terms: Sequence[str], ids: Sequence[str]) -> Sequence[str]:
        """The query's words whose postings fit `TEXT_BUDGET`, rarest first (all of them in
        a namespace that holds no more memories than the budget). Counts a previous search
        read serve; a word not seen yet costs a round trip to count it."""
        known = self._costs.get(ns, {})
        if any(i not in known for i in ids):
            with TRANSLATE:
                counts = await self._r.hmget(keys.term_counts(ns), ["*", *ids])
            self._learn(ns, ids, counts)
            if self._sizes[ns] <= TEXT_BUDGET:
                return terms
            known = self._costs[ns]
        cost = {t: known[i] for t, i in zip(terms, ids, strict=True)}
        keep, spent = set(), 0
        for term in sorted(terms, key=cost.__getitem__):
            if spent + cost[term] > TEXT_BUDGET:
                break
            keep.add(term)
            spent += cost[term]
        return [t for t in terms if t in keep]

    def _learn(self, ns: str, ids: Sequence[str], counts: Sequence[Any]) -> None:
        """Keep the namespace's size and term counts as `HMGET *, *ids` read them."""
        self._sizes[ns] = int(counts[0] or 0)
        known = self._costs.setdefault(ns, {})
        if len(known) + len(ids) > KNOWN_TERMS:
            known.clear()  # a cache, not a copy of the vocabulary
        known.update((i, int(c or 0)) for i, c in zip(ids, counts[1:], strict=True))

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
            "LIMIT", 0, n, "DIALECT", 2, **self._on_shard(ns),
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
        as an access first. One round trip (with `now_ms`, one script).

        Access statistics live outside the records: any write to an indexed hash makes the
        Query Engine re-index the document, vector included (~1.8 ms each at 100k).
        """
        if not ids:
            return []
        if now_ms is not None:
            return await self._fetch_touch(ns, ids, now_ms)
        counts, seen = keys.access_counts(ns), keys.last_accessed(ns)
        pipe = self._r.pipeline(transaction=False)
        for memory_id in ids:
            pipe.hmget(keys.memory(ns, memory_id), list(FIELDS))
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

    async def _fetch_touch(self, ns: str, ids: Sequence[str], now_ms: int) -> list[Row | None]:
        records = [keys.memory(ns, memory_id) for memory_id in ids]
        with TRANSLATE:
            replies = await self._r.eval(
                FETCH_TOUCH, 2 + len(ids), keys.access_counts(ns), keys.last_accessed(ns),
                *records, now_ms, len(FIELDS), *FIELDS, *ids,
            )  # fmt: skip
        out: list[Row | None] = []
        for values, count in replies:
            if values[0] is None:
                out.append(None)
                continue
            row = {name: v for name, v in zip(FIELDS, values, strict=True) if v is not None}
            row["access_count"] = count
            row["last_accessed"] = now_ms
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
        return int(replies[len(ids)])

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
        shared = (
            keys.content_hashes(ns), keys.access_counts(ns), keys.last_accessed(ns),
            keys.term_counts(ns),
        )  # fmt: skip
        records = [keys.memory(ns, memory_id) for memory_id in ids]
        for memory_id, record in zip(ids, records, strict=True):  # told before it is gone
            q_note_record(pipe, record, ns, "", memory_id, "forgotten")
        pipe.execute_command("EVAL", MEMORY_DELETE, len(shared) + len(ids), *shared, *records, *ids)
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
        q_note_record(pipe, key, ns, "", memory_id, update_op(dict(fields)))
        fields = self._q_count_terms(pipe, ns, key, fields)
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

    # -- the shared count of hot memories (the hot budget's) ----------------------------------
    def _q_usage(self, pipe: Any, ns: str, count: int, size: int) -> None:
        """Queue a change of the namespace's count (every write that adds memories queues
        one in its own transaction)."""
        if count or size:
            pipe.hincrby(keys.usage(ns), "count", count)
            pipe.hincrby(keys.usage(ns), "bytes", size)

    async def usage(self, ns: str) -> tuple[int, int] | None:
        """The namespace's hot memories and their bytes as counted by every writer (None
        before anything was counted)."""
        with TRANSLATE:
            count, size = await self._r.hmget(keys.usage(ns), ["count", "bytes"])
        return None if count is None else (int(count), int(size or 0))

    async def add_usage(self, ns: str, count: int, size: int) -> None:
        """Correct the count by these amounts (a pass that measured the namespace)."""
        pipe = self._r.pipeline(transaction=True)
        self._q_usage(pipe, ns, count, size)
        with TRANSLATE:
            await pipe.execute()

    async def pass_claim(self, ns: str, owner: str, ttl_ms: int) -> bool:
        """Claim (or renew) the namespace's budget pass for `owner`; False if another
        owner holds it."""
        with TRANSLATE:
            held = await self._r.execute_command(
                "EVAL", PASS_CLAIM, 1, keys.usage(ns), owner, ttl_ms, clock_ms()
            )
        return bool(held)

    async def pass_release(self, ns: str, owner: str) -> None:
        with TRANSLATE:
            await self._r.execute_command("EVAL", PASS_RELEASE, 1, keys.usage(ns), owner)

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
        q_note(pipe, ns, "", "skill", name, "saved")

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
        pipe = self._r.pipeline(transaction=True)
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
        pipe.execute_command(
            "EVAL", SKILL_RUN, 2, keys.skill(ns, name), keys.applied(ns), int(success), duration,
            ttl_ms or 0, write_id or new_id(), clock_ms(),
        )  # fmt: skip
        q_note_record(pipe, keys.skill(ns, name), ns, "skill_run", name, "ran")

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
            counted = self._q_count_terms(pipe, ns, key, record)  # before the old one goes
            pipe.delete(key)
            pipe.hset(key, mapping=counted)
            if expires_at is not None:
                pipe.pexpireat(key, expires_at)
            pipe.zadd(keys.memory_ids(ns), {memory_id: 0})
            pipe.hset(keys.content_hashes(ns), record["hash"], memory_id)
            pipe.hset(keys.access_counts(ns), memory_id, int(fields.get("access_count", 0)))
            pipe.hset(keys.last_accessed(ns), memory_id, int(fields.get("last_accessed", 0)))
            if not self.indexed:
                self._index_plain(pipe, ns, memory_id, record, terms)
        self._q_usage(pipe, ns, len(rows), sum(row_size(fields) for _, fields, _ in rows))
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
        pipe.execute_command("DEL", *(keys.skill(ns, name) for name in names))
        pipe.zrem(keys.skill_names(ns), *names)
        pipe.execute_command("EVAL", FEED_SCRUB, 1, keys.feed(ns), "", *names)  # notes too
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


def _term_id(stem: str) -> str:
    """The name a term is counted under: a short digest, so no word is stored in the clear."""
    return hashlib.blake2b(stem.encode(), digest_size=6).hexdigest()


def _index_text(fields: Mapping[str, Any]) -> str:
    """What the full-text index holds of a memory: its content and its date's words."""
    return f"{text(fields['content'])} {text(fields.get('when', ''))}"


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
