"""Faults that are not outages: a full Redis, a hung Redis, an evicting Redis. Each runs
against its own real server (started here, stopped at the end), since it fills, stops or
reconfigures it."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from aether_memory import (
    AsyncMemory,
    BackendUnavailable,
    ConfigurationError,
    Memory,
    Options,
    StorageFull,
)
from aether_memory.server.local import RedisProcess

TIMEOUT = 0.5  # socket and connect timeout of the clients under test
OPTIONS = Options(socket_timeout=TIMEOUT, connect_timeout=TIMEOUT, retries=3)


@pytest.fixture(params=["redis-modules", "redis-plain"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path / "redis", modules=request.param == "redis-modules")
    process.start()
    try:
        yield process
    finally:
        if process.pid is not None:
            os.kill(process.pid, signal.SIGCONT)  # a failed test may leave it stopped
        process.stop()


def admin(server: RedisProcess) -> redis.Redis:
    return redis.Redis.from_url(server.url, socket_timeout=5)


def fill(server: RedisProcess) -> None:
    """Put Redis over its maxmemory under noeviction: every write is refused from now on."""
    r = admin(server)
    r.config_set("maxmemory-policy", "noeviction")
    for i in range(32):
        r.set(f"filler:{i}", b"x" * 64 * 1024)
    used = int(r.info("memory")["used_memory"])
    # Half of use: freed client buffers or a closed connection cannot bring it back under.
    r.config_set("maxmemory", used // 2)
    r.close()


# -- out of memory -------------------------------------------------------------------------


@pytest.mark.parametrize("with_fallback", [False, True])
def test_a_full_redis_is_an_error_not_a_switch_to_an_empty_store(
    server: RedisProcess, tmp_path: Path, with_fallback: bool
) -> None:
    fallback = f"sqlite:///{tmp_path}/fallback.db" if with_fallback else None
    with Memory.open(server.url, namespace="oom", options=OPTIONS, fallback=fallback) as mem:
        agent = mem.agent("a")
        agent.identity.put("persona", "careful")
        session = agent.session("s1")
        session.working.set("k", 1)
        fill(server)
        with pytest.raises(StorageFull, match="maxmemory"):
            agent.identity.put("persona", "reckless")
        with pytest.raises(StorageFull):
            session.working.set("k", 2)
        with pytest.raises(StorageFull):
            session.checkpoint({"n": 1})
        # Reads still come from Redis and see what the agent had.
        assert agent.identity.get("persona") == "careful"
        assert session.working.get("k") == 1
        health = mem.health()
        assert health.serving == "redis" and not health.degraded
        assert health.full
        assert any("maxmemory" in w for w in health.warnings)
        assert health.outbox == 0
    # Nothing was queued for a later replay either.
    r = admin(server)
    r.config_set("maxmemory", 0)
    r.close()
    with Memory.open(server.url, namespace="oom", options=OPTIONS) as mem:
        assert mem.agent("a").identity.get("persona") == "careful"
        assert not mem.health().full


# -- a server that stops answering ----------------------------------------------------------


def test_calls_to_a_hung_redis_fail_within_the_timeout(server: RedisProcess) -> None:
    with Memory.open(server.url, namespace="hang", options=OPTIONS) as mem:
        session = mem.agent("a").session("s1")
        session.working.set("k", 1)
        session.checkpoint({"n": 1})
        assert server.pid is not None
        os.kill(server.pid, signal.SIGSTOP)
        try:
            for call in (
                lambda: session.working.get("k"),
                lambda: session.checkpoint({"n": 2}),
                lambda: session.record("tick", {"i": 1}),
                lambda: session.restore(),
            ):
                started = time.monotonic()
                with pytest.raises(BackendUnavailable):
                    call()
                # Generous: a call may take the timeout plus a small bound, never a multiple.
                assert time.monotonic() - started < 3 * TIMEOUT
        finally:
            os.kill(server.pid, signal.SIGCONT)
        assert session.working.get("k") == 1


async def test_async_calls_to_a_hung_redis_fail_within_the_timeout(
    server: RedisProcess,
) -> None:
    mem = await AsyncMemory.open(server.url, namespace="hang", options=OPTIONS)
    async with mem:
        session = mem.agent("a").session("s1")
        await session.working.set("k", 1)
        assert server.pid is not None
        os.kill(server.pid, signal.SIGSTOP)
        try:
            for call in (
                lambda: session.working.get("k"),
                lambda: session.checkpoint({"n": 2}),
            ):
                started = time.monotonic()
                with pytest.raises(BackendUnavailable):
                    await call()
                assert time.monotonic() - started < 3 * TIMEOUT
        finally:
            os.kill(server.pid, signal.SIGCONT)
        assert await session.working.get("k") == 1


def test_with_a_fallback_a_hung_redis_costs_one_timeout(
    server: RedisProcess, tmp_path: Path
) -> None:
    fallback = f"sqlite:///{tmp_path}/fallback.db"
    with Memory.open(server.url, namespace="hang", options=OPTIONS, fallback=fallback) as mem:
        session = mem.agent("a").session("s1")
        session.working.set("k", 1)
        assert server.pid is not None
        os.kill(server.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            session.checkpoint({"n": 2})  # served by the fallback once Redis times out
            assert time.monotonic() - started < 3 * TIMEOUT
            assert mem.health().degraded
        finally:
            os.kill(server.pid, signal.SIGCONT)


# -- eviction ----------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-ttl", "allkeys-lru"])
def test_every_evicting_policy_is_reported_at_connect_and_in_health(
    server: RedisProcess, policy: str, caplog: pytest.LogCaptureFixture
) -> None:
    r = admin(server)
    r.config_set("maxmemory-policy", policy)
    r.close()
    with Memory.open(server.url, namespace="ev", options=OPTIONS) as mem:
        assert any(policy in m and "noeviction" in m for m in caplog.messages)
        assert mem.capabilities.evicts_durable_keys
        assert any(policy in w for w in mem.health().warnings)


def test_an_evicting_policy_is_refused_when_strict(server: RedisProcess) -> None:
    r = admin(server)
    r.config_set("maxmemory-policy", "volatile-lfu")
    r.close()
    with pytest.raises(ConfigurationError, match="volatile-lfu"):
        Memory.open(server.url, namespace="ev", options=OPTIONS, strict=True)


def test_a_policy_changed_after_connect_is_noticed(
    server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    options = OPTIONS.with_(watch_interval=0.1)
    with Memory.open(server.url, namespace="ev", options=options) as mem:
        assert not mem.health().warnings
        r = admin(server)
        r.config_set("maxmemory-policy", "allkeys-lru")
        r.close()
        end = time.monotonic() + 30
        while not any("allkeys-lru" in m for m in caplog.messages):
            assert time.monotonic() < end, "the changed policy was never reported"
            time.sleep(0.05)
        assert any("allkeys-lru" in w for w in mem.health().warnings)


def test_evictions_are_counted_in_health(server: RedisProcess) -> None:
    r = admin(server)
    r.config_set("maxmemory-policy", "volatile-lru")
    used = int(r.info("memory")["used_memory"])
    r.config_set("maxmemory", used + 1024 * 1024)
    r.close()
    with Memory.open(server.url, namespace="ev", options=OPTIONS) as mem:
        agent = mem.agent("a")
        for i in range(60):  # checkpoints have a TTL: volatile-lru may evict them
            agent.session(f"s{i}").checkpoint({"blob": os.urandom(30_000).hex()})  # incompressible
        health = mem.health()
        assert health.evicted_keys
        assert any("evicted" in w and str(health.evicted_keys) in w for w in health.warnings)


def test_retrying_a_dead_redis_leaves_the_applications_random_stream_alone(
    server: RedisProcess,
) -> None:
    """A program that seeds `random` for reproducible runs gets the same numbers whether or
    not Redis went away: the retries' jitter has its own generator."""
    url = server.url
    server.stop()
    random.seed(20261202)
    before = random.getstate()
    with pytest.raises(BackendUnavailable):
        Memory.open(url, options=OPTIONS)
    assert random.getstate() == before


@pytest.mark.parametrize("write", ["record", "add_messages", "checkpoint"])
def test_a_server_that_lost_its_scripts_loses_nothing_of_a_write(
    redis_url: str, namespace: str, write: str
) -> None:
    # The scripts go (a restart with an empty cache, SCRIPT FLUSH) after another client
    # erased the agent: the next write must still be whole — its event or checkpoint, its
    # tool metrics, and the session recorded again.
    with Memory.open(redis_url, namespace=namespace) as mem:
        agent = mem.agent("planner")
        s = agent.session("s1")
        s.record("tool_call", {"tool": "search"}, latency_ms=5.0)
        with Memory.open(redis_url, namespace=namespace) as other:
            other.agent("planner").erase()
        raw = redis.Redis.from_url(redis_url)
        raw.script_flush()
        raw.close()
        if write == "record":
            s.record("tool_call", {"tool": "search"}, latency_ms=7.0)
            assert [e.data for e in s.events()] == [{"tool": "search"}]
            calls = sum(b.calls for b in agent.metrics(tool="search").buckets)
            assert calls == 1, "the step's metrics were lost with the scripts"
        elif write == "add_messages":
            s.add_messages([{"speaker": "ann", "content": "hello"}])
            assert [e.type for e in s.events()] == ["message"]
        else:
            assert s.checkpoint({"i": 1}) == 1
            assert s.restore() == {"i": 1}
        assert mem.agents() == ["planner"]
        assert [x.id for x in agent.sessions()] == ["s1"]
        assert s.meta().get("agent") == "planner" and "created_at" in s.meta()
