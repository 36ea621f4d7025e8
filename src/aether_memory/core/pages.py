"""Pages of a listing and their cursors (pure).

A cursor is an opaque token made from the sort key of the last item a page examined — never
an offset — so a page boundary does not move when items are added or removed before it. The
token names the collection it belongs to, so a cursor of one listing is refused by another.
A page can hold fewer items than asked (a filter skipped many rows) and still have a
``next``: keep reading while ``next`` is not None.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import orjson

from aether_memory.core.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
_CURSOR_VERSION = 1


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing: its items, in order, and the cursor of the next page.

    Attributes:
        items: the items of this page.
        next: pass it as ``cursor`` to read the next page; None at the end.
    """

    items: tuple[T, ...] = ()
    next: str | None = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure removed (or, with ``dry_run``, would remove), counted by kind.

    Attributes:
        scope: ``session``, ``agent`` or ``namespace``.
        target: the id of what was erased (``agent/session`` for a session).
        counts: how many of each kind of item (memories, events, keys ...).
        dry_run: nothing was removed; the counts say what would be.
    """

    scope: str
    target: str
    counts: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def total(self) -> int:
        """Every item counted, of every kind."""
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "target": self.target,
            "counts": dict(self.counts),
            "dry_run": self.dry_run,
            "total": self.total,
        }


def check_page_limit(limit: object) -> int:
    """`limit` if it is a page size this library serves (1..`MAX_LIMIT`)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be an integer from 1 to {MAX_LIMIT}, not {limit!r}")
    return limit


def encode_cursor(collection: str, key: Sequence[Any]) -> str:
    """The opaque token for "after `key`" in `collection` (URL-safe, no padding)."""
    raw = orjson.dumps([_CURSOR_VERSION, collection, list(key)])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(token: object, collection: str) -> list[Any] | None:
    """The sort key inside `token` (None for no cursor: the first page).

    Raises:
        InvalidInput: the token is damaged, or belongs to another listing.
    """
    if token is None or token == "":
        return None
    if not isinstance(token, str) or len(token) > 2048:
        raise InvalidInput("a cursor must be the `next` token of an earlier page")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        version, kind, key = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidInput(f"cursor {token[:40]!r} is damaged: {exc}") from exc
    if version != _CURSOR_VERSION or kind != collection or not isinstance(key, list):
        raise InvalidInput(f"this cursor belongs to another listing, not to {collection}")
    return key
