"""Reading what `aether doctor` assesses from a Redis server or cluster.

Only the reading lives here (timed PINGs, ``INFO``, ``MODULE LIST``, ``CONFIG GET``, a ``SCAN``
count, ``CLUSTER INFO``); what the facts mean, and what to change, is decided by the CLI's
doctor (`aether_memory.cli.doctor`), which sees only these data classes. ``SCAN`` is for
admin commands only: nothing on a request path counts keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

import redis
from redis import exceptions as rx
from redis.cluster import RedisCluster

from aether_memory.backends.redis import probe
from aether_memory.backends.redis.errors import TRANSLATE, translate
from aether_memory.core import keys
from aether_memory.core.errors import AetherError
from aether_memory.core.ids import check_name
from aether_memory.core.types import Capabilities

SCAN_COUNT: Final = 1000
"""Keys asked of each SCAN step (a hint to the server, not a limit)."""


@dataclass(frozen=True, slots=True)
class ServerFacts:
    """What doctor reads from a server, in one place (the input of its assessment)."""

    url: str
    """Where the facts were read: the URL, or for a cluster node its ``host:port``."""
    namespace: str
    connect_ms: float
    ping_ms: float
    capabilities: Capabilities
    used_memory: int | None = None
    maxmemory: int | None = None
    namespace_keys: int | None = None
    evicted_keys: int | None = None


@dataclass(frozen=True, slots=True)
class NodeFacts:
    """One node of a cluster: its ``host:port``, its role, and what was read from it (or the
    error that stopped the reading)."""

    name: str
    server_type: str
    """``primary`` or ``replica``."""
    facts: ServerFacts | AetherError


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    """What doctor reads from a Redis Cluster: the fields of ``CLUSTER INFO`` (asked of one
    node) and the facts of every node, primaries and replicas."""

    info: dict[str, str]
    nodes: tuple[NodeFacts, ...]


def namespace_keys(client: redis.Redis, ns: str) -> list[bytes]:
    """Every key of namespace `ns`, sorted (SCAN, never KEYS; SCAN may repeat a key)."""
    check_name(ns, "namespace")
    with TRANSLATE:
        found: set[bytes] = set(
            client.scan_iter(match=keys.namespace_pattern(ns), count=SCAN_COUNT)
        )
    return sorted(found)


def read_facts(client: redis.Redis, url: str, ns: str) -> ServerFacts:
    """Read what doctor assesses (timed PINGs, INFO, MODULE LIST, CONFIG GET, a SCAN count).

    Raises:
        BackendUnavailable: The server did not answer.
    """
    with TRANSLATE:
        t0 = time.perf_counter()
        client.ping()  # opens the connection
        t1 = time.perf_counter()
        client.ping()
        t2 = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        pipe.info()
        pipe.module_list()
        for name in ("maxmemory-policy", "appendonly", "appendfsync", "save"):
            pipe.config_get(name)
        replies = pipe.execute(raise_on_error=False)
    if isinstance(replies[0], rx.RedisError):
        raise translate(replies[0])
    # Managed services refuse CONFIG or MODULE: those facts become unknown, not errors.
    replies = [None if isinstance(r, rx.RedisError) else r for r in replies]
    info: dict[str, Any] = replies[0]
    caps = probe.capabilities(*replies)
    return ServerFacts(
        url=url,
        namespace=ns,
        connect_ms=(t1 - t0) * 1000,
        ping_ms=(t2 - t1) * 1000,
        capabilities=caps,
        used_memory=probe.reply_int(info.get("used_memory")),
        maxmemory=probe.reply_int(info.get("maxmemory")),
        evicted_keys=probe.reply_int(info.get("evicted_keys")),
        namespace_keys=len(namespace_keys(client, ns)),
    )


def read_cluster_facts(client: RedisCluster, ns: str) -> ClusterFacts:
    """Read ``CLUSTER INFO`` and then, node by node, what `read_facts` reads; a node that
    does not answer is recorded with its error, and the others are still read.

    Raises:
        BackendUnavailable: The cluster did not answer ``CLUSTER INFO``.
    """
    cluster: Any = client  # redis-py leaves these methods of RedisCluster untyped
    with TRANSLATE:
        nodes = cluster.get_nodes()
        state = cluster.execute_command("CLUSTER INFO", target_nodes=cluster.get_random_node())
    if isinstance(state, dict):  # redis-py parses the reply into a dict
        info = {str(k): str(v) for k, v in state.items()}
    else:
        text = state.decode() if isinstance(state, bytes) else str(state)
        info = dict(line.split(":", 1) for line in text.split() if ":" in line)
    found = []
    for node in nodes:
        facts: ServerFacts | AetherError
        try:
            facts = read_facts(cluster.get_redis_connection(node), node.name, ns)
        except AetherError as exc:
            facts = exc
        found.append(NodeFacts(node.name, node.server_type, facts))
    return ClusterFacts(info, tuple(found))
