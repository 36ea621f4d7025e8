"""Memory formation: facts and preferences read out of conversation turns by a chat model.

`LLMExtractor` sends numbered turns to any `ChatModel` and parses its JSON reply into
`Extracted` items, each naming the turns it came from. There is no offline extractor: telling
a durable fact from small talk needs a language model, so without one nothing is extracted
(the turns themselves stay recallable as ``message`` memories).

Pure apart from the model call; the client stores what comes back through `remember`, which
deduplicates and supersedes (see `core.facts`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aether_memory.core.errors import SerializationError
from aether_memory.core.summarize import ChatModel

__all__ = ["EXTRACTED_KINDS", "Extracted", "LLMExtractor", "parse_extracted"]

EXTRACTED_KINDS = ("fact", "preference")
MAX_EXTRACTED_CHARS = 2000
MAX_PER_BATCH = 100
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")

_PROMPT = (
    "You read a conversation between a user and an AI assistant and write down what is worth "
    "remembering about the user and their world for later conversations: facts (who, what, "
    "where, when, numbers) and preferences (likes, dislikes, how they want things done). "
    "Skip greetings, small talk, questions and anything only true for this moment. Each "
    "memory is one short self-contained sentence in the third person, naming who it is about "
    "(e.g. 'The user lives in Porto'). When a turn corrects something said earlier, write "
    "only the corrected fact. Reply with JSON only, in this form: "
    '{"memories": [{"content": "...", "kind": "fact" or "preference", "turns": [1, 2]}]} '
    "where turns are the numbers of the turns the memory comes from. "
    'Reply {"memories": []} when there is nothing to remember.'
)


@dataclass(frozen=True, slots=True)
class Extracted:
    """One memory read out of a conversation: its text, ``fact`` or ``preference``, and the
    positions (0-based) of the turns it came from."""

    content: str
    kind: str
    turns: tuple[int, ...]


def parse_extracted(reply: str, n_turns: int) -> list[Extracted]:
    """The memories in a model's reply (``{"memories": [...]}``, a bare list, or either in a
    code fence). Items without text are dropped, an unknown kind reads as ``fact``, turn
    numbers (1-based) outside the batch are dropped, duplicates kept once.

    Raises:
        SerializationError: The reply is not JSON of that shape.
    """
    text = _FENCE.sub("", reply.strip())
    try:
        doc: Any = json.loads(text)
    except ValueError as exc:
        raise SerializationError(
            f"the extractor's reply is not JSON ({exc}): {text[:200]!r}"
        ) from exc
    if isinstance(doc, dict):
        doc = doc.get("memories", doc.get("facts"))
    if not isinstance(doc, list):
        raise SerializationError(f'the extractor\'s reply has no "memories" list: {text[:200]!r}')
    out: list[Extracted] = []
    seen: set[str] = set()
    for item in doc[:MAX_PER_BATCH]:
        if isinstance(item, str):
            item = {"content": item}
        if not isinstance(item, dict) or not isinstance(item.get("content"), str):
            continue
        content = " ".join(item["content"].split())[:MAX_EXTRACTED_CHARS]
        if not content or content.lower() in seen:
            continue
        seen.add(content.lower())
        kind = item.get("kind")
        raw_turns = item.get("turns")
        turns = raw_turns if isinstance(raw_turns, list) else []
        positions = sorted(
            {t - 1 for t in turns if isinstance(t, int) and not isinstance(t, bool)
             and 1 <= t <= n_turns}
        )  # fmt: skip
        out.append(Extracted(content, kind if kind in EXTRACTED_KINDS else "fact",
                             tuple(positions)))  # fmt: skip
    return out


class LLMExtractor:
    """Facts and preferences from conversation turns, read by a chat model.

    Args:
        chat: The model (e.g. `aether_memory.backends.llm.OpenAIChat`).
    """

    def __init__(self, chat: ChatModel) -> None:
        self.chat = chat
        self.name = f"llm:{chat.model}"

    def extract(self, turns: Sequence[str]) -> list[Extracted]:
        """The memories in `turns` (each ``"speaker: text"``), oldest first.

        Raises:
            SerializationError: The model's reply could not be read.
            BackendUnavailable: The model could not be reached.
        """
        if not turns:
            return []
        numbered = "\n".join(f"[{i}] {' '.join(t.split())}" for i, t in enumerate(turns, 1))
        reply = self.chat.complete(
            [{"role": "system", "content": _PROMPT}, {"role": "user", "content": numbered}],
            json_reply=True,
        )
        return parse_extracted(reply, len(turns))
