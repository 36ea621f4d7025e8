"""Reading a server's capabilities from its replies (pure; the store sends the commands)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from aether_memory.core.types import Capabilities, Checkup, evicting


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _config_value(reply: Any, name: str) -> str | None:
    """The value of one ``CONFIG GET`` reply, or None when the server refused CONFIG."""
    if isinstance(reply, Mapping):
        for key, value in reply.items():
            if _text(key) == name:
                return _text(value)
    return None


def module_names(reply: Any) -> frozenset[str]:
    """Names from a ``MODULE LIST`` reply (empty if the command was refused)."""
    if not isinstance(reply, Sequence) or isinstance(reply, bytes | str):
        return frozenset()
    names = set()
    for module in reply:
        if isinstance(module, Mapping):
            name = module.get(b"name", module.get("name"))
            if name is not None:
                names.add(_text(name))
    return frozenset(names)


def capabilities(
    info: Any,
    modules_reply: Any,
    policy_reply: Any,
    aof_reply: Any,
    fsync_reply: Any,
    save_reply: Any,
) -> Capabilities:
    """Build `Capabilities` from INFO, MODULE LIST and CONFIG GET replies."""
    info = info if isinstance(info, Mapping) else {}
    modules = module_names(modules_reply)
    version = _text(info.get("redis_version", "unknown"))
    major = int(version.split(".")[0]) if version[:1].isdigit() else 0
    aof = _config_value(aof_reply, "appendonly")
    save = _config_value(save_reply, "save")
    if aof is None and "aof_enabled" in info:
        aof = "yes" if int(info["aof_enabled"]) else "no"
    return Capabilities(
        backend="redis",
        server_version=version,
        modules=modules,
        search="search" in modules or "searchlight" in modules,
        json="ReJSON" in modules or "json" in modules,
        bloom="bf" in modules or "bloom" in modules,
        vector_sets="vectorset" in modules or major >= 8,
        aof=None if aof is None else aof == "yes",
        fsync=_config_value(fsync_reply, "appendfsync"),
        rdb=None if save is None else bool(save.strip()),
        maxmemory_policy=_config_value(policy_reply, "maxmemory-policy"),
        cluster=_text(info.get("redis_mode", "standalone")) == "cluster",
    )


def eviction_message(policy: str, where: str) -> str:
    """Why `policy` endangers this project's data on the server `where`, and what to do."""
    reach = (
        "every key"
        if policy.startswith("allkeys-")
        else "every key with a TTL, and long-term memories, checkpoints, skills and sessions "
        "all have one"
    )
    return (
        f"Redis at {where} has maxmemory-policy {policy}: under memory pressure it evicts "
        f"{reach}, so memories can vanish without an error. Use CONFIG SET maxmemory-policy "
        "noeviction (and maxmemory-policy noeviction in redis.conf): a full server then refuses "
        "writes loudly instead"
    )


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def checkup(info: Any, policy_reply: Any, where: str) -> Checkup:
    """What is wrong with a server, from its ``INFO`` (default sections: memory and stats
    included) and ``CONFIG GET maxmemory-policy`` replies."""
    info = info if isinstance(info, Mapping) else {}
    policy = _config_value(policy_reply, "maxmemory-policy")
    if policy is None and "maxmemory_policy" in info:  # a server that refuses CONFIG
        policy = _text(info["maxmemory_policy"])
    used, limit = reply_int(info.get("used_memory")), reply_int(info.get("maxmemory"))
    evicted = reply_int(info.get("evicted_keys"))
    warnings = []
    if evicting(policy):
        warnings.append(eviction_message(str(policy), where))
    if evicted:
        warnings.append(
            f"Redis at {where} has evicted {evicted} keys since it started (INFO stats "
            "evicted_keys): memories, checkpoints or sessions of this project may be among "
            "them; check with `aether inspect`, restore from an export, and use noeviction"
        )
    full = bool(limit and used is not None and used >= limit and not evicting(policy))
    if full:
        warnings.append(
            f"Redis at {where} is full: {_mib(used or 0)} used of maxmemory {_mib(limit or 0)} "
            "under noeviction, so every write fails with storage_full. Raise maxmemory "
            "(CONFIG SET maxmemory ...) or forget old memories"
        )
    return Checkup(full=full, evicted_keys=evicted, warnings=tuple(warnings))


def reply_int(value: Any) -> int | None:
    """An ``INFO`` field as a whole number, or None when it is absent or not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def least_safe(found: Sequence[Capabilities]) -> Capabilities:
    """One `Capabilities` for the primaries of a cluster (or the one server): the first's,
    with the eviction policy and persistence of the least safe of them, so that a warning
    about one node is not hidden by the others."""
    first = found[0]
    evicting_node = next((c for c in found if c.evicts_durable_keys), first)
    aof = None if any(c.aof is None for c in found) else all(c.aof for c in found)
    return replace(first, maxmemory_policy=evicting_node.maxmemory_policy, aof=aof)
