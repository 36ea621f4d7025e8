"""Opening the store a URL names: Redis, SQLite, or Redis with a SQLite fallback."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aether_memory.backends.redis._async.store import AsyncRedisStore
from aether_memory.client.common import check_url, guard_eviction, redacted, sqlite_path
from aether_memory.core.config import Options
from aether_memory.core.errors import ConfigurationError, StoreDamaged
from aether_memory.storage._async.fallback import AsyncFallbackStore
from aether_memory.storage._async.store import AsyncStore

if TYPE_CHECKING:
    from aether_memory.storage.archive import Archive

log = logging.getLogger("aether_memory")


async def open_store(url: str, options: Options, fallback: str | None = None) -> AsyncStore:
    """Connect to `url`; with `fallback` (a ``sqlite:///`` URL), keep serving from that file
    while Redis is unreachable, even when it is down right now.

    Raises:
        BackendUnavailable: Redis did not answer in time (and there is no fallback).
        ConfigurationError: a URL is malformed, or `options.strict` refused the server.
    """
    # Imported here: the SQLite store brings numpy, which a Redis-only client never needs.
    from aether_memory.backends.sqlite._async.store import AsyncSqliteStore

    if check_url(url) == "sqlite":
        if fallback:
            raise ConfigurationError("a SQLite store needs no fallback: it is local already")
        store = await AsyncSqliteStore.connect(sqlite_path(url), options)
        log.info("aether-memory: opened %s (namespace %s)", url, options.namespace)
        return store
    if fallback and check_url(fallback) != "sqlite":
        raise ConfigurationError(f"the fallback must be a sqlite:/// URL, not {fallback!r}")

    async def connect() -> AsyncRedisStore:
        redis = await AsyncRedisStore.connect(url, options, redacted(url))
        try:
            guard_eviction(redis.capabilities, url, options.strict)
        except BaseException:
            await redis.aclose()
            raise
        log.info("aether-memory: connected to %s (namespace %s)", redacted(url), options.namespace)
        return redis

    if not fallback:
        return await connect()
    try:
        local = await AsyncSqliteStore.connect(sqlite_path(fallback), options, rescue=True)
        try:
            await local.outbox_depth()  # reads the queue: a damaged one is found now
        except BaseException:
            await local.aclose()
            raise
    except StoreDamaged as exc:
        # A broken fallback must not keep a healthy Redis from serving: serve without one,
        # and say so loudly, here and in every health check.
        note = f"the fallback {fallback} is unusable, so calls fail while Redis is down: {exc}"
        log.error("aether-memory: %s", note)
        redis = await connect()
        redis.notes.append(note)
        return redis
    try:
        return await AsyncFallbackStore.open(connect, local)
    except BaseException:
        await local.aclose()
        raise


async def open_cold_tier(url: str, store: AsyncStore) -> Archive:
    """Open the archive `url` names; when it cannot be opened, close `store` (opened for the
    same memory) before the error goes up."""
    from aether_memory.backends.archive import open_archive

    try:
        return open_archive(url)
    except BaseException:
        await store.aclose()
        raise
