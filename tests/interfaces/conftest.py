"""The interfaces are tested on Redis (their SQLite use is covered by the contract suite and
by tests that name it)."""

from __future__ import annotations

import pytest

from aether_memory.server.local import RedisProcess
from tests.conftest import REDIS_BACKENDS, server_named


@pytest.fixture(params=REDIS_BACKENDS)
def url(request: pytest.FixtureRequest, servers: dict[str, RedisProcess]) -> str:
    return server_named(servers, request.param).url
