"""Function-calling tools: schemas in each format and calls against a real server."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from agents.strict_schema import ensure_strict_json_schema

from aether_memory import AsyncMemory, Memory
from aether_memory.tools.definitions import TOOLS
from tests.word_embedder import WordHashEmbedder

NAMES = {
    "store_memory", "search_memory", "forget_memory", "summarize_memory", "get_working_memory",
    "set_working_memory", "record_event", "add_messages", "checkpoint", "restore_checkpoint",
    "get_context", "send_message", "read_inbox", "agents_status", "claim_task", "complete_task",
    "consolidate_memory",
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


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.name)
@pytest.mark.parametrize("bound", [False, True])
def test_every_schema_is_strict(tool: Any, bound: bool) -> None:
    """What OpenAI's strict mode asks (the Agents SDK's own converter leaves it unchanged):
    every property required, optionals nullable, no open objects; Anthropic takes the same."""
    schema = tool.schema(bound)
    assert ensure_strict_json_schema(copy.deepcopy(schema)) == schema
    assert schema["additionalProperties"] is False
    assert schema["required"] == list(schema["properties"])
    assert ("session" in schema["properties"]) == (tool.takes_session and not bound)
    for name, prop in schema["properties"].items():
        assert "default" not in prop and "title" not in prop
        if name not in tool.args.model_fields or tool.args.model_fields[name].is_required():
            continue
        types = prop.get("type") or [option["type"] for option in prop["anyOf"]]
        assert "null" in types, name
    assert tool.as_format("openai", bound)["function"]["strict"] is True
    assert tool.as_format("anthropic", bound)["input_schema"] == schema


def test_mcp_format_has_titles_and_annotations() -> None:
    hints = {t.name: t.as_format("mcp")["annotations"] for t in TOOLS}
    assert all(t.as_format("mcp")["title"] for t in TOOLS)
    assert hints["search_memory"]["readOnlyHint"] is True
    assert hints["forget_memory"] == {
        "title": "Forget a memory",
        "readOnlyHint": False,
        "destructiveHint": True,
        "idempotentHint": True,
        "openWorldHint": False,
    }
    assert hints["record_event"]["readOnlyHint"] is False
    assert hints["record_event"]["destructiveHint"] is False


def test_provider_calls_json_text_and_nulls(mem: Memory) -> None:
    """OpenAI sends arguments as JSON text and, in strict mode, every optional as null."""
    tools = mem.agent("assistant").tools
    stored = tools.call(
        "store_memory", '{"content": "The user lives in Lyon", "kind": null, '
        '"importance": null, "tags": null}'
    )  # fmt: skip
    assert stored["ok"], stored
    found = tools.call("search_memory", '{"query": "Lyon", "k": null, "kinds": null, "tags": null}')
    assert found["ok"] and found["result"][0]["id"] == stored["result"]["id"]
    assert tools.call("set_working_memory", {"session": "s1", "values": '{"goal": "plan"}'})["ok"]
    assert tools.call("get_working_memory", '{"session": "s1", "key": null}')["result"] == {
        "goal": "plan"
    }
    saved = tools.call("checkpoint", '{"session": "s1", "state": "{\\"step\\": 3}"}')
    assert saved["result"] == {"n": 1}
    assert tools.call("restore_checkpoint", '{"session": "s1", "n": null}')["result"] == {
        "state": {"step": 3}
    }


@pytest.mark.parametrize(
    "arguments",
    ['{"content": ', "[1, 2]", '"text"', b"\xff", 42],
    ids=["truncated", "array", "string", "bytes", "number"],
)
def test_bad_argument_text_is_a_tool_error(mem: Memory, arguments: Any) -> None:
    result = mem.tools.call("store_memory", arguments)
    assert result["ok"] is False and result["error"]["code"] == "invalid_input"
    assert mem.agent("agent").recall("content", k=5) == []


@pytest.mark.parametrize("value", ['{"a": ', "[1]", "7"])
def test_a_free_form_object_must_be_an_object(mem: Memory, value: str) -> None:
    result = mem.tools.call("set_working_memory", {"session": "s1", "values": value})
    assert result["ok"] is False and result["error"]["code"] == "invalid_input"
    assert mem.agent("agent").session("s1").working.all() == {}


def test_bound_tools_fix_the_session(mem: Memory) -> None:
    agent = mem.agent("assistant")
    session = agent.session("chat-7")
    tools = agent.tools.bound(session)
    schemas = {s["function"]["name"]: s["function"]["parameters"] for s in tools.schemas()}
    assert all("session" not in p["properties"] for p in schemas.values())
    assert tools.call("set_working_memory", {"values": {"goal": "book a flight"}})["ok"]
    assert session.working.all() == {"goal": "book a flight"}
    assert tools.call("checkpoint", {"state": {"step": 1}})["result"] == {"n": 1}
    assert session.restore() == {"step": 1}
    context = tools.call("get_context", {"query": "flight", "budget_tokens": None})
    assert "book a flight" in context["result"]["context"]
    refused = tools.call("checkpoint", {"session": "other", "state": {}})
    assert refused["ok"] is False and refused["error"]["code"] == "invalid_input"
    assert agent.session("other").checkpoints() == []
    assert agent.tools.bound("chat-7").call("restore_checkpoint", {})["result"] == {
        "state": {"step": 1}
    }
