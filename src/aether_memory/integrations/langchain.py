"""LangChain on aether memory: a chat message history (`AetherChatMessageHistory`).

    from langchain_core.runnables.history import RunnableWithMessageHistory
    from aether_memory import Memory
    from aether_memory.integrations.langchain import AetherChatMessageHistory

    mem = Memory.open("redis://localhost:6379/0")
    chain = RunnableWithMessageHistory(model, lambda sid: AetherChatMessageHistory(sid, mem))

Each message is one working-memory key of an aether session (of the agent ``langchain`` by
default), stored as LangChain's own message dict (``message_to_dict``), so every message type
— human, AI with tool calls, tool results, system — reads back equal to what was added. Kept
until cleared unless a `ttl` is given. Needs ``pip install 'aether-memory[langchain]'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aether_memory.integrations._common import needs
from aether_memory.integrations._sync.threads import ThreadStore

try:
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(needs("langchain", "langchain-core")) from exc

if TYPE_CHECKING:
    from aether_memory.client._sync.memory import Memory

DEFAULT_AGENT = "langchain"
MESSAGE_PREFIX = "msg:"

__all__ = ["DEFAULT_AGENT", "AetherChatMessageHistory"]


class AetherChatMessageHistory(BaseChatMessageHistory):
    """The messages of one conversation, kept in aether memory.

    Args:
        session_id: the conversation's id (any string).
        memory: an open `Memory`; the history uses its connection and never closes it.
        agent: the aether agent whose sessions hold the conversations.
        ttl: seconds a conversation is kept after its last message (default: until cleared).
    """

    def __init__(
        self,
        session_id: str,
        memory: Memory,
        *,
        agent: str = DEFAULT_AGENT,
        ttl: float | None = None,
    ) -> None:
        self.session_id = session_id
        self._threads = ThreadStore(memory, agent, ttl)

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The conversation, oldest first."""
        stored = self._threads.items(self.session_id, MESSAGE_PREFIX)
        return messages_from_dict([value for _, value in stored])

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append messages, in order, in one write."""
        dicts = [message_to_dict(m) for m in messages]
        self._threads.append(self.session_id, dicts, MESSAGE_PREFIX)

    def clear(self) -> None:
        """Remove every message of the conversation."""
        self._threads.clear(self.session_id)
