"""What the handles of one memory share, and the only part of it they see."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from aether_memory.client.common import ClosedStore
from aether_memory.core.codec import Codec
from aether_memory.core.config import Options, SessionTTLs
from aether_memory.storage._async.store import AsyncLongTermStore, AsyncStore


@dataclass(eq=False)
class AsyncKernel:
    """The store one memory (or one view of it) works through, and how it encodes, ages and
    records what it writes. Agents, sessions, working memory, identity, the tool cache, the
    feed, queues and the long-term services hold this, not the memory: closing the memory
    swaps `store` for one that refuses every call, and every handle sees it at once.

    The kernels of a memory's views hang below its own, so closing a memory refuses its views'
    handles too, even where the caller kept a handle and dropped the view: a view's kernel keeps
    the one above it alive, and is known to it only weakly (it lives as long as its handles)."""

    store: AsyncStore
    options: Options
    codec: Codec
    ttls: SessionTTLs
    parent: AsyncKernel | None = field(default=None, repr=False)
    _views: weakref.WeakSet[AsyncKernel] = field(default_factory=weakref.WeakSet, repr=False)

    @classmethod
    def build(cls, store: AsyncStore, options: Options) -> AsyncKernel:
        ttls = SessionTTLs.from_ttls(options.ttl)
        codec = Codec(options.compress_threshold, options.max_value_bytes)
        return cls(store, options, codec, ttls)

    @property
    def namespace(self) -> str:
        return self.options.namespace

    @property
    def longterm(self) -> AsyncLongTermStore:
        """The store's long-term role, which the long-term services work through."""
        return self.store.longterm

    def adopt(self, view: AsyncKernel) -> None:
        """Make `view` (a view's kernel, on the same store) refused whenever this one is."""
        view.parent = self
        self._views.add(view)

    def refuse_calls(self) -> None:
        """Refuse every later call through this kernel and the kernels of its views."""
        closed: Any = ClosedStore()
        self.store = closed
        for view in list(self._views):
            view.refuse_calls()
