"""The memory kernel's behaviour, on every backend (Redis with modules, plain Redis)."""

from __future__ import annotations

import gc
import sqlite3
import time
from pathlib import Path

import pytest

from aether_memory import (
    ClientClosed,
    InvalidInput,
    Memory,
    NotFound,
    Options,
    TooLarge,
)
from aether_memory.core.query import Filters
from tests.word_embedder import WordHashEmbedder


def test_identity_round_trip_and_load_dir(mem: Memory, tmp_path: Path) -> None:
    agent = mem.agent("planner")
    agent.identity.put("mission", "Keep the user's data.")
    (tmp_path / "persona.md").write_text("I am careful.\n", encoding="utf-8")
    (tmp_path / "rules.md").write_text("Never pickle. " * 200, encoding="utf-8")  # compressed
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")

    assert agent.identity.load_dir(tmp_path) == 2
    assert agent.identity.get("persona") == "I am careful.\n"
    assert agent.identity.all() == {
        "mission": "Keep the user's data.",
        "persona": "I am careful.\n",
        "rules": "Never pickle. " * 200,
    }
    assert agent.identity.get("missing") is None
    assert agent.identity.delete("mission") is True
    assert agent.identity.delete("mission") is False
    assert mem.agents() == ["planner"]


def test_identity_refuses_non_text_and_bad_names(mem: Memory) -> None:
    agent = mem.agent("a")
    with pytest.raises(InvalidInput):
        agent.identity.put("doc", {"not": "text"})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        agent.identity.put("a:b", "x")
    assert agent.identity.all() == {}


def test_state_merges_fields(mem: Memory) -> None:
    agent = mem.agent("worker")
    assert agent.state.get() == {}
    agent.state.set(status="busy", current_task="index docs", active_tools=["search"])
    agent.state.set(status="idle", self="a field like any other")
    state = agent.state.get()
    assert state["self"] == "a field like any other"
    assert state["status"] == "idle"
    assert state["current_task"] == "index docs"
    assert state["active_tools"] == ["search"]
    assert isinstance(state["updated_at"], int)


def test_working_memory_operations(mem: Memory) -> None:
    s = mem.agent("a").session("s1")
    s.working.set("goal", {"text": "ship", "steps": [1, 2]})
    s.working.update({"count": 3, "flag": True, "nothing": None})
    assert s.working.get("goal") == {"text": "ship", "steps": [1, 2]}
    assert s.working.get("nothing", "default") is None  # a stored None is not a miss
    assert s.working.get("missing", "default") == "default"
    assert s.working.all() == {
        "goal": {"text": "ship", "steps": [1, 2]},
        "count": 3,
        "flag": True,
        "nothing": None,
    }
    assert s.working.delete("count", "absent") == 1
    s.working.clear()
    assert s.working.all() == {}


def test_working_of_reads_several_sessions_in_order(mem: Memory) -> None:
    agent = mem.agent("a")
    agent.session("s1").working.update({"x": 1, "y": [2]})
    agent.session("s2").working.set("z", {"k": None})
    agent.session("s2").scratch.set("hidden", 1)  # scratch is not working memory
    assert agent.working_of(["s2", "absent", "s1"]) == [{"z": {"k": None}}, {}, {"x": 1, "y": [2]}]
    assert agent.working_of([]) == []


def test_scratch_is_separate_from_working(mem: Memory) -> None:
    s = mem.agent("a").session("s1")
    s.working.set("k", 1)
    s.scratch.set("k", 2)
    assert s.working.get("k") == 1
    assert s.scratch.get("k") == 2


def test_sessions_do_not_share_state(mem: Memory) -> None:
    a = mem.agent("a")
    a.session("one").working.set("k", "one")
    a.session("two").working.set("k", "two")
    assert a.session("one").working.get("k") == "one"
    assert mem.agent("b").session("one").working.get("k") is None


def test_working_memory_has_sliding_ttl(url: str, namespace: str) -> None:
    ttl = Options(namespace=namespace).ttl
    options = Options(namespace=namespace, ttl=type(ttl)(working=60.0, scratch=5.0))
    with Memory.open(url, options=options) as mem:
        s = mem.agent("a").session("s1")
        s.working.set("k", 1)
        s.scratch.set("k", 1)
        assert 0 < pttl(mem, s._keys.working) <= 60_000
        assert 0 < pttl(mem, s._keys.scratch) <= 5_000
        assert pttl(mem, s._keys.sessions) == -1  # the activity index is durable


def pttl(mem: Memory, key: str) -> int:
    """Milliseconds `key` has left (-1: no expiry), read from the store itself."""
    store = getattr(
        mem.kernel.store, "_primary", mem.kernel.store
    )  # behind a fallback: the Redis store
    if store.capabilities.backend == "redis":
        return int(store._r.pttl(key))  # type: ignore[attr-defined]
    with sqlite3.connect(store.path) as conn:  # type: ignore[attr-defined]
        row = conn.execute("SELECT at FROM expiry WHERE key = ?", (key,)).fetchone()
    return -1 if row is None else row[0] - time.time_ns() // 1_000_000


def test_events_last_n_oldest_first(mem: Memory) -> None:
    s = mem.agent("a").session("s1")
    first = s.add_step("search", "3 results", reasoning="need facts", query="redis")
    s.record("tool_call", {"tool": "web", "args": {"q": "x"}}, latency_ms=12.5)
    for i in range(30):
        s.record("message", {"i": i})
    s.add_step("write", "draft", success=False)

    events = s.events(limit=5)
    assert [e.type for e in events] == ["message"] * 4 + ["step"]
    assert [e.data["i"] for e in events[:4]] == [26, 27, 28, 29]
    assert events[-1].outcome == "failure"

    steps = s.events(limit=10, types=["step", "tool_call"])
    assert [e.type for e in steps] == ["step", "tool_call", "step"]
    assert steps[0].id == first.id
    assert steps[0].data == {
        "action": "search",
        "observation": "3 results",
        "reasoning": "need facts",
        "query": "redis",
    }
    assert steps[1].latency_ms == 12.5
    assert len(s.events(limit=1000)) == 33
    assert s.events(limit=0) == []


def test_record_many_is_ordered(mem: Memory) -> None:
    s = mem.agent("a").session("s1")
    written = s.record_many([("m", {"i": i}) for i in range(100)])
    read = s.events(limit=100)
    assert [e.id for e in read] == [e.id for e in written]
    assert [e.data["i"] for e in read] == list(range(100))


def test_checkpoints_save_restore_list(mem: Memory) -> None:
    s = mem.agent("a").session("s1")
    assert s.restore() is None
    assert s.checkpoints() == []
    assert s.checkpoint({"plan": ["a"]}) == 1
    assert s.checkpoint({"plan": ["a", "b"]}) == 2
    assert s.restore() == {"plan": ["a", "b"]}
    assert s.restore(1) == {"plan": ["a"]}
    assert [c.n for c in s.checkpoints()] == [1, 2]
    with pytest.raises(NotFound):
        s.restore(3)
    with pytest.raises(InvalidInput):
        s.restore(0)


def test_checkpoints_keep_the_newest(url: str, namespace: str) -> None:
    with Memory.open(url, options=Options(namespace=namespace, max_checkpoints=3)) as mem:
        s = mem.agent("a").session("s1")
        for i in range(1, 11):
            assert s.checkpoint({"i": i}) == i
        assert [c.n for c in s.checkpoints()] == [8, 9, 10]
        assert s.restore() == {"i": 10}
        with pytest.raises(NotFound):
            s.restore(7)


def test_tool_schema_is_built_once_per_session(mem: Memory) -> None:
    calls: list[int] = []

    def build() -> dict[str, list[str]]:
        calls.append(1)
        return {"tools": ["search", "write"]}

    s = mem.agent("a").session("s1")
    assert s.tool_schema(build) == {"tools": ["search", "write"]}
    assert s.tool_schema(build) == {"tools": ["search", "write"]}
    assert mem.agent("a").session("s1").tool_schema(build) == {"tools": ["search", "write"]}
    assert len(calls) == 1
    mem.agent("a").session("s2").tool_schema(build)
    assert len(calls) == 2


def test_rotate_links_sessions_and_carries_working_memory(mem: Memory) -> None:
    agent = mem.agent("a")
    s1 = agent.session("s1")
    s1.working.set("goal", "finish report")
    s1.add_step("start", "ok")
    s2 = s1.rotate()
    s3 = s2.rotate()
    assert s2.working.get("goal") == "finish report"
    assert s1.history() == ["s1", s2.id, s3.id]
    assert s3.history() == ["s1", s2.id, s3.id]
    assert s2.meta()["parent"] == "s1"
    listed = agent.sessions()
    assert {info.id for info in listed} == {"s1", s2.id, s3.id}
    assert [i.last_active for i in listed] == sorted((i.last_active for i in listed), reverse=True)


def test_new_session_ids_are_unique_and_sortable(mem: Memory) -> None:
    agent = mem.agent("a")
    ids = [agent.session().id for _ in range(50)]
    assert len(set(ids)) == 50
    assert ids == sorted(ids)


def test_tool_cache_get_put_and_decorator(mem: Memory) -> None:
    assert mem.cache.get("web_search", {"q": "redis"}) is None
    mem.cache.put("web_search", {"q": "redis", "n": 3}, ["r1", "r2"])
    mem.cache.put("tiny", {}, 1, ttl=0.0001)  # rounds up to a millisecond, not to "no TTL"
    assert mem.cache.get("web_search", {"n": 3, "q": "redis"}) == ["r1", "r2"]  # key order

    calls: list[str] = []

    @mem.cached("lookup", ttl=60)
    def lookup(term: str, limit: int = 5) -> dict[str, object]:
        calls.append(term)
        return {"term": term, "limit": limit}

    assert lookup("x") == {"term": "x", "limit": 5}
    assert lookup("x", 5) == {"term": "x", "limit": 5}
    assert lookup(term="x") == {"term": "x", "limit": 5}
    assert lookup("y") == {"term": "y", "limit": 5}
    assert calls == ["x", "y"]


def test_values_must_be_json(mem: Memory) -> None:
    s = mem.agent("a").session("s1")
    for bad in ({1, 2}, object(), float("nan"), {"k": float("inf")}, {1: "int key"}):
        with pytest.raises(InvalidInput):
            s.working.set("k", bad)
    assert s.working.all() == {}


def test_size_limit(url: str, namespace: str) -> None:
    with Memory.open(url, options=Options(namespace=namespace, max_value_bytes=1000)) as mem:
        s = mem.agent("a").session("s1")
        with pytest.raises(TooLarge):
            s.working.update({"small": 1, "big": "x" * 2000})
        assert s.working.all() == {}  # nothing half-written
        with pytest.raises(TooLarge):
            s.checkpoint({"blob": "x" * 2000})
        assert s.restore() is None


@pytest.mark.parametrize("bad", ["", "a:b", "{x}", "a b", "x" * 200, "-1", "a/b", "ü"])
def test_ids_are_validated(mem: Memory, bad: str) -> None:
    with pytest.raises(InvalidInput):
        mem.agent(bad)
    with pytest.raises(InvalidInput):
        mem.agent("a").session(bad)


def test_namespaces_are_isolated(url: str, namespace: str) -> None:
    with (
        Memory.open(url, namespace=namespace + "x") as one,
        Memory.open(url, namespace=namespace + "y") as two,
    ):
        one.agent("a").identity.put("doc", "secret")
        one.agent("a").session("s").working.set("k", "secret")
        one.cache.put("tool", {"q": 1}, "secret")
        assert two.agent("a").identity.all() == {}
        assert two.agent("a").session("s").working.all() == {}
        assert two.cache.get("tool", {"q": 1}) is None
        assert two.agents() == []


def test_use_after_close_is_refused(url: str, namespace: str) -> None:
    mem = Memory.open(url, namespace=namespace)
    session = mem.agent("a").session("s")
    mem.close()
    mem.close()  # idempotent
    with pytest.raises(ClientClosed):
        session.working.get("k")


def test_every_call_after_close_is_refused_long_term_and_views_too(
    url: str, namespace: str
) -> None:
    """Long-term memory, skills, listings and views of a closed memory refuse with
    `ClientClosed` too, instead of reconnecting the closed pool (or failing on a closed file)."""
    mem = Memory.open(url, namespace=namespace, embedder=WordHashEmbedder())
    agent = mem.agent("a")
    fact = agent.remember("the sky is blue")
    agent.save_skill("deploy", "ship it", ["build"])
    view = mem.in_namespace(namespace + "v")
    view.agent("b").remember("grass is green")
    viewed = view.agent("b")
    mem.close()
    calls = {
        "recall": lambda: agent.recall("sky"),
        "remember": lambda: agent.remember("grass is green"),
        "memory_record": lambda: agent.memory_record(fact.id),
        "forget": lambda: agent.forget(fact.id),
        "skill": lambda: agent.skill("deploy"),
        "search_skills": lambda: agent.search_skills("ship"),
        "list_memories": lambda: mem.list_memories(),
        "list_skills": lambda: mem.list_skills(),
        "view recall": lambda: viewed.recall("grass"),
        "view working": lambda: viewed.session("s").working.set("k", 1),
        "view agents": lambda: view.agents(),
    }
    for name, call in calls.items():
        with pytest.raises(ClientClosed):
            call()
            pytest.fail(f"{name} worked on a closed memory")


def test_closing_refuses_the_handles_of_views_nobody_keeps(url: str, namespace: str) -> None:
    """Handles and services made from a view the caller did not keep (and from a view of such
    a view) are refused once the root is closed, like the view's own calls."""
    mem = Memory.open(url, namespace=namespace, embedder=WordHashEmbedder())
    other = namespace + "v"
    mem.in_namespace(other).agent("b").remember("grass is green")
    cache = mem.in_namespace(other).cache
    working = mem.in_namespace(other).agent("b").session("s").working
    feed = mem.in_namespace(other).feed
    longterm = mem.in_namespace(other).longterm
    nested = mem.in_namespace(other).in_namespace(other + "w")
    gc.collect()  # the views above are gone; their handles are not
    mem.close()
    calls = {
        "cache.put": lambda: cache.put("tool", {"q": 1}, "after close"),
        "cache.get": lambda: cache.get("tool", {"q": 1}),
        "working.set": lambda: working.set("k", "after close"),
        "feed.position": lambda: feed.position(),
        "longterm.recall": lambda: longterm.recall("grass", 3, Filters()),
        "nested agents": lambda: nested.agents(),
        "nested identity": lambda: nested.agent("x").identity.put("persona", "after close"),
    }
    for name, call in calls.items():
        with pytest.raises(ClientClosed):
            call()
            pytest.fail(f"{name} worked on a closed memory")


def test_capabilities(mem: Memory, url: str, servers: dict) -> None:  # type: ignore[type-arg]
    caps = mem.capabilities
    if url.startswith("sqlite"):
        assert caps.backend == "sqlite"
        assert caps.server_version.startswith("3.")
        assert not caps.evicts_durable_keys
        return
    assert caps.backend == "redis"
    redis7 = "redis-7" in servers and url == servers["redis-7"].url
    assert caps.server_version.startswith("7." if redis7 else "8.")
    assert caps.vector_sets is not redis7
    assert caps.aof is True
    assert caps.maxmemory_policy == "noeviction"
    clustered = url.startswith("redis+cluster://")  # the test cluster has the modules
    assert caps.cluster is clustered
    with_modules = url == servers["redis-modules"].url or clustered
    assert caps.search is with_modules
    assert caps.json is with_modules
    assert caps.bloom is with_modules


def test_each_backend_opens_the_store_it_names(mem: Memory, request: pytest.FixtureRequest) -> None:
    backend = request.node.callspec.params["url"]
    store = type(mem.kernel.store).__name__
    assert (store == "FallbackStore") == (backend == "redis-fallback"), (backend, store)
    assert mem.kernel.store.capabilities.backend == ("sqlite" if backend == "sqlite" else "redis")
