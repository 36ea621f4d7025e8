"""Paging helpers of the listings (pure: shared by the async client and its sync twin)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from aether_memory.client.records import recall_filters
from aether_memory.core.errors import InvalidInput
from aether_memory.core.pages import Page, check_page_limit, decode_cursor, encode_cursor
from aether_memory.core.query import Filters


def add_counts(counts: dict[str, int], more: Mapping[str, int]) -> None:
    """Add an erasure's `more` counts into `counts`, by name."""
    for name, n in more.items():
        counts[name] = counts.get(name, 0) + n


def text_key(key: list[Any] | None) -> str | None:
    """The one text of a decoded cursor (None for the first page)."""
    if key is None:
        return None
    if len(key) != 1 or not isinstance(key[0], str):
        raise InvalidInput("this cursor is damaged")
    return key[0]


def name_page(names: Sequence[str], collection: str, cursor: str | None, limit: int) -> Page[str]:
    """One page of `names`, in order, after the cursor's."""
    check_page_limit(limit)
    after = text_key(decode_cursor(cursor, collection))
    rest = [n for n in sorted(names) if after is None or n > after]
    items = tuple(rest[:limit])
    return Page(items, encode_cursor(collection, [items[-1]]) if len(rest) > limit else None)


def listing_scope(
    kinds: Iterable[str] | None,
    agent: str | Iterable[str] | None,
    session: str | None,
    tags: Iterable[str] | None,
    since: datetime | int | None,
    until: datetime | int | None,
) -> Filters:
    # A listing shows every memory, superseded ones too (their status says so).
    return recall_filters(
        kinds=kinds, agent=agent, session=session, tags=tags, since=since, until=until,
        include_superseded=True,
    )  # fmt: skip
