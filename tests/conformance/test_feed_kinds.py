"""Every kind of shared write notifies, from every write path, on every store: memories
(remembered, updated, forgotten; superseded is in test_feed), episodes, skills and their
runs, identity, agent state, presence, messages and broadcasts, including the writes made
through a session. On Redis, each notification is also published on the feed's channel,
once, with the position before it (what a subscriber checks to know it missed nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis.cluster import RedisCluster

from aether_memory import Memory
from aether_memory.core import keys
from aether_memory.core.ids import new_id
from tests.conformance.test_feed import until_marker
from tests.raw import raw_client
from tests.word_embedder import WordHashEmbedder

Expected = tuple[str, str, str, str]  # kind, op, id, agent
ANY = "*"  # an id the test does not know


def write_every_kind(mem: Memory, folder: Path) -> list[Expected]:
    """One write of each kind through each path that makes it; what each should notify."""
    agent = mem.agent("writer")
    out: list[Expected] = []
    fact = agent.remember("the build server is called atlas")
    out.append(("memory", "remembered", fact.id, "writer"))
    pair = agent.remember_many(["the deploy window is friday", "the on-call phone is red"])
    out += [("memory", "remembered", m.id, "writer") for m in pair]
    agent.update(fact.id, content="the build server is called zeus")
    out.append(("memory", "updated", fact.id, "writer"))
    assert agent.forget(pair[1].id) == 1
    out.append(("memory", "forgotten", pair[1].id, "writer"))
    session = agent.session()  # writes made inside a session that others share
    turns = session.add_messages([{"role": "user", "content": "ship it on friday"}])
    out.append(("memory", "remembered", turns[0].memory_id, "writer"))
    session.add_step("deploy", {"to": "prod"})
    episode = session.save_episode("deploy", "done", success=True)
    out.append(("episode", "remembered", episode.id, "writer"))
    assert agent.forget(episode.id) == 1
    out.append(("episode", "forgotten", episode.id, "writer"))
    agent.save_skill("deploy", "ship to prod", ["build", "push"])  # also a searchable memory
    out += [("memory", "remembered", ANY, "writer"), ("skill", "saved", "deploy", "")]
    agent.record_skill_execution("deploy", success=True, duration=1.5)
    out.append(("skill_run", "ran", "deploy", ""))
    agent.identity.put("persona", "careful")
    out.append(("identity", "put", "persona", "writer"))
    agent.identity.put_many({"mission": "ship", "style": "terse"})
    out.append(("identity", "put", "mission,style", "writer"))
    (folder / "values.md").write_text("honesty")
    assert agent.identity.load_dir(folder) == 1
    out.append(("identity", "put", "values", "writer"))
    assert agent.identity.delete("persona")
    out.append(("identity", "deleted", "persona", "writer"))
    agent.state.set(status="busy")
    out.append(("state", "set", "writer", "writer"))
    agent.heartbeat(status="busy", ttl=60)
    out.append(("presence", "busy", "writer", "writer"))
    message = agent.send("reader", {"task": 42})
    out.append(("message", "sent", message, "writer"))
    mem.broadcast("deploys", {"version": "1.4"}, agent="writer")
    out.append(("broadcast", "sent", "deploys", "writer"))
    return out


@pytest.fixture
def kinds_mem(url: str) -> Iterator[Memory]:
    with Memory.open(url, namespace="t" + new_id().lower(), embedder=WordHashEmbedder()) as m:
        yield m


class Channel:
    """A raw subscriber of a namespace's feed channel (Redis stores)."""

    def __init__(self, url: str, ns: str) -> None:
        self._r = raw_client(url)
        self._pubsub = self._r.pubsub()
        self._pubsub.ssubscribe(keys.feed_channel(ns))
        self._cluster = isinstance(self._r, RedisCluster)
        assert self._next(5.0)["type"] in ("ssubscribe", b"ssubscribe")

    def _next(self, timeout: float) -> Any:
        get = self._pubsub.get_sharded_message if self._cluster else self._pubsub.get_message
        return get(timeout=timeout)

    def drain(self) -> list[tuple[str, str, dict[str, Any]]]:
        """What was published: (previous position, position, notification) each."""
        out = []
        while (message := self._next(0.5)) is not None:
            prev, position, note = message["data"].split(b" ", 2)
            out.append((prev.decode(), position.decode(), orjson.loads(note)))
        return out

    def close(self) -> None:
        self._pubsub.close()
        self._r.close()


def test_every_kind_of_write_notifies_on_every_store(
    kinds_mem: Memory, url: str, tmp_path: Path
) -> None:
    mem = kinds_mem
    redis = mem.capabilities.backend == "redis"
    channel = Channel(url, mem.namespace) if redis else None
    try:
        start = mem.feed.position()
        expected = write_every_kind(mem, tmp_path)
        got = until_marker(mem, start)
        published = channel.drain() if channel is not None else []
    finally:
        if channel is not None:
            channel.close()
    assert [(n.kind, n.op, n.id if e[2] != ANY else ANY, n.agent)
            for n, e in zip(got, expected, strict=False)] == expected  # fmt: skip
    assert len(got) == len(expected)
    assert {n.kind for n in got} == {
        "memory", "episode", "skill", "skill_run", "identity", "state", "presence", "message",
        "broadcast",
    }  # fmt: skip
    if redis:  # each published once, in the stream's order, each naming the entry before it
        positions = [start, *(n.position for n in got)]
        live = [p for p in published if (p[2]["agent"], p[2]["kind"]) != ("", "broadcast")]
        assert [p[1] for p in live] == positions[1:]
        assert [p[0] for p in live] == ["" if p == "0-0" else p for p in positions[:-1]]
