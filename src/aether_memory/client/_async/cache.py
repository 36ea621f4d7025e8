"""The tool-result cache of a namespace, and the decorator that reads through it."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aether_memory.client.common import args_hash
from aether_memory.core import keys, telemetry
from aether_memory.core.ids import check_name
from aether_memory.core.validate import check_seconds, seconds_to_ms

if TYPE_CHECKING:
    from aether_memory.client._async.memory import AsyncMemory

F = TypeVar("F", bound=Callable[..., Any])


class AsyncToolCache:
    """Results of tool calls, shared by the namespace, keyed by tool + canonical arguments."""

    def __init__(self, memory: AsyncMemory) -> None:
        self._k = memory.kernel

    def key(self, tool: str, args: Any) -> str:
        return keys.cache(self._k.namespace, check_name(tool, "tool name"), args_hash(args))

    @telemetry.traced("cache.lookup")
    async def lookup(self, tool: str, args: Any) -> tuple[bool, Any]:
        """``(True, result)`` on a hit (the result may be None), ``(False, None)`` on a miss."""
        raw = await self._k.store.cache_get(self.key(tool, args))
        telemetry.cache_lookup(raw is not None)
        return (False, None) if raw is None else (True, self._k.codec.decode(raw))

    @telemetry.traced("cache.get")
    async def get(self, tool: str, args: Any) -> Any:
        """The cached result, or None on a miss."""
        return (await self.lookup(tool, args))[1]

    @telemetry.traced("cache.put")
    async def put(self, tool: str, args: Any, result: Any, ttl: float | None = None) -> None:
        """Cache `result`; `ttl` in seconds (default: the tool-results TTL)."""
        seconds = self._k.options.ttl.tool_results if ttl is None else check_seconds(ttl)
        raw = self._k.codec.encode(result)
        ttl_ms = None if seconds is None else seconds_to_ms(seconds)
        await self._k.store.cache_put(self.key(tool, args), raw, ttl_ms)


def cached(cache: AsyncToolCache, tool: str, ttl: float | None = None) -> Callable[[F], F]:
    """A decorator caching a tool function's results in `cache` under `tool` + arguments
    (bound to the signature, defaults applied, hashed as canonical JSON)."""
    check_name(tool, "tool name")
    if ttl is not None:
        check_seconds(ttl)

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            hit, value = await cache.lookup(tool, bound.arguments)
            if hit:
                return value
            value = await fn(*args, **kwargs)
            await cache.put(tool, bound.arguments, value, ttl=ttl)
            return value

        return wrapper  # type: ignore[return-value]

    return decorate
