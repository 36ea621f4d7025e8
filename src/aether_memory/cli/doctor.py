"""`aether doctor`: what the server offers and what to change, as OK / WARN / FAIL lines.

The assessment here is pure: it reads the facts the backends gather
(`aether_memory.backends.redis.facts` for a Redis server or cluster,
`aether_memory.backends.sqlite.facts` for a SQLite file) and says what they mean;
`doctor_checks` wires a URL to the right reader and assessment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from redis.cluster import RedisCluster

from aether_memory.backends.redis.cluster import cluster_url_of
from aether_memory.backends.redis.facts import (
    ClusterFacts,
    ServerFacts,
    read_cluster_facts,
    read_facts,
)
from aether_memory.backends.sqlite.facts import SqliteFacts, read_sqlite_facts
from aether_memory.cli.target import DEFAULT_TIMEOUT, connect
from aether_memory.client.common import check_url, guard_eviction, redacted, sqlite_path
from aether_memory.core.errors import (
    AetherError,
    ConfigurationError,
)
from aether_memory.core.types import Capabilities

Status = Literal["OK", "WARN", "FAIL"]


@dataclass(frozen=True, slots=True)
class Check:
    """One line of `aether doctor`: a status, what was checked, what was found, and what to
    change (empty when nothing needs to)."""

    status: Status
    name: str
    finding: str
    advice: str = ""


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def assess(facts: ServerFacts) -> list[Check]:
    """The checks of `aether doctor` for what was read from a server (pure)."""
    caps = facts.capabilities
    checks = [
        Check(
            "OK",
            "connection",
            f"{redacted(facts.url)}: connected in {facts.connect_ms:.1f} ms, "
            f"PING {facts.ping_ms:.2f} ms",
        )
    ]
    version = caps.server_version
    major = int(version.split(".")[0]) if version[:1].isdigit() else 0
    if major >= 8:
        checks.append(Check("OK", "server", f"Redis {version}"))
    elif caps.search:
        checks.append(
            Check("OK", "server", f"Redis {version} (the Query Engine covers long-term memory)")
        )
    else:
        checks.append(
            Check(
                "WARN",
                "server",
                f"Redis {version}: no Query Engine and no vector sets (Redis 8)",
                "use Redis 8 (redis:8, redis/redis-stack-server) for long-term memory",
            )
        )
    modules = ", ".join(sorted(caps.modules)) or "none"
    if caps.search:
        checks.append(Check("OK", "modules", f"Query Engine present ({modules})"))
    elif caps.vector_sets:
        checks.append(
            Check(
                "WARN",
                "modules",
                f"no Query Engine ({modules}): recall fuses a vector set's nearest neighbours "
                "with a text index the library keeps, and filters on the client",
                "load the search module (Redis 8 with the Query Engine, redis-stack-server, "
                "or `aether up` without --plain)",
            )
        )
    else:
        checks.append(
            Check(
                "WARN",
                "modules",
                f"no Query Engine and no vector sets ({modules}): recall scans every vector "
                "of a namespace on the client (fine for thousands of memories, slow for "
                "hundreds of thousands)",
                "use Redis 8 or load the search module",
            )
        )
    checks += _persistence(caps)
    checks.append(_eviction(caps, facts.url))
    checks.append(_evictions(facts))
    checks.append(_memory(facts))
    n = facts.namespace_keys
    checks.append(
        Check(
            "OK",
            "namespace",
            f"{n} keys in namespace {facts.namespace!r}"
            + (" (empty: nothing written yet, or another namespace?)" if n == 0 else ""),
        )
    )
    return checks


def _persistence(caps: Capabilities) -> list[Check]:
    if caps.aof is None:
        return [
            Check(
                "WARN",
                "persistence",
                "unknown: the server refuses CONFIG GET appendonly",
                "make sure AOF is on in your provider's settings",
            )
        ]
    if not caps.aof:
        if caps.rdb:
            return [
                Check(
                    "WARN",
                    "persistence",
                    "RDB snapshots only: a crash loses every write since the last snapshot",
                    "CONFIG SET appendonly yes (and appendonly yes in redis.conf)",
                )
            ]
        return [
            Check(
                "FAIL",
                "persistence",
                "none (no AOF, no RDB): a restart loses every memory",
                "CONFIG SET appendonly yes (and appendonly yes in redis.conf)",
            )
        ]
    snapshots = " + RDB snapshots" if caps.rdb else ""
    checks = [Check("OK", "persistence", f"AOF on{snapshots}")]
    if caps.fsync == "always":
        checks.append(Check("OK", "appendfsync", "always: nothing acknowledged is lost"))
    elif caps.fsync == "everysec":
        checks.append(
            Check("OK", "appendfsync", "everysec: a power loss costs at most ~1 s of writes")
        )
    elif caps.fsync == "no":
        checks.append(
            Check(
                "WARN",
                "appendfsync",
                "no: the OS flushes when it likes (tens of seconds of writes at risk)",
                "CONFIG SET appendfsync everysec",
            )
        )
    else:
        checks.append(
            Check(
                "WARN",
                "appendfsync",
                f"unknown ({caps.fsync})",
                "use appendfsync everysec (or always)",
            )
        )
    return checks


def _eviction(caps: Capabilities, url: str) -> Check:
    policy = caps.maxmemory_policy
    if policy is None:
        return Check(
            "WARN",
            "eviction",
            "unknown: the server refuses CONFIG GET maxmemory-policy",
            "make sure it is noeviction: every other policy can evict this project's keys",
        )
    try:
        guard_eviction(caps, url, strict=True)
    except ConfigurationError as exc:  # the eviction guard's own words
        return Check("FAIL", "eviction", f"maxmemory-policy {policy}", str(exc))
    return Check(
        "OK",
        "eviction",
        f"{policy}: nothing is evicted; writes fail loudly (storage_full) at maxmemory",
    )


def _evictions(facts: ServerFacts) -> Check:
    n = facts.evicted_keys
    if n is None:
        return Check("WARN", "evictions", "unknown: INFO stats gave no evicted_keys")
    if n == 0:
        return Check("OK", "evictions", "no key evicted since the server started")
    return Check(
        "FAIL",
        "evictions",
        f"{n} keys evicted since the server started (INFO stats evicted_keys): memories, "
        "checkpoints or sessions may be among them",
        "set maxmemory-policy noeviction; check what is missing with `aether inspect` and "
        "restore from an export",
    )


def _memory(facts: ServerFacts) -> Check:
    used, limit = facts.used_memory, facts.maxmemory
    if used is None:
        return Check("WARN", "memory", "unknown: INFO memory gave no used_memory")
    if not limit:
        return Check("OK", "memory", f"{_mib(used)} used, no maxmemory (bounded by the host)")
    share = used / limit
    finding = f"{_mib(used)} used of maxmemory {_mib(limit)} ({share:.0%})"
    advice = "raise maxmemory (CONFIG SET maxmemory ...) or forget old memories"
    if share >= 1 and facts.capabilities.maxmemory_policy == "noeviction":
        return Check("FAIL", "memory", f"full: {finding}; writes fail with storage_full", advice)
    if share >= 0.95:
        return Check("FAIL", "memory", finding, advice)
    if share >= 0.8:
        return Check("WARN", "memory", finding, advice)
    return Check("OK", "memory", finding)


def doctor_checks(url: str, ns: str, timeout: float = DEFAULT_TIMEOUT) -> list[Check]:
    """Everything `aether doctor` checks; an unreachable server is one FAIL line."""
    if check_url(url) == "sqlite":
        return assess_sqlite(read_sqlite_facts(Path(sqlite_path(url))))
    try:
        client = connect(url, timeout)
    except AetherError as exc:
        return [_unreachable(url, exc)]
    if isinstance(client, RedisCluster):
        try:
            return assess_cluster(read_cluster_facts(client, ns), url)
        finally:
            client.close()
    try:
        try:
            facts = read_facts(client, url, ns)
        except AetherError as exc:
            return [_unreachable(url, exc)]
    finally:
        client.close()
    if facts.capabilities.cluster:  # a plain URL naming a cluster node: check the cluster
        return doctor_checks(cluster_url_of(url), ns, timeout)
    return assess(facts)


def _unreachable(url: str, exc: Exception) -> Check:
    return Check(
        "FAIL",
        "connection",
        f"{redacted(url)}: {exc}",
        "start Redis (`aether up` for a local one), or pass --url / set AETHER_URL",
    )


def assess_cluster(facts: ClusterFacts, url: str) -> list[Check]:
    """Doctor on a Redis Cluster (pure): the cluster's state and slot coverage, then every
    check of a single server on every node (primaries and replicas), each line naming its
    node."""
    info, nodes = facts.info, facts.nodes
    primaries = [n for n in nodes if n.server_type == "primary"]
    ok = info.get("cluster_state") == "ok" and info.get("cluster_slots_ok") == "16384"
    checks = [
        Check(
            "OK" if ok else "FAIL",
            "cluster",
            f"cluster_state {info.get('cluster_state')}, {info.get('cluster_slots_ok')} of "
            f"16384 slots served, {len(primaries)} primaries, "
            f"{len(nodes) - len(primaries)} replicas",
            "" if ok else "every slot needs a live primary: restart the failed nodes",
        )
    ]
    for node in nodes:
        where = f"{redacted(url)} node {node.name} ({node.server_type})"
        if isinstance(node.facts, AetherError):
            checks.append(_unreachable(where, node.facts))
            continue
        checks += [
            Check(c.status, f"{node.name} {c.name}", c.finding, c.advice)
            for c in assess(replace(node.facts, url=where))
        ]
    return checks


def assess_sqlite(facts: SqliteFacts) -> list[Check]:
    """What doctor says of a SQLite store (pure): the file, its integrity, its journal, its
    reach."""
    path = facts.path
    if not facts.found:
        return [
            Check(
                "FAIL",
                "connection",
                f"no SQLite store at {path}",
                "check the path of the sqlite:/// URL (it is created on first use by the library)",
            )
        ]
    if facts.error is not None:
        return [
            Check("FAIL", "connection", f"{path}: {facts.error}", "is this an aether-memory store?")
        ]
    return [
        Check("OK", "connection", f"opened {path} ({_mib(facts.size)}, {facts.tables} tables)"),
        Check("OK", "integrity", "quick_check: ok")
        if facts.integrity == "ok"
        else Check(
            "FAIL", "integrity", f"quick_check: {facts.integrity}", "restore from an export"
        ),
        Check("OK", "journal", "WAL: readers never wait for the writer")
        if facts.journal_mode == "wal"
        else Check(
            "WARN",
            "journal",
            f"journal_mode={facts.journal_mode}",
            "open it once with the library (WAL)",
        ),
        Check(
            "WARN",
            "reach",
            "a local file: agents on other machines cannot share it",
            "use Redis (`aether up`, or AETHER_URL) for agents on several hosts",
        ),
    ]
