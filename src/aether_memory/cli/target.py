"""Which server and namespace an admin command works on, and a client for it."""

from __future__ import annotations

from typing import Any, Final, cast

import redis
from redis.retry import Retry

from aether_memory.backends.redis._sync.clients import cluster_client
from aether_memory.backends.redis.backoff import JitterBackoff
from aether_memory.backends.redis.cluster import is_cluster_url
from aether_memory.client.common import check_redis_url, redacted, resolve_url
from aether_memory.core.config import Settings
from aether_memory.core.errors import (
    ConfigurationError,
)
from aether_memory.core.ids import check_name

DEFAULT_TIMEOUT: Final = 5.0


def resolve_target(
    url: str | None, namespace: str | None, redis_only: bool = True
) -> tuple[str, str]:
    """The URL and namespace a command works on: the options, else the library's settings.

    Raises:
        ConfigurationError: The URL's scheme is not a Redis one (with `redis_only`).
        InvalidInput: The namespace is not a valid name.
    """
    settings = Settings()
    resolved = resolve_url(url, settings)
    if redis_only:
        check_redis_url(resolved)
    return resolved, check_name(namespace or settings.namespace, "namespace")


def mem_url(url: str | None) -> str:
    """The URL `Memory.open(url)` connects to (any backend), for messages."""
    return resolve_url(url, Settings())


def connect(url: str, timeout: float = DEFAULT_TIMEOUT) -> redis.Redis:
    """A plain redis-py client for the admin commands (bytes replies, RESP2); no I/O yet,
    except for a ``redis+cluster://`` URL, whose cluster client reads the slot map."""
    if is_cluster_url(url):
        client: Any = cluster_client(
            url, socket_timeout=timeout, connect_timeout=timeout, retry=Retry(JitterBackoff(), 3)
        )
        return cast(redis.Redis, client)
    try:
        return redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(JitterBackoff(), 3),
        )
    except ValueError as exc:
        raise ConfigurationError(f"invalid Redis URL {redacted(url)!r}: {exc}") from exc
