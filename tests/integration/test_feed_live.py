"""The Redis feed's live path: a subscriber listens on the namespace's sharded channel and
checks each published notification against the last position it delivered, so a message that
never reached it, one it gets twice, or one that is not a notification at all changes nothing
of what it delivers: every entry of the stream, once, in the stream's order."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from redis.cluster import RedisCluster

from aether_memory import Memory
from aether_memory.backends.redis.cluster import key_slot
from aether_memory.backends.redis.notes import encode_note
from aether_memory.backends.redis.scripts import NOTE
from aether_memory.core import keys
from aether_memory.core.feed import FEED_CAP
from aether_memory.core.ids import new_id
from aether_memory.server.cluster import LocalCluster
from tests.conformance.test_feed import until_marker
from tests.integration.test_fallback import wait_for
from tests.integration.test_feed_processes import Collector
from tests.raw import raw_client


@pytest.fixture
def live_mem(url: str) -> Iterator[Memory]:
    if url.startswith("sqlite"):
        pytest.skip("the live channel is Redis's; SQLite subscribers poll the file")
    with Memory.open(url, namespace="t" + new_id().lower()) as mem:
        yield mem


def _listening(r: Any, channel: str) -> int:
    """How many clients listen on `channel` (on a cluster, at the shard that holds it)."""
    where = {"target_nodes": r.get_node_from_key(channel)} if isinstance(r, RedisCluster) else {}
    return int(r.pubsub_shardnumsub(channel, **where)[0][1])


def test_a_subscriber_listens_on_the_feed_channel(live_mem: Memory, url: str) -> None:
    mem = live_mem
    channel = keys.feed_channel(mem.namespace)
    r = raw_client(url)
    try:
        assert _listening(r, channel) == 0
        collector = Collector(mem, mem.feed.position())
        wait_for(lambda: _listening(r, channel) == 1, "the subscription")
        mem.broadcast("n", 1)
        wait_for(lambda: [n.body for n in collector.got] == [1], "the notification")
    finally:
        r.close()


def test_lost_duplicated_and_foreign_messages_change_nothing(live_mem: Memory, url: str) -> None:
    mem = live_mem
    ns = mem.namespace
    feed, channel = keys.feed(ns), keys.feed_channel(ns)
    r = raw_client(url)

    def unpublished(body: int) -> None:  # in the stream, appended without a message
        note = encode_note("", "broadcast", "n", "sent", 1, orjson.dumps(body))
        r.xadd(feed, {"n": note}, maxlen=FEED_CAP, approximate=True)

    def lost(body: int) -> None:  # the notification script ran; its message never reached us
        note = encode_note("", "broadcast", "n", "sent", 1, orjson.dumps(body))
        r.eval(NOTE, 2, feed, f"{channel}:elsewhere", FEED_CAP, note)  # a channel no one hears

    def republish_newest() -> None:  # a copy of a message already delivered
        (position, fields), (before, _) = r.xrevrange(feed, count=2)
        r.execute_command("SPUBLISH", channel, b" ".join([before, position, fields[b"n"]]))

    try:
        collector = Collector(mem, mem.feed.position())
        wait_for(lambda: _listening(r, channel) == 1, "the subscription")
        mem.broadcast("n", 0)
        unpublished(1)  # lost: the next message names it as the one before
        mem.broadcast("n", 2)
        wait_for(lambda: len(collector.got) >= 3, "the gap filled")
        republish_newest()  # a duplicate
        r.execute_command("SPUBLISH", channel, b"not a notification")
        r.execute_command("SPUBLISH", channel, orjson.dumps(["9-9", "99999999999999-0", "x"]))
        r.execute_command("SPUBLISH", channel, b"9-9 99999999999999-0 {}")  # an unknown gap
        r.execute_command("SPUBLISH", channel, b"  99999999999999-0 [1]")
        mem.broadcast("n", 3)
        lost(4)  # and no write follows: found when it next looks at the stream
        wait_for(lambda: len(collector.got) >= 5, "the last, unpublished, notification")
        time.sleep(0.3)  # anything more would be a copy
        assert collector.error is None
        assert [n.body for n in collector.got] == [0, 1, 2, 3, 4]
        stream = [p.decode() for p, _ in r.xrange(feed)]
        assert [n.position for n in collector.got] == stream
    finally:
        r.close()


def test_every_coordination_key_of_a_namespace_shares_its_slot() -> None:
    ns = "team"
    queue = keys.QueueKeys.build(ns, "jobs")
    names = [keys.feed(ns), keys.feed_channel(ns), keys.presence(ns), keys.presence_due(ns),
             keys.agents(ns), keys.inbox(ns, "worker-3"), keys.inbox_acks(ns),
             *(getattr(queue, part) for part in queue.__slots__)]  # fmt: skip
    assert {key_slot(name) for name in names} == {key_slot(keys.namespace_tag(ns))}


def test_feed_presence_inbox_and_queue_live_on_one_shard_of_the_cluster(
    cluster: LocalCluster,
) -> None:
    ns = "t" + new_id().lower()
    with Memory.open(cluster.url, namespace=ns) as mem:
        start = mem.feed.position()
        worker = mem.agent("worker")
        worker.heartbeat(status="busy", ttl=60)
        mem.agent("boss").send("worker", {"task": 1})
        mem.broadcast("deploys", "v2", agent="boss")
        jobs = mem.queue("jobs")
        jobs.put({"n": 1})
        task = jobs.claim("worker")
        assert task is not None
        task.ack()
        got = worker.inbox()
        assert [m.body for m in got] == [{"task": 1}]
        assert worker.inbox(ack=got[-1].id) == []
        assert [s.agent for s in mem.agents_status() if s.online] == ["worker"]
        ops = [(n.kind, n.op) for n in until_marker(mem, start)]
        assert ops == [("presence", "busy"), ("message", "sent"), ("broadcast", "sent")]
    r = raw_client(cluster.url)
    try:
        holders = {
            node.name: sorted(k.decode() for k in r.scan_iter(match=keys.namespace_pattern(ns),
                                                                target_nodes=node))
            for node in r.get_primaries()
        }  # fmt: skip
    finally:
        r.close()
    found = [names for names in holders.values() if names]
    assert len(found) == 1  # one shard holds all of it
    assert {key_slot(name) for name in found[0]} == {key_slot(keys.namespace_tag(ns))}
    assert {keys.feed(ns), keys.presence(ns), keys.presence_due(ns), keys.inbox(ns, "worker"),
            keys.inbox_acks(ns)} <= set(found[0])  # fmt: skip
