"""`aether list`, `aether delete`, ``--json``, ``--version`` and tables at 80 columns: real
processes against the session's stores (Redis with modules, plain Redis, SQLite)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from aether_memory import Memory, __version__
from aether_memory.server.local import RedisProcess
from tests.conftest import BACKENDS, server_named
from tests.word_embedder import CloseEmbedder, WordHashEmbedder


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, servers: dict[str, RedisProcess]) -> str:
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    if request.param == "redis-cluster":
        return str(request.getfixturevalue("cluster").url)
    return server_named(servers, request.param).url


def aether(
    *args: str, home: Path, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AETHER_HOME": str(home), "COLUMNS": "80", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "aether_memory.cli.main", *args],
        capture_output=True, text=True, env=env, timeout=120, input=stdin,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"aether {' '.join(args)} -> {result.returncode}\n{result.stderr}")
    return result


def fits(text: str) -> bool:
    """Every line fits 80 columns, but a cursor (a token that must paste whole)."""
    return all(len(line) <= 80 for line in text.splitlines() if not line.startswith("--cursor"))


def test_version(tmp_path: Path) -> None:
    assert aether("--version", home=tmp_path).stdout.strip() == f"aether-memory {__version__}"


def test_list_pages_fit_80_columns_and_ids_paste(url: str, namespace: str, tmp_path: Path) -> None:
    with Memory.open(url, namespace=namespace, embedder=WordHashEmbedder()) as mem:
        agent = mem.agent("planner")
        made = agent.remember_many(
            [f"note {i}: " + "a long sentence that must wrap inside the table " * 3
             for i in range(7)]
        )  # fmt: skip
        for i in range(3):
            agent.session(f"s{i}").add_step("work", {"i": i, "text": "x" * 300})
    common = ("--url", url, "-n", namespace)
    out = aether("list", "memories", *common, "--limit", "3", home=tmp_path).stdout
    assert fits(out), out
    assert all(r.id in out for r in made[:3]) and made[3].id not in out
    cursor = next(line for line in out.splitlines() if line.startswith("--cursor "))[9:]
    rest = aether("list", "memories", *common, "--cursor", cursor.strip(), "--limit", "10",
                  home=tmp_path).stdout  # fmt: skip
    assert all(r.id in rest for r in made[3:]) and "--cursor" not in rest
    # An id from the listing pastes into `inspect memory`.
    shown = aether("inspect", "memory", made[0].id, *common, "--json", home=tmp_path).stdout
    assert orjson.loads(shown)["id"] == made[0].id

    data = orjson.loads(aether("list", "sessions", "planner", *common, "--json",
                               home=tmp_path).stdout)  # fmt: skip
    assert sorted(s["id"] for s in data["items"]) == ["s0", "s1", "s2"]
    assert data["next_cursor"] is None
    events = aether("list", "events", "planner", "s0", *common, home=tmp_path).stdout
    assert fits(events) and "work" in events
    assert orjson.loads(aether("list", "agents", *common, "--json", home=tmp_path).stdout)[
        "items"
    ] == ["planner"]
    listed, cursor = [], None
    while True:  # every namespace of the test run, a page of 1000 at a time
        more = ("--cursor", cursor) if cursor else ()
        page = orjson.loads(aether("list", "namespaces", "--url", url, "--json", "--limit",
                                   "1000", *more, home=tmp_path).stdout)  # fmt: skip
        listed += page["items"]
        if (cursor := page["next_cursor"]) is None:
            break
    assert namespace in listed and listed == sorted(set(listed))


def test_search_fits_80_columns_with_whole_ids(url: str, namespace: str, tmp_path: Path) -> None:
    with Memory.open(url, namespace=namespace) as mem:
        fact = mem.agent("assistant").remember(
            "Leonor moved from Lisbon to Porto in March, and she works at the harbour office"
        )
    common = ("--url", url, "-n", namespace)
    out = aether("search", "where does Leonor live?", *common, home=tmp_path).stdout
    assert fits(out), out
    assert fact.id in out  # whole, never cut with an ellipsis
    hits = orjson.loads(aether("search", "Leonor", *common, "--json", home=tmp_path).stdout)
    assert hits[0]["record"]["id"] == fact.id and "vector" in hits[0]


def test_delete_asks_and_honours_yes_and_dry_run(url: str, namespace: str, tmp_path: Path) -> None:
    with Memory.open(url, namespace=namespace, embedder=WordHashEmbedder()) as mem:
        agent = mem.agent("planner")
        agent.identity.put("mission", "Ship it.")
        for i in range(2):
            agent.session(f"s{i}").working.set("goal", i)
        agent.remember("the planner's only memory")
    common = ("--url", url, "-n", namespace)
    dry = aether("delete", "agent", "planner", *common, "--dry-run", home=tmp_path).stdout
    assert "would erase agent planner" in dry and "2 sessions" in dry
    refused = aether("delete", "agent", "planner", *common, home=tmp_path, stdin="n\n",
                     check=False)  # fmt: skip
    assert refused.returncode == 1 and "cannot be undone" in refused.stdout
    with Memory.open(url, namespace=namespace) as mem:
        assert mem.agent("planner").identity.get("mission") == "Ship it."
    session = aether("delete", "session", "planner", "s0", *common, "--yes", "--json",
                     home=tmp_path).stdout  # fmt: skip
    assert orjson.loads(session)["counts"]["working_keys"] == 1
    done = aether("delete", "agent", "planner", *common, home=tmp_path, stdin="y\n").stdout
    assert "erased agent planner" in done and "1 sessions" in done
    with Memory.open(url, namespace=namespace) as mem:
        assert mem.agents() == [] and mem.agent("planner").identity.all() == {}
    gone = aether("delete", "namespace", namespace, "--url", url, "--yes", home=tmp_path)
    assert "erased namespace" in gone.stdout or "nothing" in gone.stdout


def test_list_memories_shows_superseded_ones_when_asked(
    url: str, namespace: str, tmp_path: Path
) -> None:
    with Memory.open(url, namespace=namespace, embedder=CloseEmbedder()) as mem:
        old = mem.agent("a").remember("The meeting is at 3pm")
        new = mem.agent("a").remember("The meeting is at 4pm")
    assert new.supersedes == old.id
    common = ("list", "memories", "--url", url, "-n", namespace, "--json")

    def ids(*flags: str) -> list[str]:
        out = aether(*common, *flags, home=tmp_path).stdout
        return [m["id"] for m in orjson.loads(out)["items"]]

    assert ids() == [new.id]
    assert ids("--include-superseded") == sorted([old.id, new.id])
    assert ids("--superseded-only") == [old.id]
