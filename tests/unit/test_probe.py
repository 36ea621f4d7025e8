from __future__ import annotations

import pytest

from aether_memory.backends.redis.probe import capabilities, checkup
from aether_memory.core.types import Capabilities, Checkup


def test_capabilities_from_replies() -> None:
    caps = capabilities(
        {"redis_version": "8.2.3", "redis_mode": "standalone"},
        [{b"name": b"search"}, {b"name": b"ReJSON"}, {b"name": b"bf"}],
        {"maxmemory-policy": "allkeys-lru"},
        {"appendonly": "yes"},
        {"appendfsync": "always"},
        {"save": ""},
    )
    assert caps.search and caps.json and caps.bloom and caps.vector_sets
    assert caps.aof is True and caps.fsync == "always" and caps.rdb is False
    assert caps.evicts_durable_keys


def test_capabilities_when_config_is_refused() -> None:
    caps = capabilities(
        {"redis_version": "7.2.4", "aof_enabled": "0"}, None, None, None, None, None
    )
    assert not caps.search and not caps.vector_sets
    assert caps.aof is False and caps.maxmemory_policy is None and not caps.evicts_durable_keys


@pytest.mark.parametrize(
    ("policy", "evicts"),
    [
        ("noeviction", False),
        (None, False),
        ("volatile-lru", True),
        ("volatile-lfu", True),
        ("volatile-ttl", True),
        ("volatile-random", True),
        ("allkeys-lru", True),
        ("allkeys-random", True),
    ],
)
def test_every_policy_but_noeviction_evicts_this_projects_keys(
    policy: str | None, evicts: bool
) -> None:
    assert Capabilities("redis", "8.2.3", maxmemory_policy=policy).evicts_durable_keys is evicts


def test_checkup_reports_policy_evictions_and_a_full_server() -> None:
    quiet = checkup(
        {"used_memory": 10, "maxmemory": 0, "evicted_keys": 0},
        {"maxmemory-policy": "noeviction"},
        "redis://h",
    )
    assert quiet == Checkup(full=False, evicted_keys=0, warnings=())
    evicting = checkup(
        {"used_memory": 10, "maxmemory": 100, "evicted_keys": 42},
        {b"maxmemory-policy": b"volatile-lru"},
        "redis://h",
    )
    assert not evicting.full and evicting.evicted_keys == 42
    assert any("volatile-lru" in w and "TTL" in w for w in evicting.warnings)
    assert any("42 keys" in w for w in evicting.warnings)
    full = checkup(
        {"used_memory": 101, "maxmemory": 100, "evicted_keys": 0},
        {"maxmemory-policy": "noeviction"},
        "redis://h",
    )
    assert full.full and any("storage_full" in w for w in full.warnings)
    # A server that refuses CONFIG still names its policy in INFO.
    hidden = checkup({"maxmemory_policy": "allkeys-lru"}, None, "redis://h")
    assert any("allkeys-lru" in w for w in hidden.warnings) and hidden.evicted_keys is None
