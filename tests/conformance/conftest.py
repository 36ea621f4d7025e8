"""The conformance suite runs on one more store than the rest: the server with the modules
behind the fallback store, so each operation is also checked through its forwarders."""

from __future__ import annotations

import pytest

from aether_memory.server.local import RedisProcess
from tests.conftest import BACKENDS, backend_url


@pytest.fixture(params=(*BACKENDS, "redis-fallback"))
def url(request: pytest.FixtureRequest, servers: dict[str, RedisProcess]) -> str:
    """The URL of each kind of store in turn, the fallback store among them."""
    return backend_url(request, servers)
