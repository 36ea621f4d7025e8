"""Real stores for the test run: one Redis with the modules, one plain, started from the
registry binaries on free loopback ports and stopped at the end, a 3-primary Redis Cluster
(started only when a test asks for it), and one SQLite file. Each test works in its own
namespace, so nothing is ever flushed."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from aether_memory import AsyncMemory, Memory
from aether_memory.core.ids import new_id
from aether_memory.server.cluster import LocalCluster
from aether_memory.server.local import RedisProcess
from tests.word_embedder import WordHashEmbedder

# `pytest --hypothesis-profile=find`: report failing examples without shrinking them, which is
# quick where many examples fail (checking that a property test fails on older code).
settings.register_profile("find", phases=[Phase.explicit, Phase.reuse, Phase.generate])

# redis-7: Debian's redis-server package (Redis 7.0: neither the Query Engine nor vector sets),
# as `.ci/run` installs it; `AETHER_TEST_REDIS7` names another binary.
REDIS7 = os.environ.get("AETHER_TEST_REDIS7") or (
    "/usr/bin/redis-server" if Path("/usr/bin/redis-server").is_file() else ""
)
REDIS_BACKENDS = ("redis-modules", "redis-plain", "redis-7")
# redis-cluster: 3 primaries with the modules, no replicas (the failover tests start their own).
BACKENDS = (*REDIS_BACKENDS, "redis-cluster", "sqlite")


@pytest.fixture(scope="session", autouse=True)
def _clean_environment() -> Iterator[None]:
    """Keep the developer's own settings out of the tests."""
    names = [n for n in os.environ if n.startswith(("AETHER_", "REDIS_", "MEMORY_"))]
    saved = {n: os.environ.pop(n) for n in names}
    yield
    os.environ.update(saved)


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RedisProcess]]:
    started: dict[str, RedisProcess] = {}
    try:
        for name in REDIS_BACKENDS:
            if name == "redis-7" and not REDIS7:
                continue  # the fixtures below skip its tests, saying why
            server = RedisProcess(
                tmp_path_factory.mktemp(name),
                modules=name == "redis-modules",
                binary=Path(REDIS7) if name == "redis-7" else None,
            )
            server.start()
            started[name] = server
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One Redis Cluster for the whole run (3 primaries with the modules), as `aether up
    --cluster 3` starts it."""
    with LocalCluster(tmp_path_factory.mktemp("cluster"), primaries=3) as started:
        yield started


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite file for the run, shared like the servers (``sqlite:////abs/path``)."""
    return "sqlite:///" + str(tmp_path_factory.mktemp("sqlite") / "memory.db")


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, servers: dict[str, RedisProcess]) -> str:
    """The URL of each kind of store in turn."""
    return backend_url(request, servers)


def backend_url(request: pytest.FixtureRequest, servers: dict[str, RedisProcess]) -> str:
    """The URL of the store `request.param` names (see `url`)."""
    if request.param == "redis-fallback":
        # The server with the modules behind the fallback store: AETHER_FALLBACK names a
        # SQLite file of the test's own, so every operation goes through its forwarders.
        folder = request.getfixturevalue("tmp_path")
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setenv("AETHER_FALLBACK", "sqlite:///" + str(folder / "fallback.db"))
        return servers["redis-modules"].url
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    if request.param == "redis-cluster":
        return str(request.getfixturevalue("cluster").url)
    return server_named(servers, request.param).url


def server_named(servers: dict[str, RedisProcess], name: str) -> RedisProcess:
    """The session server `name`, or a skip when its binary is not installed."""
    if name not in servers:
        pytest.skip("no redis-server 7 binary (apt-get install redis-server)")
    return servers[name]


@pytest.fixture(params=REDIS_BACKENDS)
def redis_url(request: pytest.FixtureRequest, servers: dict[str, RedisProcess]) -> str:
    """The URL of each kind of Redis server in turn."""
    return server_named(servers, request.param).url


@pytest.fixture
def namespace() -> str:
    return "t" + new_id().lower()


@pytest.fixture
def mem(url: str, namespace: str) -> Iterator[Memory]:
    with Memory.open(url, namespace=namespace) as memory:
        yield memory


@pytest.fixture
def lt(url: str, namespace: str) -> Iterator[Memory]:
    """A memory with a small real embedder (hashed words): long-term tests stay fast, and
    tests/integration/test_embedders.py covers the real model."""
    with Memory.open(url, namespace=namespace, embedder=WordHashEmbedder()) as memory:
        yield memory


@pytest.fixture
async def amem(url: str, namespace: str) -> AsyncIterator[AsyncMemory]:
    memory = await AsyncMemory.open(url, namespace=namespace)
    async with memory:
        yield memory


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL 16 with pgvector for the run (the ``pgserver`` wheel, as `aether up
    --archive` starts it): on a Unix socket in a temp folder, no TCP port; stopped at the end."""
    from aether_memory.server.archive import start_postgres, stop_postgres

    folder = tmp_path_factory.mktemp("pg")
    url, _server = start_postgres(folder / "data", keep_running=True)
    try:
        yield url
    finally:
        stop_postgres(folder / "data")


ARCHIVES = ("sqlite-archive", "postgres-archive")


@pytest.fixture(params=ARCHIVES)
def archive_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each kind of archive in turn: a SQLite file of the test's own, or the run's PostgreSQL
    (namespaces keep tests apart there)."""
    if request.param == "sqlite-archive":
        return "sqlite:///" + str(tmp_path / "archive.db")
    return str(request.getfixturevalue("postgres_url"))
