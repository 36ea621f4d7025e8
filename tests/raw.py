"""A plain redis-py client of a test store, to look at its keys directly: a cluster client for
a ``redis+cluster://`` URL (its SCAN walks every primary), else a single-server one."""

from __future__ import annotations

from typing import Any

import redis
from redis.cluster import ClusterNode, RedisCluster

from aether_memory.backends.redis.cluster import is_cluster_url, parse_cluster_url
from aether_memory.core import keys


def raw_client(url: str) -> Any:
    """A redis-py client of `url` (close it after use)."""
    if is_cluster_url(url):
        nodes = [ClusterNode(host, port) for host, port in parse_cluster_url(url).nodes]
        return RedisCluster(startup_nodes=nodes, socket_timeout=5)
    return redis.Redis.from_url(url, socket_timeout=5)


def index_list(r: Any, ns: str) -> list[str]:
    """``FT._LIST`` of the server that holds namespace `ns` (an index lives on its shard)."""
    if isinstance(r, RedisCluster):
        node = r.get_node_from_key(keys.namespace_tag(ns))
        listed = r.execute_command("FT._LIST", target_nodes=node)
    else:
        listed = r.execute_command("FT._LIST")
    return [i.decode() for i in listed]


def modules_of(r: Any) -> set[bytes]:
    """The names of the modules loaded (on one node of a cluster)."""
    if isinstance(r, RedisCluster):
        reply = r.execute_command("MODULE LIST", target_nodes=r.get_random_node())
    else:
        reply = r.module_list()
    return {m[b"name"] for m in reply}
