"""The server's memory client: one `AsyncMemory`, opened on first use, and a view of it per
namespace.

Every namespace shares the one client's connection pool, capability probe, scripts and
reconnect loop; a namespace's view (`AsyncMemory.in_namespace`) costs no I/O. Views are
cached so a namespace's long-term memory state (its index set up, its embedder cache)
outlives a request; beyond `max_open` namespaces the least recently used view is dropped
from the cache — nothing is closed, since a request may still hold it. Concurrent first
requests wait for one opening instead of racing to open several.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from aether_memory.client._async.memory import AsyncMemory
from aether_memory.client.common import check_url, resolve_url
from aether_memory.core.config import Settings
from aether_memory.core.errors import ClientClosed
from aether_memory.core.ids import check_name

if TYPE_CHECKING:
    from aether_memory.core.embeddings import Embedder

log = logging.getLogger("aether_memory.rest")


class MemoryPool:
    """The memory client, by namespace.

    Args:
        embedder: shared by every namespace, so the model is loaded once per process.
        max_open: how many namespaces' views stay cached at most.
    """

    def __init__(self, embedder: Embedder, max_open: int) -> None:
        self.embedder = embedder
        self.max_open = max_open
        self._root: AsyncMemory | None = None
        self._opening: asyncio.Future[AsyncMemory] | None = None
        self._views: OrderedDict[str, AsyncMemory] = OrderedDict()
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
        """The client of `namespace`, for the duration of the block."""
        view = self._views.get(namespace)
        if view is not None:
            self._views.move_to_end(namespace)
        else:
            check_name(namespace, "namespace")
            view = (await self._open()).in_namespace(namespace)
            self._views[namespace] = view
            while len(self._views) > self.max_open:
                dropped, _ = self._views.popitem(last=False)
                log.debug(
                    "aether-memory: namespace %s left the cache (least recently used)", dropped
                )
        yield view

    async def _open(self) -> AsyncMemory:
        if self._closed:
            raise ClientClosed("the server is shutting down")
        if self._root is not None:
            return self._root
        if self._opening is not None:
            # Shielded: a waiter that is cancelled must not cancel the opening itself.
            return await asyncio.shield(self._opening)
        future: asyncio.Future[AsyncMemory] = asyncio.get_running_loop().create_future()
        self._opening = future
        try:
            root = await AsyncMemory.open(self.url, embedder=self.embedder)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters, if any, re-raise it themselves
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            self._opening = None
        if self._closed:  # the server stopped while this opening waited
            await root.aclose()
            raise ClientClosed("the server is shutting down")
        self._root = root
        future.set_result(root)
        return root

    async def aclose(self) -> None:
        """Close the client; later leases raise `ClientClosed`."""
        self._closed = True
        self._views.clear()
        root, self._root = self._root, None
        if root is not None:
            await root.aclose()

    def __len__(self) -> int:
        return len(self._views)
