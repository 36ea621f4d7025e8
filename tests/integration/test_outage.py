"""What an outage must not change: checkpoint numbers, writes about data from before it, the
order of writes across processes, and the count of a retried write. Real Redis servers
(SIGKILLed, SIGSTOPped), real SQLite files, real processes; nothing is mocked."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from aether_memory import BackendUnavailable, Memory, NotFound, Options
from aether_memory.core.keys import SessionKeys
from aether_memory.server.local import RedisProcess
from tests.integration.outage_worker import OPTIONS as WORKER_OPTIONS
from tests.integration.test_fallback import replayed, wait_for
from tests.word_embedder import WordHashEmbedder

# The writers go as fast as the machine lets them, for as long as the outage and the replay
# take: no event of theirs may be trimmed by the session's cap (10,000 by default).
OPTIONS = Options(
    namespace="out", socket_timeout=0.5, connect_timeout=0.5, retries=1, events_maxlen=10**7
)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["redis-modules", "redis-plain"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(
        tmp_path / "redis", fsync="always", modules=request.param == "redis-modules"
    )
    process.start()
    yield process
    process.stop()


def test_an_acknowledged_checkpoint_number_restores_its_state_after_an_outage(
    server: RedisProcess, tmp_path: Path
) -> None:
    acked: dict[int, int] = {}
    with Memory.open(server.url, options=OPTIONS, fallback=f"sqlite:///{tmp_path}/f.db") as mem:
        session = mem.agent("a").session("s")
        for i in range(31):
            acked[session.checkpoint({"i": i})] = i
        server.kill()
        for i in range(31, 60):
            acked[session.checkpoint({"i": i})] = i
        assert mem.health().degraded
        assert session.restore(max(acked)) == {"i": 59}  # served by the fallback meanwhile
        server.restart()
        wait_for(lambda: replayed(mem.health()), "the replay")
        for i in range(60, 70):
            acked[session.checkpoint({"i": i})] = i
        assert mem.health().dropped == 0
    assert len(acked) == 70  # no number was handed out twice
    with Memory.open(server.url, options=OPTIONS) as direct:
        session = direct.agent("a").session("s")
        wrong = {n: i for n, i in acked.items() if session.restore(n) != {"i": i}}
        assert wrong == {}
        assert session.restore() == {"i": 69}
        assert sorted(acked, key=acked.__getitem__) == sorted(acked)  # numbers keep rising


def test_the_fallback_serves_what_the_agent_had_and_replays_writes_about_it(
    server: RedisProcess, tmp_path: Path
) -> None:
    embedder = WordHashEmbedder()
    fallback = f"sqlite:///{tmp_path}/f.db"
    with Memory.open(server.url, options=OPTIONS, fallback=fallback, embedder=embedder) as mem:
        agent = mem.agent("a")
        agent.identity.put("mission", "keep the lights on")
        agent.state.set(status="busy")
        session = agent.session("s")
        session.record("step", {"i": 1})
        session.working.set("goal", "ship")
        session.checkpoint({"at": 1})
        old = agent.remember("The staging database lives on host db-7.")
        kept = agent.remember("Deploys need the release checklist QA-19.")
        twice = agent.remember("The on-call rota changes every Monday.")
        agent.save_skill("deploy", "ship a release", ["run QA-19"])
        server.kill()

        # Reads during the outage see what the agent had.
        assert agent.identity.get("mission") == "keep the lights on"
        assert agent.state.get()["status"] == "busy"
        assert [s.id for s in agent.sessions()] == ["s"]
        assert [e.data for e in session.events()] == [{"i": 1}]
        assert session.working.get("goal") == "ship"
        assert session.restore() == {"at": 1}
        assert [h.record.id for h in agent.recall("where is the staging database?", k=1)] == [
            old.id
        ]
        assert mem.health().degraded

        # Writes about that data apply here now, and on Redis after the replay.
        assert agent.forget(old.id) == 1
        agent.update(kept.id, importance=0.9, tags=["process"])
        assert agent.record_skill_execution("deploy", success=True, duration=2.0).runs == 1
        again = agent.remember("The on-call rota changes every Monday.")
        assert again.status == "duplicate" and again.id == twice.id
        server.restart()
        wait_for(lambda: replayed(mem.health()), "the replay")
        assert mem.health().dropped == 0
    with Memory.open(server.url, options=OPTIONS, embedder=embedder) as direct:
        agent = direct.agent("a")
        with pytest.raises(NotFound):
            agent.memory_record(old.id)
        record = agent.memory_record(kept.id)
        assert record.importance == 0.9 and record.tags == ("process",)
        assert agent.skill("deploy").runs == 1
        hits = agent.recall("when does the on-call rota change?", k=5)
        assert [h.record.id for h in hits if "rota" in h.record.content] == [twice.id]


def test_a_forget_of_a_memory_the_fallback_never_saw_is_replayed(
    server: RedisProcess, tmp_path: Path
) -> None:
    embedder = WordHashEmbedder()
    with Memory.open(server.url, options=OPTIONS, embedder=embedder) as direct:  # no fallback
        unseen = direct.agent("a").remember("Written by a client without a fallback.")
    fallback = f"sqlite:///{tmp_path}/f.db"
    with Memory.open(server.url, options=OPTIONS, fallback=fallback, embedder=embedder) as mem:
        server.kill()
        mem.agent("a").forget(unseen.id)
        server.restart()
        wait_for(lambda: replayed(mem.health()), "the replay")
    with Memory.open(server.url, options=OPTIONS, embedder=embedder) as direct:
        with pytest.raises(NotFound):
            direct.agent("a").memory_record(unseen.id)
        again = direct.agent("a").remember("Written by a client without a fallback.")
        assert again.status == "created"  # its dedup entry went with it


# -- retries ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _hung(server: RedisProcess, seconds: float | None = None) -> Iterator[None]:
    """The server stops answering (SIGSTOP: commands wait in its socket) for `seconds`
    from entering the block (None: until the block ends)."""
    assert server.pid is not None
    pid = server.pid
    os.kill(pid, signal.SIGSTOP)
    resume = None if seconds is None else threading.Timer(seconds, os.kill, (pid, signal.SIGCONT))
    if resume is not None:
        resume.start()
    try:
        yield
    finally:
        if resume is not None:
            resume.join()
        os.kill(pid, signal.SIGCONT)


# The write times out at 0.5 s; it is not sent again (a timeout is never retried: a hung server
# costs one timeout), and resuming the server later makes it run the copy still in its socket.
RESUME_BETWEEN_ATTEMPTS = 0.8


def test_a_write_retried_after_its_reply_timed_out_is_applied_once(server: RedisProcess) -> None:
    raw = redis.Redis.from_url(server.url)
    events = SessionKeys.build(OPTIONS.namespace, "a", "s").events
    with Memory.open(server.url, options=OPTIONS, embedder=WordHashEmbedder()) as mem:
        agent = mem.agent("a")
        agent.save_skill("deploy", "ship a release", ["tag"])
        session = agent.session("s")
        session.record("warm", {})  # the session's meta is written before the hangs
        for write in (
            lambda: session.checkpoint({"at": 1}),
            lambda: session.record("step", {"i": 1}),
            lambda: agent.record_skill_execution("deploy", success=True, duration=1.0),
        ):
            # A connection that is already open: a new one would first wait for its handshake
            # with the stopped server, and the write would never be sent.
            agent.skill("deploy")
            with _hung(server, RESUME_BETWEEN_ATTEMPTS), contextlib.suppress(BackendUnavailable):
                write()
        wait_for(lambda: agent.skill("deploy").runs >= 1, "the hung writes to land")
        assert [c.n for c in session.checkpoints()] == [1]
        assert session.restore(1) == {"at": 1}
        assert raw.xlen(events) == 2  # warm + step, once
        assert agent.skill("deploy").runs == 1
    raw.close()


def test_an_error_says_whether_the_write_may_have_been_applied(server: RedisProcess) -> None:
    with Memory.open(server.url, options=OPTIONS) as mem:
        session = mem.agent("a").session("s")
        session.record("warm", {})
        with _hung(server), pytest.raises(BackendUnavailable) as timed_out:
            session.checkpoint({"at": 1})  # both attempts time out; the first copy waits
        assert timed_out.value.maybe_applied
        wait_for(lambda: bool(session.checkpoints()), "the hung checkpoint to land")
        assert [c.n for c in session.checkpoints()] == [1]  # applied later, once
        server.kill()
        with pytest.raises(BackendUnavailable) as refused:
            session.checkpoint({"at": 2})
        assert not refused.value.maybe_applied  # nothing was sent: certainly not applied


def test_a_write_that_timed_out_then_went_to_the_fallback_is_applied_once(
    server: RedisProcess, tmp_path: Path
) -> None:
    with Memory.open(server.url, options=OPTIONS, fallback=f"sqlite:///{tmp_path}/f.db") as mem:
        session = mem.agent("a").session("s")
        session.record("warm", {})
        with _hung(server):
            n = session.checkpoint({"at": 1})  # timed out on Redis: made on the fallback
            assert mem.health().degraded
        wait_for(lambda: replayed(mem.health()), "the replay")
        assert mem.health().dropped == 0
        # The hung copy landed under a number nobody was told; the replay moved it to n.
        assert [c.n for c in session.checkpoints()] == [n]
        assert session.restore(n) == {"at": 1}


# -- several processes -----------------------------------------------------------------------


def _progress(folder: Path, name: str) -> dict[str, Any]:
    try:
        return dict(json.loads((folder / f"{name}.progress").read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return {"n": 0, "degraded": True, "outbox": -1}


def test_processes_sharing_a_fallback_drain_it_while_writing_and_keep_their_order(
    server: RedisProcess, tmp_path: Path
) -> None:
    """Three processes write to one session through one fallback file; Redis is down for
    seconds. The replay drains while they keep writing, and afterwards the events and the
    working-memory value follow the order of acknowledgement across processes."""
    names = ["p0", "p1", "p2"]
    fallback = f"sqlite:///{tmp_path}/shared.db"
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.outage_worker",
                *(server.url, fallback),
                name,
                str(tmp_path),
            ],
            cwd=ROOT,
        )
        for name in names
    ]
    try:

        def all_at(n: int) -> bool:
            return all(_progress(tmp_path, name)["n"] >= n for name in names)

        wait_for(lambda: all_at(40), "writes before the outage")
        server.kill()
        wait_for(lambda: all(_progress(tmp_path, n)["degraded"] for n in names), "fallback")
        during = min(_progress(tmp_path, name)["n"] for name in names)
        wait_for(lambda: all_at(during + 200), "writes during the outage")
        server.restart()
        after = max(_progress(tmp_path, name)["n"] for name in names)
        # The writers never pause: the replay has to finish while they go on.
        wait_for(
            lambda: all(
                not p["degraded"] and p["outbox"] == 0 and p["n"] > after
                for p in (_progress(tmp_path, name) for name in names)
            ),
            "the replay under load",
        )
        wait_for(lambda: all_at(after + 100), "writes after the replay")
    finally:
        (tmp_path / "stop").touch()
        for worker in workers:
            worker.wait(60)
    records = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in names}
    assert {name: r["errors"] for name, r in records.items()} == {name: [] for name in names}
    writes = [w for r in records.values() for w in r["writes"]]
    with Memory.open(server.url, options=WORKER_OPTIONS) as direct:
        session = direct.agent("writer").session("shared")
        events = session.events(limit=len(writes) + 10)
        latest = session.working.get("latest")
        kept = {c.n for c in session.checkpoints()}  # the newest max_checkpoints
        states = {int(n): {"w": name, "i": i} for name, r in records.items()
                  for n, i in r["checkpoints"].items()}  # fmt: skip
        assert len(states) == sum(len(r["checkpoints"]) for r in records.values())
        assert kept <= set(states)
        assert {n: session.restore(n) for n in kept} == {n: states[n] for n in kept}
    position = {e.id: p for p, e in enumerate(events)}
    assert set(position) == {w["id"] for w in writes}  # every acknowledged event, once
    assert len(events) == len(writes)
    by_position = sorted(writes, key=lambda w: position[w["id"]])
    # An event acknowledged before another was issued must come first.
    inverted, earliest_ack_after = 0, None
    for w in reversed(by_position):
        if earliest_ack_after is not None and earliest_ack_after < w["issued"]:
            inverted += 1
        ack = w["acked"]
        earliest_ack_after = ack if earliest_ack_after is None else min(earliest_ack_after, ack)
    assert inverted == 0
    # The working-memory value is one no later write was acknowledged after.
    final = next(w for w in writes if w["value"] == latest)
    assert not [w for w in writes if w["issued"] > final["acked"]]


def test_a_session_first_written_during_an_outage_is_recorded_on_redis_after_the_replay(
    server: RedisProcess, tmp_path: Path
) -> None:
    # The first write into a session records the session in its own round trip: queued in
    # the outbox, it must record it on Redis when it is replayed, for each kind of write.
    fallback = f"sqlite:///{tmp_path}/f.db"
    writes = {
        "working": lambda s: s.working.set("goal", "ship"),
        "events": lambda s: s.add_step("search", "3 results"),
        "checkpoint": lambda s: s.checkpoint({"at": 1}),
    }
    with Memory.open(server.url, options=OPTIONS, fallback=fallback) as mem:
        mem.agent("warm").session("w").working.set("k", 1)
        server.kill()
        for name, write in writes.items():
            write(mem.agent(name).session("born-offline"))
        assert set(writes) <= set(mem.agents())  # served by the fallback meanwhile
        server.restart()
        wait_for(lambda: replayed(mem.health()), "the replay")
    r = redis.Redis.from_url(server.url)
    try:
        with Memory.open(server.url, options=OPTIONS) as direct:
            assert set(writes) <= set(direct.agents())
            for name in writes:
                assert [s.id for s in direct.agent(name).sessions()] == ["born-offline"]
                meta = r.hgetall(SessionKeys.build("out", name, "born-offline").meta)
                assert meta[b"agent"] == name.encode() and int(meta[b"created_at"]) > 0
    finally:
        r.close()
