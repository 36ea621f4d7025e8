"""A namespace indexed by an earlier version: the superseded filter field is added in place,
so corrections made afterwards leave recall without rebuilding the index."""

from __future__ import annotations

import redis

from aether_memory import Memory
from aether_memory.backends.redis._async.longterm import INDEX_VERSION, _schema
from aether_memory.core import keys
from tests.word_embedder import CloseEmbedder


def test_an_index_without_the_superseded_field_gains_it(
    servers: dict[str, object], namespace: str
) -> None:
    url = servers["redis-modules"].url  # type: ignore[attr-defined]
    embedder = CloseEmbedder()
    schema = _schema(embedder.dims)
    at = schema.index("superseded_at")
    old_schema = schema[:at] + schema[at + 2 :]  # as the index was before corrections
    index = keys.memory_index(namespace, INDEX_VERSION)
    with redis.Redis.from_url(url) as r:
        r.execute_command(
            "FT.CREATE", index, "ON", "HASH", "PREFIX", "1", keys.memory_prefix(namespace),
            "SCHEMA", *old_schema,
        )  # fmt: skip
        with Memory.open(url, namespace=namespace, embedder=embedder) as mem:
            agent = mem.agent("a")
            old = agent.remember("The meeting is at 3pm")
            new = agent.remember("The meeting is at 4pm")
            assert new.status == "superseded"
            assert [h.record.id for h in agent.recall("meeting", k=5)] == [new.id]
            assert len(agent.recall("meeting", k=5, include_superseded=True)) == 2
            assert agent.memory_record(old.id).superseded_by == new.id
        info = r.execute_command("FT.INFO", index)
        assert b"superseded_at" in str(info).encode()
