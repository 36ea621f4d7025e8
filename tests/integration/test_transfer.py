"""Moving a namespace between stores (Redis with modules, plain Redis, SQLite) through the
logical export, and an import that can neither crash a server nor leave half a namespace."""

from __future__ import annotations

import base64
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from aether_memory import BackendUnavailable, Conflict, InvalidInput, Memory
from aether_memory.backends.redis._sync.longterm import INDEX_VERSION
from aether_memory.cli import importer
from aether_memory.cli.export import export_namespace
from aether_memory.cli.import_journal import journal_path
from aether_memory.cli.importer import ImportStopped, import_namespace
from aether_memory.core import keys
from aether_memory.core.ids import new_id
from aether_memory.server.local import RedisProcess
from tests.conformance.test_manage import leftovers
from tests.word_embedder import WordHashEmbedder

EMBEDDER = WordHashEmbedder()
QUERIES = ("billing migration timed out", "where does Leonor live", "coffee preferences")


def populate(mem: Memory) -> None:
    agent = mem.agent("planner")
    agent.identity.put_many({"mission": "Ship the quarterly report.", "persona": "Terse."})
    agent.state.set(status="busy", active_tools=["sql"])
    s = agent.session("s1")
    s.working.update({"goal": {"title": "Q3"}, "big": "x" * 5000})
    s.scratch.set("tmp", [1, 2, 3])
    s.add_step("search", "found 3 sources", reasoning="numbers")
    s.record("tool_call", {"tool": "sql", "rows": 12}, latency_ms=8.4)
    for n in range(3):
        s.checkpoint({"section": n})
    s.tool_schema(lambda: [{"name": "sql"}])
    s.rotate().working.set("next", True)
    agent.remember("Leonor moved from Lisbon to Porto in March", importance=0.8, tags=["people"])
    agent.remember_many(
        [
            "Deploy of billing v2.3 failed: migration 0042 timed out",
            "The user takes coffee black, no sugar",
            "Weekly sync moved to Thursdays at 10:00",
            *(
                f"Ticket SUP-{4000 + i}: refund of invoice {i} for customer {i * 7}"
                for i in range(30)
            ),
        ]
    )
    s.save_episode("Deploy billing", "rolled back", success=False)
    agent.save_skill("rollback", "Roll a service back to its last good tag", ["find", "deploy"])
    agent.record_skill_execution("rollback", success=True, duration=4.0)
    mem.agent("critic").identity.put("persona", "Skeptical.")


def picture(mem: Memory) -> dict[str, Any]:
    """Everything a namespace holds, as the library reads it (ids, numbers and values)."""
    out: dict[str, Any] = {"agents": mem.agents()}
    for agent_id in out["agents"]:
        agent = mem.agent(agent_id)
        sessions = {}
        for info in agent.sessions():
            s = agent.session(info.id)
            meta = s.meta()
            sessions[info.id] = (
                info.last_active, meta.get("created_at"), meta.get("parent"),
                meta.get("rotated_to"), s.working.all(), s.scratch.all(),
                [(e.id, e.type, e.data, e.outcome, e.ts, e.latency_ms) for e in s.events(100)],
                [(c.n, c.created_at, s.restore(c.n)) for c in s.checkpoints()],
                s.tool_schema(lambda: None),
            )  # fmt: skip
        state = agent.state.get()
        out[agent_id] = (agent.identity.all(), state, sessions)
    records = mem.list_memories(limit=1000).items
    out["memories"] = [
        (r.id, r.content, r.kind, r.agent, r.session, r.tags, r.importance, r.metadata,
         r.related, r.occurred_at, r.created_at, r.access_count, r.last_accessed)
        for r in records
    ]  # fmt: skip
    out["skills"] = mem.list_skills().items
    return out


def export(mem: Memory, path: Path) -> Path:
    with path.open("wb") as fp:
        export_namespace(mem, fp)
    return path


def top_hits(mem: Memory, url: str) -> dict[str, list[tuple[str, float]]]:
    if mem.capabilities.search:
        # The engine's BM25 statistics count re-indexed documents until its garbage collector
        # reclaims them, on its own schedule: settle them, so both copies score alike.
        with redis.Redis.from_url(url) as r:
            r.execute_command(
                "FT.DEBUG", "GC_FORCEINVOKE", keys.memory_index(mem.namespace, INDEX_VERSION)
            )
    agent = mem.agent("planner")
    return {q: [(h.record.id, h.score) for h in agent.recall(q, k=5)] for q in QUERIES}


def ranked_alike(a: list[tuple[str, float]], b: list[tuple[str, float]]) -> bool:
    """The same hits in the same order, with the same scores, except among memories tied
    with the last hit: which of them a store's candidate search returns depends on the order
    it indexed them in, which a copy does not keep."""
    if len(a) != len(b) or not all(
        math.isclose(x, y, abs_tol=1e-6) for (_, x), (_, y) in zip(a, b, strict=True)
    ):
        return False
    last = a[-1][1] if a else 0.0
    return [i for i, s in a if s > last + 1e-6] == [i for i, s in b if s > last + 1e-6]


def test_a_namespace_moves_between_every_store_and_recalls_the_same(
    servers: dict[str, RedisProcess], sqlite_url: str, tmp_path: Path
) -> None:
    ns = "t" + new_id().lower()
    modules, plain = servers["redis-modules"].url, servers["redis-plain"].url
    with Memory.open(modules, namespace=ns, embedder=EMBEDDER) as mem:
        populate(mem)
        hits = top_hits(mem, modules)
        before = picture(mem)  # after the recall: it counted its hits
        path = export(mem, tmp_path / "0.jsonl")
    # Redis (modules) -> SQLite -> plain Redis -> Redis (modules), each into a new namespace.
    for step, url in enumerate((sqlite_url, plain, modules), start=1):
        moved_ns = f"{ns}-{step}"
        with Memory.open(url, namespace=moved_ns, embedder=EMBEDDER) as mem:
            report = import_namespace(mem, path)
            assert report.written == report.header.counts
            assert picture(mem) == before, url
            moved = top_hits(mem, url)
            # Every store finds the same best memory; a store of the same kind ranks the
            # whole top 5 the same (the others differ only among near-ties of low scores).
            assert {q: h[0][0] for q, h in moved.items()} == {q: h[0][0] for q, h in hits.items()}
            if url == modules:
                assert all(ranked_alike(moved[q], hits[q]) for q in QUERIES), (moved, hits)
            before = picture(mem)  # recall counted its hits: the next move carries that
            path = export(mem, tmp_path / f"{step}.jsonl")
    first = orjson.loads((tmp_path / "0.jsonl").read_bytes().splitlines()[0])
    last = orjson.loads(path.read_bytes().splitlines()[0])
    assert first["counts"] == last["counts"] and first["embedder"] == last["embedder"]


def test_the_cli_moves_a_namespace_from_sqlite_to_redis(redis_url: str, tmp_path: Path) -> None:
    ns = "t" + new_id().lower()
    source = "sqlite:///" + str(tmp_path / "source.db")
    with Memory.open(source, namespace=ns, embedder=EMBEDDER) as mem:
        populate(mem)
        before = picture(mem)
    file = tmp_path / "out.jsonl"
    env = {**os.environ, "AETHER_HOME": str(tmp_path), "COLUMNS": "80", "HF_HUB_OFFLINE": "1"}
    run = [sys.executable, "-m", "aether_memory.cli.main"]
    out = subprocess.run(
        [*run, "export", str(file), "--url", source, "-n", ns],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    assert "exported" in out.stdout and not file.with_name(file.name + ".partial").exists()
    out = subprocess.run(
        [*run, "import", str(file), "--url", redis_url],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    assert f"into namespace '{ns}'" in out.stdout
    with Memory.open(redis_url, namespace=ns, embedder=EMBEDDER) as mem:
        assert picture(mem) == before
    again = subprocess.run(
        [*run, "import", str(file), "--url", redis_url],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert again.returncode == 1 and "already holds data" in again.stderr


# ==================================================================== the whole file first


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _write(path: Path, lines: list[Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    return path


def test_a_bad_file_writes_nothing(url: str, tmp_path: Path) -> None:
    ns = "t" + new_id().lower()
    with Memory.open(url, namespace=ns, embedder=EMBEDDER) as mem:
        populate(mem)
        good = _lines(export(mem, tmp_path / "good.jsonl"))
    header, records = good[0], good[1:]
    memory = next(i for i, r in enumerate(records) if r["type"] == "memory")
    event = next(i for i, r in enumerate(records) if r["type"] == "event")
    bad_vector = {**records[memory], "embedding": base64.b64encode(b"\0" * 12).decode()}
    cases: dict[str, tuple[bytes, str]] = {
        "truncated": (_bytes([header, *records[:-1]]), "truncated"),
        "bad json": (_bytes([header, *records]) + b"{not json\n", "is not JSON"),
        "bad name": (_bytes([header, {**records[0], "agent": "a:b"}, *records[1:]]), "not valid"),
        "vector": (_bytes([header, *records[:memory], bad_vector, *records[memory + 1 :]]),
                   "3 numbers"),
        "orphan event": (_bytes([header, records[event], *records]), "must follow"),
        "unknown type": (_bytes([header, {"type": "dump", "key": "x"}, *records]), "unknown"),
        "not utf-8": (_bytes([header, *records]) + b'{"type": "agent", "agent": "\xe9"}\n',
                      "not UTF-8"),
        "utf-16": (_bytes([header, *records]).decode().encode("utf-16"), "UTF-16"),
        "old format": (_bytes([{**header, "version": 1}, *records]), "version 1"),
        "empty": (b"", "empty"),
    }  # fmt: skip
    target = f"{ns}-target"
    with Memory.open(url, namespace=target, embedder=EMBEDDER) as mem:
        for name, (content, message) in cases.items():
            path = tmp_path / f"{name}.jsonl"
            path.write_bytes(content)
            with pytest.raises(InvalidInput, match=message):
                import_namespace(mem, path)
            assert set(leftovers(url, target).values()) <= {0}, name
            assert not journal_path(path).exists()


def _bytes(lines: list[Any]) -> bytes:
    return b"".join(orjson.dumps(x) + b"\n" for x in lines)


def test_an_import_into_a_namespace_with_data_needs_replace(url: str, tmp_path: Path) -> None:
    ns = "t" + new_id().lower()
    with Memory.open(url, namespace=ns, embedder=EMBEDDER) as mem:
        populate(mem)
        before = picture(mem)
        path = export(mem, tmp_path / "x.jsonl")
        mem.agent("planner").identity.put("mission", "changed")
        with pytest.raises(Conflict, match="already holds data"):
            import_namespace(mem, path)
        assert mem.agent("planner").identity.get("mission") == "changed"
        import_namespace(mem, path, replace=True)
        assert picture(mem) == before


def test_an_interrupted_import_says_what_it_wrote_and_resumes(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns = "t" + new_id().lower()
    with Memory.open(url, namespace=ns, embedder=EMBEDDER) as mem:
        populate(mem)
        before = picture(mem)
        path = export(mem, tmp_path / "x.jsonl")
    monkeypatch.setattr(importer, "MEMORY_BATCH", 10)
    with Memory.open(url, namespace=f"{ns}-2", embedder=EMBEDDER) as mem:
        real, calls = mem.kernel.store.longterm.load, []

        def fails_on_the_third_batch(*args: Any) -> None:
            calls.append(args)
            if len(calls) == 3:
                raise BackendUnavailable("the server went away")
            real(*args)

        monkeypatch.setattr(mem.kernel.store.longterm, "load", fails_on_the_third_batch)
        with pytest.raises(ImportStopped, match="--resume") as stopped:
            import_namespace(mem, path)
        report = stopped.value.report
        # Exactly what the report says is in the store, and nothing more.
        assert report.written["memories"] == 20
        assert len(mem.list_memories(limit=1000)) == 20
        assert mem.agents() == ["critic", "planner"] and report.written["agents"] == 2
        assert journal_path(path).exists()
        monkeypatch.setattr(mem.kernel.store.longterm, "load", real)
        resumed = import_namespace(mem, path, resume=True)
        assert resumed.resumed_from == report.records_done
        assert picture(mem) == before
        assert not journal_path(path).exists()


# ================================================================== a crafted DUMP payload


def _crc64(data: bytes) -> int:
    """Redis's CRC-64 (Jones polynomial, reflected), which guards a DUMP payload."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x95AC9329AC4BC9B5 if crc & 1 else 0)
    return crc


def crafted_payload(r: redis.Redis) -> bytes:
    """A DUMP payload of a small hash whose listpack claims a string longer than itself,
    with a valid checksum: RESTORE accepts it (no deep sanitisation by default), and the
    first read of the key runs off the end of the listpack and kills the server."""
    r.hset("scratch-hash", mapping={"a": "1", "b": "xyz"})
    payload = bytearray(r.dump("scratch-hash") or b"")
    r.delete("scratch-hash")
    body = payload[:-8]
    body[body.index(b"\x83xyz")] = 0xBF  # a 63-byte string where 3 bytes remain
    return bytes(body) + _crc64(bytes(body)).to_bytes(8, "little")


def test_a_crafted_export_cannot_crash_the_server(tmp_path: Path) -> None:
    ns = "t" + new_id().lower()
    key = f"aether:{{{ns}}}:agent:planner:state"
    with RedisProcess(tmp_path / "victim", modules=False) as server:
        r = redis.Redis.from_url(server.url)
        try:
            evil = base64.b64encode(crafted_payload(r)).decode()
            path = _write(
                tmp_path / "evil.jsonl",
                [
                    {"format": "aether-export", "version": 1, "namespace": ns,
                     "redis_version": "8.2.3", "exported_at": "", "keys": 1},
                    {"key": key, "type": "hash", "pttl": None, "dump": evil},
                ],
            )  # fmt: skip
            env = {**os.environ, "AETHER_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
            result = subprocess.run(
                [sys.executable, "-m", "aether_memory.cli.main", "import", str(path), "--url",
                 server.url],
                capture_output=True, text=True, env=env, timeout=120,
            )  # fmt: skip
            # Whatever the import said, the server must still serve the key's namespace.
            with Memory.open(server.url, namespace=ns, embedder=EMBEDDER) as mem:
                assert mem.agent("planner").state.get() == {}
            assert r.ping() and r.exists(key) == 0
            assert result.returncode == 1
            assert "version 1" in result.stderr and "export the namespace again" in " ".join(
                result.stderr.lower().split()
            )
        finally:
            r.close()


# ======================================================================= during an outage


def test_an_erasure_made_during_an_outage_reaches_redis(tmp_path: Path) -> None:
    """Erasures are queued like any write: replayed on Redis after the writes before them."""
    from tests.integration.test_fallback import OPTIONS, replayed, wait_for

    fallback = f"sqlite:///{tmp_path}/fallback.db"
    with RedisProcess(tmp_path / "redis", fsync="always") as server:
        with Memory.open(server.url, options=OPTIONS, fallback=fallback) as mem:
            agent = mem.agent("writer")
            agent.session("kept").working.set("k", 1)
            agent.session("gone").working.set("k", 1)
            server.kill()
            agent.session("gone").record("tick", {"during": True})  # queued, then erased
            assert agent.session("gone").erase().counts["events"] == 1
            assert mem.health().degraded
            server.restart()
            wait_for(lambda: replayed(mem.health()), "the replay")
        with Memory.open(server.url, options=OPTIONS) as direct:
            agent = direct.agent("writer")
            assert [s.id for s in agent.sessions()] == ["kept"]
            assert agent.session("gone").events() == [] and agent.session("gone").meta() == {}
            assert direct.erase_namespace().counts["sessions"] == 1
