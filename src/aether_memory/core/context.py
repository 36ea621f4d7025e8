"""Assembling the prompt block an LLM needs, under a token budget (pure functions).

Tokens are estimated offline: about one token per short word or punctuation mark and one per
four characters of a long word, which tracks BPE tokenizers for English within ~15% and
needs no tokenizer download.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_PIECE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def count_tokens(text: str) -> int:
    """An offline estimate of the number of tokens in `text`."""
    return sum(1 + (len(p) - 1) // 4 for p in _PIECE.findall(text))


@dataclass(frozen=True, slots=True)
class Section:
    """One titled part of the context, its lines in order of usefulness."""

    title: str
    lines: Sequence[str]


def render(sections: Sequence[Section], budget_tokens: int) -> str:
    """The sections in order, each line kept only while the budget allows.

    Earlier sections and earlier lines win: callers order them most useful first. A line that
    does not fit is cut at a word boundary if at least a few words of it fit, else dropped.
    """
    out: list[str] = []
    used = 0
    for section in sections:
        header = f"## {section.title}"
        cost = count_tokens(header)
        kept: list[str] = []
        for line in section.lines:
            need = count_tokens(line)
            if used + cost + need <= budget_tokens:
                kept.append(line)
                cost += need
                continue
            room = budget_tokens - used - cost
            if room >= 8:
                cut = _truncate(line, room - 1)
                kept.append(cut + " …")
                cost += count_tokens(cut) + 1
            break
        if kept:
            out.append("\n".join([header, *kept]))
            used += cost
    return "\n\n".join(out)


def _truncate(line: str, tokens: int) -> str:
    words = line.split()
    lo, hi = 0, len(words)
    while lo < hi:  # the longest prefix of words that fits
        mid = (lo + hi + 1) // 2
        if count_tokens(" ".join(words[:mid])) <= tokens:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])
