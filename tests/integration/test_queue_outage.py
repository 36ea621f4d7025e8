"""Task queues through the SQLite fallback while Redis is SIGKILLed and restarted: puts are
queued and replayed (none lost, each delivered once), claims and acks refuse (no task is
handed out from the fallback as if for the first time), and a lease whose ack could not be
sent lapses and is redelivered, counted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aether_memory import BackendUnavailable, LeaseLost, Memory, Options
from aether_memory.server.local import RedisProcess
from tests.integration.test_fallback import replayed, wait_for

OPTIONS = Options(namespace="qout", socket_timeout=0.5, connect_timeout=0.5, retries=1)


@pytest.fixture(params=["redis-modules", "redis-plain"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(
        tmp_path / "redis", fsync="always", modules=request.param == "redis-modules"
    )
    process.start()
    yield process
    process.stop()


def test_puts_in_an_outage_are_replayed_and_claims_wait_for_redis(
    server: RedisProcess, tmp_path: Path
) -> None:
    fallback = f"sqlite:///{tmp_path}/fallback.db"
    with Memory.open(server.url, options=OPTIONS, fallback=fallback) as mem:
        queue = mem.queue("jobs", visibility=0.5)
        first = queue.put("before the outage")
        held = queue.claim("w1")
        assert held is not None and held.id == first
        server.kill()

        during = [queue.put({"i": i}) for i in range(20)]
        once = queue.put({"i": 0}, dedupe_key="once")  # the key is checked when it lands
        assert mem.health().degraded
        for refused in (
            lambda: queue.claim("w2"),
            lambda: queue.claim("w2", block=1),
            held.ack,
            held.extend,
            queue.stats,
            queue.peek,
        ):
            with pytest.raises(BackendUnavailable):
                refused()
        time.sleep(0.6)  # the lease of w1 lapses meanwhile

        server.restart()
        wait_for(lambda: replayed(mem.health()), "the replay")
        assert mem.health().dropped == 0
        assert queue.put("dup", dedupe_key="once") == once  # the replayed key holds
        stats = queue.stats()
        assert (stats.pending, stats.in_flight) == (21, 1)  # w1's lease lapsed, not yet taken

        redelivered = queue.claim("w2")
        assert redelivered is not None
        assert (redelivered.id, redelivered.attempts) == (first, 2)
        with pytest.raises(LeaseLost):
            held.ack()  # its ack could not be sent; now it is another worker's
        redelivered.ack()
        got = []
        while (task := queue.claim("w2")) is not None:
            got.append(task.id)
            assert task.attempts == 1
            task.ack()
        assert got == [*during, once]  # in put order, each once
        stats = queue.stats()
        assert (stats.acked, stats.pending, stats.in_flight, stats.expired) == (22, 0, 0, 1)
    with Memory.open(server.url, options=OPTIONS) as direct:
        assert direct.queue("jobs").stats().acked == 22
