"""Query text for the Query Engine, built only here and only through the escaper.

User-supplied values (tags, ids, kinds, query words) never reach the engine unescaped: a tag
such as ``a|b`` or ``@t:{x}`` matches itself and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

# Every character the query parser gives a meaning to, plus whitespace.
_SPECIAL = re.compile(r"([,.<>{}\[\]\"'`:;!@#$%^&*()\-+=~|/\\\s?])")
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TERMS = 32

# The Query Engine's default English stop words. They are dropped here, before the query is
# built, because they add nothing to relevance and because Query Engine 2.10 crashes the
# server on a union of two or more stop words with another term (`is | it | ok`).
STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their "  # noqa: SIM905
    "then there these they this to was will with".split()
)


# Words that give a question its form, not its subject ("when did Kate start skiing?"). They
# are dropped from queries only (documents keep them): on the REALTALK dev conversations this
# raised BM25 recall@5 from 0.424 to 0.452 (docs/evaluation.md). None is a Query Engine stop
# word, so a union of them cannot reach the 2.10 crash either.
QUERY_STOPWORDS = frozenset(
    "what when where who whom whose which why how did does do has have had was were is are "  # noqa: SIM905
    "been being can could would should ever".split()
)


def escape(value: str) -> str:
    """Backslash every character that has a meaning in query syntax."""
    return _SPECIAL.sub(r"\\\1", value)


def tag_clause(field: str, values: Iterable[str]) -> str:
    """``@field:{v1 | v2}`` with each value escaped; the caller names a trusted field.
    Underscores too: the engine refuses a tag of only ``_`` unescaped (a syntax error)."""
    escaped = " | ".join(escape(v).replace("_", "\\_") for v in values)
    return f"@{field}:{{{escaped}}}"


def text_terms(query: str) -> list[str]:
    """The words of a natural-language query, deduplicated, lower-cased, in order.

    Only runs of letters, digits and underscores survive, so no query syntax can be formed;
    stop words and question words are dropped.
    """
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        if (
            (len(word) > 1 or word.isdigit())
            and word not in STOPWORDS
            and word not in QUERY_STOPWORDS
        ):
            seen.setdefault(word, None)
    return list(seen)[:MAX_QUERY_TERMS]


@dataclass(frozen=True, slots=True)
class Filters:
    """What a recall may be restricted to. Every value is escaped when compiled."""

    kinds: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    since_ms: int | None = None
    until_ms: int | None = None
    min_importance: float | None = None
    # Superseded memories (replaced by a correction) are history: left out unless asked for.
    include_superseded: bool = False

    @property
    def narrows(self) -> bool:
        """Whether a caller's filter is set (beyond the exclusion of superseded memories)."""
        return replace(self, include_superseded=False) != Filters()

    def compile(self) -> str:
        """The filter part of a query (``*`` when there is none); it leaves superseded
        memories out unless `include_superseded`."""
        parts = []
        for field, values in (
            ("kind", self.kinds),
            ("agent", self.agents),
            ("session", self.sessions),
            ("tags", self.tags),
        ):
            if values:
                parts.append(tag_clause(field, values))
        if self.since_ms is not None or self.until_ms is not None:
            low = "-inf" if self.since_ms is None else str(int(self.since_ms))
            high = "+inf" if self.until_ms is None else str(int(self.until_ms))
            parts.append(f"@occurred_at:[{low} {high}]")
        if self.min_importance is not None:
            parts.append(f"@importance:[{float(self.min_importance)!r} +inf]")
        if not self.include_superseded:
            # Only a superseded memory has the field: the negation keeps every other one.
            parts.append("-@superseded_at:[-inf +inf]")
        return " ".join(parts) if parts else "*"

    def text_query(self, terms: Iterable[str]) -> str:
        """A full-text query for any of `terms` (content and date words) within this scope;
        the terms must come from `text_terms`, which keeps stop words out of the union.

        Superseded memories are NOT left out here: intersected with the union, the negation
        changed the engine's BM25 scores (REALTALK recall@5 fell from 0.490 to 0.419), so
        the caller drops them from the results (return ``superseded_at``)."""
        words = " | ".join(escape(t) for t in terms)
        where = replace(self, include_superseded=True).compile()
        return f"@content|when:({words})" + ("" if where == "*" else f" {where}")

    def matches(self, record: dict[str, object]) -> bool:
        """The same filter, applied to a decoded record (for stores without an index)."""
        checks: list[bool] = []
        for field, values in (
            ("kind", self.kinds),
            ("agent", self.agents),
            ("session", self.sessions),
        ):
            if values:
                checks.append(record.get(field) in values)
        if self.tags:
            have = record.get("tags") or ()
            checks.append(any(t in have for t in self.tags))  # type: ignore[operator]
        occurred = int(record.get("occurred_at", 0))  # type: ignore[call-overload]
        if self.since_ms is not None:
            checks.append(occurred >= self.since_ms)
        if self.until_ms is not None:
            checks.append(occurred <= self.until_ms)
        if self.min_importance is not None:
            checks.append(float(record.get("importance", 0.0)) >= self.min_importance)  # type: ignore[arg-type]
        if not self.include_superseded:
            checks.append(not record.get("superseded_by"))
        return all(checks)
