"""The feed while its server dies under a running write load: a subscriber process keeps
going through a Redis SIGKILL and restart, and through a cluster failover (the primary of the
namespace's slot SIGKILLed, its replica promoted), and receives every acknowledged write's
notification, in order, once. Writes whose reply was lost in the crash may or may not be in
the feed (the server may have applied them); none is received twice either way."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from aether_memory import BackendUnavailable, Memory, NotReplicated, Options
from aether_memory.core import keys
from aether_memory.core.ids import new_id
from aether_memory.server.cluster import LocalCluster
from aether_memory.server.local import RedisProcess
from tests.integration.test_fallback import wait_for
from tests.integration.test_feed_processes import _lines, _subscriber
from tests.integration.test_feed_processes import server as server  # the fixture (fsync always)

BEFORE, TOTAL = 300, 600  # acknowledged writes before the crash, and in all


class Writer:
    """Broadcasts 0, 1, 2, ... from a thread, one at a time, until `TOTAL` are acknowledged;
    a write that raised is `unknown` (applied or not: its reply was lost)."""

    def __init__(self, mem: Memory) -> None:
        self.acked: list[int] = []
        self.unknown: list[int] = []
        self.error: BaseException | None = None
        self._mem = mem
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        i, deadline = 0, time.monotonic() + 120  # a guard against a hang, not a speed check
        try:
            while len(self.acked) < TOTAL and time.monotonic() < deadline:
                try:
                    self._mem.broadcast("n", i)
                except (BackendUnavailable, NotReplicated):
                    self.unknown.append(i)
                    time.sleep(0.02)
                else:
                    self.acked.append(i)
                i += 1
        except BaseException as exc:  # surfaced by the test
            self.error = exc

    def join(self) -> None:
        self._thread.join(150)
        assert self.error is None, self.error
        assert len(self.acked) == TOTAL, f"the writes did not resume ({len(self.acked)} acked)"


def _check(writer: Writer, received: list[tuple[str, int]]) -> None:
    positions = [p for p, _ in received]
    bodies = [b for _, b in received]
    assert len(set(positions)) == len(positions), "a notification was received twice"
    assert bodies == sorted(set(bodies)), "received out of order, or twice"
    missing = sorted(set(writer.acked) - set(bodies))
    assert not missing, f"acknowledged writes never received: {missing[:20]}"
    assert set(bodies) <= set(writer.acked) | set(writer.unknown)


def _crash_under_writes(
    url: str, options: Options, tmp_path: Path, crash: Callable[[], None]
) -> tuple[Writer, list[tuple[str, int]]]:
    out = tmp_path / "received.txt"
    with Memory.open(url, options=options) as mem:
        process = _subscriber(url, options.namespace, out, mem.feed.position())
        try:
            mem.broadcast("ready", -1)
            wait_for(lambda: len(_lines(out)) == 1, "the subscriber")
            writer = Writer(mem)
            wait_for(lambda: len(writer.acked) >= BEFORE, "the writes before the crash")
            crash()
            writer.join()
            wait_for(lambda: len(_lines(out)) >= 1 + TOTAL, "every acknowledged write")
            time.sleep(1.5)  # a copy would come within the subscriber's next look
        finally:
            process.kill()
            process.wait()
    received = _lines(out)
    assert received[0][1] == -1
    return writer, received[1:]


def test_a_subscriber_gets_every_acknowledged_write_through_a_redis_sigkill(
    server: RedisProcess, tmp_path: Path
) -> None:
    options = Options(namespace="t" + new_id().lower(), socket_timeout=0.5,
                      connect_timeout=0.5, retries=0)  # fmt: skip

    def crash() -> None:
        server.kill()  # in the middle of the writes: the one in flight gets no reply
        time.sleep(0.3)
        server.restart()

    writer, received = _crash_under_writes(server.url, options, tmp_path, crash)
    assert writer.unknown, "no write met the crash: was the server killed under them?"
    _check(writer, received)


@pytest.fixture
def replicated(tmp_path: Path) -> Iterator[LocalCluster]:
    # Two replicas a primary: after a failover the new primary still has one, so writes are
    # acknowledged (``durability="replicated"``) while the old primary stays dead.
    with LocalCluster(tmp_path / "cluster", primaries=3, replicas=2, node_timeout_ms=1000) as c:
        yield c


def test_a_subscriber_gets_every_acknowledged_write_through_a_cluster_failover(
    replicated: LocalCluster, tmp_path: Path
) -> None:
    """With ``durability="replicated"`` an acknowledged write is on a replica, so it survives
    the promotion; the subscriber's shard connection dies with the primary, which stays dead,
    and it learns the new slot map, subscribes on the new primary and reads the stream from its
    position."""
    ns = "t" + new_id().lower()
    options = Options(namespace=ns, socket_timeout=1.5, connect_timeout=0.5, retries=0,
                      durability="replicated", replica_timeout=0.3)  # fmt: skip
    victim = replicated.primary_of(keys.feed(ns))

    def crash() -> None:
        victim.kill()
        wait_for(lambda: replicated.primary_of(keys.feed(ns)) is not victim, "the promotion")

    writer, received = _crash_under_writes(replicated.url, options, tmp_path, crash)
    assert writer.unknown, "no write met the failover: was the right primary killed?"
    _check(writer, received)


def _move_slot(cluster: LocalCluster, key: str) -> None:
    """Reshard: move the slot of `key`, with its keys, to another primary (as
    ``redis-cli --cluster reshard`` does)."""
    source = cluster.primary_of(key)
    target = next(n for n in cluster.nodes if n is not source)
    src, dst = redis.Redis(port=source.port), redis.Redis(port=target.port)
    try:
        slot = int(src.execute_command("CLUSTER", "KEYSLOT", key))
        src_id = src.execute_command("CLUSTER", "MYID")
        dst_id = dst.execute_command("CLUSTER", "MYID")
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
        while found := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
            src.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *found)
        for node in cluster.nodes:
            with redis.Redis(port=node.port) as r:
                r.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
    finally:
        src.close()
        dst.close()


def test_a_subscriber_follows_its_slot_to_another_shard(tmp_path: Path) -> None:
    """A resharding moves the namespace's slot while a subscriber listens: the server
    unsubscribes it, the shard it knew answers MOVED, and it learns the new slot map,
    subscribes on the new shard (push delivery again, not only its once-a-second look) and
    delivers every write once, in order."""
    ns = "t" + new_id().lower()
    options = Options(namespace=ns, socket_timeout=1.5, connect_timeout=0.5, retries=0)
    out = tmp_path / "received.txt"
    channel = keys.feed_channel(ns)
    with (
        LocalCluster(tmp_path / "cluster", primaries=3, replicas=0) as cluster,
        Memory.open(cluster.url, options=options) as mem,
    ):
        process = _subscriber(cluster.url, ns, out, mem.feed.position())
        try:
            mem.broadcast("ready", -1)
            wait_for(lambda: len(_lines(out)) == 1, "the subscriber")
            _move_slot(cluster, keys.feed(ns))
            heir = cluster.primary_of(channel)

            def listening() -> bool:
                assert process.poll() is None, "the subscriber died"
                with redis.Redis(port=heir.port) as r:
                    return int(r.execute_command("PUBSUB", "SHARDNUMSUB", channel)[1]) == 1

            wait_for(listening, "the subscription on the slot's new shard")
            writer = Writer(mem)
            writer.join()
            wait_for(lambda: len(_lines(out)) >= 1 + TOTAL, "every write")
            time.sleep(1.5)  # a copy would come within the subscriber's next look
        finally:
            process.kill()
            process.wait()
    received = _lines(out)[1:]
    assert not writer.unknown
    _check(writer, received)
    assert [b for _, b in received] == list(range(TOTAL))
