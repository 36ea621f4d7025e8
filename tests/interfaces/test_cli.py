"""The `aether` command as a user runs it: a real process, a real server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.raw import modules_of, raw_client


def aether(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AETHER_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "aether_memory.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        check=check,
        timeout=90,
    )


@pytest.fixture
def home(tmp_path: Path):  # type: ignore[no-untyped-def]
    yield tmp_path
    aether("down", home=tmp_path, check=False)


def test_up_status_down(home: Path) -> None:
    assert aether("status", home=home, check=False).returncode == 1
    out = aether("up", "--fsync", "always", home=home).stdout
    url = next(line.split("=", 1)[1] for line in out.splitlines() if "AETHER_URL=" in line)
    client = redis.Redis.from_url(url)
    try:
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        assert {m[b"name"] for m in client.module_list()} >= {b"search", b"ReJSON", b"bf"}
    finally:
        client.close()
    assert "already running" in aether("up", home=home).stdout
    assert url in aether("status", home=home).stdout
    assert aether("down", home=home).stdout.strip() == "stopped"
    assert aether("status", home=home, check=False).returncode == 1


def test_up_plain(home: Path) -> None:
    out = aether("up", "--plain", home=home).stdout
    assert "none (plain)" in out


def test_demo_runs_two_processes_and_remembers(home: Path) -> None:
    first = aether("demo", home=home).stdout
    assert "started the local Redis" in first
    assert "0 earlier session(s)" in first
    assert "Resumed from checkpoint and finished" in first
    assert "write the recommendation" in first
    assert "hit" in first  # the repeated search came from the tool cache
    assert "Long-term memory: 3 new facts" in first
    assert "113 MiB" in first.split("recall(")[1]  # the second process recalls the right fact
    assert "saved episode" in first
    second = aether("demo", home=home).stdout
    assert "reusing the local Redis" in second
    assert "1 earlier session(s)" in second
    assert "0 new facts, 3 already known" in second  # remembered, not copied


def test_help_everywhere(home: Path) -> None:
    for command in ([], ["up"], ["down"], ["status"], ["demo"]):
        result = aether(*command, "--help", home=home)
        assert "Usage" in result.stdout


def test_serve_starts_the_rest_server(url: str, tmp_path: Path) -> None:
    import signal
    import time

    import httpx

    from aether_memory.server.local import free_port

    port = free_port()
    env = {
        **os.environ,
        "AETHER_URL": url,
        "AETHER_API_KEYS": "test-key-0123456789=*",
        "HF_HUB_OFFLINE": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "aether_memory.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ready = httpx.get(
                    f"http://127.0.0.1:{port}/readyz",
                    headers={"X-API-Key": "test-key-0123456789"},  # an admin key: the details
                    timeout=2,
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "aether serve did not start"
                time.sleep(0.2)
        assert ready.status_code == 200
        assert ready.json()["store"] == "redis"
        unauthorised = httpx.get(f"http://127.0.0.1:{port}/v1/namespaces/x/agents", timeout=5)
        assert unauthorised.status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_up_cluster_status_down(home: Path) -> None:
    out = aether("up", "--cluster", "3", "--replicas", "1", home=home).stdout
    url = next(line.split("=", 1)[1] for line in out.splitlines() if "AETHER_URL=" in line)
    assert url.startswith("redis+cluster://") and url.count(",") == 2
    r = raw_client(url)
    try:
        assert len(r.get_primaries()) == 3
        node = r.get_random_node()
        policy = r.execute_command("CONFIG GET", "maxmemory-policy", target_nodes=node)
        assert policy == {"maxmemory-policy": "noeviction"}
        assert b"search" in modules_of(r)
    finally:
        r.close()
    assert "already running" in aether("up", "--cluster", "3", home=home).stdout
    status = aether("status", home=home).stdout.replace("\n", " ")
    assert url in status.replace(" ", "") and "1 replicas each" in status
    assert "cluster stopped" in aether("down", home=home).stdout
    assert aether("status", home=home, check=False).returncode == 1
