"""The server's memory clients: one `AsyncMemory` per namespace, opened on first use.

Clients are cached and shared by every request for their namespace, and all closed when the
server stops. Concurrent first requests for a namespace wait for one opening instead of
racing to open several. Beyond `max_open` namespaces, the least recently used client is
retired: closed at once if no request holds it, else when its last request ends — so a
request never sees its client closed under it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aether_memory.client._async.memory import AsyncMemory
from aether_memory.client.common import check_url, resolve_url
from aether_memory.core.config import Settings
from aether_memory.core.errors import ClientClosed
from aether_memory.core.ids import check_name

if TYPE_CHECKING:
    from aether_memory.core.embeddings import Embedder

log = logging.getLogger("aether_memory.rest")


@dataclass(slots=True)
class _Entry:
    memory: AsyncMemory
    leases: int = 0
    retired: bool = False


class MemoryPool:
    """Open memory clients by namespace.

    Args:
        embedder: shared by every namespace, so the model is loaded once per process.
        max_open: how many namespaces stay open at most.
    """

    def __init__(self, embedder: Embedder, max_open: int) -> None:
        self.embedder = embedder
        self.max_open = max_open
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._pending: dict[str, asyncio.Future[_Entry]] = {}
        self._url: str | None = None
        self._closed = False

    @property
    def url(self) -> str:
        """The store's URL, resolved like `Memory.open` does (the environment, then the local
        server of ``aether up``, then the default), once per process.

        Raises:
            ConfigurationError: the settings name no usable store.
        """
        if self._url is None:
            url = resolve_url(None, Settings())
            check_url(url)
            self._url = url
        return self._url

    @asynccontextmanager
    async def lease(self, namespace: str) -> AsyncIterator[AsyncMemory]:
        """The client of `namespace`, held open for the duration of the block."""
        entry = self._entries.get(namespace)
        if entry is not None:
            self._entries.move_to_end(namespace)
        else:
            check_name(namespace, "namespace")
            # A client retired (and closed) while this request waited for its opening is
            # useless: open again.
            while entry is None or (entry.retired and entry.leases == 0):
                entry = self._entries.get(namespace) or await self._open(namespace)
        entry.leases += 1
        try:
            if len(self._entries) > self.max_open:
                await self._evict()
            yield entry.memory
        finally:
            entry.leases -= 1
            if entry.retired and entry.leases == 0:
                await entry.memory.aclose()

    async def _open(self, namespace: str) -> _Entry:
        pending = self._pending.get(namespace)
        if pending is not None:
            # Shielded: a waiter that is cancelled must not cancel the opening itself.
            return await asyncio.shield(pending)
        if self._closed:
            raise ClientClosed("the server is shutting down")
        future: asyncio.Future[_Entry] = asyncio.get_running_loop().create_future()
        self._pending[namespace] = future
        try:
            memory = await AsyncMemory.open(self.url, namespace=namespace, embedder=self.embedder)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters, if any, re-raise it themselves
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            del self._pending[namespace]
        entry = _Entry(memory)
        self._entries[namespace] = entry
        future.set_result(entry)
        return entry

    async def _evict(self) -> None:
        while len(self._entries) > self.max_open:
            namespace, entry = self._entries.popitem(last=False)
            log.info(
                "aether-memory: closing the client of namespace %s (least recently used, over "
                "AETHER_MAX_NAMESPACES)",
                namespace,
            )
            entry.retired = True
            if entry.leases == 0:
                await entry.memory.aclose()

    async def aclose(self) -> None:
        """Close every client; later leases raise `ClientClosed`."""
        self._closed = True
        entries = list(self._entries.values())
        self._entries.clear()
        for entry in entries:
            await entry.memory.aclose()

    def __len__(self) -> int:
        return len(self._entries)
