"""The feed role on Redis: reading the change feed, presence, inboxes and broadcasts.

Each notification is appended to the namespace's feed stream and, by the same script, published
on the feed's sharded pub/sub channel with the position of the entry before it. A subscriber
listens on the channel (a push, no command to re-issue per notification) and delivers a
message at once when it follows the last position it delivered; a message it already has
(its position is not newer) is dropped, and one that does not follow (it missed one: a
reconnection, a lost message) makes it read the stream from its position instead. The stream
stays the record: a subscriber reads it when it starts, after every reconnection, and every
`idle` seconds (with the presence sweep), so it never skips an entry, delivers each once, in
the stream's order, and resumes after an outage where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from functools import cache
from time import monotonic
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    NoScriptError,
    RedisError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from aether_memory.backends.redis.errors import TRANSLATE
from aether_memory.backends.redis.notes import (
    encode_note,
    feed_keys,
    follows,
    live_entry,
    note_fields,
)
from aether_memory.backends.redis.scripts import INBOX_READ, NOTE, PRESENCE, PRESENCE_SWEEP, SEND
from aether_memory.core import keys
from aether_memory.core.errors import BackendUnavailable
from aether_memory.core.feed import FEED_CAP, INBOX_CAP, READ_BATCH, check_held
from aether_memory.core.ids import now_ms
from aether_memory.storage._async.feed import never

log = logging.getLogger("aether_memory")

FeedEntry = tuple[str, dict[str, Any]]  # position, fields
RECONNECT_FIRST = 0.05  # seconds before a subscriber's first reconnection attempt
RECONNECT_MAX = 2.0
# What a cluster answers while a slot changes hands (a failover, a resharding): the shard the
# client knew is not the one to ask. The subscriber relearns the slots and subscribes again.
MOVING = (MovedError, AskError, TryAgainError, ClusterDownError)
# What makes a subscriber wait, then reconnect and resume where it was.
LOST = (RedisConnectionError, RedisTimeoutError, BackendUnavailable, *MOVING)
LOOK_EVERY = 1.0  # seconds between a subscriber's looks at the stream (and presence sweeps)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(raw: Any, notes: bool = False) -> list[FeedEntry]:
    """Stream entries as redis-py returns them (RESP2 or RESP3) as (position, fields); with
    `notes`, feed entries, each a notification's one field decoded."""
    out = []
    for position, fields in raw or []:
        if isinstance(fields, list):  # a script's reply: a flat field, value list
            fields = dict(zip(fields[::2], fields[1::2], strict=True))
        found = {_text(k): v for k, v in fields.items()}
        out.append((_text(position), note_fields(found) if notes else found))
    return out


@cache
def _digest(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()  # the id the server gives the script


def _presence_keys(ns: str) -> tuple[str, str, str, str]:
    return keys.presence(ns), *feed_keys(ns), keys.presence_due(ns)


class AsyncRedisFeed:
    """Feed, presence and messages of one Redis server."""

    def __init__(self, client: Any) -> None:
        self._r = client
        self._stopped = False

    def stop(self) -> None:
        """End every subscription (at the store's close) within one look at the stream."""
        self._stopped = True

    def _listener(self) -> tuple[Any, Any]:
        """A pub/sub connection of its own for one subscriber (a subscribed connection runs
        no other command), and the pool to close with it: on one server, a pool of one; on a
        cluster, the cluster client's pub/sub, which subscribes on the shard of the channel."""
        pool = getattr(self._r, "connection_pool", None)
        if pool is None:
            return self._r.pubsub(), None
        # Its socket timeout is the look interval: a read then needs no timeout of its own
        # (setting one costs two system calls per notification).
        kwargs = {**pool.connection_kwargs, "socket_timeout": self.look_every()}
        own = ConnectionPool(connection_class=pool.connection_class, max_connections=1, **kwargs)
        client: Any = Redis(connection_pool=own)  # untyped pubsub() in the sync twin
        return client.pubsub(), own

    def look_every(self) -> float:
        """Seconds between a subscriber's looks at the stream: at most `LOOK_EVERY`, and well
        inside the socket timeout, so a silent feed is not taken for a dead server."""
        pool = getattr(self._r, "connection_pool", None)
        kwargs = self._r.get_connection_kwargs() if pool is None else pool.connection_kwargs
        timeout = kwargs.get("socket_timeout") or 5.0
        return max(0.01, min(LOOK_EVERY, timeout / 2))

    async def last(self, ns: str) -> str:
        """The position of the newest notification (``0-0`` for an empty feed)."""
        with TRANSLATE:
            newest = await self._r.xrevrange(keys.feed(ns), count=1)
        return _text(newest[0][0]) if newest else "0-0"

    async def read(self, ns: str, after: str, limit: int) -> tuple[str | None, list[FeedEntry]]:
        """The oldest position held and up to `limit` entries after `after`, atomically,
        after announcing the agents whose heartbeat ran out (the presence sweep)."""
        pipe = self._r.pipeline(transaction=True)
        pipe.execute_command("EVAL", PRESENCE_SWEEP, 4, *_presence_keys(ns), now_ms(), FEED_CAP)
        pipe.xrange(keys.feed(ns), count=1)
        pipe.xrange(keys.feed(ns), min=f"({after}", count=limit)
        with TRANSLATE:
            _, first, entries = await pipe.execute()
        return (_text(first[0][0]) if first else None), _entries(entries, notes=True)

    async def _message(self, live: tuple[Any, Any], wait: float) -> list[Any] | None:
        """The next push to a subscribed connection within `wait` seconds (``[kind,
        channel, data]``), or None; on one server, within the connection's own timeout (the
        look interval). Read from the connection itself: the pub/sub client's
        ``get_message`` polls first (a new selector and a closed-socket probe per call),
        which costs more per notification than the whole wake-up it waits for."""
        pubsub, own = live
        nodes = getattr(pubsub, "node_pubsub_mapping", None)  # a cluster's: one per shard
        conn = (next(iter(nodes.values())) if nodes else pubsub).connection
        if conn is None:
            raise RedisConnectionError("the feed's subscription has no connection")
        try:
            if own is not None:
                got = await conn.read_response(disconnect_on_error=False, push_request=True)
            else:
                got = await conn.read_response(
                    timeout=max(0.001, wait), disconnect_on_error=False, push_request=True
                )
        except RedisTimeoutError:
            return None  # nothing within `wait` (the async client returns None instead)
        return got if isinstance(got, list) and len(got) >= 3 else None

    async def _subscribed(self, ns: str) -> tuple[Any, Any]:
        """A pub/sub connection subscribed to the feed's channel (and its pool), once the
        server confirmed it: what is published from then on reaches it."""
        live = self._listener()
        try:
            await live[0].ssubscribe(keys.feed_channel(ns))
            deadline = monotonic() + self.look_every() * 2
            while monotonic() < deadline:
                message = await self._message(live, deadline - monotonic())
                if message is not None and _text(message[0]) == "ssubscribe":
                    return live
            raise RedisTimeoutError("the server did not confirm the feed subscription")
        except BaseException:
            await _close(live)
            raise

    async def subscribe(
        self, ns: str, after: str | None, stop: Callable[[], bool] = never
    ) -> AsyncIterator[FeedEntry]:
        """Every notification after `after` (None: from now), in order, as they come;
        reconnects by itself through an outage and resumes where it was; ends when the store is
        closed. Raises `FeedTruncated` when the feed no longer holds `after`."""
        if self._stopped or stop():  # made before the close, first iterated after
            return
        position = await self.last(ns) if after is None else after
        live: tuple[Any, Any] | None = None
        pause, look, next_look = RECONNECT_FIRST, True, 0.0
        try:
            while not (self._stopped or stop()):
                try:
                    if live is None:  # first, and after a lost connection
                        live, look = await self._subscribed(ns), True
                    if look:  # the stream: after (re)subscribing, a gap, or every so often
                        first, entries = await self.read(ns, position, READ_BATCH)
                        check_held(ns, position, first)
                        look = len(entries) == READ_BATCH  # far behind: read on
                        next_look = monotonic() + self.look_every()
                    else:
                        wait = max(0.0, next_look - monotonic())
                        entries, look = self._live(await self._message(live, wait), position)
                        look = look or monotonic() >= next_look
                    pause = RECONNECT_FIRST
                except LOST as exc:
                    if self._stopped or stop():  # closed under the subscriber
                        return
                    # The server is down or restarting, or the slot moved to another shard:
                    # wait, then resume at `position`.
                    log.info("aether-memory: the feed of %r lost its server (%s)", ns, exc)
                    await _close(live)
                    live = None
                    await self._relearn_slots()
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, RECONNECT_MAX)
                    continue
                for entry in entries:
                    position = entry[0]
                    yield entry
        finally:
            await _close(live)

    async def _relearn_slots(self) -> None:
        """On a cluster, read the slot map again: the pub/sub connection subscribes on the shard
        the client knew, and redis-py learns of a dead or moved shard from its own commands
        only."""
        nodes = getattr(self._r, "nodes_manager", None)
        if nodes is not None:
            with contextlib.suppress(RedisError):  # no node answers yet: next time
                await nodes.initialize()

    @staticmethod
    def _live(message: list[Any] | None, position: str) -> tuple[list[FeedEntry], bool]:
        """What a pushed message delivers after `position`, and whether to read the stream."""
        if message is None:
            return [], True  # quiet: look at the stream (and sweep presence)
        kind = message[0]
        if kind != b"smessage" and kind != "smessage":
            if _text(kind) == "sunsubscribe":  # the slot moved to another shard
                raise RedisConnectionError("the feed's channel moved")
            return [], True
        got = live_entry(message[2])
        if got is None:
            return [], True
        prev, entry = got
        step = follows(position, prev, entry[0])
        if step is None:
            return [], False  # seen already
        return ([entry], False) if step else ([], True)

    async def _script(self, script: str, numkeys: int, *args: Any) -> Any:
        """Run a feed script by its digest (loading it when the server does not have it)."""
        with TRANSLATE:
            try:
                return await self._r.evalsha(_digest(script), numkeys, *args)
            except NoScriptError:
                return await self._r.eval(script, numkeys, *args)

    # -- presence --------------------------------------------------------------------------
    async def heartbeat(self, ns: str, agent: str, value: bytes, status: str, now: int) -> None:
        pipe = self._r.pipeline(transaction=True)
        # EVAL through execute_command: a cluster pipeline has no eval() of this shape.
        pipe.execute_command("EVAL", PRESENCE, 4, *_presence_keys(ns), agent, value, status, now,
                             FEED_CAP)  # fmt: skip
        pipe.sadd(keys.agents(ns), agent)
        with TRANSLATE:
            await pipe.execute()

    async def presence(self, ns: str) -> tuple[list[str], dict[str, bytes]]:
        """The namespace's agents and their stored heartbeats, in one round trip (which
        first announces the agents whose heartbeat ran out)."""
        pipe = self._r.pipeline(transaction=False)
        pipe.execute_command("EVAL", PRESENCE_SWEEP, 4, *_presence_keys(ns), now_ms(), FEED_CAP)
        pipe.smembers(keys.agents(ns))
        pipe.hgetall(keys.presence(ns))
        with TRANSLATE:
            _, members, beats = await pipe.execute()
        return [_text(m) for m in members], {_text(k): v for k, v in beats.items()}

    # -- messages --------------------------------------------------------------------------
    async def send(self, ns: str, sender: str, to: str, body: bytes, now: int) -> str:
        found = await self._script(
            SEND, 3, keys.inbox(ns, to), *feed_keys(ns), sender, to,
            body, now, INBOX_CAP, FEED_CAP,
        )  # fmt: skip
        return _text(found)

    async def inbox(
        self, ns: str, agent: str, ack: str | None, limit: int
    ) -> list[tuple[str, str, bytes, int]]:
        """Acknowledge up to `ack`, then up to `limit` messages after the acknowledgement:
        (id, sender, body, at)."""
        with TRANSLATE:
            raw = await self._r.eval(
                INBOX_READ, 2, keys.inbox(ns, agent), keys.inbox_acks(ns), agent, ack or "", limit
            )
        return [
            (position, _text(f["sender"]), f["body"], int(f["at"])) for position, f in _entries(raw)
        ]

    async def broadcast(self, ns: str, sender: str, channel: str, body: bytes, now: int) -> None:
        note = encode_note(sender, "broadcast", channel, "sent", now, body)
        await self._script(NOTE, 2, *feed_keys(ns), FEED_CAP, note)


async def _close(live: tuple[Any, Any] | None) -> None:
    """Close a subscriber's pub/sub connection (and, on one server, its pool of one)."""
    if live is None:
        return
    pubsub, pool = live
    await pubsub.aclose()
    if pool is not None:
        await pool.aclose()
