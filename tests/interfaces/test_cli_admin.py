"""The admin commands (search, inspect, export / import, identity load, doctor): real
processes against the session's servers, plus servers of their own where a test needs a fresh
or misconfigured one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from aether_memory import Memory
from aether_memory.backends.redis.facts import ServerFacts
from aether_memory.cli import doctor
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


# ---------------------------------------------------------------------------- import
# (export and import are tested with every store in tests/integration/test_transfer.py)


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
    # the agents set, the state hash and the change feed (the state write's notification)
    assert f"3 keys in namespace '{namespace}'" in out
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


def test_doctor_checks_a_sqlite_store(tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "memory.db")
    with Memory.open(url, namespace="team") as mem:
        mem.agent("a").session("s").working.set("k", 1)
    out = aether("doctor", "--url", url, home=tmp_path).stdout
    assert "0 FAIL" in out and "quick_check: ok" in out and "WAL" in out
    missing = aether("doctor", "--url", url + ".nope", home=tmp_path, check=False)
    assert missing.returncode == 1 and "no SQLite store" in missing.stdout


def _facts(**caps: Any) -> ServerFacts:
    defaults: dict[str, Any] = {
        "backend": "redis", "server_version": "8.2.3", "modules": frozenset({"search"}),
        "search": True, "vector_sets": True, "aof": True, "fsync": "everysec", "rdb": False,
        "maxmemory_policy": "noeviction",
    }  # fmt: skip
    used, limit = caps.pop("used", 10), caps.pop("limit", 0)
    evicted = caps.pop("evicted", 0)
    return ServerFacts(
        url="redis://:secret@h:6379/0",
        namespace="default",
        connect_ms=1.0,
        ping_ms=0.1,
        capabilities=Capabilities(**{**defaults, **caps}),
        used_memory=used,
        maxmemory=limit,
        namespace_keys=3,
        evicted_keys=evicted,
    )


@pytest.mark.parametrize(
    ("caps", "name", "status", "words"),
    [
        ({}, "eviction", "OK", "noeviction"),
        ({"maxmemory_policy": "volatile-lru"}, "eviction", "FAIL", "volatile-lru"),
        ({"evicted": 7}, "evictions", "FAIL", "7 keys evicted"),
        ({"evicted": 0}, "evictions", "OK", "no key evicted"),
        ({"used": 101, "limit": 100}, "memory", "FAIL", "storage_full"),
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
