"""Redis Cluster specifics: URLs and detection, single-slot commands, the local cluster's
shape, and a failover under a steady write load (a primary SIGKILLed, its replica promoted).
Real clusters on loopback; nothing is mocked."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

from aether_memory import (
    AsyncMemory,
    BackendUnavailable,
    ConfigurationError,
    Memory,
    NotReplicated,
    Options,
)
from aether_memory.backends.redis._sync.longterm import INDEX_VERSION
from aether_memory.backends.redis.cluster import (
    cluster_url_of,
    is_cluster_url,
    key_slot,
    parse_cluster_url,
)
from aether_memory.core import keys
from aether_memory.core.keys import SessionKeys
from aether_memory.server.cluster import LocalCluster, slot_ranges
from aether_memory.server.local import RedisProcess
from tests.integration.test_fallback import replayed, wait_for
from tests.raw import raw_client
from tests.word_embedder import WordHashEmbedder


def test_cluster_urls_are_read_and_refused_plainly() -> None:
    address = parse_cluster_url("rediss+cluster://u:p%40ss@h1:7000,h2:7001")
    assert address.nodes == (("h1", 7000), ("h2", 7001))
    assert (address.username, address.password, address.tls) == ("u", "p@ss", True)
    assert parse_cluster_url("redis+cluster://h").nodes == (("h", 6379),)
    assert is_cluster_url("redis+cluster://h:1") and not is_cluster_url("redis://h:1")
    assert cluster_url_of("redis://:pw@h:7000/0") == "redis+cluster://:pw@h:7000"
    for bad in ("redis+cluster://h:x", "redis+cluster://h:1/3", "redis+cluster://"):
        with pytest.raises(ConfigurationError):
            parse_cluster_url(bad)


def test_key_slots_are_the_servers(cluster: LocalCluster) -> None:
    r = raw_client(cluster.url)
    try:
        for key in ("plain", "aether:{ns}:agents", "aether:{ns/a/s}:meta", "a{}b", "{x}}"):
            assert key_slot(key) == r.keyslot(key)
    finally:
        r.close()


def test_every_key_of_one_session_and_of_one_namespace_shares_a_slot() -> None:
    s = SessionKeys.build("ns", "agent", "sid")
    session = {s.meta, s.working, s.scratch, s.events, s.checkpoints, s.checkpoint_data,
               s.tools, s.applied}  # fmt: skip
    assert len({key_slot(k) for k in session}) == 1
    shared = {keys.agents("ns"), keys.identity("ns", "a"), keys.sessions("ns", "a"),
              keys.memory("ns", "m"), keys.memory_index("ns", INDEX_VERSION),
              keys.content_hashes("ns"), keys.vectors("ns"), keys.applied("ns"),
              keys.skill("ns", "k"), keys.memory_ids("ns"), keys.access_counts("ns")}  # fmt: skip
    assert len({key_slot(k) for k in shared}) == 1


def test_slots_are_split_evenly() -> None:
    ranges = slot_ranges(3)
    assert ranges[0][0] == 0 and ranges[-1][1] == 16383
    assert max(b - a for a, b in ranges) - min(b - a for a, b in ranges) <= 1


def test_a_plain_url_of_a_cluster_node_is_followed_as_the_cluster(
    cluster: LocalCluster, namespace: str
) -> None:
    # Several sessions: their keys land on different shards, which a single-node client
    # could not reach (MOVED).
    with Memory.open(cluster.nodes[0].url, namespace=namespace) as mem:
        assert mem.capabilities.cluster
        for i in range(12):
            s = mem.agent("a").session(f"s{i}")
            s.working.set("k", i)
            s.record("step", {"i": i})
            assert s.checkpoint({"i": i}) == 1
        assert [mem.agent("a").session(f"s{i}").working.get("k") for i in range(12)] == list(
            range(12)
        )


async def test_the_async_client_speaks_cluster_too(cluster: LocalCluster, namespace: str) -> None:
    memory = await AsyncMemory.open(cluster.nodes[1].url, namespace=namespace)
    async with memory:
        for i in range(6):
            s = memory.agent("a").session(f"s{i}")
            await s.working.set("k", i)
            assert await s.working.get("k") == i


def test_long_term_memories_of_a_namespace_live_on_one_shard(
    cluster: LocalCluster, namespace: str
) -> None:
    with Memory.open(cluster.url, namespace=namespace, embedder=WordHashEmbedder()) as mem:
        agent = mem.agent("a")
        for text in ("The backup runs at midnight", "Leonor lives in Porto", "Tea at five"):
            agent.remember(text)
        assert agent.recall("backup midnight", k=1)[0].record.content.startswith("The backup")
    r = raw_client(cluster.url)
    try:
        found = [k for k in r.scan_iter(match=keys.memory_prefix(namespace).replace("{", "[{]")
                                         + "*")]  # fmt: skip
        assert len(found) == 3
        owner = r.get_node_from_key(keys.namespace_tag(namespace))
        assert {r.get_node_from_key(k).name for k in found} == {owner.name}
        index = keys.memory_index(namespace, INDEX_VERSION)
        listed = r.execute_command("FT._LIST", target_nodes=owner)
        assert index.encode() in listed
        others = [n for n in r.get_primaries() if n.name != owner.name]
        for node in others:  # one index, on the namespace's shard only
            assert index.encode() not in r.execute_command("FT._LIST", target_nodes=node)
    finally:
        r.close()


def test_an_unreachable_cluster_is_a_backend_error(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable):
        Memory.open("redis+cluster://127.0.0.1:1", options=Options(connect_timeout=0.5))


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(
        tmp_path_factory.mktemp("replicated"), primaries=3, replicas=1, node_timeout_ms=1000
    ) as started:
        yield started


def replica_of(cluster: LocalCluster, primary: RedisProcess) -> RedisProcess:
    """The node that replicates `primary` now."""
    r = redis.Redis(port=primary.port, socket_timeout=5)
    try:
        port = int(r.info("replication")["slave0"]["port"])
    finally:
        r.close()
    return next(n for n in cluster.nodes if n.port == port)


def cut_replication(primary: RedisProcess) -> None:
    """Close the primary's links to its replicas (a paused replica cannot reconnect, so the
    writes that follow reach no replica)."""
    r = redis.Redis(port=primary.port, socket_timeout=5)
    try:
        r.execute_command("CLIENT", "KILL", "TYPE", "replica")
    finally:
        r.close()


def test_a_failover_under_writes_loses_no_acknowledged_write(
    replicated: LocalCluster, namespace: str
) -> None:
    """With ``durability="replicated"``, SIGKILL the primary of a session's slot while writing
    to it: the writes stall until the replica is promoted, then go on; afterwards every
    acknowledged write is readable, those before the kill included. Just before the kill the
    replica is paused (SIGSTOP) and its link cut, so the last writes cannot reach it:
    acknowledged without the option (and then lost), they are refused with `NotReplicated`
    under it."""
    opts = Options(namespace=namespace, socket_timeout=1.5, connect_timeout=0.5, retries=2,
                   durability="replicated", replica_timeout=0.3)  # fmt: skip
    with Memory.open(replicated.url, options=opts) as mem:
        s = mem.agent("a").session("s1")
        victim = replicated.primary_of(SessionKeys.build(namespace, "a", "s1").working)
        heir = replica_of(replicated, victim)
        acked: list[int] = []
        refused: list[int] = []  # NotReplicated: applied on a primary, maybe nowhere else
        stall_start: float | None = None
        stalls: list[float] = []
        deadline = time.monotonic() + 120  # a guard against a hang, not a speed check
        i = 0
        while len(acked) < 300 and time.monotonic() < deadline:
            if i == 100 and heir.pid is not None and victim.pid is not None:
                os.kill(heir.pid, signal.SIGSTOP)
                cut_replication(victim)
            if i == 105 and victim.pid is not None:
                victim.kill()
                os.kill(heir.pid or 0, signal.SIGCONT)
            try:
                s.working.set(f"k{i}", i)
            except NotReplicated:
                refused.append(i)
                if victim.pid is None and replicated.primary_of(s._keys.working) is heir:
                    victim.start()  # promoted: the old primary rejoins as its replica
                    replicated.wait_ok()
                i += 1
                continue
            except BackendUnavailable:
                stall_start = stall_start or time.monotonic()
                time.sleep(0.05)
                continue
            if stall_start is not None:
                stalls.append(time.monotonic() - stall_start)
                stall_start = None
            acked.append(i)
            i += 1
        assert len(acked) == 300, f"the writes did not resume ({len(acked)} acknowledged)"
        assert stalls, "the SIGKILL caused no stall at all: was the right primary killed?"
        assert replicated.primary_of(s._keys.working) is heir  # the replica took over
        stored = s.working.all()
        lost = [n for n in acked if stored.get(f"k{n}") != n]
        assert not lost, f"acknowledged writes lost in the failover: {lost}"
        assert set(range(100, 105)) <= set(refused)  # those the replica could not get
        print(f"failover stall {max(stalls):.2f} s; {len(acked)} acknowledged, none lost; "
              f"{len(refused)} refused as not replicated, of which "
              f"{sum(1 for n in refused if f'k{n}' not in stored)} are gone")  # fmt: skip


def test_a_cluster_client_sends_single_slot_commands_only(cluster: LocalCluster) -> None:
    """The server refuses a cross-slot command with CROSSSLOT: a store call that sent one
    would fail. Here the check runs the other way: the server does refuse one."""
    r = raw_client(cluster.url)
    try:
        assert isinstance(r, RedisCluster)
        node = r.get_node_from_key("aether:{a}:x")
        with pytest.raises(Exception, match="same slot"):
            r.execute_command("DEL", "aether:{a}:x", "aether:{b}:x", target_nodes=node)
    finally:
        r.close()


def test_the_fallback_covers_a_cluster_outage_and_replays(tmp_path: Path, namespace: str) -> None:
    """A one-primary cluster SIGKILLed: writes go to the SQLite fallback, and are replayed
    onto the cluster once its node is back."""
    opts = Options(namespace=namespace, socket_timeout=0.5, connect_timeout=0.5, retries=1)
    fallback = "sqlite:///" + str(tmp_path / "fallback.db")
    # fsync always: with everysec a SIGKILL can drop a write whose AOF write was postponed
    # behind a slow background fsync (the write was acknowledged, not yet in the file).
    with LocalCluster(tmp_path / "c", primaries=1, fsync="always") as small:
        with Memory.open(small.url, options=opts, fallback=fallback) as mem:
            s = mem.agent("a").session("s1")
            s.working.set("before", 1)
            small.nodes[0].kill()
            s.working.set("during", 2)
            s.record("step", {"n": 1})
            assert mem.health().degraded
            small.nodes[0].start()
            small.wait_ok()
            wait_for(lambda: replayed(mem.health()), "the replay onto the cluster")
        with Memory.open(small.url, options=opts) as direct:
            s = direct.agent("a").session("s1")
            assert s.working.all() == {"before": 1, "during": 2}
            assert [e.data for e in s.events(10)] == [{"n": 1}]


async def test_async_long_term_memory_reaches_its_namespaces_shard(
    cluster: LocalCluster, namespace: str
) -> None:
    """Skills and memories through the async cluster client: each dedup lookup and recall is
    sent to the shard of the namespace's index."""
    memory = await AsyncMemory.open(cluster.url, namespace=namespace, embedder=WordHashEmbedder())
    async with memory:
        for i in range(24):
            agent = memory.agent(f"h{i}")
            await agent.save_skill(f"sk{i}", "d", [])
            found = await agent.recall("d", k=1)
            assert found, f"agent h{i} recalled nothing"
