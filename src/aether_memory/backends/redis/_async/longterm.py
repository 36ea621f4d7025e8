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
from aether_memory.core import keys
from aether_memory.core import text as lexical
from aether_memory.core.errors import ConfigurationError
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
    "created_at", "related", "metadata", "hash",
)  # fmt: skip
# What ranking needs of a candidate; full records are fetched for the winners only.
RANKING_FIELDS = ("content", "importance", "occurred_at")
FILTER_FIELDS = ("kind", "agent", "session", "tags", "occurred_at", "importance")
# Without the Query Engine: the postings read per query term (its heaviest first), so a common
# term costs a bounded read; such a term has a low idf and ranks little anyway.
POSTINGS_PER_TERM = 1000
_TAG_FIELDS = ("kind", "agent", "session", "tags", "source")

# KEYS: the memory hash, the access counts, the last-access times.
# ARGV: memory id, importance, now_ms.  Importance only ever rises.
REINFORCE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
local current = tonumber(redis.call('HGET', KEYS[1], 'importance') or '0')
if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], 'importance', ARGV[2]) end
return 1
"""

# KEYS: the skill hash.  ARGV: success (1/0), duration seconds, ttl ms (0: none).
SKILL_RUN = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'runs', 1)
redis.call('HINCRBY', KEYS[1], 'successes', ARGV[1])
redis.call('HINCRBYFLOAT', KEYS[1], 'total_duration', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
"""

# One row per memory as the store returns it: field name -> raw value.


def _schema(dims: int) -> list[Any]:
    schema: list[Any] = ["content", "TEXT", "when", "TEXT", "WEIGHT", "0.5"]
    for name in _TAG_FIELDS:
        schema += [name, "TAG", "SEPARATOR", ",", "CASESENSITIVE"]
    for name in ("importance", "occurred_at", "created_at"):
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
        self._ready.add(ns)

    async def find_existing(
        self, ns: str, hashes: Sequence[str], vectors: Sequence[bytes], scope: Filters
    ) -> tuple[list[str | None], list[tuple[str, float, float] | None]]:
        """For each item: the id stored under its content hash, and its nearest neighbour
        in `scope` as (id, cosine similarity, importance). One round trip."""
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
                    "VSIM", keys.vectors(ns), "FP32", vector, "COUNT", 1, "WITHSCORES"
                )
        with TRANSLATE:
            replies = await pipe.execute()
        exact = [None if v is None else v.decode() for v in replies[0]]
        nearest: list[tuple[str, float, float] | None] = []
        if scan:
            matrix = await self._scan_matrix(ns, replies[1])
            for vector in vectors:
                top = matrix.nearest(vector, 1)
                nearest.append((top[0][0], top[0][1], 0.5) if top else None)
            return exact, nearest
        for reply in replies[1:]:
            if self.indexed:
                results = reply[b"results"]
                if not results:
                    nearest.append(None)
                    continue
                attrs = results[0][b"extra_attributes"]
                memory_id = text(results[0][b"id"]).rsplit(":", 1)[1]
                sim = 1.0 - float(attrs[b"dist"])
                nearest.append((memory_id, sim, float(attrs.get(b"importance", 0.5))))
            else:
                item = next(iter(reply.items()), None) if reply else None
                nearest.append(
                    None if item is None else (text(item[0]), 2 * float(item[1]) - 1, 0.5)
                )
        return exact, nearest

    async def put(self, ns: str, rows: Sequence[tuple[str, Row, int | None]]) -> None:
        """Store records (id, fields incl. ``embedding`` and ``hash``, ttl ms) atomically."""
        pipe = self._r.pipeline(transaction=True)
        self.queue_put(pipe, ns, rows)
        with TRANSLATE:
            await pipe.execute()

    def queue_put(self, pipe: Any, ns: str, rows: Sequence[tuple[str, Row, int | None]]) -> None:
        """Queue the commands of `put` on `pipe` (for a write that also does other things)."""
        hashes = {}
        for memory_id, fields, ttl_ms in rows:
            key = keys.memory(ns, memory_id)
            pipe.hset(key, mapping=fields)
            if ttl_ms is not None:
                pipe.pexpire(key, ttl_ms)
            hashes[fields["hash"]] = memory_id
            if not self.indexed:
                self._index_plain(pipe, ns, memory_id, fields)
        pipe.hset(keys.content_hashes(ns), mapping=hashes)

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

    async def reinforce(self, ns: str, items: Sequence[tuple[str, float]], now_ms: int) -> None:
        """Count a repeated memory: access_count + 1; importance rises to the new value."""
        pipe = self._r.pipeline(transaction=False)
        counts, seen = keys.access_counts(ns), keys.last_accessed(ns)
        for memory_id, importance in items:
            # EVAL rather than EVALSHA: a rare path, and the script is tiny.
            pipe.eval(
                REINFORCE, 3, keys.memory(ns, memory_id), counts, seen, memory_id, importance,
                now_ms,
            )  # fmt: skip
        with TRANSLATE:
            await pipe.execute()

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
            out[_memory_id(result)] = _ranked(attrs, 1.0 - float(attrs[b"dist"]), None)
        if terms:
            for result in replies[1][b"results"]:
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
        query = f"({where})=>[KNN {n} @embedding $vec EF_RUNTIME {EF_RUNTIME} AS dist]"
        pipe.execute_command(
            "FT.SEARCH", keys.memory_index(ns, INDEX_VERSION), query, "PARAMS", 2, "vec", vector,
            "SORTBY", "dist", "RETURN", len(fields) + 1, *fields, "dist",
            "LIMIT", 0, n, "DIALECT", 2,
        )  # fmt: skip

    async def _search_plain(
        self, ns: str, scope: Filters, vector: bytes, terms: Sequence[str], n: int
    ) -> dict[str, Candidate]:
        # Filters run here, after both searches: ask for more when there are any.
        unfiltered = scope == Filters()
        wide = n if unfiltered else max(n * 8, 200)
        stems = lexical.query_terms(terms)
        pipe = self._r.pipeline(transaction=False)
        scan = not self._caps.vector_sets
        if scan:
            pipe.get(keys.vector_generation(ns))
        else:
            pipe.execute_command(
                "VSIM", keys.vectors(ns), "FP32", vector, "COUNT", wide, "WITHSCORES"
            )
        pipe.hlen(keys.memory_terms(ns))
        for term in stems:
            pipe.zcard(keys.term(ns, term))
            pipe.zrange(keys.term(ns, term), 0, POSTINGS_PER_TERM - 1, desc=True, withscores=True)
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
        wanted = list(dict.fromkeys((*RANKING_FIELDS, *FILTER_FIELDS, "embedding")))
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
            row = dict(zip(wanted, values, strict=True))
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
        return out

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
        old = await self._terms_of(ns, ids)
        pipe = self._r.pipeline(transaction=True)
        for memory_id in ids:
            pipe.delete(keys.memory(ns, memory_id))
        if hashes:
            pipe.hdel(keys.content_hashes(ns), *hashes)
        pipe.hdel(keys.access_counts(ns), *ids)
        pipe.hdel(keys.last_accessed(ns), *ids)
        if not self.indexed:
            for memory_id, terms in zip(ids, old, strict=True):
                for term in text(terms or b"").split(","):
                    if term:
                        pipe.zrem(keys.term(ns, term), memory_id)
                if self._caps.vector_sets:
                    pipe.execute_command("VREM", keys.vectors(ns), memory_id)
            pipe.hdel(keys.memory_terms(ns), *ids)
            if not self._caps.vector_sets:
                pipe.hdel(keys.vector_hash(ns), *ids)
                pipe.incr(keys.vector_generation(ns))
        with TRANSLATE:
            replies = await pipe.execute()
        return sum(int(r) for r in replies[: len(ids)])

    async def update(
        self,
        ns: str,
        memory_id: str,
        fields: Mapping[str, Any],
        rehash: tuple[str, str] | None = None,
    ) -> None:
        """Change fields of a memory; `rehash` moves its dedup entry (old hash, new hash)."""
        old = await self._terms_of(ns, [memory_id]) if not self.indexed else [None]
        pipe = self._r.pipeline(transaction=True)
        key = keys.memory(ns, memory_id)
        pipe.hset(key, mapping=dict(fields))
        if rehash is not None:
            pipe.hdel(keys.content_hashes(ns), rehash[0])
            pipe.hset(keys.content_hashes(ns), rehash[1], memory_id)
        if not self.indexed:
            self._index_plain(pipe, ns, memory_id, fields, old[0])
        with TRANSLATE:
            await pipe.execute()

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
        key = keys.skill(ns, name)
        pipe.hset(key, mapping=dict(fields))
        if ttl_ms is not None:
            pipe.pexpire(key, ttl_ms)
        with TRANSLATE:
            await pipe.execute()

    async def skill_get(self, ns: str, names: Sequence[str]) -> list[Row | None]:
        pipe = self._r.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(keys.skill(ns, name))
        with TRANSLATE:
            replies = await pipe.execute()
        return [{text(k): v for k, v in r.items()} if r else None for r in replies]

    async def skill_run(
        self, ns: str, name: str, success: bool, duration: float, ttl_ms: int | None
    ) -> bool:
        with TRANSLATE:
            found = await self._r.eval(
                SKILL_RUN, 1, keys.skill(ns, name), int(success), duration, ttl_ms or 0
            )
        return bool(found)


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
