"""What the adapters share: the extra's import hint, thread ids as session ids, and a view of a
memory whose working memory never expires."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from aether_memory.core.errors import InvalidInput
from aether_memory.core.ids import is_name

if TYPE_CHECKING:
    from aether_memory.client._async.memory import AsyncMemory
    from aether_memory.client._sync.memory import Memory

M = TypeVar("M", "Memory", "AsyncMemory")

HASHED_PREFIX = "_h."


def needs(extra: str, package: str) -> str:
    """The message of the ImportError raised when an adapter's framework is missing."""
    return f"this adapter needs {package}: pip install 'aether-memory[{extra}]'"


def session_id(thread_id: str) -> str:
    """The aether session id that holds a framework's thread (conversation) `thread_id`.

    Ids that are valid session ids are kept as they are (readable in ``aether inspect``);
    any other string maps to a stable digest, so every thread id a framework may use works.
    """
    if not isinstance(thread_id, str) or not thread_id:
        raise InvalidInput(f"a thread id must be a non-empty string, not {thread_id!r}")
    if not thread_id.startswith(HASHED_PREFIX) and is_name(thread_id):
        return thread_id
    return HASHED_PREFIX + hashlib.sha256(thread_id.encode()).hexdigest()[:40]


def durable(memory: M, ttl: float | None = None) -> M:
    """A view of `memory` on the same connection whose working memory lives `ttl` seconds
    after its last write (``None``: forever) — a framework's threads are not scratch state.

    The view shares the caller's connection; closing `memory` closes it.
    """
    view: M = memory.with_options(
        memory.options.with_(ttl=replace(memory.options.ttl, working=ttl))
    )
    return view
