"""The OpenAI Agents SDK's own Runner, offline, on an aether session and the memory tools.

The model is a local stub speaking the SDK's `Model` interface: it asks for a memory tool
call on its first turn and answers with text once it has the tool's output."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from agents import (
    Agent,
    FunctionTool,
    Model,
    ModelResponse,
    RunConfig,
    Runner,
    Usage,
    set_tracing_disabled,
)
from agents.memory import Session, SessionSettings
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

from aether_memory import AsyncMemory
from aether_memory.integrations.openai_agents import AetherSession, memory_tools
from aether_memory.tools.definitions import TOOLS
from tests.word_embedder import WordHashEmbedder

OFFLINE = RunConfig(tracing_disabled=True)


def _message(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id="msg_1",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


class ScriptedModel(Model):
    """Calls `tool` with `arguments` when the input has no tool output yet, then replies
    with the output it got (and records what it was given)."""

    def __init__(self, tool: str | None = None, arguments: str = "{}") -> None:
        self.tool, self.arguments = tool, arguments
        self.inputs: list[list[Any]] = []
        self.tool_names: list[list[str]] = []

    async def get_response(self, system_instructions: Any, input: Any, model_settings: Any,
                           tools: Any, output_schema: Any, handoffs: Any, tracing: Any,
                           **kwargs: Any) -> ModelResponse:  # fmt: skip
        items = [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
        self.inputs.append(items)
        self.tool_names.append([t.name for t in tools])
        outputs = [i for i in items if i.get("type") == "function_call_output"]
        if self.tool is not None and not outputs:
            call = ResponseFunctionToolCall(
                type="function_call", call_id=f"call_{len(self.inputs)}", name=self.tool,
                arguments=self.arguments, id=f"fc_{len(self.inputs)}", status="completed",
            )  # fmt: skip
            return ModelResponse(output=[call], usage=Usage(), response_id=None)
        text = outputs[-1]["output"] if outputs else f"seen {len(items)} items"
        return ModelResponse(output=[_message(str(text))], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError


@pytest.fixture(scope="module", autouse=True)
def _offline() -> None:
    set_tracing_disabled(True)  # no trace export: these runs never leave the machine


@pytest.fixture
async def amem(url: str, namespace: str) -> AsyncIterator[AsyncMemory]:
    memory = await AsyncMemory.open(url, namespace=namespace, embedder=WordHashEmbedder())
    async with memory:
        yield memory


async def test_session_protocol(amem: AsyncMemory) -> None:
    session = AetherSession("conversation: 1 / unicode é", amem)
    assert isinstance(session, Session)
    items: list[Any] = [{"role": "user", "content": f"m{i}"} for i in range(5)]
    await session.add_items(items[:3])
    await session.add_items(items[3:])
    assert await session.get_items() == items
    assert await session.get_items(limit=2) == items[3:]
    assert await session.get_items(limit=0) == []
    assert await session.pop_item() == items[4]
    limited = AetherSession(
        "conversation: 1 / unicode é", amem, session_settings=SessionSettings(limit=1)
    )
    assert await limited.get_items() == [items[3]]
    await session.clear_session()
    assert await session.get_items() == []
    assert await session.pop_item() is None


async def test_runner_keeps_history_across_session_objects(
    amem: AsyncMemory,
) -> None:
    """Two runs on one session id: the second sees the first run's turns, read back from the
    store by a fresh session object (as a restarted process would)."""
    model = ScriptedModel()
    agent = Agent(name="assistant", model=model)
    first = await Runner.run(agent, "my name is Ada", session=AetherSession("chat-1", amem))
    assert first.final_output == "seen 1 items"
    second = await Runner.run(agent, "what is my name?", session=AetherSession("chat-1", amem))
    assert second.final_output == "seen 3 items"
    assert model.inputs[-1][0]["content"] == "my name is Ada"
    stored = await AetherSession("chat-1", amem).get_items()
    assert [i["role"] for i in stored] == ["user", "assistant", "user", "assistant"]


def test_memory_tools_build_strict() -> None:
    """Every memory tool is an SDK function tool under its strict default (the SDK converts
    the schema and must find nothing to change)."""

    class NoTools:
        session = None

    built = memory_tools(NoTools())  # type: ignore[arg-type]
    assert [t.name for t in built] == [t.name for t in TOOLS]
    assert all(isinstance(t, FunctionTool) and t.strict_json_schema for t in built)
    assert [t.params_json_schema for t in built] == [t.schema() for t in TOOLS]


async def test_runner_calls_a_bound_memory_tool(amem: AsyncMemory) -> None:
    """The model calls set_working_memory with strict-mode arguments (JSON text, no session):
    the write lands in the bound session, and the tool's answer reaches the model."""
    agent_memory = amem.agent("assistant")
    tools = memory_tools(agent_memory.tools.bound("chat-2"))
    model = ScriptedModel("set_working_memory", '{"values": "{\\"goal\\": \\"book a flight\\"}"}')
    agent = Agent(name="assistant", model=model, tools=tools)
    result = await Runner.run(
        agent, "remember my goal", run_config=RunConfig(tracing_disabled=True)
    )
    assert orjson.loads(result.final_output) == {"ok": True, "result": {"updated": ["goal"]}}
    assert await agent_memory.session("chat-2").working.all() == {"goal": "book a flight"}
    assert "store_memory" in model.tool_names[0]


async def test_runner_gets_a_typed_error_for_a_bad_call(amem: AsyncMemory) -> None:
    tools = memory_tools(amem.agent("assistant").tools.bound("chat-3"))
    model = ScriptedModel("restore_checkpoint", '{"n": 9}')
    agent = Agent(name="assistant", model=model, tools=tools)
    result = await Runner.run(agent, "resume", run_config=OFFLINE)
    answer = orjson.loads(result.final_output)
    assert answer["ok"] is False and answer["error"]["code"] == "not_found"
