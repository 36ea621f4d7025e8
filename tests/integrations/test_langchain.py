"""LangChain's chat message history on aether sessions, with langchain-core's own classes."""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from aether_memory import Memory
from aether_memory.integrations.langchain import AetherChatMessageHistory

CONVERSATION: list[BaseMessage] = [
    SystemMessage("You are a travel agent.", id="sys-1"),
    HumanMessage("Book me a flight to Lyon", name="ada", additional_kwargs={"lang": "en"}),
    AIMessage(
        "",
        tool_calls=[
            {
                "name": "search_flights",
                "args": {"to": "LYS", "max": 2},
                "id": "call_1",
                "type": "tool_call",
            }
        ],
        invalid_tool_calls=[
            {
                "name": "bad",
                "args": "{oops",
                "id": "call_2",
                "error": "not JSON",
                "type": "invalid_tool_call",
            }
        ],
        usage_metadata={"input_tokens": 12, "output_tokens": 3, "total_tokens": 15},
        response_metadata={"model_name": "stub", "finish_reason": "tool_calls"},
        id="ai-1",
    ),
    ToolMessage(
        '[{"flight": "AF123"}]', tool_call_id="call_1", artifact={"raw": [1, 2]}, name="search"
    ),
    ToolMessage("timeout", tool_call_id="call_2", status="error"),
    AIMessage([{"type": "text", "text": "AF123 leaves at 9:00 — héhé ✈"}]),
    ChatMessage("noted", role="critic"),
]


def test_messages_round_trip_exactly(mem: Memory) -> None:
    history = AetherChatMessageHistory("trip/42 (ada)", mem)
    history.add_messages(CONVERSATION[:3])
    history.add_messages(CONVERSATION[3:])
    again = AetherChatMessageHistory("trip/42 (ada)", mem).messages
    assert again == CONVERSATION
    assert [type(m) for m in again] == [type(m) for m in CONVERSATION]
    assert again[3].artifact == {"raw": [1, 2]}  # type: ignore[attr-defined]
    assert AetherChatMessageHistory("another", mem).messages == []
    history.clear()
    assert history.messages == []


async def test_async_methods(mem: Memory) -> None:
    history = AetherChatMessageHistory("async-chat", mem)
    await history.aadd_messages([HumanMessage("hi"), AIMessage("hello")])
    assert [m.content for m in await history.aget_messages()] == ["hi", "hello"]
    await history.aclear()
    assert await history.aget_messages() == []


def test_a_chat_model_turn_by_turn(mem: Memory) -> None:
    """A chat model reads the stored history each turn and its answers are stored after it."""
    model = FakeListChatModel(responses=["Nice to meet you, Ada.", "You are Ada."])
    for question in ("I am Ada", "Who am I?"):
        history = AetherChatMessageHistory("user-7", mem)  # a fresh object each turn
        asked = HumanMessage(question)
        answer = model.invoke([*history.messages, asked])
        history.add_messages([asked, answer])
    stored = AetherChatMessageHistory("user-7", mem).messages
    assert [(m.type, m.content) for m in stored] == [
        ("human", "I am Ada"),
        ("ai", "Nice to meet you, Ada."),
        ("human", "Who am I?"),
        ("ai", "You are Ada."),
    ]
