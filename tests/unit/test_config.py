from __future__ import annotations

import logging

import pytest

from aether_memory.client.common import redacted, resolve_url
from aether_memory.core.config import Settings
from aether_memory.core.errors import ConfigurationError


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("AETHER_HOME", "/nonexistent-aether-home")
    return monkeypatch


def test_argument_wins_over_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("AETHER_URL", "redis://env:1/0")
    assert resolve_url("redis://arg:1/0", Settings()) == "redis://arg:1/0"


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"AETHER_URL": "redis://a:1/0", "MEMORY_REDIS_URL": "redis://m:1/0"}, "redis://a:1/0"),
        ({"MEMORY_REDIS_URL": "redis://m:1/0", "REDIS_URL": "redis://r:1/0"}, "redis://m:1/0"),
        ({"REDIS_URL": "redis://r:1/0", "REDIS_HOST": "h"}, "redis://r:1/0"),
        ({"REDIS_HOST": "h", "REDIS_PORT": "7000", "REDIS_DB": "2"}, "redis://h:7000/2"),
        ({"REDIS_HOST": "h", "REDIS_PASSWORD": "p@ss/w"}, "redis://:p%40ss%2Fw@h:6379/0"),
        ({"REDIS_PORT": "6380"}, "redis://127.0.0.1:6380/0"),
        ({}, "sqlite:////nonexistent-aether-home/memory.db"),  # no local server: a file
        ({"MEMORY_BACKEND": "sqlite"}, "sqlite:////nonexistent-aether-home/memory.db"),
        ({"MEMORY_BACKEND": "sqlite", "REDIS_URL": "redis://r:1/0"}, "redis://r:1/0"),
        ({"MEMORY_BACKEND": "redis"}, "redis://localhost:6379/0"),  # document 004's default
        ({"MEMORY_TYPE": "Redis", "REDIS_DB": "3"}, "redis://localhost:6379/3"),
        ({"MEMORY_BACKEND": "SQLite"}, "sqlite:////nonexistent-aether-home/memory.db"),
        ({"MEMORY_BACKEND": "redis", "REDIS_HOST": "h"}, "redis://h:6379/0"),
    ],
)
def test_url_precedence(env: pytest.MonkeyPatch, variables: dict[str, str], expected: str) -> None:
    for name, value in variables.items():
        env.setenv(name, value)
    assert resolve_url(None, Settings()) == expected


def test_backend_aliases(env: pytest.MonkeyPatch) -> None:
    env.setenv("MEMORY_TYPE", "redis")
    assert Settings().backend == "redis"
    env.setenv("MEMORY_BACKEND", "sqlite")
    assert Settings().backend == "sqlite"
    env.setenv("MEMORY_BACKEND", "REDIS")
    assert Settings().backend == "redis"


@pytest.mark.parametrize(
    ("variable", "value"), [("MEMORY_TYPE", "local"), ("MEMORY_BACKEND", "mongodb"),
                            ("AETHER_BACKEND", "redis-cluster")],
)  # fmt: skip
def test_an_unknown_backend_names_the_variable(
    env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    env.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        Settings()
    assert f"{variable}={value!r}" in str(raised.value)
    assert "redis, sqlite" in str(raised.value)


def test_an_implicit_sqlite_file_is_a_warning(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="aether_memory"):
        resolve_url(None, Settings())
    [record] = [r for r in caplog.records if "SQLite file" in r.getMessage()]
    assert record.levelno == logging.WARNING


def test_ttls_and_namespace_from_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("AETHER_NAMESPACE", "team")
    env.setenv("AETHER_TTL_WORKING", "120")
    options = Settings().options()
    assert options.namespace == "team"
    assert options.ttl.working == 120
    assert options.ttl.scratch == 900


def test_passwords_are_redacted() -> None:
    assert redacted("redis://user:secret@h:1/0") == "redis://user:***@h:1/0"
    assert redacted("redis://h:1/0") == "redis://h:1/0"
