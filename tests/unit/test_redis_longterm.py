"""Pure parts of the Redis long-term store."""

from __future__ import annotations

import pytest

from aether_memory.backends.redis._async.longterm import field_ttl


@pytest.mark.parametrize(
    ("version", "expected"),
    [("8.2.3", True), ("7.4.0", True), ("7.2.4", False), ("7.0.15", False), ("6", False),
     ("unknown", False), ("", False)],
)  # fmt: skip
def test_hash_fields_expire_from_redis_7_4(version: str, expected: bool) -> None:
    assert field_ttl(version) is expected
