"""The admin commands (search, inspect, export / import, identity load, doctor): real
processes against the session's servers, plus servers of their own where a test needs a fresh
or misconfigured one."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from aether_memory import Memory
from aether_memory.backends.redis._sync.longterm import INDEX_VERSION
from aether_memory.cli import doctor, target, transfer
from aether_memory.core import keys
from aether_memory.core.errors import Conflict, InvalidInput
from aether_memory.core.types import Capabilities
from aether_memory.server.local import RedisProcess, free_port
from tests.conftest import REDIS_BACKENDS, server_named
from tests.word_embedder import WordHashEmbedder

HOUR_MS = 3_600_000
TTL_TOLERANCE_MS = 15_000


def aether(
    *args: str, home: Path, check: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "AETHER_HOME": str(home),  # never the developer's local server
        "COLUMNS": "250",
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-m", "aether_memory.cli.main", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=90,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"aether {' '.join(args)} -> {result.returncode}\n{result.stderr}")
    return result


@pytest.fixture(params=REDIS_BACKENDS)
def backend(request: pytest.FixtureRequest, servers: dict[str, RedisProcess]) -> RedisProcess:
    """Each session server in turn (the test needs to know which kind it got)."""
    return server_named(servers, request.param)


@pytest.fixture
def client(url: str) -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(url)
    yield r
    r.close()


# ---------------------------------------------------------------------------- data to move


def populate(server: RedisProcess, ns: str) -> dict[str, str]:
    """Every kind of data the library writes, plus a key of every Redis type; returns ids."""
    with Memory.open(server.url, namespace=ns, embedder=WordHashEmbedder()) as mem:
        agent = mem.agent("planner")
        agent.identity.put_many({"mission": "Ship the quarterly report.", "persona": "Terse."})
        agent.state.set(status="busy", active_tools=["sql", "search"])
        s = agent.session("s1")
        s.working.update({"goal": {"title": "Q3 report"}, "draft": 2, "big": "x" * 5000})
        s.scratch.set("tmp", [1, 2, 3])
        s.add_step("search", "found 3 sources", reasoning="need numbers")
        s.record("tool_call", {"tool": "sql", "rows": 12}, latency_ms=8.4)
        s.checkpoint({"section": 1})
        s.checkpoint({"section": 2})
        s.tool_schema(lambda: [{"name": "sql"}])
        mem.cache.put("web_search", {"q": "redis"}, ["result"], ttl=3600)
        fact = agent.remember("Leonor moved from Lisbon to Porto in March", importance=0.8)
        agent.remember_many(["Deploy of billing v2.3 failed: migration 0042 timed out"])
        s.save_episode("Deploy billing", "rolled back", success=False)
        agent.save_skill("rollback", "Roll a service back", ["find tag", "deploy it"])
        agent.record_skill_execution("rollback", success=True, duration=4.0)
    r = redis.Redis.from_url(server.url)
    try:
        x = f"aether:{{{ns}}}:x"
        r.rpush(f"{x}:list", "a", "b", "a", b"\x00\xff")
        r.sadd(f"{x}:set", "a", "b", "c")
        r.zadd(f"{x}:zset", {"a": 1.5, "b": -2.25, "c": 1e-9})
        r.zadd(f"{x}:bigzset", {f"m{i}": i / 7 for i in range(300)})  # skiplist encoding
        r.hset(f"{x}:bighash", mapping={f"f{i}": "v" * (i % 90) for i in range(600)})
        r.set(f"{x}:ttl", "expires", px=5 * HOUR_MS)
        r.set(f"{x}:bin", bytes(range(256)))
        r.hset(f"{x}:fieldttl", mapping={"keep": "1", "fade": "2"})
        r.hpexpire(f"{x}:fieldttl", 2 * HOUR_MS, "fade")
        r.xadd(f"{x}:stream", {"a": "1"}, id="1-1")
        r.xadd(f"{x}:stream", {"b": "2"}, id="2-1")
        r.xgroup_create(f"{x}:stream", "workers", id="0")
        r.xreadgroup("workers", "w1", {f"{x}:stream": ">"}, count=1)
        for i in range(20):
            r.execute_command(
                "VADD", f"{x}:vset", "VALUES", 3, 1.0, i / 10, -i / 20, f"e{i}",
                "SETATTR", orjson.dumps({"i": i}),
            )  # fmt: skip
        r.set(f"aether:{{{ns}}}:x:\xe9t\xe9".encode("latin-1"), "a key that is not UTF-8")
        if server.modules:
            r.execute_command(
                "JSON.SET", f"{x}:json", "$", orjson.dumps({"a": [1, 2, {"b": None}]})
            )
            r.execute_command("BF.ADD", f"{x}:bloom", "seen")
        # Another namespace whose name starts like this one: it must not travel along.
        r.set(f"aether:{{{ns}x}}:agents", "not mine")
        r.set(f"aether:{{{ns}x/planner/s1}}:meta", "not mine")
    finally:
        r.close()
    return {"fact": fact.id}


def value_of(r: redis.Redis, key: bytes, kind: str) -> Any:
    """A key's value through type-specific reads: DUMP payloads of hashtable-encoded types
    list fields in hash-table order, which differs between servers for the same value."""
    if kind == "string":
        return r.get(key)
    if kind == "hash":
        fields = r.hgetall(key)
        ttls = r.hpttl(key, *fields) if fields else []
        return fields, [t > 0 for t in ttls]  # field TTLs are compared below, loosely
    if kind == "list":
        return r.lrange(key, 0, -1)
    if kind == "set":
        return r.smembers(key)
    if kind == "zset":
        return r.zrange(key, 0, -1, withscores=True)
    if kind == "stream":
        info = r.xinfo_stream(key)
        groups = r.xinfo_groups(key)
        return (
            r.xrange(key),
            {k: info[k] for k in ("length", "last-generated-id", "entries-added")},
            [{k: g[k] for k in ("name", "pending", "last-delivered-id")} for g in groups],
            [r.xpending(key, g["name"])["pending"] for g in groups],
        )
    if kind == "vectorset":
        members = sorted(r.execute_command("VRANDMEMBER", key, 10_000))
        return (
            r.execute_command("VDIM", key),
            members,
            [r.execute_command("VEMB", key, m) for m in members],
            [r.execute_command("VGETATTR", key, m) for m in members],
            [sorted(map(sorted, r.execute_command("VLINKS", key, m))) for m in members],
        )
    return r.dump(key)  # module types (JSON, Bloom): their payload is deterministic


def snapshot(url: str, ns: str) -> dict[bytes, tuple[str, Any, int]]:
    r = redis.Redis.from_url(url)
    try:
        out = {}
        for key in target.namespace_keys(r, ns):
            kind = r.type(key).decode()
            out[key] = (kind, value_of(r, key, kind), r.pttl(key))
        return out
    finally:
        r.close()


def field_ttls(url: str, key: str) -> list[int]:
    r = redis.Redis.from_url(url)
    try:
        return list(r.hpttl(key, "keep", "fade"))
    finally:
        r.close()


def assert_same(source: dict[bytes, Any], target: dict[bytes, Any]) -> None:
    assert sorted(target) == sorted(source)
    for key, (kind, value, pttl) in source.items():
        t_kind, t_value, t_pttl = target[key]
        assert t_kind == kind, key
        assert t_value == value, key
        if pttl < 0:
            assert t_pttl == pttl, key
        else:
            assert abs(t_pttl - pttl) < TTL_TOLERANCE_MS, (key, pttl, t_pttl)


# ---------------------------------------------------------------------------- export / import


def test_export_import_round_trip_is_exact(
    backend: RedisProcess, namespace: str, tmp_path: Path
) -> None:
    if backend.binary is not None:
        pytest.skip("the data to move uses Redis 8 types (vector sets, hash-field TTLs)")
    ids = populate(backend, namespace)
    before = snapshot(backend.url, namespace)
    types = {kind for kind, _, _ in before.values()}
    assert {"string", "hash", "list", "set", "zset", "stream", "vectorset"} <= types
    assert any(pttl > 0 for _, _, pttl in before.values())
    assert any(pttl == -1 for _, _, pttl in before.values())
    dump = tmp_path / "backup.jsonl"
    out = aether("export", str(dump), "--url", backend.url, "-n", namespace, home=tmp_path)
    assert f"exported {len(before)} keys" in out.stdout
    lines = dump.read_text(encoding="utf-8").splitlines()
    header = orjson.loads(lines[0])
    assert header["format"] == "aether-export" and header["version"] == 1
    assert header["namespace"] == namespace and header["keys"] == len(before) == len(lines) - 1
    assert header["redis_version"].startswith("8.") and header["exported_at"]
    assert sum("key_b64" in orjson.loads(line) for line in lines[1:]) == 1

    with RedisProcess(tmp_path / "target", modules=backend.modules) as target:
        out = aether("import", str(dump), "--url", target.url, home=tmp_path)
        assert f"imported {len(before)} keys into namespace '{namespace}'" in out.stdout
        after = snapshot(target.url, namespace)
        assert_same(before, after)
        fieldttl = f"aether:{{{namespace}}}:x:fieldttl"
        source_ttls, target_ttls = (
            field_ttls(backend.url, fieldttl),
            field_ttls(target.url, fieldttl),
        )
        assert source_ttls[0] == target_ttls[0] == -1
        assert abs(source_ttls[1] - target_ttls[1]) < TTL_TOLERANCE_MS
        assert not any(b"{" + namespace.encode() + b"x" in key for key in after)

        r = redis.Redis.from_url(target.url)
        try:
            if backend.modules:
                info = r.ft(keys.memory_index(namespace, INDEX_VERSION)).info()
                assert int(info["num_docs"]) == len(
                    [k for k in after if k.startswith(keys.memory_prefix(namespace).encode())]
                )
                assert "search index ready" in out.stdout
        finally:
            r.close()
        # A second import collides with every key: refused, nothing touched; --replace works.
        again = aether("import", str(dump), "--url", target.url, home=tmp_path, check=False)
        assert again.returncode == 1
        error = next(line for line in again.stderr.splitlines() if "error:" in line)
        assert "already exist" in error and "--replace" in error  # one line
        aether("import", str(dump), "--url", target.url, "--replace", home=tmp_path)
        after_replace = snapshot(target.url, namespace)
        assert_same(before, after_replace)

        # Recall on the imported copy finds what was remembered on the original.
        with Memory.open(target.url, namespace=namespace, embedder=WordHashEmbedder()) as mem:
            agent = mem.agent("planner")
            hits = agent.recall("where does Leonor live now?", k=3)
            assert hits[0].record.id == ids["fact"]
            assert agent.identity.get("mission") == "Ship the quarterly report."
            assert agent.session("s1").restore() == {"section": 2}
            assert agent.skill("rollback").runs == 1


def test_export_and_import_functions(url: str, namespace: str, client: redis.Redis) -> None:
    client.hset(keys.state(namespace, "a"), mapping={"status": b'j"idle"'})
    client.set(keys.cache(namespace, "t", "h"), "v", px=HOUR_MS)
    seen: list[tuple[int, int]] = []
    fp = io.StringIO()
    assert (
        transfer.export_namespace(client, namespace, fp, progress=lambda d, t: seen.append((d, t)))
        == 2
    )
    assert seen[0] == (0, 2) and seen[-1] == (2, 2)
    text = fp.getvalue()

    # Into the same server: every key exists, so nothing may be written without replace.
    client.set(keys.cache(namespace, "t", "h"), "changed")
    with pytest.raises(Conflict, match="2 of the 2 keys already exist"):
        transfer.import_namespace(client, io.StringIO(text))
    assert client.get(keys.cache(namespace, "t", "h")) == b"changed"
    header = transfer.import_namespace(client, io.StringIO(text), replace=True)
    assert (header.namespace, header.keys) == (namespace, 2)
    assert client.get(keys.cache(namespace, "t", "h")) == b"v"
    assert 0 < client.pttl(keys.cache(namespace, "t", "h")) <= HOUR_MS
    assert client.pttl(keys.state(namespace, "a")) == -1

    with pytest.raises(InvalidInput, match="export of namespace"):
        transfer.import_namespace(client, io.StringIO(text), replace=True, namespace="other")


@pytest.mark.parametrize(
    ("first_line", "message"),
    [
        ("", "the file is empty"),
        ("hello\n", "it is not JSON"),
        ('{"format": "redis-dump", "version": 1}\n', "not an aether export"),
        ('["aether-export", 1]\n', "not an aether export"),
        ('{"format": "aether-export", "version": 2, "namespace": "x", "keys": 0}\n', "version 2"),
        ('{"format": "aether-export", "version": 1, "namespace": "x"}\n', "`keys` must be"),
        ('{"format": "aether-export", "version": 1, "namespace": "a:b", "keys": 0}\n', "not valid"),
    ],
)
def test_import_refuses_a_bad_header(client: redis.Redis, first_line: str, message: str) -> None:
    text = first_line + '{"key": "aether:{x}:a"}\n' if first_line else ""
    with pytest.raises(InvalidInput, match=message):
        transfer.import_namespace(client, io.StringIO(text))


def _export_text(ns: str, records: list[dict[str, Any]], announced: int | None = None) -> str:
    header = transfer.ExportHeader(
        ns, len(records) if announced is None else announced, "8.2.3", ""
    )
    return header.line() + "".join(orjson.dumps(r).decode() + "\n" for r in records)


def test_import_checks_the_whole_file_before_writing(client: redis.Redis, namespace: str) -> None:
    client.set("scratch-key", "x")
    payload = base64.b64encode(client.dump("scratch-key") or b"").decode()
    client.delete("scratch-key")
    good = {"key": f"aether:{{{namespace}}}:a", "type": "string", "pttl": None, "dump": payload}
    cases = [
        (_export_text(namespace, [good], announced=2), "truncated"),
        (_export_text(namespace, [good, good]), "same key twice"),
        (_export_text(namespace, [good, {**good, "key": "aether:{other}:a"}]), "outside namespace"),
        (_export_text(namespace, [good, {**good, "key": f"aether:{{{namespace}x}}:a"}]), "outside"),
        (
            _export_text(
                namespace, [good, {**good, "key": f"aether:{{{namespace}}}:b", "dump": "%"}]
            ),
            "line 3",
        ),
        (
            _export_text(
                namespace, [good, {**good, "key": f"aether:{{{namespace}}}:b", "pttl": 0}]
            ),
            "pttl",
        ),
        (_export_text(namespace, [good]) + "{not json\n", "line 3"),
    ]
    for text, message in cases:
        with pytest.raises(InvalidInput, match=message):
            transfer.import_namespace(client, io.StringIO(text))
        assert target.namespace_keys(client, namespace) == []  # nothing was written
    assert transfer.import_namespace(client, io.StringIO(_export_text(namespace, [good]))).keys == 1
    assert client.get(f"aether:{{{namespace}}}:a") == b"x"


def test_import_command_refuses_a_file_that_is_not_an_export(url: str, tmp_path: Path) -> None:
    bad = tmp_path / "notes.jsonl"
    bad.write_text('{"hello": "world"}\n', encoding="utf-8")
    result = aether("import", str(bad), "--url", url, home=tmp_path, check=False)
    assert result.returncode == 1
    assert "error:" in result.stderr and "not an aether export" in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and error_lines[0].rstrip().endswith("...}")
    missing = aether(
        "import", str(tmp_path / "nope.jsonl"), "--url", url, home=tmp_path, check=False
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr


# ---------------------------------------------------------------------------- doctor


def test_doctor_on_the_test_servers(backend: RedisProcess, namespace: str, tmp_path: Path) -> None:
    with Memory.open(backend.url, namespace=namespace) as mem:
        mem.agent("a").state.set(status="idle")
    out = aether("doctor", "--url", backend.url, "-n", namespace, home=tmp_path).stdout
    assert "0 FAIL" in out
    assert (
        ("Redis 7.0" if backend.binary else "Redis 8.2") in out
        and "AOF on" in out
        and "everysec" in out
        and "noeviction" in out
    )
    assert f"2 keys in namespace '{namespace}'" in out  # the agents set and the state hash
    if backend.modules:
        assert "0 WARN" in out and "Query Engine present" in out
    else:
        assert "WARN" in out and "no Query Engine" in out


def test_doctor_fails_on_an_evicting_server(tmp_path: Path) -> None:
    with RedisProcess(tmp_path / "lru", modules=False) as server:
        r = redis.Redis.from_url(server.url)
        try:
            r.config_set("maxmemory-policy", "allkeys-lru")
        finally:
            r.close()
        result = aether("doctor", home=tmp_path, check=False, AETHER_URL=server.url)
    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if "eviction" in line)
    assert "FAIL" in line and "allkeys-lru" in line
    assert "noeviction" in result.stdout and "CONFIG SET maxmemory-policy" in result.stdout
    assert "1 FAIL" in result.stdout


def test_doctor_fails_when_nothing_answers(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = aether("doctor", "--url", url, home=tmp_path, check=False)
    assert result.returncode == 1
    assert "FAIL" in result.stdout and "unreachable" in result.stdout
    assert "aether up" in result.stdout


def _facts(**caps: Any) -> doctor.ServerFacts:
    defaults: dict[str, Any] = {
        "backend": "redis", "server_version": "8.2.3", "modules": frozenset({"search"}),
        "search": True, "vector_sets": True, "aof": True, "fsync": "everysec", "rdb": False,
        "maxmemory_policy": "noeviction",
    }  # fmt: skip
    used, limit = caps.pop("used", 10), caps.pop("limit", 0)
    return doctor.ServerFacts(
        url="redis://:secret@h:6379/0",
        namespace="default",
        connect_ms=1.0,
        ping_ms=0.1,
        capabilities=Capabilities(**{**defaults, **caps}),
        used_memory=used,
        maxmemory=limit,
        namespace_keys=3,
    )


@pytest.mark.parametrize(
    ("caps", "name", "status", "words"),
    [
        ({}, "eviction", "OK", "noeviction"),
        ({"maxmemory_policy": "volatile-lru"}, "eviction", "OK", "only keys with a TTL"),
        ({"maxmemory_policy": "allkeys-lfu"}, "eviction", "FAIL", "allkeys-lfu"),
        ({"maxmemory_policy": None}, "eviction", "WARN", "unknown"),
        ({"aof": False, "rdb": True}, "persistence", "WARN", "RDB snapshots only"),
        ({"aof": False, "rdb": False}, "persistence", "FAIL", "none"),
        ({"aof": None}, "persistence", "WARN", "unknown"),
        ({"fsync": "no"}, "appendfsync", "WARN", "OS flushes"),
        ({"fsync": "always"}, "appendfsync", "OK", "nothing acknowledged is lost"),
        ({"search": False, "modules": frozenset()}, "modules", "WARN", "no Query Engine"),
        (
            {"search": False, "vector_sets": False, "server_version": "7.2.4"},
            "modules",
            "WARN",
            "scans every vector",
        ),
        ({"server_version": "7.2.4", "search": False}, "server", "WARN", "Redis 7.2.4"),
        ({"used": 85, "limit": 100}, "memory", "WARN", "85%"),
        ({"used": 99, "limit": 100}, "memory", "FAIL", "99%"),
        ({"used": 10, "limit": 100}, "memory", "OK", "10%"),
    ],
)
def test_doctor_assessment(caps: dict[str, Any], name: str, status: str, words: str) -> None:
    checks = {c.name: c for c in doctor.assess(_facts(**caps))}
    assert checks[name].status == status
    assert words in checks[name].finding
    assert (checks[name].advice != "") == (status != "OK")
    assert "secret" not in checks["connection"].finding  # the URL is redacted


# ---------------------------------------------------------------------------- search, inspect


def test_search_prints_the_remembered_memory(url: str, namespace: str, tmp_path: Path) -> None:
    with Memory.open(url, namespace=namespace) as mem:
        agent = mem.agent("assistant")
        fact = agent.remember("Leonor moved from Lisbon to Porto in March", kind="fact")
        agent.remember_many(["Prefers answers as short bullet points"])
        before = agent.memory_record(fact.id)
    common = ("--url", url, "--namespace", namespace)
    out = aether("search", "where does Leonor live now?", *common, home=tmp_path).stdout
    assert "Leonor moved from Lisbon to Porto in March" in out
    for column in ("score", "vector", "text", "exact", "recency", "importance"):
        assert column in out
    assert fact.id in out
    first = next(line for line in out.splitlines() if "Leonor moved" in line)
    assert first.split()[1] == "1"  # the best hit
    narrowed = aether(
        "search",
        "Leonor",
        "--agent",
        "assistant",
        "--kind",
        "fact",
        "--k",
        "1",
        *common,
        home=tmp_path,
    ).stdout
    assert "Leonor" in narrowed and "bullet points" not in narrowed
    assert (
        "no memory"
        in aether("search", "Leonor", "--agent", "nobody", *common, home=tmp_path).stdout
    )
    with Memory.open(url, namespace=namespace) as mem:
        after = mem.agent("assistant").memory_record(fact.id)
    assert (after.access_count, after.last_accessed) == (before.access_count, before.last_accessed)
    bad = aether("search", "Leonor", "--k", "0", *common, home=tmp_path, check=False)
    assert bad.returncode == 1 and "error:" in bad.stderr and "k must be" in bad.stderr


def test_inspect_agent_session_and_memory(url: str, namespace: str, tmp_path: Path) -> None:
    with Memory.open(url, namespace=namespace, embedder=WordHashEmbedder()) as mem:
        agent = mem.agent("planner")
        agent.identity.put("mission", "Ship the quarterly report.")
        agent.state.set(status="busy", current_task="report")
        agent.session("s0").working.set("old", 1)
        time.sleep(0.01)  # s1 is active later
        s = agent.session("s1")
        s.working.set("goal", {"title": "Q3 report"})
        s.scratch.set("tmp", [1, 2, 3])
        s.add_step("search", "found 3 sources")
        s.record("tool_call", {"tool": "sql", "rows": 12}, latency_ms=8.4)
        s.checkpoint({"section": 2})
        rec = agent.remember("Leonor moved to Porto", tags=["home"], metadata={"by": "ana"})
    common = ("--url", url, "--namespace", namespace)

    out = aether("inspect", "session", "planner", "s1", *common, home=tmp_path).stdout
    assert "working memory" in out and "goal" in out and "Q3 report" in out
    assert "scratchpad" in out and "tmp" in out
    assert "step" in out and "found 3 sources" in out and "tool_call" in out and "8.4" in out
    assert "checkpoints" in out and "│ 1 │" in out

    out = aether("inspect", "agent", "planner", *common, home=tmp_path).stdout
    assert "mission" in out and "Ship the quarterly report." in out
    assert "busy" in out and "current_task" in out
    assert out.index("│ s1 ") < out.index("│ s0 ")  # most recently active first (table cells:
    # the random namespace in the title may itself contain "s0")

    out = aether("inspect", "memory", rec.id, *common, home=tmp_path).stdout
    assert "Leonor moved to Porto" in out and "home" in out and '{"by":"ana"}' in out

    for args, message in [
        (("agent", "nobody"), "has nothing stored"),
        (("session", "planner", "nope"), "no session 'nope'"),
        (("memory", "01NOSUCHMEMORY"), "no memory"),
        (("agent", "bad:id"), "not valid"),
    ]:
        result = aether("inspect", *args, *common, home=tmp_path, check=False)
        assert result.returncode == 1, args
        assert "error:" in result.stderr and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_identity_load(url: str, namespace: str, tmp_path: Path) -> None:
    folder = tmp_path / "identity"
    folder.mkdir()
    (folder / "persona.md").write_text("You are terse.\n", encoding="utf-8")
    (folder / "mission.md").write_text("Ship the report.\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not identity", encoding="utf-8")
    common = ("--url", url, "--namespace", namespace)
    out = aether("identity", "load", str(folder), "--agent", "planner", *common, home=tmp_path)
    assert "loaded 2 documents (mission, persona)" in out.stdout
    with Memory.open(url, namespace=namespace) as mem:
        assert mem.agent("planner").identity.all() == {
            "mission": "Ship the report.\n",
            "persona": "You are terse.\n",
        }
    empty = tmp_path / "empty"
    empty.mkdir()
    result = aether(
        "identity", "load", str(empty), "-a", "planner", *common, home=tmp_path, check=False
    )
    assert result.returncode == 1 and "nothing loaded" in result.stderr


def test_namespace_and_url_come_from_the_environment(
    url: str, namespace: str, tmp_path: Path
) -> None:
    with Memory.open(url, namespace=namespace) as mem:
        mem.agent("a").identity.put("mission", "m")
    out = aether(
        "inspect", "agent", "a", home=tmp_path, AETHER_URL=url, AETHER_NAMESPACE=namespace
    ).stdout
    assert f"namespace '{namespace}'" in out


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (["search"], ["QUERY", "--agent", "--k", "--kind", "--url", "--namespace"]),
        (["inspect"], ["agent", "session", "memory"]),
        (["inspect", "agent"], ["AGENT", "--sessions", "--url"]),
        (["inspect", "session"], ["AGENT", "SESSION", "--events"]),
        (["inspect", "memory"], ["ID", "--namespace"]),
        (["export"], ["FILE.jsonl", "--url", "--namespace"]),
        (["import"], ["FILE.jsonl", "--replace", "--namespace"]),
        (["identity"], ["load"]),
        (["identity", "load"], ["DIR", "--agent", "--pattern"]),
        (["doctor"], ["--url", "--namespace", "FAIL"]),
        ([], ["search", "inspect", "export", "import", "identity", "doctor", "up", "demo"]),
    ],
)
def test_help(command: list[str], words: list[str], tmp_path: Path) -> None:
    out = aether(*command, "--help", home=tmp_path).stdout
    assert "Usage" in out
    for word in words:
        assert word in out, word
