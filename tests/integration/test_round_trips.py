"""Round trips a write costs, counted by the server itself: ``total_reads_processed`` (INFO
stats) grows by one for each batch of commands it reads from a client, so on a server of the
test's own, with nothing else connected, its growth over a call is the call's round trips.

redis-py sends a pipeline of more than ~6 KB in several pieces, which the server may read
one by one; the writes here stay below that (a 64-dimension embedder for the messages)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from aether_memory import Memory
from aether_memory.server.local import RedisProcess
from tests.word_embedder import WordHashEmbedder


class SmallEmbedder(WordHashEmbedder):
    model = "test-word-hash-64"
    dims = 64


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    with RedisProcess(tmp_path_factory.mktemp("round-trips")) as started:
        yield started


def round_trips(server: RedisProcess, call: Callable[[], Any]) -> int:
    admin = redis.Redis.from_url(server.url)
    try:
        before = int(admin.info("stats")["total_reads_processed"])
        call()
        after = int(admin.info("stats")["total_reads_processed"])
    finally:
        admin.close()
    return after - before - 1  # the first INFO's own read


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda s: s.add_step("search", "3 results"), id="add_step"),
        pytest.param(lambda s: s.record_many([("note", {"n": 1})]), id="record_many"),
        pytest.param(lambda s: s.working.set("k", 1), id="working.set"),
        pytest.param(lambda s: s.scratch.update({"a": 1, "b": 2}), id="scratch.update"),
        pytest.param(lambda s: s.checkpoint({"step": 1}), id="checkpoint"),
        pytest.param(
            lambda s: s.add_messages([{"speaker": "ana", "content": "hello"}]), id="add_messages"
        ),
    ],
)
def test_the_first_write_of_a_new_session_is_one_round_trip(
    server: RedisProcess, write: Callable[[Any], Any], tmp_path: Path
) -> None:
    with Memory.open(server.url, namespace="rt", embedder=SmallEmbedder()) as mem:
        agent = mem.agent("a")
        write(agent.session("warm-up"))  # the index and the scripts are set up by now
        session = agent.session("new-" + tmp_path.name)
        assert round_trips(server, lambda: write(session)) == 1
        assert round_trips(server, lambda: write(session)) == 1
        # The write recorded the session: the agent lists it, with its meta.
        assert session.id in [s.id for s in agent.sessions()]
        meta = redis.Redis.from_url(server.url).hgetall(session._keys.meta)
        assert meta[b"agent"] == b"a" and int(meta[b"created_at"]) > 0
        # Erased by this client, the session starts again in one round trip too.
        session.erase()
        assert round_trips(server, lambda: write(session)) == 1
        assert session.id in [s.id for s in agent.sessions()]
