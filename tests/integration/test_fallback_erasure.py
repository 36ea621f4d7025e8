"""Erasure with a fallback: what is erased (a session, an agent, a namespace, one memory) is
gone from Redis and from every table of the fallback file (mirror, full-text rows, outbox),
whether Redis was up or down at the time. Real servers, real files; nothing is mocked."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from aether_memory import Memory, Options
from aether_memory.server.local import RedisProcess
from tests.integration.test_fallback import replayed, wait_for
from tests.word_embedder import WordHashEmbedder

OPTIONS = Options(namespace="era", socket_timeout=0.5, connect_timeout=0.5, retries=1)
MARK = "zqxmark"  # in the erased scope's names and texts, nowhere else


@pytest.fixture(params=["redis-modules", "redis-plain"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(
        tmp_path / "redis", fsync="always", modules=request.param == "redis-modules"
    )
    process.start()
    yield process
    process.stop()


def in_file(path: Path, mark: str) -> list[str]:
    """The tables of the SQLite file with a row that mentions `mark` anywhere."""
    found = []
    with sqlite3.connect(path) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                text = b" ".join(
                    v if isinstance(v, bytes) else str(v).encode() for v in row if v is not None
                )
                if mark.encode() in text:
                    found.append(table)
                    break
    return found


def in_redis(url: str, mark: str) -> list[str]:
    """The Redis keys whose name or value mentions `mark`."""
    r = redis.Redis.from_url(url)
    try:
        found = []
        for key in r.scan_iter(count=1000):
            kind = r.type(key)
            if kind == b"hash":
                values = [b for kv in r.hgetall(key).items() for b in kv]
            elif kind == b"string":
                values = [r.get(key) or b""]
            elif kind == b"zset":
                values = r.zrange(key, 0, -1)
            elif kind == b"stream":
                values = [b for _, e in r.xrange(key) for kv in e.items() for b in kv]
            elif kind == b"set":
                values = list(r.smembers(key))
            else:
                values = []
            if mark.encode() in key or any(mark.encode() in v for v in values):
                found.append(key.decode())
        return found
    finally:
        r.close()


def fill(mem: Memory, agent_id: str, sid: str, word: str, agent_word: str | None = None) -> str:
    """Session data (and, unless `agent_word` is given, agent data) that mention `word`."""
    agent = mem.agent(agent_id)
    agent_word = agent_word or word
    agent.identity.put("mission", f"mission {agent_word}")
    agent.state.set(status=agent_word)
    session = agent.session(sid)
    session.working.set("goal", word)
    session.record("step", {"w": word})
    session.checkpoint({"w": word})
    agent.save_skill(f"skill-{agent_word}", f"rolls {agent_word} back", ["find"])
    return agent.remember(f"The {word} report lives on host db-7.", session=session).id


def erase(mem: Memory, scope: str) -> None:
    if scope == "session":
        mem.agent("keeper").session(f"s-{MARK}").erase(dry_run=True)
        mem.agent("keeper").session(f"s-{MARK}").erase(memories=True)
    elif scope == "agent":
        mem.agent(f"a-{MARK}").erase(dry_run=True)
        mem.agent(f"a-{MARK}").erase()
    else:
        mem.erase_namespace(dry_run=True)
        mem.erase_namespace()


def populate(mem: Memory, scope: str, word: str) -> None:
    if scope == "session":
        fill(mem, "keeper", f"s-{MARK}", f"{MARK}{word}", f"kept{word}")
        fill(mem, "keeper", "other", f"kept{word}")
    elif scope == "agent":
        fill(mem, f"a-{MARK}", "s", f"{MARK}{word}")
        fill(mem, "keeper", "s", f"kept{word}")
    else:
        fill(mem, "keeper", "s", f"{MARK}{word}")


@pytest.mark.parametrize("outage", [False, True], ids=["healthy", "outage"])
@pytest.mark.parametrize("scope", ["session", "agent", "namespace"])
def test_an_erasure_leaves_nothing_in_redis_or_the_fallback_file(
    server: RedisProcess, tmp_path: Path, scope: str, outage: bool
) -> None:
    path = tmp_path / "f.db"
    options = (
        OPTIONS if scope != "namespace" else dataclasses.replace(OPTIONS, namespace=f"ns{MARK}")
    )
    embedder = WordHashEmbedder()
    with Memory.open(
        server.url, options=options, fallback=f"sqlite:///{path}", embedder=embedder
    ) as mem:
        populate(mem, scope, "before")
        if outage:
            server.kill()
            populate(mem, scope, "during")  # queued in the outbox
            erase(mem, scope)
            # Served now by the fallback, which holds nothing of it; the queued writes wait
            # in the outbox, ahead of the erasure, and leave with it at the replay.
            assert [t for t in in_file(path, MARK) if t != "outbox"] == []
            server.restart()
            wait_for(lambda: replayed(mem.health()), "the replay")
            assert mem.health().dropped == 0
        else:
            erase(mem, scope)
        assert mem.kernel.store._fallback.mirror_flush()
        assert in_file(path, MARK) == []
        assert in_redis(server.url, MARK) == []
        if scope != "namespace":
            assert mem.agent("keeper").identity.get("mission").startswith("mission kept")
    assert in_file(path, MARK) == []


@pytest.mark.parametrize("outage", [False, True], ids=["healthy", "outage"])
def test_a_forgotten_memory_leaves_the_fallback_file(
    server: RedisProcess, tmp_path: Path, outage: bool
) -> None:
    path = tmp_path / "f.db"
    embedder = WordHashEmbedder()
    with Memory.open(
        server.url, options=OPTIONS, fallback=f"sqlite:///{path}", embedder=embedder
    ) as mem:
        agent = mem.agent("keeper")
        gone = agent.remember(f"The {MARK} report lives on host db-7.").id
        kept = agent.remember("The kept report lives on host db-9.").id
        assert mem.kernel.store._fallback.mirror_flush()
        assert in_file(path, MARK) != []
        if outage:
            server.kill()
            assert agent.forget(gone) == 1
            assert [t for t in in_file(path, MARK) if t != "outbox"] == []
            server.restart()
            wait_for(lambda: replayed(mem.health()), "the replay")
        else:
            assert agent.forget(gone) == 1
        assert mem.kernel.store._fallback.mirror_flush()
        assert in_file(path, MARK) == []
        assert in_redis(server.url, MARK) == []
        assert agent.memory_record(kept).content.startswith("The kept")
