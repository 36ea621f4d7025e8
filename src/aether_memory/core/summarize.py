"""Summarisers: many texts in, one short text out, behind one small protocol.

- `ExtractiveSummarizer`, the offline default: the sentences most central to the texts (the
  closest to the mean of all sentence embeddings, redundant ones skipped), in their original
  order. Deterministic, no model download beyond the embedder memory already uses.
- `LLMSummarizer`: any `ChatModel` (e.g. `backends.llm.OpenAIChat`, an OpenAI-compatible
  chat-completions endpoint) writes the summary.

Both are synchronous; the async client runs them in a worker thread.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from aether_memory.core.errors import BackendUnavailable, InvalidInput

if TYPE_CHECKING:
    from aether_memory.core.embeddings import Embedder

__all__ = [
    "DEFAULT_SENTENCES",
    "ChatModel",
    "ExtractiveSummarizer",
    "LLMSummarizer",
    "Summarizer",
    "sentences",
]

DEFAULT_SENTENCES = 3
MAX_SENTENCES = 50
MAX_SENTENCE_CHARS = 600  # a "sentence" longer than this is cut: a summary stays short
MAX_CANDIDATES = 2000  # sentences scored per summary (the first ones, in order)
REDUNDANT = 0.95  # a sentence this close to one already chosen adds nothing
_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


@runtime_checkable
class Summarizer(Protocol):
    """Turns several texts into one short summary."""

    name: str
    """What made the summary (stored with it): ``extractive`` or ``llm:<model>``."""

    def summarize(self, texts: Sequence[str], max_sentences: int = DEFAULT_SENTENCES) -> str:
        """A summary of `texts` of about `max_sentences` sentences ("" for no text)."""
        ...


@runtime_checkable
class ChatModel(Protocol):
    """A chat-completions model: messages in (``{"role": ..., "content": ...}``), text out."""

    model: str

    def complete(self, messages: Sequence[Mapping[str, str]], json_reply: bool = False) -> str:
        """The assistant's reply; with `json_reply`, the model is asked for a JSON object."""
        ...


def sentences(texts: Sequence[str]) -> list[str]:
    """The distinct sentences of `texts`, in order (case and spacing ignored for
    distinctness), each at most `MAX_SENTENCE_CHARS` long."""
    seen: set[str] = set()
    out: list[str] = []
    for text in texts:
        for part in _SPLIT.split(text):
            sentence = " ".join(part.split())[:MAX_SENTENCE_CHARS]
            key = sentence.lower()
            if sentence and key not in seen:
                seen.add(key)
                out.append(sentence)
    return out


def _check_count(max_sentences: int) -> int:
    if isinstance(max_sentences, bool) or not isinstance(max_sentences, int):
        raise InvalidInput(f"max_sentences must be an integer, not {max_sentences!r}")
    if not 1 <= max_sentences <= MAX_SENTENCES:
        raise InvalidInput(f"max_sentences must be from 1 to {MAX_SENTENCES}")
    return max_sentences


class ExtractiveSummarizer:
    """The sentences most central to the texts, by embedding: deterministic and offline.

    Args:
        embedder: Embeds the sentences (the memory's own embedder: no other model).

    Example:
        summary = ExtractiveSummarizer(mem.longterm.embedder).summarize(texts, 2)
    """

    name = "extractive"

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def summarize(self, texts: Sequence[str], max_sentences: int = DEFAULT_SENTENCES) -> str:
        """The `max_sentences` sentences closest to the centre of all of them, in order."""
        import numpy

        k = _check_count(max_sentences)
        found = sentences(texts)[:MAX_CANDIDATES]
        if len(found) <= k:
            return " ".join(found)
        vectors = numpy.asarray(self.embedder.embed(found), dtype=numpy.float32)
        norms = numpy.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = (vectors / numpy.where(norms == 0, 1, norms)).astype(numpy.float32)
        centre = vectors.mean(axis=0)
        scores = vectors @ centre
        # Highest score first; ties go to the earlier sentence, so the choice is stable.
        order = sorted(range(len(found)), key=lambda i: (-round(float(scores[i]), 6), i))
        chosen: list[int] = []
        for i in order:
            if all(float(vectors[i] @ vectors[j]) < REDUNDANT for j in chosen):
                chosen.append(i)
            if len(chosen) == k:
                break
        return " ".join(found[i] for i in sorted(chosen))


_SUMMARY_PROMPT = (
    "You condense an AI agent's memories. Write a summary of the numbered texts in at most "
    "{n} sentences. Keep every name, number, date and decision; add nothing that is not in "
    "the texts; no preamble, no list markers."
)


class LLMSummarizer:
    """A summary written by a chat model.

    Args:
        chat: The model (e.g. `aether_memory.backends.llm.OpenAIChat`).
        max_input_chars: Text sent per summary at most (the first texts, in order).
    """

    def __init__(self, chat: ChatModel, max_input_chars: int = 24_000) -> None:
        self.chat = chat
        self.name = f"llm:{chat.model}"
        self.max_input_chars = max_input_chars

    def summarize(self, texts: Sequence[str], max_sentences: int = DEFAULT_SENTENCES) -> str:
        """The model's summary of `texts` (BackendUnavailable when it answers nothing)."""
        k = _check_count(max_sentences)
        lines: list[str] = []
        size = 0
        for number, text in enumerate(texts, 1):
            line = f"[{number}] {' '.join(text.split())}"
            size += len(line)
            if size > self.max_input_chars and lines:
                break
            lines.append(line)
        if not lines:
            return ""
        reply = self.chat.complete(
            [
                {"role": "system", "content": _SUMMARY_PROMPT.format(n=k)},
                {"role": "user", "content": "\n".join(lines)},
            ]
        ).strip()
        if not reply:
            raise BackendUnavailable(f"the model {self.chat.model!r} returned an empty summary")
        return reply
