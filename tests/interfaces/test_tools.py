"""Function-calling tools: schemas in each format and calls against a real server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aether_memory import AsyncMemory, Memory
from aether_memory.tools.definitions import TOOLS
from tests.word_embedder import WordHashEmbedder

NAMES = {
    "store_memory", "search_memory", "forget_memory", "summarize_memory", "get_working_memory",
    "set_working_memory", "record_event", "add_messages", "checkpoint", "restore_checkpoint",
    "get_context",
}  # fmt: skip


@pytest.fixture
def mem(url: str, namespace: str) -> Iterator[Memory]:
    with Memory.open(url, namespace=namespace, embedder=WordHashEmbedder()) as memory:
        yield memory


@pytest.mark.parametrize("fmt", ["openai", "anthropic", "mcp"])
def test_schemas_cover_every_tool(mem: Memory, fmt: str) -> None:
    schemas = mem.tools.schemas(fmt)  # type: ignore[arg-type]
    if fmt == "openai":
        assert {s["type"] for s in schemas} == {"function"}
        inner = [s["function"] for s in schemas]
        params = [f["parameters"] for f in inner]
    else:
        inner = schemas
        params = [s["input_schema" if fmt == "anthropic" else "inputSchema"] for s in schemas]
    assert {f["name"] for f in inner} == NAMES
    assert all(len(f["description"]) > 40 for f in inner)
    assert all(p["type"] == "object" and p["additionalProperties"] is False for p in params)
    assert all("title" not in str(p.keys()) for p in params)


def test_a_conversation_through_tools(mem: Memory) -> None:
    tools = mem.agent("assistant").tools
    stored = tools.call("store_memory", {"content": "The user is allergic to peanuts",
                                         "importance": 0.9, "tags": ["health"]})  # fmt: skip
    assert stored["ok"] and stored["result"]["status"] == "created"
    found = tools.call("search_memory", {"query": "peanuts allergy", "k": 1})
    assert found["result"][0]["id"] == stored["result"]["id"]
    assert tools.call("set_working_memory", {"session": "s1", "values": {"goal": "plan dinner"}})[
        "ok"
    ]
    assert tools.call("get_working_memory", {"session": "s1"})["result"] == {"goal": "plan dinner"}
    assert tools.call("record_event", {"session": "s1", "event_type": "decision",
                                       "data": {"menu": "no peanuts"}})["ok"]  # fmt: skip
    turns = tools.call(
        "add_messages",
        {
            "session": "s1",
            "messages": [
                {"speaker": "user", "content": "Dinner is at 8 on Friday", "at": "2024-01-05T09:30"}
            ],
        },
    )
    found = tools.call("search_memory", {"query": "when is dinner", "k": 1})["result"]
    assert found[0]["id"] == turns["result"]["memory_ids"][0]
    assert tools.call("checkpoint", {"session": "s1", "state": {"step": 2}})["result"] == {"n": 1}
    assert tools.call("restore_checkpoint", {"session": "s1"})["result"] == {"state": {"step": 2}}
    context = tools.call("get_context", {"query": "dinner", "session": "s1"})["result"]["context"]
    assert "plan dinner" in context and "peanuts" in context
    summary = tools.call("summarize_memory", {"topic": "peanuts"})["result"]
    assert summary["total"] >= 1
    assert tools.call("forget_memory", {"memory_id": stored["result"]["id"]})["result"] == {
        "removed": 1
    }


@pytest.mark.parametrize(
    ("name", "arguments", "code"),
    [
        ("no_such_tool", {}, "invalid_input"),
        ("store_memory", {}, "invalid_input"),
        ("store_memory", {"content": "x", "importance": 3}, "invalid_input"),
        ("store_memory", {"content": "x", "surprise": 1}, "invalid_input"),
        ("search_memory", {"query": "x", "kinds": ["a b"]}, "invalid_input"),
        ("restore_checkpoint", {"session": "s", "n": 7}, "not_found"),
        ("get_working_memory", {"session": "bad:id"}, "invalid_input"),
    ],
)
def test_bad_calls_come_back_as_tool_errors(
    mem: Memory, name: str, arguments: dict[str, object], code: str
) -> None:
    result = mem.tools.call(name, arguments)
    assert result["ok"] is False
    assert result["error"]["code"] == code
    assert result["error"]["message"]


async def test_async_tools(url: str, namespace: str) -> None:
    mem = await AsyncMemory.open(url, namespace=namespace, embedder=WordHashEmbedder())
    async with mem:
        result = await mem.tools.call("store_memory", {"content": "async works"})
        assert result["ok"]
        assert len(TOOLS) == len(mem.tools.schemas("anthropic"))
