"""Arbitrary input through the public API: every call either reads back exactly what was
written or raises a typed project error, and a refused call writes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aether_memory import AetherError, Agent, InvalidInput, Memory, Session
from aether_memory.core.ids import new_id
from tests.hostile import as_json, hostile, is_json_safe, nest
from tests.word_embedder import WordHashEmbedder

RUNS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

odd_text = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "a|b",
            "x}",
            "{x}",
            "-1",
            "@t:{x}",
            "*",
            "a:b",
            "\\",
            '"',
            "é",
            "\u0000",
            "../",
            "KEYS *",
            "return redis.call('FLUSHALL')",
            "a" * 5000,
        ]
    ),
)
json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | odd_text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(odd_text, inner, max_size=5),
    max_leaves=20,
)
non_json = st.sampled_from(
    [float("nan"), float("inf"), {1: "x"}, {"a": {1, 2}}, b"bytes", object(), [1, {"x": {()}}]]
)


@pytest.fixture
def mem(url: str, namespace: str) -> Iterator[Memory]:
    with Memory.open(url, namespace=namespace, embedder=WordHashEmbedder()) as memory:
        yield memory


@RUNS
@given(key=odd_text, value=json_value)
def test_working_memory_reads_back_exactly_or_refuses(mem: Memory, key: str, value: Any) -> None:
    s = mem.agent("a").session("s")
    try:
        s.working.set(key, value)
    except InvalidInput:
        assert key not in s.working.all()
        return
    assert s.working.get(key) == value
    s.working.delete(key)


@RUNS
@given(value=non_json)
def test_non_json_values_are_refused_and_nothing_is_written(mem: Memory, value: Any) -> None:
    s = mem.agent("a").session("refused")
    with pytest.raises(InvalidInput):
        s.working.update({"fine": 1, "bad": value})
    with pytest.raises(InvalidInput):
        s.checkpoint({"state": value})
    with pytest.raises(InvalidInput):
        s.record("event", {"data": value})
    assert s.working.all() == {}
    assert s.restore() is None
    assert s.events() == []


@RUNS
@given(name=odd_text, text=odd_text)
def test_ids_and_names_either_work_or_raise_typed_errors(mem: Memory, name: str, text: str) -> None:
    try:
        agent = mem.agent(name)
        agent.identity.put(name, text)
        session = agent.session(name)
        session.add_step(text, text)
    except AetherError as exc:
        assert exc.code == "invalid_input"
        return
    assert agent.identity.get(name) == text
    assert session.events(limit=1)[0].data["action"] == text


@RUNS
@given(tag=odd_text, query=odd_text)
def test_hostile_tags_and_queries_never_leak_across_namespaces(
    url: str, namespace: str, tag: str, query: str
) -> None:
    with (
        Memory.open(url, namespace=namespace + "a", embedder=WordHashEmbedder()) as mine,
        Memory.open(url, namespace=namespace + "b", embedder=WordHashEmbedder()) as theirs,
    ):
        theirs.agent("x").remember("the secret of the other namespace", tags=["secret"])
        try:
            hits = mine.agent("x").recall(query or "secret", tags=[tag] if tag else None)
        except InvalidInput:
            return
        assert all("other namespace" not in h.record.content for h in hits)


# -- every value class at every argument, on every backend -----------------------------------------


@dataclass(frozen=True)
class Ctx:
    """A fresh agent, session, skill and cache entry for one example."""

    mem: Memory
    agent: Agent
    session: Session
    skill: str
    args: dict[str, str]
    text: str  # a memory's content no other example uses (so it is never a duplicate)


def make_ctx(mem: Memory) -> Ctx:
    tag = new_id().lower()
    agent = mem.agent("h" + tag)
    skill = "sk" + tag
    agent.save_skill(skill, "a skill to count runs of", ["step"])
    return Ctx(mem, agent, agent.session("s" + tag), skill, {"probe": tag}, f"note {tag}")


def footprint(c: Ctx) -> dict[str, Any]:
    """Everything a call in `CALLS` could have written for this context."""
    s, a = c.session, c.agent
    hits = a.recall("skill anything at all", k=50, agent=a.id)
    skill = a.skill(c.skill)
    return {
        "working": s.working.all(),
        "scratch": s.scratch.all(),
        "events": s.events(limit=100),
        "checkpoints": s.checkpoints(),
        "identity": a.identity.all(),
        "state": {k: v for k, v in a.state.get().items() if k != "updated_at"},
        "memories": sorted((h.record.content, h.record.importance, h.record.tags) for h in hits),
        "skill": (skill.description, skill.steps, skill.tags, skill.runs, skill.total_duration),
        "cache": c.mem.cache.lookup("probe", c.args),
    }


Call = Callable[[Ctx, Any], Any]
Readback = Callable[[Ctx, Any], bool] | None
CALLS: dict[str, tuple[Call, Readback]] = {
    "working key": (lambda c, v: c.session.working.set(v, 1), None),
    "working value": (
        lambda c, v: c.session.working.set("k", v),
        lambda c, v: c.session.working.get("k") == v,
    ),
    "working values": (lambda c, v: c.session.working.update(v), None),
    "working get": (lambda c, v: c.session.working.get(v), None),
    "working delete": (lambda c, v: c.session.working.delete(v), None),
    "scratch value": (
        lambda c, v: c.session.scratch.set("k", v),
        lambda c, v: c.session.scratch.get("k") == v,
    ),
    "event type": (lambda c, v: c.session.record(v, {}), None),
    "event data": (
        lambda c, v: c.session.record("t", v),
        lambda c, v: c.session.events()[-1].data == v,
    ),
    "event outcome": (lambda c, v: c.session.record("t", 1, outcome=v), None),
    "event latency": (lambda c, v: c.session.record("t", 1, latency_ms=v), None),
    "events batch": (lambda c, v: c.session.record_many(v), None),
    "events item": (lambda c, v: c.session.record_many([v]), None),
    "events limit": (lambda c, v: c.session.events(limit=v), None),
    "events types": (lambda c, v: c.session.events(types=v), None),
    "step success": (lambda c, v: c.session.add_step("a", 1, success=v), None),
    "step action": (
        lambda c, v: c.session.add_step(v, 1),
        lambda c, v: c.session.events()[-1].data["action"] == v,
    ),
    "checkpoint": (lambda c, v: c.session.checkpoint(v), lambda c, v: c.session.restore() == v),
    "restore": (lambda c, v: c.session.restore(v), None),
    "identity text": (
        lambda c, v: c.agent.identity.put("d", v),
        lambda c, v: c.agent.identity.get("d") == v,
    ),
    "identity docs": (lambda c, v: c.agent.identity.put_many(v), None),
    "state field": (
        lambda c, v: c.agent.state.set(f=v),
        lambda c, v: c.agent.state.get()["f"] == v,
    ),
    "sessions limit": (lambda c, v: c.agent.sessions(limit=v), None),
    "agent id": (lambda c, v: c.mem.agent(v), None),
    "session id": (lambda c, v: c.agent.session(v), None),
    "remember content": (lambda c, v: c.agent.remember(v), None),
    "remember kind": (lambda c, v: c.agent.remember(c.text, kind=v), None),
    "remember importance": (lambda c, v: c.agent.remember(c.text, importance=v), None),
    "remember tags": (lambda c, v: c.agent.remember(c.text, tags=v), None),
    "remember tag": (lambda c, v: c.agent.remember(c.text, tags=[v]), None),
    "remember metadata": (lambda c, v: c.agent.remember(c.text, metadata=v), None),
    "remember metadata value": (
        lambda c, v: c.agent.remember(c.text, metadata={"m": v}),
        lambda c, v: c.agent.recall(c.text, agent=c.agent.id)[0].record.metadata == {"m": v},
    ),
    "remember occurred_at": (lambda c, v: c.agent.remember(c.text, occurred_at=v), None),
    "remember related": (lambda c, v: c.agent.remember(c.text, related=v), None),
    "remember session": (lambda c, v: c.agent.remember(c.text, session=v), None),
    "remember_many": (lambda c, v: c.agent.remember_many(v), None),
    "remember_many item": (lambda c, v: c.agent.remember_many([v]), None),
    "update importance": (lambda c, v: c.agent.update(_memory_id(c), importance=v), None),
    "update content": (lambda c, v: c.agent.update(_memory_id(c), content=v), None),
    "recall query": (lambda c, v: c.agent.recall(v), None),
    "recall k": (lambda c, v: c.agent.recall("q", k=v), None),
    "recall since": (lambda c, v: c.agent.recall("q", since=v), None),
    "recall min_importance": (lambda c, v: c.agent.recall("q", min_importance=v), None),
    "recall kinds": (lambda c, v: c.agent.recall("q", kinds=v), None),
    "recall tags": (lambda c, v: c.agent.recall("q", tags=v), None),
    "forget cascade": (lambda c, v: c.agent.forget(new_id(), cascade=v), None),
    "introspect": (lambda c, v: c.agent.introspect(v), None),
    "context budget": (lambda c, v: c.agent.context("q", budget_tokens=v), None),
    "context steps": (lambda c, v: c.agent.context("q", detailed_steps=v), None),
    "search_skills limit": (lambda c, v: c.agent.search_skills("q", limit=v), None),
    "skill description": (lambda c, v: c.agent.save_skill(c.skill, v, []), None),
    "skill steps": (lambda c, v: c.agent.save_skill(c.skill, "d", v), None),
    "skill tags": (lambda c, v: c.agent.save_skill(c.skill, "d", [], tags=v), None),
    "skill run duration": (lambda c, v: c.agent.record_skill_execution(c.skill, True, v), None),
    "skill run success": (lambda c, v: c.agent.record_skill_execution(c.skill, v, 1.0), None),
    "episode prompt": (lambda c, v: c.session.save_episode(v, "o", True), None),
    "episode success": (lambda c, v: c.session.save_episode("t", "o", v), None),
    "episode duration": (
        lambda c, v: c.session.save_episode("t", "o", True, duration_seconds=v),
        None,
    ),
    "episode importance": (lambda c, v: c.session.save_episode("t", "o", True, importance=v), None),
    "cache ttl": (lambda c, v: c.mem.cache.put("probe", c.args, 1, ttl=v), None),
    "cache result": (
        lambda c, v: c.mem.cache.put("probe", c.args, v),
        lambda c, v: c.mem.cache.get("probe", c.args) == v,
    ),
    "cache args": (lambda c, v: c.mem.cache.put("probe", v, 1), None),
    "run cache_ttl": (lambda c, v: c.agent.run(c.session, cache_ttl=v), None),
}
"""One public call per argument position; a Readback says how a stored value reads back."""


def _memory_id(c: Ctx) -> str:
    hits = c.agent.recall("skill", agent=c.agent.id, k=1)
    return hits[0].record.id


@pytest.mark.parametrize("call", sorted(CALLS))
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=hostile)
def test_every_value_class_is_refused_cleanly_or_read_back(
    mem: Memory, call: str, value: Any
) -> None:
    """Either the call succeeds (and a stored value reads back exactly), or it raises a typed
    project error and nothing it could have written is there."""
    c = make_ctx(mem)
    before = footprint(c)
    run, readback = CALLS[call]
    try:
        run(c, value)
    except AetherError as exc:
        assert exc.code in ("invalid_input", "too_large", "not_found"), (exc.code, exc)
        assert footprint(c) == before, f"{call} refused {value!r} but wrote something"
        return
    if readback is not None:
        assert is_json_safe(value), f"{call} accepted {value!r}, which cannot read back"
        assert readback(c, as_json(value)), f"{call} stored {value!r}; it reads back otherwise"


def test_values_nested_too_deep_are_refused_everywhere(mem: Memory) -> None:
    """Deeper than any encoder goes (and than hypothesis can print, so not drawn above)."""
    for call, (run, _) in sorted(CALLS.items()):
        c = make_ctx(mem)
        before = footprint(c)
        for value in (nest(3000), {"a": nest(3000)}):
            with pytest.raises(AetherError) as caught:
                run(c, value)
            assert caught.value.code == "invalid_input", (call, caught.value)
        assert footprint(c) == before, call


def test_a_backtick_tag_is_matched_as_itself(url: str, namespace: str) -> None:
    # The Query Engine's tag syntax treats ` as special: unescaped, `@tags:{`}` was a syntax
    # error that reached the caller as a generic Redis error.
    with Memory.open(url, namespace=namespace, embedder=WordHashEmbedder()) as mem:
        agent = mem.agent("x")
        tagged = agent.remember("the build uses a backtick tag", tags=["`", "a`b"])
        agent.remember("an untagged note about the build")
        for tag in ("`", "a`b"):
            assert [h.record.id for h in agent.recall("build", tags=[tag])] == [tagged.id]
