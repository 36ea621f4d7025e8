"""The asyncio client sends the bytes the sync client sends, packed by hiredis too."""

from __future__ import annotations

import pytest
import redis
import redis.asyncio
from redis.exceptions import DataError

from aether_memory.backends.redis.packing import hiredis_packing

COMMANDS = [
    ("SET", "k", "välue"),
    ("HSET", b"h", "f", 1, "g", 2.5, "v", memoryview(b"\x00\xff")),
    ("EVALSHA", "0" * 40, 2, "a", "b", b"\x00" * 1536, -7),
    ("CONFIG GET", "maxmemory"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: str(c[0]))
def test_async_packing_matches_the_sync_client(command: tuple[object, ...]) -> None:
    sync = redis.Connection()
    packed = hiredis_packing(redis.asyncio.Connection)()
    assert b"".join(packed.pack_command(*command)) == b"".join(sync.pack_command(*command))
    # And what redis-py's own asyncio packing would have sent.
    plain = redis.asyncio.Connection()
    assert b"".join(packed.pack_command(*command)) == b"".join(plain.pack_command(*command))


def test_every_url_scheme_keeps_its_connection_class() -> None:
    for url in ("redis://localhost", "rediss://localhost", "unix:///tmp/r.sock"):
        pool = redis.asyncio.ConnectionPool.from_url(url)
        cls = hiredis_packing(pool.connection_class)
        assert issubclass(cls, pool.connection_class) and cls is not pool.connection_class
    assert hiredis_packing(redis.Connection) is redis.Connection  # the sync one already packs


def test_a_value_of_a_wrong_type_is_refused_before_anything_is_sent() -> None:
    packed = hiredis_packing(redis.asyncio.Connection)()
    with pytest.raises(DataError):
        packed.pack_command("SET", "k", None)
