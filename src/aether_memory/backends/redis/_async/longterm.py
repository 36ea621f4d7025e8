"""Long-term memory on Redis: records as hashes, found by the Query Engine where it is loaded
(HNSW vectors + BM25 full text + tag/numeric filters), by a Redis 8 vector set otherwise."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aether_memory.backends.redis.errors import TRANSLATE
from aether_memory.core import keys
from aether_memory.core.errors import ConfigurationError
from aether_memory.core.query import Filters, escape
from aether_memory.core.types import Capabilities
from aether_memory.storage.rows import Candidate, Row, decode_row, text

log = logging.getLogger("aether_memory")

INDEX_VERSION = 2
EF_RUNTIME = 100  # HNSW's default (10) found only 60% of the exact top 10 at 100k; 100 finds 99%
FIELDS = (
    "content", "kind", "agent", "session", "tags", "source", "importance", "occurred_at",
    "created_at", "related", "metadata", "hash", "supersedes", "superseded_by",
)  # fmt: skip
# What ranking needs of a candidate; full records are fetched for the winners only.
RANKING_FIELDS = ("content", "importance", "occurred_at")
FILTER_FIELDS = ("kind", "agent", "session", "tags", "occurred_at", "importance", "superseded_by")
NEAR_POOL = 10  # neighbours a vector set offers per new memory, to find a live one in scope
# How far a plain-Redis search widens to fill `n` from a narrow scope; beyond this a recall may
# come back short (the Query Engine filters inside the index instead).
PLAIN_MAX_CANDIDATES = 12_800
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
            log.warning(
                "aether-memory: this Redis has no Query Engine (RediSearch); long-term recall "
                "uses a vector set, and text relevance only re-scores its nearest candidates. "
                "Load the search module for full-text recall and server-side filters."
            )
        self._ready.add(ns)

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
        for vector in vectors:
            if self.indexed:
                self._knn(pipe, ns, scope, vector, 1, ("importance",))
            else:
                pipe.execute_command(
                    "VSIM", keys.vectors(ns), "FP32", vector, "COUNT", NEAR_POOL, "WITHSCORES"
                )
        with TRANSLATE:
            replies = await pipe.execute()
        exact = [None if v is None else text(v) for v in replies[0]]
        if not self.indexed:
            return exact, await self._nearest_plain(ns, scope, vectors, replies[1:])
        nearest: list[tuple[str, float, float] | None] = []
        for reply in replies[1:]:
            results = reply[b"results"]
            if not results:
                nearest.append(None)
                continue
            attrs = results[0][b"extra_attributes"]
            memory_id = text(results[0][b"id"]).rsplit(":", 1)[1]
            sim = 1.0 - float(attrs[b"dist"])
            nearest.append((memory_id, sim, float(attrs.get(b"importance", 0.5))))
        return exact, nearest

    async def _nearest_plain(
        self, ns: str, scope: Filters, vectors: Sequence[bytes], replies: Sequence[Any]
    ) -> list[tuple[str, float, float] | None]:
        """The best live neighbour in `scope` of each VSIM reply: a vector set holds the
        vectors of expired and evicted memories too, and knows nothing of the filters."""
        pools = [{text(k): 2 * float(v) - 1 for k, v in (r or {}).items()} for r in replies]
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
                found = await self._search_plain(ns, scope, vector, 1)
                best = next(
                    ((i, c.similarity or 0.0, c.importance) for i, c in found.items()), None
                )
            out.append(best)
        return out

    async def put(self, ns: str, rows: Sequence[tuple[str, Row, int | None]]) -> None:
        """Store records (id, fields incl. ``embedding`` and ``hash``, ttl ms) atomically."""
        pipe = self._r.pipeline(transaction=True)
        hashes, expiring = {}, []
        for memory_id, fields, ttl_ms in rows:
            key = keys.memory(ns, memory_id)
            pipe.hset(key, mapping=fields)
            if ttl_ms is not None:
                pipe.pexpire(key, ttl_ms)
                expiring.append((fields["hash"], ttl_ms))
            hashes[fields["hash"]] = memory_id
            if not self.indexed:
                pipe.execute_command(
                    "VADD", keys.vectors(ns), "FP32", fields["embedding"], memory_id
                )
        pipe.hset(keys.content_hashes(ns), mapping=hashes)
        if field_ttl(self._caps.server_version):
            # The dedup entry dies with its memory (a lookup also drops one that outlived it).
            for digest, ttl_ms in expiring:
                pipe.hpexpire(keys.content_hashes(ns), ttl_ms, digest)
        with TRANSLATE:
            await pipe.execute()

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
        self, ns: str, scope: Filters, vector: bytes, codes: Sequence[str], n: int
    ) -> dict[str, Candidate]:
        """Up to `n` nearest memories in `scope`, plus (with the Query Engine) those that
        contain one of `codes` verbatim, with what ranking needs. One round trip with the
        Query Engine; two on plain Redis (neighbours, then their fields)."""
        if not self.indexed:
            return await self._search_plain(ns, scope, vector, n)
        pipe = self._r.pipeline(transaction=False)
        self._knn(pipe, ns, scope, vector, n, RANKING_FIELDS)
        if codes:
            # Codes are rare words, so this full-text query stays cheap; a union of every
            # word of a question matched a third of a 100k index and cost ~10 ms.
            words = " | ".join(escape(c) for c in codes)
            where = scope.compile()
            query = f"@content|when:({words})" + ("" if where == "*" else f" {where}")
            pipe.execute_command(
                "FT.SEARCH", keys.memory_index(ns, INDEX_VERSION), query, "RETURN",
                len(RANKING_FIELDS), *RANKING_FIELDS, "LIMIT", 0, n, "DIALECT", 2,
            )  # fmt: skip
        with TRANSLATE:
            replies = await pipe.execute()
        out: dict[str, Candidate] = {}
        for result in replies[0][b"results"]:
            attrs = result[b"extra_attributes"]
            out[_memory_id(result)] = _ranked(attrs, 1.0 - float(attrs[b"dist"]))
        if codes:
            for result in replies[1][b"results"]:
                memory_id = _memory_id(result)
                if memory_id not in out:
                    out[memory_id] = _ranked(result[b"extra_attributes"], None)
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
        self, ns: str, scope: Filters, vector: bytes, n: int
    ) -> dict[str, Candidate]:
        # Filters run here, after the neighbours are found: ask for more when there are any,
        # and again (4x wider) while the scope leaves fewer than `n` and the set has more.
        everything = Filters(include_superseded=True)
        unfiltered = scope == everything
        wide = n if scope in (Filters(), everything) else max(n * 8, 200)
        wanted = list(dict.fromkeys((*RANKING_FIELDS, *FILTER_FIELDS)))
        while True:
            with TRANSLATE:
                reply = await self._r.execute_command(
                    "VSIM", keys.vectors(ns), "FP32", vector, "COUNT", wide, "WITHSCORES"
                )
            near = {text(k): 2 * float(v) - 1 for k, v in (reply or {}).items()}
            pipe = self._r.pipeline(transaction=False)
            for memory_id in near:
                pipe.hmget(keys.memory(ns, memory_id), wanted)
            with TRANSLATE:
                replies = await pipe.execute()
            out: dict[str, Candidate] = {}
            for (memory_id, sim), values in zip(near.items(), replies, strict=True):
                if values[0] is None:
                    continue  # expired or forgotten since the vector set was searched
                row = _present(dict(zip(wanted, values, strict=True)))
                if not unfiltered and not scope.matches(decode_row(row)):
                    continue
                out[memory_id] = _candidate(row, sim)
                if len(out) == n:
                    return out
            if len(near) < wide or wide >= PLAIN_MAX_CANDIDATES:
                return out
            wide = min(wide * 4, PLAIN_MAX_CANDIDATES)

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
        pipe = self._r.pipeline(transaction=True)
        for memory_id in ids:
            pipe.delete(keys.memory(ns, memory_id))
        if hashes:
            pipe.hdel(keys.content_hashes(ns), *hashes)
        pipe.hdel(keys.access_counts(ns), *ids)
        pipe.hdel(keys.last_accessed(ns), *ids)
        if not self.indexed:
            for memory_id in ids:
                pipe.execute_command("VREM", keys.vectors(ns), memory_id)
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
        """Change fields of a memory (a None value removes the field); `rehash` moves its
        dedup entry (old hash, new hash)."""
        pipe = self._r.pipeline(transaction=True)
        key = keys.memory(ns, memory_id)
        if kept := {k: v for k, v in fields.items() if v is not None}:
            pipe.hset(key, mapping=kept)
        if gone := [k for k, v in fields.items() if v is None]:
            pipe.hdel(key, *gone)
        if rehash is not None:
            pipe.hdel(keys.content_hashes(ns), rehash[0])
            pipe.hset(keys.content_hashes(ns), rehash[1], memory_id)
        if not self.indexed and "embedding" in fields:
            pipe.execute_command("VADD", keys.vectors(ns), "FP32", fields["embedding"], memory_id)
        with TRANSLATE:
            await pipe.execute()

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


def _candidate(row: Mapping[str, Any], similarity: float | None) -> Candidate:
    return Candidate(
        similarity,
        text(row["content"]),
        int(float(row.get("occurred_at") or 0)),
        float(row.get("importance") or 0.5),
    )


def _memory_id(result: Mapping[bytes, Any]) -> str:
    key: bytes = result[b"id"]
    return key[key.rindex(b":") + 1 :].decode()


def _ranked(attrs: Mapping[bytes, Any], similarity: float | None) -> Candidate:
    """A candidate straight from a search reply's attributes (the hot path: no dict)."""
    return Candidate(
        similarity,
        attrs[b"content"].decode(),
        int(attrs.get(b"occurred_at", 0)),
        float(attrs.get(b"importance", 0.5)),
    )
