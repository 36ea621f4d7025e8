"""Reading parts of working memory (keys alone, chosen keys of several sessions) and views of a
memory with other options, on every backend."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aether_memory import AsyncMemory, ClientClosed, InvalidInput, Memory


def test_keys_lists_keys_without_values(mem: Memory) -> None:
    s = mem.agent("a").session("s1")
    assert s.working.keys() == []
    s.working.update({"b": 1, "a": {"big": "x" * 5000}, "c": None})
    assert s.working.keys() == ["a", "b", "c"]
    s.working.delete("b")
    assert s.working.keys() == ["a", "c"]
    assert s.scratch.keys() == []


def test_read_working_picks_keys_of_several_sessions_in_order(mem: Memory) -> None:
    mem.agent("a").session("s1").working.update({"x": 1, "y": [2], "z": "three"})
    mem.agent("b").session("s2").working.update({"k": {"v": 4}})
    found = mem.read_working(
        [
            ("a", "s1", ["z", "missing", "x"]),
            ("b", "s2", None),
            ("a", "never-written", ["x"]),
            ("a", "s1", []),
        ]
    )
    assert found == [{"z": "three", "x": 1}, {"k": {"v": 4}}, {}, {}]
    assert mem.read_working([]) == []


def test_read_working_refuses_bad_reads(mem: Memory) -> None:
    with pytest.raises(InvalidInput):
        mem.read_working([("a", "s1", "x")])  # a string is not a list of keys
    with pytest.raises(InvalidInput):
        mem.read_working([("a", "bad id!", None)])
    with pytest.raises(InvalidInput):
        mem.read_working([("a", "s1", [""])])


def test_with_options_is_a_view_on_the_same_connection(mem: Memory) -> None:
    forever = mem.with_options(mem.options.with_(ttl=replace(mem.options.ttl, working=None)))
    forever.agent("a").session("s1").working.set("goal", "ship")
    assert mem.agent("a").session("s1").working.get("goal") == "ship"
    other = mem.with_options(mem.options.with_(namespace=mem.namespace + "x"))
    assert other.agent("a").session("s1").working.get("goal") is None
    other.close()  # closes the view only
    with pytest.raises(ClientClosed):
        other.agent("a").session("s1").working.get("goal")
    assert mem.agent("a").session("s1").working.get("goal") == "ship"
    with pytest.raises(InvalidInput):
        mem.with_options({"namespace": "x"})  # type: ignore[arg-type]


async def test_async_reads_and_view(amem: AsyncMemory) -> None:
    s = amem.agent("a").session("s1")
    await s.working.update({"b": 1, "a": 2})
    assert await s.working.keys() == ["a", "b"]
    view = amem.with_options(amem.options)
    assert await view.read_working([("a", "s1", ["b"])]) == [{"b": 1}]
    await view.aclose()
    assert await s.working.get("a") == 2


def test_in_namespace_serves_another_namespace_on_the_same_connection(mem: Memory) -> None:
    mem.agent("a").session("s1").working.set("who", "home")
    other = mem.in_namespace(mem.namespace + "-other")
    assert other.namespace == mem.namespace + "-other"
    assert other.agent("a").session("s1").working.get("who") is None
    other.agent("a").session("s1").working.set("who", "away")
    assert mem.agent("a").session("s1").working.get("who") == "home"
    assert mem.in_namespace(other.namespace).agent("a").session("s1").working.get("who") == "away"
    other.close()  # the view only
    assert mem.agent("a").session("s1").working.get("who") == "home"
    for bad in ("", "a b", "x" * 200, "a:b"):
        with pytest.raises(InvalidInput):
            mem.in_namespace(bad)
