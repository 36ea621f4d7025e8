"""The archive tier on real stores: memories past their hot lifetime move to a SQLite or
PostgreSQL archive, come back on a recall that asks for the archive, stay in their namespace,
survive a sync process killed mid-batch, and a hot budget holds under a steady writer."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aether_memory import ArchiveScheduler, AsyncArchiveScheduler, AsyncMemory, Memory
from aether_memory.core.config import Options, TTLs
from aether_memory.core.errors import ConfigurationError, InvalidInput, NotFound
from aether_memory.core.ids import new_id
from aether_memory.core.lifecycle import row_size
from tests.word_embedder import WordHashEmbedder

ROOT = Path(__file__).resolve().parents[2]
SHORT = TTLs(semantic=1.0, episodic=1.0)  # every long-term memory is due after a second


def _open(url: str, archive: str | None, ns: str, **options: object) -> Memory:
    opts = Options(namespace=ns, **options)  # type: ignore[arg-type]
    return Memory.open(url, options=opts, embedder=WordHashEmbedder(), archive=archive)


@pytest.fixture
def short(url: str, archive_url: str, namespace: str) -> Iterator[Memory]:
    with _open(url, archive_url, namespace, ttl=SHORT) as mem:
        yield mem


def _hot_ids(mem: Memory) -> set[str]:
    out: set[str] = set()
    cursor = None
    while True:
        page = mem.list_memories(include_superseded=True, cursor=cursor, limit=500)
        out.update(r.id for r in page.items)
        if page.next is None:
            return out
        cursor = page.next


def _archived_ids(mem: Memory, ids: list[str]) -> set[str]:
    return {m.id for m in mem.lifecycle.archived(ids) if m is not None}


def test_past_its_lifetime_a_memory_is_archived_found_and_hot_again(short: Memory) -> None:
    agent = short.agent("a")
    key = agent.remember("the deploy key rotates every Tuesday", importance=0.8, tags=["ops"])
    other = agent.remember("lunch is served at noon in the cafeteria")
    time.sleep(1.2)  # both lifetimes end; the grace keeps the hot copies for the sync
    report = short.lifecycle.run()
    assert (report.archived, report.evicted, report.deleted) == (2, 0, 0)
    assert agent.recall("deploy key rotates") == []  # only the archive has it now
    with pytest.raises(NotFound):
        short.agent("a").memory_record(key.id)
    assert short.lifecycle.status().archived == 2

    hits = agent.recall("deploy key rotates", k=1, include_archive=True)

    assert [h.record.id for h in hits] == [key.id]
    back = short.agent("a").memory_record(key.id)  # hot again, as it was
    assert (back.content, back.tags, back.importance) == (key.content, ("ops",), 0.8)
    assert [h.record.id for h in agent.recall("deploy key rotates", k=1)] == [key.id]
    # The hit the recall did not use went back to the archive; nothing is in both places.
    assert _hot_ids(short) == {key.id}
    assert _archived_ids(short, [key.id, other.id]) == {other.id}
    status = short.lifecycle.status()
    assert (status.hot, status.archived, status.due) == (1, 1, 0)


def test_a_second_pass_moves_nothing_more(short: Memory) -> None:
    short.agent("a").remember_many([f"note number {i} about topic {i}" for i in range(5)])
    time.sleep(1.2)
    assert short.lifecycle.run().archived == 5
    again = short.lifecycle.run()
    assert (again.scanned, again.archived, again.repaired) == (0, 0, 0)
    assert short.lifecycle.status().archived == 5


def test_a_memory_within_its_lifetime_stays_hot(url: str, archive_url: str, namespace: str) -> None:
    with _open(url, archive_url, namespace) as mem:  # the default lifetimes: 30 and 90 days
        record = mem.agent("a").remember("the staging database lives in eu-west-1")
        assert mem.lifecycle.run().archived == 0
        assert _hot_ids(mem) == {record.id}
        assert mem.lifecycle.status().archived == 0


def test_namespaces_stay_apart_in_the_archive(url: str, archive_url: str) -> None:
    a_ns, b_ns = "t" + new_id().lower(), "t" + new_id().lower()
    with _open(url, archive_url, a_ns, ttl=SHORT) as a, _open(url, archive_url, b_ns) as b:
        secret = a.agent("x").remember("the vault password is hunter2")
        time.sleep(1.2)
        assert a.lifecycle.run().archived == 1
        assert b.agent("x").recall("vault password", include_archive=True) == []
        vector = b.longterm.query_vector("vault password")
        assert b.lifecycle.search(vector, 10, "vault password") == []
        assert b.lifecycle.rehydrate([secret.id]) == []  # not b's to bring back
        assert b.lifecycle.status().archived == 0
        assert _archived_ids(a, [secret.id]) == {secret.id}


def test_forget_and_erase_reach_the_archive(short: Memory) -> None:
    gone, kept = short.agent("a").remember_many(["the old office wifi code", "the lobby code"])
    time.sleep(1.2)
    assert short.lifecycle.run().archived == 2
    assert short.agent("a").forget(gone.id) == 1
    assert _archived_ids(short, [gone.id, kept.id]) == {kept.id}
    assert short.erase_namespace(dry_run=True).counts["archived"] == 1
    assert short.erase_namespace().counts["archived"] == 1
    assert short.lifecycle.status().archived == 0


def test_include_archive_without_an_archive_is_refused(url: str, namespace: str) -> None:
    with _open(url, None, namespace) as mem:
        with pytest.raises(ConfigurationError):
            mem.agent("a").recall("anything", include_archive=True)
        with pytest.raises(InvalidInput):
            mem.agent("a").recall("anything", include_archive="yes")  # type: ignore[arg-type]


def test_rehydrate_refuses_a_hostile_id(short: Memory) -> None:
    with pytest.raises(InvalidInput):
        short.lifecycle.rehydrate(["a b"])


@pytest.mark.timeout(180)
def test_a_sync_killed_mid_batch_then_rerun_leaves_each_memory_in_one_place(
    url: str, archive_url: str, namespace: str
) -> None:
    with _open(url, archive_url, namespace, ttl=SHORT) as mem:
        ids = [r.id for r in mem.agent("a").remember_many(
            [f"fact {i}: the server rack {i} sits in row {i % 7}" for i in range(60)]
        )]  # fmt: skip
        time.sleep(1.2)
        command = [sys.executable, "-m", "tests.integration.archive_worker"]
        worker = subprocess.Popen(
            [*command, url, archive_url, namespace],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        try:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "stuck"
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(30)
            if worker.stdout is not None:
                worker.stdout.close()
        # Killed between the third batch's archive write and its hot delete: ten in both.
        hot, archived = _hot_ids(mem), _archived_ids(mem, ids)
        assert len(archived) == 30 and len(hot) == 40 and len(hot & archived) == 10

        report = mem.lifecycle.run(batch=10)

        assert report.repaired == 10 and report.archived == 40
        hot, archived = _hot_ids(mem), _archived_ids(mem, ids)
        assert hot == set() and archived == set(ids)


def test_an_interrupted_rehydration_is_repaired_to_the_hot_copy(short: Memory) -> None:
    record = short.agent("a").remember("the canary deploy goes out at 9am")
    time.sleep(1.2)
    assert short.lifecycle.run().archived == 1
    archived = short.lifecycle.archived([record.id])[0]
    assert archived is not None
    # A rehydration killed after its hot write: the copy is hot (with a fresh lifetime) and
    # still archived. The next pass keeps the hot one, the newer, and drops the other.
    short.kernel.store.longterm.load(short.namespace, [(record.id, archived.row, None)])
    report = short.lifecycle.run()
    assert (report.repaired, report.archived) == (1, 0)
    assert _hot_ids(short) == {record.id}
    assert _archived_ids(short, [record.id]) == set()


def test_a_hot_budget_holds_under_a_steady_remember_loop(
    url: str, archive_url: str, namespace: str
) -> None:
    with _open(url, archive_url, namespace, hot_budget=10) as mem:
        agent = mem.agent("a")
        keep = [agent.remember(f"critical: production secret number {i} rotates", importance=1.0)
                for i in range(3)]  # fmt: skip
        ids = [k.id for k in keep]
        for i in range(40):
            ids.append(agent.remember(f"chatter {i}: the weather on day {i} was mild",
                                      importance=0.1).id)  # fmt: skip
            assert mem.lifecycle.status().hot <= 10
        hot, archived = _hot_ids(mem), _archived_ids(mem, ids)
        assert hot | archived == set(ids) and not hot & archived  # nothing lost, no copies
        assert {k.id for k in keep} <= hot  # the lowest decay scores left first


def _hot_bytes(mem: Memory) -> int:
    """The bytes of the namespace's hot memories, measured as the budget measures them."""
    total, after = 0, None
    while page := mem.longterm.port.page(mem.namespace, after, 500):
        after = page[-1][0]
        total += sum(row_size(row) for _, row in page if row is not None)
    return total


def test_a_bytes_budget_holds_under_a_steady_remember_loop(
    url: str, archive_url: str, namespace: str
) -> None:
    with _open(url, archive_url, namespace) as probe:
        probe.agent("a").remember("chatter 0: the weather on day 0 was mild")
        one = _hot_bytes(probe)
    budget = one * 8  # about eight memories of this size
    with _open(url, archive_url, namespace, hot_budget_bytes=budget) as mem:
        agent = mem.agent("a")
        ids = []
        for i in range(1, 30):
            ids.append(agent.remember(f"chatter {i}: the weather on day {i} was mild").id)
            assert _hot_bytes(mem) <= budget
        hot, archived = _hot_ids(mem), _archived_ids(mem, ids)
        assert set(ids) <= hot | archived and not hot & archived


def test_a_hot_budget_without_an_archive_deletes_and_says_so(
    url: str, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    with _open(url, None, namespace, hot_budget=5) as mem, caplog.at_level(logging.WARNING):
        for i in range(12):
            mem.agent("a").remember(f"passing thought {i} about subject {i}")
            assert mem.lifecycle.status().hot <= 5
    assert "no archive is configured" in caplog.text


async def test_the_async_api_archives_and_rehydrates(
    sqlite_url: str, archive_url: str, namespace: str
) -> None:
    opts = Options(namespace=namespace, ttl=SHORT)
    mem = await AsyncMemory.open(
        sqlite_url, options=opts, embedder=WordHashEmbedder(), archive=archive_url
    )
    async with mem:
        record = await mem.agent("a").remember("the build cache lives on the fast disk")
        await asyncio.sleep(1.2)
        assert (await mem.lifecycle.run()).archived == 1
        hits = await mem.agent("a").recall("build cache disk", include_archive=True)
        assert [h.record.id for h in hits] == [record.id]
        assert (await mem.lifecycle.status()).hot == 1


def test_the_archive_url_comes_from_the_environment(
    sqlite_url: str, tmp_path: Path, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AETHER_ARCHIVE_URL", "sqlite:///" + str(tmp_path / "env-archive.db"))
    monkeypatch.setenv("AETHER_TTL_SEMANTIC", "1")
    with Memory.open(sqlite_url, namespace=namespace, embedder=WordHashEmbedder()) as mem:
        mem.agent("a").remember("the release train leaves on Fridays")
        time.sleep(1.2)
        assert mem.lifecycle.run().archived == 1
        assert mem.lifecycle.status().archive == "sqlite:///" + str(tmp_path / "env-archive.db")


class _SmallWordHash(WordHashEmbedder):
    model = "test-word-hash-v1-64"
    dims = 64


def test_namespaces_with_different_embedders_share_one_archive(url: str, archive_url: str) -> None:
    big_ns, small_ns = "t" + new_id().lower(), "t" + new_id().lower()
    opts = {"ttl": SHORT}
    big = Memory.open(url, options=Options(namespace=big_ns, **opts), embedder=WordHashEmbedder(),
                      archive=archive_url)  # fmt: skip
    small = Memory.open(url, options=Options(namespace=small_ns, **opts),
                        embedder=_SmallWordHash(), archive=archive_url)  # fmt: skip
    with big, small:
        wide = big.agent("x").remember("the wide vectors hold the deploy notes")
        narrow = small.agent("x").remember("the narrow vectors hold the lunch menu")
        time.sleep(1.2)
        assert big.lifecycle.run().archived == 1
        assert small.lifecycle.run().archived == 1
        found = small.agent("x").recall("narrow lunch menu", k=1, include_archive=True)
        assert [h.record.id for h in found] == [narrow.id]
        found = big.agent("x").recall("wide deploy notes", k=1, include_archive=True)
        assert [h.record.id for h in found] == [wide.id]


def test_a_skill_past_its_lifetime_is_archived_with_its_record_and_comes_back(
    url: str, archive_url: str, namespace: str
) -> None:
    with _open(url, archive_url, namespace, ttl=TTLs(skills=1.0)) as mem:
        agent = mem.agent("a")
        steps = ["drain the node", "swap the key", "undrain"]
        skill = agent.save_skill("rotate-keys", "rotate the deploy keys of a cluster", steps)
        agent.record_skill_execution("rotate-keys", True, 12.5)
        time.sleep(1.2)

        assert mem.lifecycle.run().archived == 1

        with pytest.raises(NotFound):  # neither its memory nor its record is hot
            agent.skill("rotate-keys")
        assert agent.recall("rotate deploy keys") == []
        assert mem.lifecycle.status().archived == 1
        hits = agent.recall("rotate deploy keys", k=1, include_archive=True)
        assert [h.record.id for h in hits] == [skill.memory_id]
        back = agent.skill("rotate-keys")  # its steps and its runs, as they were
        assert back.steps == tuple(steps)
        assert (back.runs, back.successes, back.memory_id) == (1, 1, skill.memory_id)
        assert [s.name for s in agent.search_skills("rotate deploy keys")] == ["rotate-keys"]
        assert mem.lifecycle.status().archived == 0


@pytest.fixture(params=["redis-modules", "sqlite"])
def shared_url(request: pytest.FixtureRequest, servers: dict[str, Any]) -> str:
    """A real Redis and one SQLite file, which several processes write at once."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(servers[request.param].url)


@pytest.mark.timeout(300)
def test_a_hot_budget_holds_with_several_processes_writing_one_namespace(
    shared_url: str, tmp_path: Path, namespace: str
) -> None:
    archive = "sqlite:///" + str(tmp_path / "archive.db")
    budget, writers, each = 50, 4, 100
    go = tmp_path / "go"
    command = [sys.executable, "-m", "tests.integration.budget_worker", shared_url, archive,
               namespace, str(budget), str(each)]  # fmt: skip
    procs = [
        subprocess.Popen(
            [*command, f"w{n}", str(go)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for n in range(writers)
    ]
    ids: list[str] = []
    try:
        for proc in procs:  # every writer ready, then all start at once
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        go.touch()
        for proc in procs:
            out, _ = proc.communicate(timeout=240)
            assert proc.returncode == 0
            ids += json.loads(out.strip().splitlines()[-1])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
    assert len(ids) == writers * each
    with _open(shared_url, archive, namespace, hot_budget=budget) as mem:
        hot, archived = _hot_ids(mem), _archived_ids(mem, ids)
        assert len(hot) <= budget  # one namespace's budget, whoever wrote
        assert hot | archived == set(ids) and not hot & archived
        counted = mem.longterm.port.usage(namespace)
        assert counted is not None and counted[0] >= len(hot)  # never below the truth


def test_a_hot_budget_holds_with_two_clients_writing_one_namespace(
    url: str, tmp_path: Path, namespace: str
) -> None:
    # Two clients, as two processes are: each one's writes count towards the other's budget.
    archive, budget = "sqlite:///" + str(tmp_path / "archive.db"), 12
    with _open(url, archive, namespace, hot_budget=budget) as a, \
            _open(url, archive, namespace, hot_budget=budget) as b:  # fmt: skip
        ids = []
        for i in range(30):
            for name, mem in (("a", a), ("b", b)):
                ids.append(mem.agent(name).remember(f"{name} {i}: shard {i} lag {i * 3}").id)
                assert a.lifecycle.status().hot <= budget
        hot, archived = _hot_ids(a), _archived_ids(a, ids)
        assert hot | archived == set(ids) and not hot & archived


def test_the_archive_scheduler_moves_what_is_due_in_the_background(short: Memory) -> None:
    record = short.agent("a").remember("the nightly backup runs at two")
    time.sleep(1.2)
    with pytest.raises(InvalidInput):
        ArchiveScheduler(short, every=0)
    with ArchiveScheduler(short, every=3600) as scheduler:
        deadline = time.monotonic() + 60
        while scheduler.runs < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert scheduler.runs == 1 and scheduler.last_error is None
        assert scheduler.last is not None and scheduler.last.archived == 1
    assert scheduler._task is None  # stopped and joined
    assert _archived_ids(short, [record.id]) == {record.id}


async def test_the_async_archive_scheduler_reports_a_failed_pass(
    sqlite_url: str, archive_url: str, namespace: str
) -> None:
    opts = Options(namespace=namespace, ttl=SHORT)
    mem = await AsyncMemory.open(
        sqlite_url, options=opts, embedder=WordHashEmbedder(), archive=archive_url
    )
    scheduler = AsyncArchiveScheduler(mem, every=3600, batch=0)  # refused on every pass
    async with mem, scheduler:
        for _ in range(1200):
            if scheduler.runs:
                break
            await asyncio.sleep(0.05)
        assert scheduler.runs == 1 and scheduler.last is None
        assert scheduler.last_error is not None and "InvalidInput" in scheduler.last_error
    assert scheduler._task is None


def test_a_pass_renews_its_claim_while_it_evicts(
    url: str, tmp_path: Path, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bringing a large namespace under its budget moves batch after batch after the reading:
    the claim is renewed between them, so no writer takes the namespace for a second pass
    (which would evict what this one is evicting) when the moves outlast a claim."""
    archive = "sqlite:///" + str(tmp_path / "archive.db")
    with _open(url, archive, namespace) as writer:
        writer.agent("a").remember_many([f"note {i}: disk {i} at {i * 7}%" for i in range(20)])
    with _open(url, archive, namespace, hot_budget=5) as mem:
        store, calls = mem.kernel.longterm, []
        for name in ("pass_claim", "delete"):
            real = getattr(store, name)

            def spy(*args: Any, _real: Any = real, _name: str = name) -> Any:
                calls.append(_name)
                return _real(*args)

            monkeypatch.setattr(store, name, spy)
        report = mem.lifecycle.run(batch=3)
        assert report.evicted > 12  # five batches of three or fewer
        evicting = calls[calls.index("delete") :]
        assert evicting.count("delete") == -(-report.evicted // 3)
        assert ["delete", "delete"] not in [evicting[i : i + 2] for i in range(len(evicting))]
