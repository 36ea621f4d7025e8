"""The Redis store: each method is one round trip (a pipeline, a script or one command)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError

from aether_memory.backends.redis import probe
from aether_memory.backends.redis._async.clients import cluster_client
from aether_memory.backends.redis._async.feed import AsyncRedisFeed
from aether_memory.backends.redis._async.longterm import AsyncRedisLongTerm
from aether_memory.backends.redis._async.queues import AsyncRedisQueues
from aether_memory.backends.redis._async.replicated import AsyncReplicated
from aether_memory.backends.redis.backoff import JitterBackoff
from aether_memory.backends.redis.cluster import cluster_url_of, is_cluster_url
from aether_memory.backends.redis.errors import TRANSLATE, translate
from aether_memory.backends.redis.facts import SCAN_COUNT
from aether_memory.backends.redis.notes import q_note
from aether_memory.backends.redis.opened import OpenedSessions
from aether_memory.backends.redis.packing import hiredis_packing
from aether_memory.backends.redis.scripts import (
    CHECKPOINT_LATEST,
    CHECKPOINT_SAVE,
    EVENTS_APPEND,
    FEED_SCRUB,
    METRICS_ADD,
    checkpoint_member,
)
from aether_memory.core import ids, keys
from aether_memory.core.agent_metrics import MetricWrite, every_bucket_key
from aether_memory.core.config import Options, SessionTTLs
from aether_memory.core.errors import AetherError, BackendUnavailable, ConfigurationError, Conflict
from aether_memory.core.ids import new_id
from aether_memory.core.keys import SessionKeys
from aether_memory.core.types import Capabilities, Checkup
from aether_memory.storage import background
from aether_memory.storage._async.feed import AsyncFeedStore
from aether_memory.storage._async.queues import AsyncQueueStore
from aether_memory.storage._async.store import AsyncLongTermStore
from aether_memory.storage.inventory import count_keys
from aether_memory.storage.rows import CheckpointRow, EventRow, HashKind, Row, event_trace

log = logging.getLogger("aether_memory")

_EVENT_PAGE = 256
_UNLINK_BATCH = 500


def _max_ttl(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else max(a, b)


def _node_client(url: str, options: Options, retry: Retry) -> Redis:
    """A client of one server (``redis://``, ``rediss://``, ``unix://``)."""
    try:
        pool = ConnectionPool.from_url(
            url,
            max_connections=options.max_connections,
            socket_timeout=options.socket_timeout,
            socket_connect_timeout=options.connect_timeout,
            health_check_interval=30,
            retry=retry,
            protocol=3,  # replies are parsed as RESP3 maps (FT.SEARCH, VSIM, HGETALL)
        )
    except ValueError as exc:
        raise ConfigurationError(f"invalid Redis URL {url!r}: {exc}") from exc
    connection_class: Any = pool.connection_class
    pool.connection_class = hiredis_packing(connection_class)
    return Redis.from_pool(pool)  # the client owns (and closes) the pool


class AsyncRedisStore:
    """Memory-kernel storage on one Redis server (with or without modules)."""

    capabilities: Capabilities

    def __init__(
        self, client: Redis | RedisCluster, options: Options, *, owns_client: bool = True
    ) -> None:
        # redis-py's annotations cannot express decode_responses=False (every reply is
        # bytes), so replies are typed where they are decoded, below.
        self._client = client
        self._r: Any = (
            AsyncReplicated(client, options.replica_timeout)
            if options.durability == "replicated"
            else client
        )
        self._options = options
        self._owns_client = owns_client
        self._scripts: dict[str, str] = {}
        self._opened = OpenedSessions()
        self.capabilities = Capabilities(backend="redis", server_version="unknown")
        self._longterm = AsyncRedisLongTerm(self._r, self.capabilities)
        self.longterm: AsyncLongTermStore = self._longterm
        self.where = "the server"  # the redacted URL, for messages
        self.notes: list[str] = []  # problems found around this store (a broken fallback)
        self._watcher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._reported: frozenset[str] = frozenset()
        self._feed = AsyncRedisFeed(self._r)
        self.feed: AsyncFeedStore = self._feed
        self.queues: AsyncQueueStore = AsyncRedisQueues(self._r, options.socket_timeout)

    @classmethod
    async def connect(cls, url: str, options: Options, where: str = "") -> AsyncRedisStore:
        """Connect to `url`, read the server's capabilities and load the scripts, and start
        the watch on its eviction policy (`where`, the redacted URL, names it in messages).

        A command is retried only after a connection error (refused, reset: it fails fast),
        never after a timeout: a server that did not answer in `socket_timeout` will not
        answer a retry either, and retries would multiply the wait. So one round trip fails
        within ``connect_timeout + socket_timeout`` plus the backoff of the retries.
        """
        retry = Retry(
            JitterBackoff(),
            options.retries,
            supported_errors=(RedisConnectionError,),
        )
        client = (
            cluster_client(
                url,
                socket_timeout=options.socket_timeout,
                connect_timeout=options.connect_timeout,
                retry=retry,
                max_connections=options.max_connections,
                protocol=3,  # replies are parsed as RESP3 maps, as on one server
            )
            if is_cluster_url(url)
            else _node_client(url, options, retry)
        )
        store = cls(client, options)
        store.where = where or "the server"
        if isinstance(store._r, AsyncReplicated):
            store._r.where = store.where
        try:
            await store.probe()
        except BaseException:
            await store.aclose()
            raise
        if store.capabilities.cluster and not store.clustered:
            # A plain URL naming a node of a cluster: speak cluster to it, from that node.
            await store.aclose()
            return await cls.connect(cluster_url_of(url), options, where)
        policy = store.capabilities.maxmemory_policy
        if store.capabilities.evicts_durable_keys:  # warned about at connect already
            store._reported = frozenset({probe.eviction_message(str(policy), store.where)})
        if options.watch_interval > 0:
            store._watcher = background.start_task(store._watch())
        return store

    async def checkup(self) -> Checkup:
        """The eviction policy, evicted keys and memory use, read now (one round trip; on a
        cluster, of every primary)."""
        asked = await self._ask_nodes([("INFO",), ("CONFIG GET", "maxmemory-policy")])
        found = Checkup()
        for node, (info, policy) in asked:
            where = self.where if node is None else f"{self.where} (node {node.name})"
            if isinstance(info, RedisError):
                error = translate(info)
                if isinstance(error, BackendUnavailable):
                    raise error
                # A managed server may refuse INFO: memory and evictions are then unknown.
                found += Checkup(
                    warnings=(f"{where} refused INFO ({error}): memory use and evictions unknown",)
                )
                info = {}
            policy = None if isinstance(policy, RedisError) else policy
            found += probe.checkup(info, policy, where)
        return found + Checkup(warnings=tuple(self.notes))

    async def _watch(self) -> None:
        """Re-check the server every `watch_interval` seconds and log each new problem: a
        policy can be changed at run time (``CONFIG SET``), and evictions show only there."""
        every = self._options.watch_interval
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), every)
            if self._closing:
                return
            try:
                found = await self.checkup()
            except AetherError:
                continue  # an outage or a full server is reported by the calls themselves
            for warning in found.warnings:
                if warning not in self._reported:
                    log.warning("aether-memory: %s", warning)
            self._reported = frozenset(found.warnings)

    async def probe(self) -> Capabilities:
        """Read modules, version, persistence and eviction policy (one round trip; on a
        cluster, of every primary, and the least safe of their settings is kept)."""
        commands = [("INFO",), ("MODULE LIST",)] + [
            ("CONFIG GET", name)
            for name in ("maxmemory-policy", "appendonly", "appendfsync", "save")
        ]
        replies = [r for _, got in await self._ask_nodes(commands) for r in got]
        found = []
        for start in range(0, len(replies), 6):
            group = replies[start : start + 6]
            if isinstance(group[0], RedisError):
                raise translate(group[0])
            found.append(probe.capabilities(*(None if isinstance(r, RedisError) else r
                                               for r in group)))  # fmt: skip
        self.capabilities = probe.least_safe(found)
        self._longterm = AsyncRedisLongTerm(self._r, self.capabilities)
        self.longterm = self._longterm
        await self._load_scripts()
        return self.capabilities

    @property
    def clustered(self) -> bool:
        """Whether this store speaks to a Redis Cluster (through redis-py's cluster client)."""
        return isinstance(self._client, RedisCluster)

    async def _nodes(self) -> list[Any]:
        """Where a command about the server itself goes: every primary of a cluster (read
        from it now), or None for the one server."""
        if not self.clustered:
            return [None]
        if not self._r.get_primaries():  # the async client reads the slot map on first use
            with TRANSLATE:
                await self._r.initialize()
        # The client's current map: a MOVED reply or a failed node makes it read it again.
        return list(self._r.get_primaries())

    async def _ask_nodes(self, commands: Sequence[tuple[Any, ...]]) -> list[tuple[Any, list[Any]]]:
        """Send `commands` (about the server itself: INFO, CONFIG GET) to the one server in
        one round trip, or to every primary of a cluster (whose pipelines refuse them);
        returns each node with its replies, an error standing for a refused command."""
        nodes = await self._nodes()
        if not self.clustered:
            pipe = self._r.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            with TRANSLATE:
                return [(None, await pipe.execute(raise_on_error=False))]
        out = []
        for node in nodes:
            replies: list[Any] = []
            for command in commands:
                try:
                    replies.append(await self._r.execute_command(*command, target_nodes=node))
                except RedisError as exc:
                    replies.append(exc)
            out.append((node, replies))
        return out

    def _at_key(self, key: str) -> dict[str, Any]:
        """Routes a keyless command (``FT._LIST``) to the node that serves `key`."""
        return _at(self._r.get_node_from_key(key)) if self.clustered else {}

    async def _load_scripts(self) -> None:
        with TRANSLATE:
            self._scripts = {
                "checkpoint_save": await self._r.script_load(CHECKPOINT_SAVE),
                "checkpoint_latest": await self._r.script_load(CHECKPOINT_LATEST),
                "events_append": await self._r.script_load(EVENTS_APPEND),
                "metrics_add": await self._r.script_load(METRICS_ADD),
            }

    async def _script(
        self,
        name: str,
        keys_: Sequence[str],
        args: Sequence[Any],
        also: Callable[[Any], object] | None = None,
    ) -> list[Any]:
        """Run a loaded script, with `also` queueing more commands into the same round trip;
        returns the replies, the script's first.

        If the server lost its scripts (restart, ``SCRIPT FLUSH``), they are loaded again and
        each ``EVALSHA`` refused is sent again: a refused one wrote nothing, and the other
        commands were applied (sending them twice would notify the change feed twice).
        """
        pipe = _NotingScripts(self._r.pipeline(transaction=False))
        pipe.execute_command("EVALSHA", self._scripts[name], len(keys_), *keys_, *args)
        if also is not None:
            also(pipe)
        with TRANSLATE:
            replies = list(await pipe.execute(raise_on_error=False))
            lost = [
                i
                for i, r in enumerate(replies)
                if isinstance(r, NoScriptError) and i in pipe.scripts
            ]
            if lost:
                await self._load_scripts()
                again = self._r.pipeline(transaction=False)
                for i in lost:
                    command, options = pipe.scripts[i]
                    again.execute_command(*command, **options)
                for i, reply in zip(lost, await again.execute(raise_on_error=False), strict=True):
                    replies[i] = reply
        for reply in replies:
            if isinstance(reply, RedisError):
                raise translate(reply)
        return replies

    async def aclose(self) -> None:
        self._closing = True
        self._feed.stop()
        self._wake.set()
        try:
            await background.finish_task(self._watcher)
        finally:
            if self._owns_client:
                await self._r.aclose()

    async def replay(self, writes: Sequence[tuple[str, Sequence[Any]]]) -> list[AetherError | None]:
        """Apply queued writes (``(op, args)`` as in `storage.outbox`) in order, in pipelined
        round trips; returns each one's refusal, or None. Every write here is idempotent
        (ids, or write ids the scripts remember), so a batch cut short can simply be sent
        again. A write with no pipelined form (an import or an erasure, which takes round
        trips of its own) runs alone between the pipelined runs, so the order holds. Raises
        `BackendUnavailable` if the server cannot be reached."""
        out: list[AetherError | None] = []
        run: list[tuple[str, Sequence[Any]]] = []
        # A replay usually follows a restart, which emptied the script cache: load the scripts
        # first, so no pipelined write meets NOSCRIPT and has to be sent twice (the rest of
        # its pipeline would be applied twice, and notify the change feed twice).
        await self._load_scripts()
        for op, args in writes:
            role, _, name = op.rpartition(".")
            owner: Any = (
                {"feed": self.feed, "queues": self.queues}.get(role, self._longterm)
                if role
                else self
            )
            if hasattr(owner, "_q_" + name) and (not role or self._longterm.can_queue(name)):
                run.append((op, args))
                continue
            if run:
                out += await self._replay_pipelined(run)
                run = []
            try:
                await getattr(owner, name)(*args)
            except BackendUnavailable:
                raise
            except AetherError as exc:
                out.append(exc)
            else:
                out.append(None)
        if run:
            out += await self._replay_pipelined(run)
        return out

    async def _replay_pipelined(
        self, writes: Sequence[tuple[str, Sequence[Any]]]
    ) -> list[AetherError | None]:
        for attempt in (0, 1):
            pipe = self._r.pipeline(transaction=False)
            spans: list[tuple[int, int]] = []
            for op, args in writes:
                start = len(pipe)
                role, _, name = op.rpartition(".")
                getattr(self._longterm if role else self, "_q_" + name)(pipe, *args)
                spans.append((start, len(pipe)))
            with TRANSLATE:
                replies = await pipe.execute(raise_on_error=False)
            if attempt == 0 and any(isinstance(r, NoScriptError) for r in replies):
                await self._load_scripts()  # nothing of a failed EVALSHA was applied
                continue
            out: list[AetherError | None] = []
            for (start, end), (op, _) in zip(spans, writes, strict=True):
                error = next((r for r in replies[start:end] if isinstance(r, RedisError)), None)
                if error is not None:
                    out.append(translate(error))
                elif op == "checkpoint_save" and int(replies[start]) < 0:
                    out.append(Conflict(f"checkpoint {-int(replies[start])} holds another state"))
                else:
                    out.append(None)
            return out
        raise AssertionError("unreachable")

    async def ping(self) -> bool:
        with TRANSLATE:
            return bool(await self._r.ping())

    # -- agents ----------------------------------------------------------------------------
    async def agents(self, ns: str) -> list[str]:
        with TRANSLATE:
            members = await self._r.smembers(keys.agents(ns))
        return sorted(m.decode() for m in members)

    async def identity_put(self, ns: str, agent: str, docs: Mapping[str, bytes]) -> None:
        pipe = self._r.pipeline(transaction=True)
        self._q_identity_put(pipe, ns, agent, docs)
        with TRANSLATE:
            await pipe.execute()

    def _q_identity_put(self, pipe: Any, ns: str, agent: str, docs: Mapping[str, bytes]) -> None:
        pipe.hset(keys.identity(ns, agent), mapping=dict(docs))
        pipe.sadd(keys.agents(ns), agent)
        q_note(pipe, ns, agent, "identity", ",".join(sorted(docs)), "put")

    async def identity_get(self, ns: str, agent: str, name: str) -> bytes | None:
        with TRANSLATE:
            value: bytes | None = await self._r.hget(keys.identity(ns, agent), name)
        return value

    async def identity_all(self, ns: str, agent: str) -> dict[str, bytes]:
        with TRANSLATE:
            raw = await self._r.hgetall(keys.identity(ns, agent))
        return {k.decode(): v for k, v in raw.items()}

    async def identity_delete(self, ns: str, agent: str, names: Sequence[str]) -> int:
        pipe = self._r.pipeline(transaction=True)
        self._q_identity_delete(pipe, ns, agent, names)
        with TRANSLATE:
            return int((await pipe.execute())[0])

    def _q_identity_delete(self, pipe: Any, ns: str, agent: str, names: Sequence[str]) -> None:
        pipe.hdel(keys.identity(ns, agent), *names)
        q_note(pipe, ns, agent, "identity", ",".join(sorted(names)), "deleted")

    async def state_put(self, ns: str, agent: str, fields: Mapping[str, bytes]) -> None:
        pipe = self._r.pipeline(transaction=True)
        self._q_state_put(pipe, ns, agent, fields)
        with TRANSLATE:
            await pipe.execute()

    def _q_state_put(self, pipe: Any, ns: str, agent: str, fields: Mapping[str, bytes]) -> None:
        pipe.hset(keys.state(ns, agent), mapping=dict(fields))
        pipe.sadd(keys.agents(ns), agent)
        q_note(pipe, ns, agent, "state", agent, "set")

    async def state_get(self, ns: str, agent: str) -> dict[str, bytes]:
        with TRANSLATE:
            raw = await self._r.hgetall(keys.state(ns, agent))
        return {k.decode(): v for k, v in raw.items()}

    # -- sessions ----------------------------------------------------------------------------
    async def session_open(self, s: SessionKeys, now_ms: int, ttl_ms: int | None) -> None:
        pipe = self._r.pipeline(transaction=False)
        self._q_session_open(pipe, s, now_ms, ttl_ms)
        with TRANSLATE:
            await pipe.execute()

    def _q_index(self, pipe: Any, s: SessionKeys, now_ms: int, opening: SessionTTLs | None) -> int:
        """Queue what a write does for its session: its entry in the agent's session index
        (the time of its last write), and `session_open` with `opening`'s lifetime when
        given. Returns the position of the index's ``ZADD`` in `pipe`. The meta gets the
        lifetime the event and checkpoint scripts give it, so their order does not matter."""
        at = len(pipe)
        pipe.zadd(s.sessions, {s.sid: now_ms})
        if opening is not None:
            ttl_ms = _max_ttl(opening.events_ms, opening.checkpoints_ms)
            self._q_session_open(pipe, s, now_ms, ttl_ms)
        return at

    async def _recorded(
        self,
        s: SessionKeys,
        now_ms: int,
        opening: SessionTTLs | None,
        queued: SessionTTLs | None,
        added: bool,
    ) -> None:
        """After a write into session `s` that was given `opening` and queued `queued`
        (None when the memo said `s` is recorded): if the index's ``ZADD`` added `s` anew
        (`added`) although it was recorded, another client erased it since, so record it
        again — its meta and its agent's entry went with it."""
        if opening is None:
            return
        if queued is None and added:
            await self.session_open(s, now_ms, _max_ttl(opening.events_ms, opening.checkpoints_ms))
        self._opened.recorded(s)

    def _q_session_open(self, pipe: Any, s: SessionKeys, now_ms: int, ttl_ms: int | None) -> None:
        pipe.hsetnx(s.meta, "created_at", now_ms)
        pipe.hset(s.meta, "agent", s.agent)
        if ttl_ms is not None:
            pipe.pexpire(s.meta, ttl_ms)
        pipe.zadd(s.sessions, {s.sid: now_ms})
        pipe.sadd(keys.agents(s.ns), s.agent)

    async def sessions(self, ns: str, agent: str, limit: int) -> list[tuple[str, int]]:
        with TRANSLATE:
            rows = await self._r.zrevrange(keys.sessions(ns, agent), 0, limit - 1, withscores=True)
        return [(sid.decode(), int(score)) for sid, score in rows]

    async def session_meta(self, s: SessionKeys) -> dict[str, bytes]:
        with TRANSLATE:
            raw = await self._r.hgetall(s.meta)
        return {k.decode(): v for k, v in raw.items()}

    async def session_link(
        self, parent: SessionKeys, child: SessionKeys, now_ms: int, ttl_ms: int | None
    ) -> None:
        pipe = self._r.pipeline(transaction=False)
        self._q_session_link(pipe, parent, child, now_ms, ttl_ms)
        with TRANSLATE:
            await pipe.execute()

    def _q_session_link(
        self, pipe: Any, parent: SessionKeys, child: SessionKeys, now_ms: int, ttl_ms: int | None
    ) -> None:
        # The two sessions hash to different slots, so this is a pipeline, not a transaction;
        # the child is written first so that a link is never left pointing at nothing.
        pipe.hset(
            child.meta, mapping={"created_at": now_ms, "agent": child.agent, "parent": parent.sid}
        )
        pipe.hset(parent.meta, "rotated_to", child.sid)
        if ttl_ms is not None:
            pipe.pexpire(child.meta, ttl_ms)
            pipe.pexpire(parent.meta, ttl_ms)
        pipe.zadd(child.sessions, {child.sid: now_ms})

    # -- working memory and scratchpad -------------------------------------------------------
    async def hash_set(
        self,
        s: SessionKeys,
        kind: HashKind,
        fields: Mapping[str, bytes],
        now_ms: int,
        ttl_ms: int | None,
        opening: SessionTTLs | None = None,
    ) -> None:
        queued = self._opened.opening(s, opening)
        pipe = self._r.pipeline(transaction=False)
        at = self._q_hash_set(pipe, s, kind, fields, now_ms, ttl_ms, queued)
        with TRANSLATE:
            replies = await pipe.execute()
        await self._recorded(s, now_ms, opening, queued, replies[at] == 1)

    def _q_hash_set(
        self,
        pipe: Any,
        s: SessionKeys,
        kind: HashKind,
        fields: Mapping[str, bytes],
        now_ms: int,
        ttl_ms: int | None,
        opening: SessionTTLs | None = None,
    ) -> int:
        key = s.working if kind == "working" else s.scratch
        pipe.hset(key, mapping=fields)
        if ttl_ms is not None:
            pipe.pexpire(key, ttl_ms)
        return self._q_index(pipe, s, now_ms, opening)

    async def hash_get(self, s: SessionKeys, kind: HashKind, field: str) -> bytes | None:
        with TRANSLATE:
            value: bytes | None = await self._r.hget(
                s.working if kind == "working" else s.scratch, field
            )
        return value

    async def hash_all(self, s: SessionKeys, kind: HashKind) -> dict[str, bytes]:
        with TRANSLATE:
            raw = await self._r.hgetall(s.working if kind == "working" else s.scratch)
        return {k.decode(): v for k, v in raw.items()}

    async def hash_all_many(
        self, sessions: Sequence[SessionKeys], kind: HashKind
    ) -> list[dict[str, bytes]]:
        if not sessions:
            return []
        pipe = self._r.pipeline(transaction=False)
        for s in sessions:
            pipe.hgetall(s.working if kind == "working" else s.scratch)
        with TRANSLATE:
            found = await pipe.execute()
        return [{k.decode(): v for k, v in raw.items()} for raw in found]

    async def hash_delete(self, s: SessionKeys, kind: HashKind, fields: Sequence[str]) -> int:
        with TRANSLATE:
            return int(await self._r.hdel(s.working if kind == "working" else s.scratch, *fields))

    def _q_hash_delete(
        self, pipe: Any, s: SessionKeys, kind: HashKind, fields: Sequence[str]
    ) -> None:
        pipe.hdel(s.working if kind == "working" else s.scratch, *fields)

    async def hash_clear(self, s: SessionKeys, kind: HashKind) -> None:
        with TRANSLATE:
            await self._r.delete(s.working if kind == "working" else s.scratch)

    def _q_hash_clear(self, pipe: Any, s: SessionKeys, kind: HashKind) -> None:
        pipe.delete(s.working if kind == "working" else s.scratch)

    # -- events --------------------------------------------------------------------------------
    async def events_append(
        self,
        s: SessionKeys,
        rows: Sequence[EventRow],
        now_ms: int,
        ttls: SessionTTLs,
        metrics: Sequence[MetricWrite] = (),
        opening: SessionTTLs | None = None,
    ) -> None:
        keys_, args = self._events_args(s, rows, now_ms, ttls)
        queued = self._opened.opening(s, opening)

        def also(pipe: Any) -> None:
            self._q_index(pipe, s, now_ms, queued)
            self._q_metrics(pipe, s.ns, rows[0][0], now_ms, metrics)

        replies = await self._script("events_append", keys_, args, also=also)
        await self._recorded(s, now_ms, opening, queued, replies[1:2] == [1])

    async def messages_append(
        self,
        s: SessionKeys,
        rows: Sequence[EventRow],
        now_ms: int,
        ttls: SessionTTLs,
        memories: Sequence[tuple[str, Row, int | None]],
        opening: SessionTTLs | None = None,
    ) -> None:
        # Not MULTI: the session's keys and the namespace's sit under different hash tags,
        # which a cluster transaction cannot span. One pipeline, one round trip; the events
        # go through the append script, so a retry applies them once.
        keys_, args = self._events_args(s, rows, now_ms, ttls)
        queued = self._opened.opening(s, opening)

        def also(pipe: Any) -> None:
            self._q_index(pipe, s, now_ms, queued)
            self._longterm._q_put(pipe, s.ns, memories)

        replies = await self._script("events_append", keys_, args, also=also)
        await self._recorded(s, now_ms, opening, queued, replies[1:2] == [1])

    def _q_messages_append(
        self,
        pipe: Any,
        s: SessionKeys,
        rows: Sequence[EventRow],
        now_ms: int,
        ttls: SessionTTLs,
        memories: Sequence[tuple[str, Row, int | None]],
        opening: SessionTTLs | None = None,
    ) -> None:
        self._q_events_append(pipe, s, rows, now_ms, ttls, (), opening)
        self._longterm._q_put(pipe, s.ns, memories)

    def _q_events_append(
        self,
        pipe: Any,
        s: SessionKeys,
        rows: Sequence[EventRow],
        now_ms: int,
        ttls: SessionTTLs,
        metrics: Sequence[MetricWrite] = (),
        opening: SessionTTLs | None = None,
    ) -> None:
        keys_, args = self._events_args(s, rows, now_ms, ttls)
        pipe.execute_command("EVALSHA", self._scripts["events_append"], len(keys_), *keys_, *args)
        self._q_index(pipe, s, now_ms, opening)
        self._q_metrics(pipe, s.ns, rows[0][0], now_ms, metrics)

    def _q_metrics(
        self, pipe: Any, ns: str, write_id: str, now_ms: int, metrics: Sequence[MetricWrite]
    ) -> None:
        """Queue the agent-metric bucket updates of an event write (its own write id, in
        the namespace's applied set: the buckets sit under `{ns}`, the events do not)."""
        if not metrics:
            return
        keys_: list[str] = [keys.applied(ns)]
        args: list[Any] = ["m:" + write_id, now_ms]
        for key, ttl_ms, ops in metrics:
            keys_.append(key)
            args += (ttl_ms, len(ops))
            for op in ops:
                args += op
        pipe.execute_command("EVALSHA", self._scripts["metrics_add"], len(keys_), *keys_, *args)

    async def metrics_read(self, names: Sequence[str]) -> list[dict[str, bytes]]:
        """The agent-metric bucket hashes `names` (empty where a bucket holds nothing)."""
        pipe = self._r.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(name)
        with TRANSLATE:
            replies = await pipe.execute()
        return [{k.decode(): v for k, v in r.items()} for r in replies]

    def _events_args(
        self, s: SessionKeys, rows: Sequence[EventRow], now_ms: int, ttls: SessionTTLs
    ) -> tuple[tuple[str, ...], list[Any]]:
        # The first event's id names the write: a retried append is recognised and skipped.
        args: list[Any] = [rows[0][0], now_ms, self._options.events_maxlen, ttls.events_ms or 0]
        args += (ttls.checkpoints_ms or 0, _max_ttl(ttls.events_ms, ttls.checkpoints_ms) or 0)
        for row in rows:
            event_id, type_, outcome, ts, latency_ms, data = row[:6]
            lat = "" if latency_ms is None else latency_ms
            args += (event_id, type_, outcome, ts, lat, data, event_trace(row) or "")
        return (s.events, s.applied, s.meta, s.checkpoints, s.checkpoint_data), args

    async def events_tail(
        self, s: SessionKeys, limit: int, types: frozenset[str] | None
    ) -> list[EventRow]:
        out: list[EventRow] = []
        seen: set[str] = set()
        upper = "+"
        page = limit if types is None else max(limit * 4, _EVENT_PAGE)
        while len(out) < limit:
            with TRANSLATE:
                entries = await self._r.xrevrange(s.events, max=upper, count=page)
            for _, f in entries:
                row = _event_row(f)
                # A retried XADD can land twice; the client id makes the copy recognisable.
                if row[0] in seen or (types is not None and row[1] not in types):
                    continue
                seen.add(row[0])
                out.append(row)
                if len(out) == limit:
                    break
            if len(entries) < page:
                break
            upper = "(" + entries[-1][0].decode()
        out.reverse()
        return out

    # -- checkpoints -----------------------------------------------------------------------------
    async def checkpoint_save(
        self,
        s: SessionKeys,
        state: bytes,
        now_ms: int,
        ttls: SessionTTLs,
        keep: int,
        write_id: str | None = None,
        n: int = 0,
        opening: SessionTTLs | None = None,
    ) -> int:
        """Save a checkpoint; returns its number. `write_id` names the write (a retry of it
        returns the number it got); `n` replays a number a fallback already gave it."""
        keys_, args = self._checkpoint_args(s, state, now_ms, ttls, keep, write_id, n)
        queued = self._opened.opening(s, opening)
        replies = await self._script(
            "checkpoint_save", keys_, args, also=lambda p: self._q_index(p, s, now_ms, queued)
        )
        await self._recorded(s, now_ms, opening, queued, replies[1:2] == [1])
        got = int(replies[0])
        if got < 0:
            raise Conflict(f"session {s.sid!r} already has another checkpoint {-got}")
        return got

    def _q_checkpoint_save(
        self,
        pipe: Any,
        s: SessionKeys,
        state: bytes,
        now_ms: int,
        ttls: SessionTTLs,
        keep: int,
        write_id: str | None = None,
        n: int = 0,
        opening: SessionTTLs | None = None,
    ) -> None:
        keys_, args = self._checkpoint_args(s, state, now_ms, ttls, keep, write_id, n)
        pipe.execute_command("EVALSHA", self._scripts["checkpoint_save"], len(keys_), *keys_, *args)
        self._q_index(pipe, s, now_ms, opening)

    @staticmethod
    def _checkpoint_args(
        s: SessionKeys,
        state: bytes,
        now_ms: int,
        ttls: SessionTTLs,
        keep: int,
        write_id: str | None,
        n: int,
    ) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        meta_ttl = _max_ttl(ttls.events_ms, ttls.checkpoints_ms) or 0
        args = (state, now_ms, ttls.checkpoints_ms or 0, keep, meta_ttl, write_id or new_id(), n)
        return (s.meta, s.checkpoints, s.checkpoint_data), args

    async def checkpoint_load(self, s: SessionKeys, n: int | None) -> tuple[int, bytes] | None:
        if n is not None:
            with TRANSLATE:
                state = await self._r.hget(s.checkpoint_data, checkpoint_member(n))
            return None if state is None else (n, state)
        reply = (await self._script("checkpoint_latest", (s.meta, s.checkpoint_data), ()))[0]
        return None if reply is None else (int(reply[0]), reply[1])

    async def checkpoint_list(self, s: SessionKeys) -> list[tuple[int, int]]:
        with TRANSLATE:
            rows = await self._r.zrange(s.checkpoints, 0, -1, withscores=True)
        return [(int(member), int(score)) for member, score in rows]

    # -- caches ------------------------------------------------------------------------------------
    async def tools_get_or_put(
        self, s: SessionKeys, value: bytes | None, ttl_ms: int | None
    ) -> bytes | None:
        with TRANSLATE:
            if value is None:
                current: bytes | None = await self._r.get(s.tools)
                return current
            # SET NX GET: store ours unless another process got there first; then theirs wins.
            previous: bytes | None = await self._r.set(s.tools, value, nx=True, get=True, px=ttl_ms)
        return previous

    async def cache_get(self, key: str) -> bytes | None:
        with TRANSLATE:
            value: bytes | None = await self._r.get(key)
        return value

    def _q_tools_get_or_put(
        self, pipe: Any, s: SessionKeys, value: bytes | None, ttl_ms: int | None
    ) -> None:
        if value is not None:
            pipe.set(s.tools, value, nx=True, px=ttl_ms)

    async def cache_put(self, key: str, value: bytes, ttl_ms: int | None) -> None:
        with TRANSLATE:
            await self._r.set(key, value, px=ttl_ms)

    def _q_cache_put(self, pipe: Any, key: str, value: bytes, ttl_ms: int | None) -> None:
        pipe.set(key, value, px=ttl_ms)

    # -- browsing --------------------------------------------------------------------------------
    async def sessions_page(
        self, ns: str, agent: str, before: tuple[int, str] | None, limit: int
    ) -> list[tuple[str, int]]:
        # Newest first: a score range up to the cursor's, then ties (same millisecond) are
        # cut by id, which Redis orders backwards within a score in a reversed range.
        key, offset, batch = keys.sessions(ns, agent), 0, limit + 16
        out: list[tuple[str, int]] = []
        top = "+inf" if before is None else before[0]
        while len(out) < limit:
            with TRANSLATE:
                rows = await self._r.zrevrangebyscore(
                    key, top, "-inf", start=offset, num=batch, withscores=True
                )
            for member, score in rows:
                sid, ts = member.decode(), int(score)
                if before is not None and ts == before[0] and sid >= before[1]:
                    continue
                out.append((sid, ts))
                if len(out) == limit:
                    break
            if len(rows) < batch:
                break
            offset += batch
        return out

    async def events_page(
        self, s: SessionKeys, after: str | None, limit: int
    ) -> list[tuple[str, EventRow]]:
        with TRANSLATE:
            entries = await self._r.xrange(
                s.events, min="-" if after is None else f"({after}", count=limit
            )
        return [(position.decode(), _event_row(f)) for position, f in entries]

    async def _scan(self, pattern: str) -> list[str]:
        with TRANSLATE:
            found = {k.decode() async for k in self._r.scan_iter(match=pattern, count=SCAN_COUNT)}
        return sorted(found)

    async def namespaces(self) -> list[str]:
        names = {keys.namespace_of(k) for k in await self._scan(f"{keys.PREFIX}:{{*")}
        return sorted(n for n in names if n)

    # -- moving and erasing ----------------------------------------------------------------------
    async def session_load(
        self,
        s: SessionKeys,
        meta: Mapping[str, bytes],
        last_active: int,
        hashes: Mapping[str, Mapping[str, bytes]],
        tools: bytes | None,
        events: Sequence[EventRow],
        checkpoints: Sequence[CheckpointRow],
        ttls: SessionTTLs,
    ) -> None:
        # Ordinary writes (never RESTORE): the session's keys in one transaction (they share
        # a slot), then the agent's indexes, which a repeated load finds already written.
        pipe = self._r.pipeline(transaction=True)
        pipe.execute_command("DEL", s.meta, s.working, s.scratch, s.events, s.checkpoints,
                             s.checkpoint_data, s.tools)  # fmt: skip
        pipe.hset(s.meta, mapping={**meta, "agent": s.agent})
        for kind, key, ttl in (("working", s.working, ttls.working_ms),
                               ("scratch", s.scratch, ttls.scratch_ms)):  # fmt: skip
            if hashes.get(kind):
                pipe.hset(key, mapping=dict(hashes[kind]))
                if ttl is not None:
                    pipe.pexpire(key, ttl)
        if tools is not None:
            pipe.set(s.tools, tools, px=ttls.checkpoints_ms)
        for row in events:
            event_id, type_, outcome, ts, latency_ms, data = row[:6]
            fields: dict[str, Any] = {"id": event_id, "type": type_, "outcome": outcome,
                                      "ts": ts, "data": data}  # fmt: skip
            if latency_ms is not None:
                fields["latency_ms"] = latency_ms
            trace = event_trace(row)
            if trace is not None:
                fields["trace_id"] = trace
            pipe.xadd(s.events, fields, maxlen=self._options.events_maxlen, approximate=True)
        for n, created_at, state in checkpoints:
            pipe.zadd(s.checkpoints, {checkpoint_member(n): created_at})
            pipe.hset(s.checkpoint_data, checkpoint_member(n), state)
        with TRANSLATE:
            await pipe.execute()
        pipe = self._r.pipeline(transaction=False)  # other hash tags: no transaction spans them
        self._touch(pipe, s, last_active, ttls)
        pipe.sadd(keys.agents(s.ns), s.agent)
        with TRANSLATE:
            await pipe.execute()

    def _touch(self, pipe: Any, s: SessionKeys, now_ms: int, ttls: SessionTTLs) -> None:
        """Queue the TTL refresh and activity update that follow a step or checkpoint (the
        scripts of a step do the same on the server)."""
        if ttls.events_ms is not None:
            pipe.pexpire(s.events, ttls.events_ms)
        if ttls.checkpoints_ms is not None:
            pipe.pexpire(s.checkpoints, ttls.checkpoints_ms)
            pipe.pexpire(s.checkpoint_data, ttls.checkpoints_ms)
        meta_ttl = _max_ttl(ttls.events_ms, ttls.checkpoints_ms)
        if meta_ttl is not None:
            pipe.pexpire(s.meta, meta_ttl)
        pipe.zadd(s.sessions, {s.sid: now_ms})

    async def erase_session(self, s: SessionKeys, dry_run: bool) -> dict[str, int]:
        session_keys = (s.meta, s.working, s.scratch, s.events, s.checkpoints,
                        s.checkpoint_data, s.tools, s.applied)  # fmt: skip
        pipe = self._r.pipeline(transaction=False)
        pipe.hlen(s.working)
        pipe.hlen(s.scratch)
        pipe.xlen(s.events)
        pipe.zcard(s.checkpoints)
        pipe.exists(s.tools)
        pipe.execute_command("EXISTS", *session_keys)
        pipe.zscore(s.sessions, s.sid)
        if not dry_run:
            self._opened.forget(s)
            # The session's keys first, its index entry last: a crash in between leaves
            # the entry, through which the next erasure finds the session again.
            pipe.execute_command("DEL", *session_keys)
            pipe.zrem(s.sessions, s.sid)
        with TRANSLATE:
            replies = await pipe.execute()
        working, scratch, events, checkpoints, tools, present, indexed = replies[:7]
        return {
            "sessions": int(bool(present or indexed is not None)),
            "working_keys": int(working),
            "scratch_keys": int(scratch),
            "events": int(events),
            "checkpoints": int(checkpoints),
            "tool_schemas": int(tools),
        }

    async def erase_agent(self, ns: str, agent: str, dry_run: bool) -> dict[str, int]:
        pipe = self._r.pipeline(transaction=False)
        pipe.hlen(keys.identity(ns, agent))
        pipe.exists(keys.state(ns, agent))
        pipe.sismember(keys.agents(ns), agent)
        if not dry_run:
            self._opened.clear()
            pipe.execute_command(
                "DEL", keys.identity(ns, agent), keys.state(ns, agent), keys.sessions(ns, agent)
            )
            # Its presence, inbox and notifications go with it (the feed is walked: admin only).
            pipe.delete(keys.inbox(ns, agent))
            pipe.hdel(keys.presence(ns), agent)
            pipe.zrem(keys.presence_due(ns), agent)
            pipe.hdel(keys.inbox_acks(ns), agent)
            pipe.execute_command("EVAL", FEED_SCRUB, 1, keys.feed(ns), agent)
            pipe.srem(keys.agents(ns), agent)
            pipe.execute_command("UNLINK", *every_bucket_key(ns, agent, ids.now_ms()))
        with TRANSLATE:
            replies = await pipe.execute()
        return {
            "agents": int(bool(replies[2] or replies[0] or replies[1])),
            "identity_documents": int(replies[0]),
            "states": int(replies[1]),
        }

    async def erase_namespace(self, ns: str, dry_run: bool) -> dict[str, int]:
        names = await self._scan(keys.namespace_pattern(ns))
        indexes: list[str] = []
        if self.capabilities.search:
            with TRANSLATE:
                listed = await self._r.execute_command(
                    "FT._LIST", **self._at_key(keys.namespace_tag(ns))
                )
            head = keys.memory_index(ns, 0).rsplit(":", 1)[0] + ":"
            indexes = [i for i in (x.decode() for x in listed) if i.startswith(head)]
        counts = {**count_keys(names, ns), "indexes": len(indexes)}
        if dry_run:
            return counts
        self._opened.clear()
        for index in indexes:  # the index first, so that no key is re-indexed on its way out
            with TRANSLATE:
                await self._r.execute_command("FT.DROPINDEX", index)
        for start in range(0, len(names), _UNLINK_BATCH):
            with TRANSLATE:
                await self._r.unlink(*names[start : start + _UNLINK_BATCH])
        self._longterm.forget_namespace(ns)
        return counts

    async def hash_keys(self, s: SessionKeys, kind: HashKind) -> list[str]:
        with TRANSLATE:
            names = await self._r.hkeys(s.working if kind == "working" else s.scratch)
        return [name.decode() for name in names]

    async def hash_pick(
        self, reads: Sequence[tuple[SessionKeys, HashKind, Sequence[str] | None]]
    ) -> list[dict[str, bytes]]:
        if not reads:
            return []
        pipe = self._r.pipeline(transaction=False)
        for s, kind, fields in reads:
            key = s.working if kind == "working" else s.scratch
            if fields is None:
                pipe.hgetall(key)
            elif fields:
                pipe.hmget(key, list(fields))
        with TRANSLATE:
            found = iter(await pipe.execute())
        picked: list[dict[str, bytes]] = []
        for _, _, fields in reads:
            if fields is None:
                picked.append({k.decode(): v for k, v in next(found).items()})
            elif fields:
                values = next(found)
                picked.append({f: v for f, v in zip(fields, values, strict=True) if v is not None})
            else:
                picked.append({})
        return picked


def _at(node: Any) -> dict[str, Any]:
    """The keyword that sends a command to one cluster node (none for a single server)."""
    return {} if node is None else {"target_nodes": node}


def _event_row(f: dict[bytes, bytes]) -> EventRow:
    latency, trace = f.get(b"latency_ms"), f.get(b"trace_id")
    return (
        f[b"id"].decode(),
        f[b"type"].decode(),
        f[b"outcome"].decode(),
        int(f[b"ts"]),
        None if latency is None else float(latency),
        f[b"data"],
        None if trace is None else trace.decode(),
    )


class _NotingScripts:
    """A pipeline that notes each ``EVALSHA`` queued into it by position, so that one the
    server refused (it lost its scripts) can be sent again; every other call goes through."""

    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe
        self.scripts: dict[int, tuple[tuple[Any, ...], dict[str, Any]]] = {}

    def __len__(self) -> int:
        return len(self._pipe)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if args[0] == "EVALSHA":
            self.scripts[len(self._pipe)] = (args, options)
        return self._pipe.execute_command(*args, **options)
