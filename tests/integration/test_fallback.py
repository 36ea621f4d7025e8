"""Transparent fallback: Redis is SIGKILLed under a steady write load, the writes keep
succeeding on SQLite, and once Redis is back every acknowledged write is in it exactly once,
events in their order. Real servers, real files; nothing is mocked."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aether_memory import AsyncMemory, Health, Memory, Options
from aether_memory.server.local import RedisProcess
from tests.word_embedder import WordHashEmbedder

# Short timeouts: a dead server is noticed in well under a second.
# The writers go as fast as the machine lets them, for as long as the outage and the replay
# take: no event of theirs may be trimmed by the session's cap (10,000 by default).
OPTIONS = Options(
    namespace="fb", socket_timeout=0.5, connect_timeout=0.5, retries=1, events_maxlen=10**7
)
DEADLINE = 60.0  # seconds to wait for a replay before the test gives up


def wait_for(condition: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


async def await_for(condition: Callable[[], object], what: str) -> None:
    end = time.monotonic() + DEADLINE
    while not await condition():  # type: ignore[misc]
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


def replayed(health: Health) -> bool:
    return not health.degraded and health.outbox == 0


@pytest.fixture(params=["redis-modules", "redis-plain"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> RedisProcess:
    process = RedisProcess(
        tmp_path / "redis", fsync="always", modules=request.param == "redis-modules"
    )
    process.start()
    yield process  # type: ignore[misc]
    process.stop()


def check_in_redis(url: str, acked: dict[str, list[int]]) -> None:
    """Every acknowledged write is in Redis, once, in order (read without any fallback)."""
    with Memory.open(url, options=OPTIONS) as direct:
        agent = direct.agent("writer")
        for sid, numbers in acked.items():
            session = agent.session(sid)
            events = session.events(limit=len(numbers) + 100)
            assert [e.data["i"] for e in events] == numbers
            working = session.working.all()
            assert {int(k[1:]) for k in working} == set(numbers)
            assert session.restore() == {"last": numbers[-1]}


def test_sigkill_under_load_from_two_threads_loses_nothing(
    server: RedisProcess, tmp_path: Path
) -> None:
    fallback = f"sqlite:///{tmp_path}/fallback.db"
    acked: dict[str, list[int]] = {"t0": [], "t1": []}
    errors: list[BaseException] = []
    stop = threading.Event()
    with Memory.open(server.url, options=OPTIONS, fallback=fallback) as mem:

        def write(sid: str) -> None:
            session = mem.agent("writer").session(sid)
            i = 0
            try:
                while not stop.is_set():
                    session.record("tick", {"i": i})
                    session.working.set(f"k{i}", i)
                    session.checkpoint({"last": i})
                    acked[sid].append(i)
                    i += 1
            except BaseException as exc:  # any error is a lost write: fail the test
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(sid,)) for sid in acked]
        for thread in threads:
            thread.start()
        wait_for(lambda: min(map(len, acked.values())) >= 30, "writes before the outage")
        server.kill()
        wait_for(lambda: mem.health().degraded, "the switch to the fallback")
        during = min(map(len, acked.values()))
        wait_for(lambda: min(map(len, acked.values())) >= during + 50, "writes during it")
        assert mem.health().outbox > 0
        server.restart()
        wait_for(lambda: min(map(len, acked.values())) >= during + 100, "writes after it")
        wait_for(lambda: replayed(mem.health()), "the replay")
        stop.set()
        for thread in threads:
            thread.join()
        health = mem.health()
        assert health.serving == "redis"
        assert health.switches >= 2
        assert health.dropped == 0
    assert not errors
    check_in_redis(server.url, acked)


async def test_sigkill_under_load_from_two_tasks_loses_nothing(
    server: RedisProcess, tmp_path: Path
) -> None:
    fallback = f"sqlite:///{tmp_path}/fallback.db"
    acked: dict[str, list[int]] = {"a0": [], "a1": []}
    stop = asyncio.Event()
    mem = await AsyncMemory.open(server.url, options=OPTIONS, fallback=fallback)
    async with mem:

        async def write(sid: str) -> None:
            session = mem.agent("writer").session(sid)
            i = 0
            while not stop.is_set():
                await session.record("tick", {"i": i})
                await session.working.set(f"k{i}", i)
                await session.checkpoint({"last": i})
                acked[sid].append(i)
                i += 1

        async def count_at_least(n: int) -> bool:
            return min(map(len, acked.values())) >= n

        async def degraded() -> bool:
            return (await mem.health()).degraded

        async def done() -> bool:
            return replayed(await mem.health())

        tasks = [asyncio.create_task(write(sid)) for sid in acked]
        await await_for(lambda: count_at_least(30), "writes before the outage")
        await asyncio.to_thread(server.kill)
        await await_for(degraded, "the switch to the fallback")
        during = min(map(len, acked.values()))
        await await_for(lambda: count_at_least(during + 50), "writes during it")
        await asyncio.to_thread(server.restart)
        await await_for(lambda: count_at_least(during + 100), "writes after it")
        await await_for(done, "the replay")
        stop.set()
        await asyncio.gather(*tasks)  # re-raises any failed write
    check_in_redis(server.url, acked)


def test_redis_down_at_start_up_then_back(
    server: RedisProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fallback = f"sqlite:///{tmp_path}/fallback.db"
    server.kill()
    with Memory.open(server.url, options=OPTIONS, fallback=fallback) as mem:
        health = mem.health()
        assert health.degraded and health.serving == "sqlite" and health.ok
        session = mem.agent("writer").session("boot")
        numbers = list(range(20))
        for i in numbers:
            session.record("tick", {"i": i})
            session.working.set(f"k{i}", i)
        session.checkpoint({"last": numbers[-1]})
        mem.agent("writer").identity.put("mission", "survive outages")
        assert session.working.get("k3") == 3  # reads come from the fallback meanwhile
        assert mem.health().outbox >= 20 * 2 + 2
        server.restart()
        wait_for(lambda: replayed(mem.health()), "the replay")
        assert mem.health().switches == 2
    logged = [r.getMessage() for r in caplog.records if r.name == "aether_memory"]
    switches = [m for m in logged if "unreachable" in m or "is back" in m]
    assert len(switches) == 2 and "is back" in switches[1]  # a log line per switch
    check_in_redis(server.url, {"boot": numbers})
    with Memory.open(server.url, options=OPTIONS) as direct:
        assert direct.agent("writer").identity.get("mission") == "survive outages"


def test_outbox_outlives_the_process(server: RedisProcess, tmp_path: Path) -> None:
    """Writes queued by a client that closed during the outage are replayed by the next one."""
    fallback = f"sqlite:///{tmp_path}/fallback.db"
    server.kill()
    with Memory.open(server.url, options=OPTIONS, fallback=fallback) as mem:
        session = mem.agent("writer").session("later")
        for i in range(5):
            session.record("tick", {"i": i})
            session.working.set(f"k{i}", i)
        session.checkpoint({"last": 4})
        assert mem.health().outbox > 0
    server.restart()
    with Memory.open(server.url, options=OPTIONS, fallback=fallback) as mem:
        wait_for(lambda: replayed(mem.health()), "the replay")
        session = mem.agent("writer").session("later")
        session.record("tick", {"i": 5})  # after the replay: ordered after the old writes
        session.working.set("k5", 5)
        session.checkpoint({"last": 5})
    check_in_redis(server.url, {"later": list(range(6))})


def test_long_term_memories_made_during_an_outage_reach_redis(
    server: RedisProcess, tmp_path: Path
) -> None:
    fallback = f"sqlite:///{tmp_path}/fallback.db"
    embedder = WordHashEmbedder()
    with Memory.open(server.url, options=OPTIONS, fallback=fallback, embedder=embedder) as mem:
        agent = mem.agent("writer")
        before = agent.remember("The staging database lives on host db-7.", tags=["infra"])
        server.kill()
        during = agent.remember("Deploys need the release checklist QA-19.", tags=["process"])
        assert mem.health().degraded
        hits = agent.recall("which checklist do deploys need?", k=1)
        assert [h.record.id for h in hits] == [during.id]  # recalled from the fallback
        agent.save_skill("deploy", "ship a release", ["run QA-19", "tag", "push"])
        agent.record_skill_execution("deploy", success=True, duration=3.0)
        server.restart()
        wait_for(lambda: replayed(mem.health()), "the replay")
    with Memory.open(server.url, options=OPTIONS, embedder=embedder) as direct:
        agent = direct.agent("writer")
        assert agent.memory_record(during.id).tags == ("process",)
        assert agent.memory_record(before.id).content.endswith("db-7.")
        hits = agent.recall("which checklist do deploys need?", k=1, tags=["process"])
        assert [h.record.id for h in hits] == [during.id]
        skill = agent.skill("deploy")
        assert skill.runs == 1 and skill.successes == 1


def test_messages_added_during_an_outage_reach_redis(server: RedisProcess, tmp_path: Path) -> None:
    fallback = f"sqlite:///{tmp_path}/fallback.db"
    embedder = WordHashEmbedder()
    with Memory.open(server.url, options=OPTIONS, fallback=fallback, embedder=embedder) as mem:
        session = mem.agent("writer").session("chat")
        session.add_messages([{"speaker": "Ana", "content": "The boat leaves at nine"}])
        server.kill()
        during = session.add_messages([{"speaker": "Rui", "content": "Pack the zephyr tent"}])
        assert mem.health().degraded
        hits = mem.agent("writer").recall("zephyr tent", k=1)
        assert [h.record.id for h in hits] == [during[0].memory_id]  # from the fallback
        server.restart()
        wait_for(lambda: replayed(mem.health()), "the replay")
    with Memory.open(server.url, options=OPTIONS, embedder=embedder) as direct:
        session = direct.agent("writer").session("chat")
        events = session.events(limit=10, types=["message"])
        assert [e.data["speaker"] for e in events] == ["Ana", "Rui"]
        hits = direct.agent("writer").recall("zephyr tent", k=1)
        assert [h.record.id for h in hits] == [during[0].memory_id]
