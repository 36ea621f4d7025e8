"""Building the redis-py client of a Redis Cluster, for the store and the admin commands."""

from __future__ import annotations

from typing import Any

from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry

from aether_memory.backends.redis.cluster import parse_cluster_url
from aether_memory.backends.redis.errors import TRANSLATE

_NODE: Any = ClusterNode  # untyped in redis-py


def cluster_client(
    url: str,
    *,
    socket_timeout: float,
    connect_timeout: float,
    retry: Retry,
    max_connections: int | None = None,
    protocol: int = 2,
) -> RedisCluster:
    """A client of the Redis Cluster a ``redis+cluster://`` URL names: it reads the slot map
    from the nodes named, sends each command to the primary of its slot, and follows
    ``MOVED`` and a failover (a connection error makes it read the map again before the
    retry). The sync client reads the slot map here already; the async one on first use.

    Raises:
        ConfigurationError: The URL is not a valid ``redis+cluster://`` URL.
        BackendUnavailable: No node named could be reached (the sync client).
    """
    address = parse_cluster_url(url)
    sized: dict[str, Any] = {} if max_connections is None else {"max_connections": max_connections}
    with TRANSLATE:
        return RedisCluster(
            startup_nodes=[_NODE(host, port) for host, port in address.nodes],
            username=address.username,
            password=address.password,
            ssl=address.tls,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            health_check_interval=30,
            retry=retry,
            protocol=protocol,
            **sized,
        )
