from __future__ import annotations

from aether_memory.backends.redis.probe import capabilities


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
