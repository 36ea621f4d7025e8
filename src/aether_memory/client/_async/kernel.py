"""What the handles of one memory share, and the only part of it they see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aether_memory.client.common import ClosedStore
from aether_memory.client.opened import OpenedSessions
from aether_memory.core.codec import Codec
from aether_memory.core.config import Options, SessionTTLs
from aether_memory.storage._async.store import AsyncLongTermStore, AsyncStore


@dataclass(eq=False)
class AsyncKernel:
    """The store one memory (or one view of it) works through, and how it encodes, ages and
    records what it writes. Agents, sessions, working memory, identity, the tool cache, the
    feed and queues hold this, not the memory: closing the memory swaps `store` for one that
    refuses every call, and every handle sees it at once."""

    store: AsyncStore
    options: Options
    codec: Codec
    ttls: SessionTTLs
    opened: OpenedSessions

    @classmethod
    def build(cls, store: AsyncStore, options: Options) -> AsyncKernel:
        ttls = SessionTTLs.from_ttls(options.ttl)
        codec = Codec(options.compress_threshold, options.max_value_bytes)
        return cls(store, options, codec, ttls, OpenedSessions(ttls))

    @property
    def namespace(self) -> str:
        return self.options.namespace

    @property
    def longterm(self) -> AsyncLongTermStore:
        """The store's long-term role, which the long-term services work through."""
        return self.store.longterm

    def refuse_calls(self) -> None:
        closed: Any = ClosedStore()
        self.store = closed
