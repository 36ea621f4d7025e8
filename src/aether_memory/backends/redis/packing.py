"""Commands packed by hiredis on the asyncio client too.

redis-py's sync connections pack commands with hiredis when it is installed; its asyncio
connections always pack in Python, one `Encoder.encode` call per argument. A recall's search
and fetch carry ~90 arguments between them, and packing them in Python cost the asyncio client
more than a loopback round trip (profiled at 100k memories). The packer is the one the sync
client uses, so both twins send the same bytes for the same arguments.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from redis.asyncio.connection import AbstractConnection
from redis.connection import HiredisRespSerializer
from redis.utils import HIREDIS_AVAILABLE


@cache
def hiredis_packing(connection_class: Any) -> Any:
    """`connection_class`, packing with hiredis if it is an asyncio connection class (a sync
    one already does) and hiredis is installed."""
    if not HIREDIS_AVAILABLE or not issubclass(connection_class, AbstractConnection):
        return connection_class
    packer = HiredisRespSerializer()

    class Packed(connection_class):  # type: ignore[misc]
        def pack_command(self, *args: Any) -> list[bytes]:
            packed: list[bytes] = packer.pack(*args)
            return packed

    Packed.__name__ = Packed.__qualname__ = f"Hiredis{connection_class.__name__}"
    return Packed
