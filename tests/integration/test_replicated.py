"""``durability="replicated"`` on one server with a replica: each acknowledged write is on the
replica already, and a write no replica acknowledges in time is a typed error (the replica
paused with SIGSTOP). Real servers on loopback; nothing is mocked."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from aether_memory import AsyncMemory, ConfigurationError, Memory, NotReplicated, Options
from aether_memory.core import keys
from aether_memory.server.local import RedisProcess
from tests.word_embedder import WordHashEmbedder

REPLICATED = {"durability": "replicated", "replica_timeout": 0.3}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisProcess, RedisProcess]]:
    """A primary with the modules and its replica."""
    folder = tmp_path_factory.mktemp("replicated-pair")
    primary = RedisProcess(folder / "primary")
    primary.start()
    replica = RedisProcess(
        folder / "replica", extra_args=("--replicaof", "127.0.0.1", str(primary.port))
    )
    try:
        replica.start()
        r = redis.Redis(port=primary.port)
        deadline = time.monotonic() + 30
        while r.info("replication").get("slave0", {}).get("state") != "online":
            assert time.monotonic() < deadline, "the replica did not sync"
            time.sleep(0.05)
        r.close()
        yield primary, replica
    finally:
        replica.stop()
        primary.stop()


@contextlib.contextmanager
def paused(server: RedisProcess) -> Iterator[None]:
    """SIGSTOP a server (it stops reading and acknowledging) until the block ends."""
    assert server.pid is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.pid, signal.SIGCONT)


def test_every_acknowledged_write_is_on_the_replica_already(
    pair: tuple[RedisProcess, RedisProcess], namespace: str
) -> None:
    primary, replica = pair
    opts = Options(namespace=namespace, **REPLICATED)  # type: ignore[arg-type]
    with Memory.open(primary.url, options=opts, embedder=WordHashEmbedder()) as mem:
        agent = mem.agent("a")
        s = agent.session("s1")
        s.working.set("goal", "ship")  # a plain pipeline: WAIT at its end
        s.record("step", {"n": 1})  # a script and a pipeline
        assert s.checkpoint({"n": 1}) == 1
        agent.identity.put("mission", "Ship it.")  # MULTI: a fence and WAIT after it
        fact = agent.remember("The backup runs at midnight")
        s.working.delete("goal")  # a single command
        # Read straight from the replica, with no pause: WAIT said it has them all.
        r = redis.Redis(port=replica.port)
        try:
            assert r.hget(keys.identity(namespace, "a"), "mission") is not None
            assert r.xlen(s._keys.events) == 1
            assert r.zcard(s._keys.checkpoints) == 1
            assert r.exists(keys.memory(namespace, fact.id))
            assert not r.hexists(s._keys.working, "goal")
            assert not list(r.scan_iter(match="aether:fence:*"))  # the fence leaves nothing
        finally:
            r.close()
        assert agent.recall("backup midnight", k=1)[0].record.id == fact.id


def test_a_write_no_replica_acknowledges_in_time_is_reported(
    pair: tuple[RedisProcess, RedisProcess], namespace: str
) -> None:
    primary, replica = pair
    opts = Options(namespace=namespace, **REPLICATED)  # type: ignore[arg-type]
    with Memory.open(primary.url, options=opts) as mem:
        agent = mem.agent("a")
        s = agent.session("s1")
        with paused(replica):
            with pytest.raises(NotReplicated, match="possibly unreplicated") as caught:
                s.working.set("k", 1)
            assert caught.value.retryable and caught.value.code == "not_replicated"
            assert caught.value.replicas == 0
            with pytest.raises(NotReplicated):
                agent.identity.put("mission", "Ship it.")  # the transaction's fence
            with pytest.raises(NotReplicated):
                s.working.delete("k")
            # Applied on the primary: it reads back.
            assert s.working.get("k") is None and agent.identity.get("mission") == "Ship it."
        s.working.set("k", 2)  # the replica is back: acknowledged again
        assert s.working.get("k") == 2


async def test_the_async_client_waits_too(
    pair: tuple[RedisProcess, RedisProcess], namespace: str
) -> None:
    primary, replica = pair
    opts = Options(namespace=namespace, **REPLICATED)  # type: ignore[arg-type]
    memory = await AsyncMemory.open(primary.url, options=opts)
    async with memory:
        agent = memory.agent("a")
        await agent.identity.put("mission", "Ship it.")
        with paused(replica):
            with pytest.raises(NotReplicated):
                await agent.session("s1").working.set("k", 1)
            with pytest.raises(NotReplicated):
                await agent.identity.put("mission", "Ship it again.")


def test_without_the_option_a_paused_replica_goes_unnoticed(
    pair: tuple[RedisProcess, RedisProcess], namespace: str
) -> None:
    """The default (asynchronous replication) acknowledges what the replica does not have."""
    primary, replica = pair
    with Memory.open(primary.url, namespace=namespace) as mem:
        s = mem.agent("a").session("s1")
        with paused(replica):
            s.working.set("k", 1)
            assert s.working.get("k") == 1


def test_the_option_is_checked_and_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigurationError, match="durability"):
        Options(durability="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="replica_timeout"):
        Options(durability="replicated", replica_timeout=10, socket_timeout=5)
    from aether_memory import Settings

    monkeypatch.setenv("AETHER_DURABILITY", "Replicated")
    monkeypatch.setenv("AETHER_REPLICA_TIMEOUT", "0.25")
    options = Settings().options()
    assert (options.durability, options.replica_timeout) == ("replicated", 0.25)


def test_a_server_without_a_replica_reports_every_write(tmp_path: Path, namespace: str) -> None:
    alone = RedisProcess(tmp_path / "alone", modules=False)
    alone.start()
    try:
        opts = Options(namespace=namespace, **REPLICATED)  # type: ignore[arg-type]
        with (
            Memory.open(alone.url, options=opts) as mem,
            pytest.raises(NotReplicated, match="0 of the 1 replica"),
        ):
            mem.agent("a").session("s").working.set("k", 1)
    finally:
        alone.stop()
