"""Arbitrary input through the public API: every call either reads back exactly what was
written or raises a typed project error, and a refused call writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aether_memory import AetherError, InvalidInput, Memory
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
