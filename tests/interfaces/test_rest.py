"""The REST server as a client sees it: real server processes (`python -m aether_memory.rest`)
on free ports, a real HTTP client, both test Redis servers.

Each test works in its own namespace; the namespaces reachable by the scoped keys are made up
once per run. The restart check of KAOS (document 003) runs two server processes on one Redis,
kills one with SIGKILL mid-conversation and reads everything back through the other and through
a restarted one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from aether_memory.core.errors import ConfigurationError
from aether_memory.core.ids import _NAME, new_id
from aether_memory.rest.app import create_app
from aether_memory.rest.deps import NAME_PATTERN
from aether_memory.rest.errors import CODE_BY_STATUS, STATUS_BY_CODE
from aether_memory.rest.server import is_loopback
from aether_memory.rest.settings import RestSettings, parse_api_keys
from aether_memory.server.local import RedisProcess, free_port
from tests.conftest import REDIS_BACKENDS, server_named
from tests.hostile import invalid_utf8, is_json_safe, json_fragments
from tests.net import lan_address

RUN = new_id().lower()[-8:]
KEY_ALL = f"test-admin-{secrets.token_hex(8)}"
KEY_A = f"test-key-a-{secrets.token_hex(8)}"
KEY_B = f"test-key-b-{secrets.token_hex(8)}"
NS_A = f"rest-a-{RUN}"
NS_B = f"rest-b-{RUN}"
API_KEYS = f"{KEY_ALL}=*;{KEY_A}={NS_A};{KEY_B}={NS_B},{NS_B}-2"
ADMIN_ALL = f"test-root-{secrets.token_hex(8)}"
ADMIN_A = f"test-root-a-{secrets.token_hex(8)}"
ADMIN_KEYS = f"{ADMIN_ALL}=*;{ADMIN_A}={NS_A}"
START_TIMEOUT = 30.0


# -- server processes ------------------------------------------------------------------------------
@dataclass
class RestServer:
    """One `python -m aether_memory.rest` process and where it listens."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def client(self, key: str | None = KEY_ALL) -> httpx.Client:
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no lifespan, no flushing."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait: a graceful shutdown closes the memory clients."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def spawn(
    redis_url: str,
    log: Path,
    *args: str,
    port: int | None = None,
    keys: str | None = API_KEYS,
    env: dict[str, str] | None = None,
    command: tuple[str, ...] = ("-m", "aether_memory.rest"),
) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "AETHER_URL": redis_url,
        "HF_HUB_OFFLINE": "1",
        "AETHER_ACCESS_LOG": "0",
        **(env or {}),
    }
    if keys is not None:
        environment["AETHER_API_KEYS"] = keys
        environment.setdefault("AETHER_ADMIN_KEYS", ADMIN_KEYS)
    port_args = ["--port", str(port)] if port is not None else []
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *command, *port_args, *args],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def start(
    redis_url: str,
    folder: Path,
    *args: str,
    port: int | None = None,
    timeout: float = START_TIMEOUT,
    **kwargs: Any,
) -> RestServer:
    """Start a server and wait until /healthz answers (for `timeout` seconds)."""
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"rest-{port}-{time.monotonic_ns()}.log"
    server = RestServer(spawn(redis_url, log, *args, port=port, **kwargs), port, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(
                f"the server exited ({server.proc.returncode}):\n{server.output()}"
            )
        try:
            if httpx.get(f"{server.base}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    server.kill()
    raise AssertionError(f"the server did not come up:\n{server.output()}")


@dataclass
class Api:
    server: RestServer
    backend: str
    redis_url: str


@pytest.fixture(scope="module", params=REDIS_BACKENDS)
def api(
    request: pytest.FixtureRequest,
    servers: dict[str, RedisProcess],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Api]:
    """A server process per kind of Redis, shared by the module's tests."""
    redis_url = server_named(servers, request.param).url
    server = start(redis_url, tmp_path_factory.mktemp("rest"))
    try:
        yield Api(server, request.param, redis_url)
    finally:
        server.stop()


@pytest.fixture
def http(api: Api) -> Iterator[httpx.Client]:
    with api.server.client() as client:
        yield client


def error(response: httpx.Response, status: int, code: str) -> str:
    """Assert an error response's status and shape; returns its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    return message


def session_path(ns: str, agent: str = "a1", session: str = "s1") -> str:
    return f"/v1/namespaces/{ns}/agents/{agent}/sessions/{session}"


# -- pure pieces -----------------------------------------------------------------------------------
def test_name_pattern_is_the_library_rule() -> None:
    assert f"^{_NAME.pattern}$" == NAME_PATTERN


def test_every_library_code_has_a_status() -> None:
    from aether_memory.core import errors

    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type)
        and issubclass(cls, errors.AetherError)
        and cls is not errors.AetherError
    }
    assert codes <= set(STATUS_BY_CODE)
    assert STATUS_BY_CODE["invalid_input"] == 400 and STATUS_BY_CODE["unavailable"] == 503
    assert STATUS_BY_CODE["storage_full"] == 507 and STATUS_BY_CODE["damaged"] == 500


def test_api_keys_format() -> None:
    keys = parse_api_keys(f" {KEY_A}=ns1, ns2 ; {KEY_ALL}=* ;")
    assert [k.key for k in keys] == [KEY_A, KEY_ALL]
    assert keys[0].namespaces == {"ns1", "ns2"} and keys[1].namespaces is None
    assert keys[0].allows("ns1") and not keys[0].allows("ns3") and keys[1].allows("any")
    for bad in (
        "short=ns1",
        f"{KEY_A}",
        f"{KEY_A}=",
        f"{KEY_A}=a:b",
        f"{KEY_A}=ns,*",
        f"{KEY_A}=x;{KEY_A}=y",
    ):
        with pytest.raises(ConfigurationError) as info:
            parse_api_keys(bad)
        assert KEY_A not in str(info.value)  # a key never appears in a message


def test_loopback_hosts() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.5", "example.com"]))


# -- health, auth, errors --------------------------------------------------------------------------
def test_health_and_readiness(api: Api) -> None:
    with api.server.client(key=None) as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        ready = anonymous.get("/readyz")
    # Without a key, or with a tenant's key, only whether it is ready: not where the store is.
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready"}
    with api.server.client(KEY_A) as tenant:
        assert tenant.get("/readyz").json() == {"status": "ready"}
    with api.server.client(KEY_ALL) as admin:
        ready = admin.get("/readyz")
    body = ready.json()
    assert body["status"] == "ready"
    assert body["store"] == "redis"
    assert body["url"] == api.redis_url
    assert body["capabilities"]["search"] is (api.backend == "redis-modules")
    assert body["capabilities"]["server_version"].startswith(
        "7." if api.backend == "redis-7" else "8."
    )


def test_openapi_and_docs(http: httpx.Client) -> None:
    schema = http.get("/openapi.json").json()
    ops = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {"recall", "working_set", "run_tool", "restore_checkpoint", "cache_lookup"} <= ops
    assert not any(
        "422" in op["responses"] for path in schema["paths"].values() for op in path.values()
    )
    docs = http.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # Every asset the page loads comes from this server (the page renders offline).
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", docs.text)
    assert assets and all(a.startswith("/docs/assets/") for a in assets), assets
    for asset in assets:
        fetched = http.get(asset)
        assert fetched.status_code == 200 and len(fetched.content) > 100, asset
    assert "SwaggerUIBundle" in http.get("/docs/assets/swagger-ui-bundle.js").text


def test_auth_is_required_and_scoped(api: Api) -> None:
    path = session_path(NS_A) + "/working"
    with api.server.client(key=None) as anonymous:
        response = anonymous.get(path)
        error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
        error(
            anonymous.get(path, headers={"X-API-Key": "not-a-key-" + "x" * 20}), 401, "unauthorized"
        )
        error(
            anonymous.get(path, headers={"Authorization": f"Bearer {KEY_A}x"}), 401, "unauthorized"
        )
        error(anonymous.get("/v1/tools"), 401, "unauthorized")
        # Both header forms work.
        assert anonymous.get(path, headers={"Authorization": f"Bearer {KEY_A}"}).is_success
        assert anonymous.get(path, headers={"X-API-Key": KEY_A}).is_success
        assert anonymous.get("/v1/tools", headers={"X-API-Key": KEY_B}).is_success
    with api.server.client(KEY_A) as a:
        message = error(a.get(session_path(NS_B) + "/working"), 403, "forbidden")
        assert NS_B in message
        error(a.get(f"/v1/namespaces/{NS_B}/agents"), 403, "forbidden")
        error(
            a.put(f"/v1/namespaces/{NS_B}/cache/web", json={"args": 1, "result": 2}),
            403,
            "forbidden",
        )


def test_a_key_cannot_reach_another_namespace(api: Api) -> None:
    suffix = new_id().lower()
    a_path, b_path = session_path(NS_A, session=suffix), session_path(NS_B, session=suffix)
    with api.server.client(KEY_A) as a, api.server.client(KEY_B) as b:
        assert a.put(a_path + "/working/secret", json={"value": "A's"}).status_code == 204
        assert a.post(a_path + "/checkpoints", json={"state": {"owner": "A"}}).status_code == 201
        memory = a.post(
            f"/v1/namespaces/{NS_A}/agents/a1/memories",
            json={"content": f"A's private fact {suffix}"},
        )
        assert memory.status_code == 201, memory.text
        memory_id = memory.json()["id"]
        # B, with the same agent, session and memory id, sees nothing of A's and cannot ask.
        for request in (
            b.get(a_path + "/working/secret"),
            b.get(a_path + "/checkpoints/latest"),
            b.get(f"/v1/namespaces/{NS_A}/memories/{memory_id}"),
            b.delete(f"/v1/namespaces/{NS_A}/memories/{memory_id}"),
            b.post(f"/v1/namespaces/{NS_A}/agents/a1/recall", json={"query": "private fact"}),
            b.post(
                f"/v1/namespaces/{NS_A}/agents/a1/tools/search_memory", json={"query": "private"}
            ),
        ):
            error(request, 403, "forbidden")
        error(b.get(b_path + "/working/secret"), 404, "not_found")
        assert b.get(b_path + "/checkpoints/latest").json() == {"state": None}
        error(b.get(f"/v1/namespaces/{NS_B}/memories/{memory_id}"), 404, "not_found")
        hits = b.post(f"/v1/namespaces/{NS_B}/agents/a1/recall", json={"query": "private fact"})
        assert suffix not in hits.text
        # A still has all of it.
        assert a.get(a_path + "/working/secret").json()["value"] == "A's"
        assert a.get(f"/v1/namespaces/{NS_A}/memories/{memory_id}").is_success


def test_error_statuses(http: httpx.Client, namespace: str) -> None:
    s = session_path(namespace)
    # 400: the library's validation and FastAPI's, in one shape.
    assert "agent" in error(
        http.get(s.replace("/a1/", "/bad:agent/") + "/working"), 400, "invalid_input"
    )
    error(http.get(f"/v1/namespaces/{namespace}/agents/a%7Bb%7D/state"), 400, "invalid_input")
    error(http.post(s + "/events", json={"type": "x"}), 400, "invalid_input")  # no data
    error(http.post(s + "/events", json={"type": "bad type", "data": 1}), 400, "invalid_input")
    error(
        http.post(
            s + "/events", content=b"{not json", headers={"content-type": "application/json"}
        ),
        400,
        "invalid_input",
    )
    error(http.put(s + "/working/k", json={"value": 1, "extra": 2}), 400, "invalid_input")
    error(http.get(s + "/checkpoints/0"), 400, "invalid_input")
    error(http.get(s + "/events", params={"limit": "many"}), 400, "invalid_input")
    error(
        http.patch(f"/v1/namespaces/{namespace}/agents/a1/state", json={"fields": {"self": 1}}),
        400,
        "invalid_input",
    )
    error(
        http.post(
            f"/v1/namespaces/{namespace}/agents/a1/memories",
            json={"content": "x", "occurred_at": 10**20},
        ),
        400,
        "invalid_input",
    )
    error(
        http.post(f"/v1/namespaces/{namespace}/agents/a1/tools/no_such_tool", json={}),
        400,
        "invalid_input",
    )
    # 404: unknown items and unknown routes alike.
    error(http.get(s + "/checkpoints/7"), 404, "not_found")
    error(http.get(f"/v1/namespaces/{namespace}/memories/{new_id()}"), 404, "not_found")
    error(http.get(f"/v1/namespaces/{namespace}/agents/a1/skills/nothing"), 404, "not_found")
    error(http.get(f"/v1/namespaces/{namespace}/agents/a1/identity/nothing"), 404, "not_found")
    error(http.get("/v1/nothing-here"), 404, "not_found")
    error(http.delete("/healthz"), 405, "method_not_allowed")
    # 413: a value over the library's 1 MiB limit, and bodies over the server's 2 MiB limit.
    big = "x" * (1024 * 1024 + 10)
    error(http.put(s + "/working/big", json={"value": big}), 413, "too_large")
    huge = b'{"value": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    error(
        http.put(s + "/working/big", content=huge, headers={"content-type": "application/json"}),
        413,
        "too_large",
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"value": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    error(
        http.put(
            s + "/working/big", content=chunks(), headers={"content-type": "application/json"}
        ),
        413,
        "too_large",
    )
    error(http.get(s + "/working/big"), 404, "not_found")  # nothing was written


def test_unreachable_store_is_503(tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    server = start(dead, tmp_path)
    try:
        with server.client() as http:
            assert http.get("/healthz").status_code == 200  # alive, not ready
            response = http.get("/readyz")
            error(response, 503, "unavailable")
            assert response.headers["retry-after"] == "1"
            error(http.get(session_path("ns1") + "/working"), 503, "unavailable")
            error(
                http.post(session_path("ns1") + "/events", json={"type": "t", "data": 1}),
                503,
                "unavailable",
            )
        with server.client(key=None) as anonymous:  # not told where the store is
            message = error(anonymous.get("/readyz"), 503, "unavailable")
            assert dead.split("//")[1].split("/")[0] not in message, message
    finally:
        server.stop()
    assert "Traceback" not in server.output()


def test_refuses_to_expose_memory_without_keys(
    servers: dict[str, RedisProcess], tmp_path: Path
) -> None:
    redis_url = servers["redis-plain"].url
    port = free_port()
    refused = subprocess.run(
        [sys.executable, "-m", "aether_memory.rest", "--host", "0.0.0.0", "--port", str(port)],
        env={**os.environ, "AETHER_URL": redis_url, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "AETHER_API_KEYS" in refused.stderr and "--insecure-no-auth" in refused.stderr
    malformed = subprocess.run(
        [sys.executable, "-m", "aether_memory.rest", "--port", str(port)],
        env={**os.environ, "AETHER_URL": redis_url, "AETHER_API_KEYS": "tooshort-key=ns"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert malformed.returncode == 2 and "AETHER_API_KEYS" in malformed.stderr
    assert "tooshort-key" not in malformed.stderr
    # On loopback without keys it serves, with a warning; on 0.0.0.0 only when told so.
    local = start(redis_url, tmp_path, keys=None)
    try:
        with local.client(key=None) as http:
            assert http.get(session_path("anyns") + "/working").status_code == 200
        assert "no API keys" in local.output()
    finally:
        local.stop()
    exposed = start(redis_url, tmp_path, "--host", "0.0.0.0", "--insecure-no-auth", keys=None)
    try:
        assert "WITHOUT authentication" in exposed.output()
    finally:
        exposed.stop()


UVICORN_FACTORY = ("-m", "uvicorn", "--factory", "aether_memory.rest:create_app")


def test_the_app_without_keys_answers_only_this_machine(
    servers: dict[str, RedisProcess], tmp_path: Path
) -> None:
    """`create_app` served by plain uvicorn on every interface, with no keys: what a user who
    builds the app gets. Requests from another address, or through a proxy, are refused."""
    redis_url = servers["redis-plain"].url
    lan = lan_address()
    ns = "exposed-" + new_id().lower()
    path = session_path(ns) + "/working/secret"
    server = start(redis_url, tmp_path, "--host", "0.0.0.0", keys=None, command=UVICORN_FACTORY)
    try:
        with server.client(key=None) as local:
            assert local.put(path, json={"value": "mine"}).status_code == 204
            assert local.get(path).json()["value"] == "mine"
            assert local.get("/readyz").json()["store"] == "redis"  # this machine: details
            forwarded = local.get(path, headers={"X-Forwarded-For": "203.0.113.7"})
            message = error(forwarded, 403, "forbidden")
            assert "AETHER_API_KEYS" in message
        if lan is not None:
            with httpx.Client(base_url=f"http://{lan}:{server.port}", timeout=30) as remote:
                error(remote.get(path), 403, "forbidden")
                error(remote.get(f"/v1/namespaces/{ns}/agents"), 403, "forbidden")
                error(remote.put(path, json={"value": "theirs"}), 403, "forbidden")
                assert remote.get("/readyz").json() == {"status": "ready"}
                assert remote.get("/healthz").json() == {"status": "ok"}
        with server.client(key=None) as local:
            assert local.get(path).json()["value"] == "mine"  # nothing was overwritten
    finally:
        server.stop()
    assert "answering only requests made on this machine" in server.output()
    if lan is None:
        pytest.skip("this machine has no non-loopback address: only the proxy case was tested")
    # Serving everyone without keys is possible, but only when asked for by name.
    env = {"AETHER_INSECURE_NO_AUTH": "1"}
    server = start(
        redis_url, tmp_path, "--host", "0.0.0.0", keys=None, env=env, command=UVICORN_FACTORY
    )
    try:
        with httpx.Client(base_url=f"http://{lan}:{server.port}", timeout=30) as remote:
            assert remote.get(path).json()["value"] == "mine"
    finally:
        server.stop()
    assert "WITHOUT authentication" in server.output()


def _read_all(sock: socket.socket) -> bytes:
    """What the server sends until it closes. A reset counts as the close: a client still
    dripping bytes at a server that replied and closed gets one, by TCP's rules."""
    reply = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def test_a_stalled_request_body_is_timed_out(
    servers: dict[str, RedisProcess], tmp_path: Path
) -> None:
    """A client that sends the headers and part of the body, then waits (or drips a byte at a
    time), gets 408 and a closed connection; nothing is written."""
    server = start(servers["redis-plain"].url, tmp_path, env={"AETHER_BODY_TIMEOUT": "1"})
    path = session_path(NS_A, session=new_id().lower()) + "/working/k"
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: test\r\nX-API-Key: {KEY_ALL}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    ).encode()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
            sock.sendall(head + b'{"value": "')  # then nothing
            stalled = _read_all(sock)
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
            sock.sendall(head)
            sock.settimeout(0.2)
            dripped = b""
            for _ in range(200):  # a byte every 0.2 s: each read is quick, the body never ends
                sock.sendall(b"x")
                try:
                    dripped = sock.recv(65536)
                except TimeoutError:
                    continue
                break
            sock.settimeout(20)
            dripped += _read_all(sock)
        for reply in (stalled, dripped):
            status, _, rest = reply.partition(b"\r\n")
            assert status == b"HTTP/1.1 408 Request Timeout", reply
            headers, _, body = rest.partition(b"\r\n\r\n")
            assert b"connection: close" in headers.lower()
            assert json.loads(body)["error"]["code"] == "timeout"
        with server.client() as http:
            error(http.get(path), 404, "not_found")
            assert http.put(path, json={"value": 1}).status_code == 204  # still serving
    finally:
        server.stop()


# -- every route family ----------------------------------------------------------------------------
def test_identity_and_state(http: httpx.Client, namespace: str) -> None:
    a = f"/v1/namespaces/{namespace}/agents/planner"
    assert http.put(a + "/identity/mission", json={"text": "Ship it."}).status_code == 204
    assert (
        http.patch(
            a + "/identity", json={"documents": {"persona": "Careful.", "rules": "No."}}
        ).status_code
        == 204
    )
    assert http.get(a + "/identity/mission").json() == {"name": "mission", "text": "Ship it."}
    assert http.get(a + "/identity").json()["documents"] == {
        "mission": "Ship it.",
        "persona": "Careful.",
        "rules": "No.",
    }
    assert http.delete(a + "/identity/rules").json() == {"deleted": True}
    assert http.delete(a + "/identity/rules").json() == {"deleted": False}
    assert http.get(a + "/state").json() == {"state": {}}
    fields = {"status": "busy", "current_task": "report", "active_tools": ["search"]}
    assert http.patch(a + "/state", json={"fields": fields}).status_code == 204
    assert http.patch(a + "/state", json={"fields": {"status": "idle"}}).status_code == 204
    state = http.get(a + "/state").json()["state"]
    assert state["status"] == "idle" and state["active_tools"] == ["search"]
    assert isinstance(state["updated_at"], int)
    listed = http.get(f"/v1/namespaces/{namespace}/agents").json()
    assert listed == {"agents": ["planner"], "next": None, "next_cursor": None}


def test_sessions_meta_history_rotate(http: httpx.Client, namespace: str) -> None:
    a = f"/v1/namespaces/{namespace}/agents/a1"
    new = http.post(a + "/sessions")
    assert new.status_code == 201 and len(new.json()["id"]) == 26
    s = session_path(namespace)
    assert http.put(s + "/working/goal", json={"value": "carry me"}).status_code == 204
    meta = http.get(s + "/meta").json()["meta"]
    assert meta["agent"] == "a1" and isinstance(meta["created_at"], int)
    rotated = http.post(s + "/rotate")
    assert rotated.status_code == 201
    s2 = rotated.json()["id"]
    assert http.get(s + "/history").json() == {"sessions": ["s1", s2]}
    assert http.get(session_path(namespace, session=s2) + "/history").json()["sessions"] == [
        "s1",
        s2,
    ]
    assert http.get(session_path(namespace, session=s2) + "/working/goal").json()["value"] == (
        "carry me"
    )
    assert http.get(session_path(namespace, session=s2) + "/meta").json()["meta"]["parent"] == "s1"
    sessions = http.get(a + "/sessions", params={"limit": 10}).json()["sessions"]
    assert {x["id"] for x in sessions} == {"s1", s2}


@pytest.mark.parametrize("kind", ["working", "scratch"])
def test_working_memory_and_scratchpad(http: httpx.Client, namespace: str, kind: str) -> None:
    w = session_path(namespace) + f"/{kind}"
    assert http.get(w).json() == {"values": {}}
    assert (
        http.put(w + "/goal", json={"value": {"title": "Q3", "due": "friday"}}).status_code == 204
    )
    assert http.put(w + "/a/b c%2Fd", json={"value": None}).status_code == 204  # any key
    assert (
        http.patch(w, json={"values": {"draft": 2, "reviewer": "ana", "n": 1.5}}).status_code == 204
    )
    assert http.get(w + "/goal").json() == {
        "key": "goal",
        "value": {"title": "Q3", "due": "friday"},
    }
    assert http.get(w + "/a/b c%2Fd").json() == {"key": "a/b c/d", "value": None}
    values = http.get(w).json()["values"]
    assert values == {
        "goal": {"title": "Q3", "due": "friday"},
        "a/b c/d": None,
        "draft": 2,
        "reviewer": "ana",
        "n": 1.5,
    }
    assert http.delete(w + "/draft").json() == {"deleted": 1}
    assert http.delete(w + "/draft").json() == {"deleted": 0}
    assert http.post(w + "/delete", json={"keys": ["reviewer", "n", "nope"]}).json() == {
        "deleted": 2
    }
    assert set(http.get(w).json()["values"]) == {"goal", "a/b c/d"}
    assert http.delete(w).status_code == 204
    assert http.get(w).json() == {"values": {}}
    error(http.get(w + "/goal"), 404, "not_found")


def test_events_and_steps(http: httpx.Client, namespace: str) -> None:
    s = session_path(namespace)
    step = http.post(
        s + "/steps",
        json={
            "action": "search",
            "observation": "found 3",
            "reasoning": "need numbers",
            "data": {"query": "Q3"},
        },
    )
    assert step.status_code == 201, step.text
    assert step.json()["type"] == "step"
    assert step.json()["data"] == {
        "action": "search",
        "observation": "found 3",
        "reasoning": "need numbers",
        "query": "Q3",
    }
    failed = http.post(s + "/steps", json={"action": "sql", "success": False})
    assert failed.json()["outcome"] == "failure"
    error(
        http.post(s + "/steps", json={"action": "x", "data": {"action": "y"}}), 400, "invalid_input"
    )
    call = http.post(
        s + "/events", json={"type": "tool_call", "data": {"tool": "sql"}, "latency_ms": 8.4}
    )
    assert call.json()["latency_ms"] == 8.4
    batch = http.post(
        s + "/events/batch",
        json={
            "events": [
                {"type": "user_message", "data": {"text": "hi"}},
                {"type": "assistant_message", "data": {"text": "hello"}, "outcome": "ok"},
            ]
        },
    )
    assert batch.status_code == 201 and len(batch.json()["events"]) == 2
    events = http.get(s + "/events").json()["events"]
    assert [e["type"] for e in events] == [
        "step",
        "step",
        "tool_call",
        "user_message",
        "assistant_message",
    ]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    last = http.get(s + "/events", params={"limit": 2}).json()["events"]
    assert [e["type"] for e in last] == ["user_message", "assistant_message"]
    steps = http.get(s + "/events", params=[("type", "step"), ("type", "tool_call")])
    assert [e["type"] for e in steps.json()["events"]] == ["step", "step", "tool_call"]
    assert http.get(s + "/events", params={"limit": 0}).json() == {"events": []}


def test_add_messages(http: httpx.Client, namespace: str) -> None:
    s = session_path(namespace)
    added = http.post(
        s + "/messages",
        json={
            "messages": [
                {"speaker": "Ana", "content": "I moved to Porto", "at": "2024-01-05T09:30:00Z"},
                {"role": "user", "content": "Any refunds pending?", "at": 1704447060000},
            ]
        },
    )
    assert added.status_code == 201, added.text
    turns = added.json()["messages"]
    assert [(t["speaker"], t["at"]) for t in turns] == [
        ("Ana", 1704447000000),
        ("user", 1704447060000),
    ]
    events = http.get(s + "/events", params={"type": "message"}).json()["events"]
    assert [e["data"]["memory_id"] for e in events] == [t["memory_id"] for t in turns]
    hits = http.post(
        f"/v1/namespaces/{namespace}/agents/a1/recall", json={"query": "refund", "k": 1}
    ).json()
    assert hits["hits"][0]["record"]["id"] == turns[1]["memory_id"]
    unsaid = http.post(s + "/messages", json={"messages": [{"content": "who?"}]})
    error(unsaid, 400, "invalid_input")


def test_checkpoints_and_tool_schema(http: httpx.Client, namespace: str) -> None:
    s = session_path(namespace)
    assert http.get(s + "/checkpoints/latest").json() == {"state": None}
    assert http.post(s + "/checkpoints", json={"state": {"section": 1}}).json() == {"n": 1}
    assert http.post(s + "/checkpoints", json={"state": {"section": 2}}).json() == {"n": 2}
    assert http.get(s + "/checkpoints/latest").json() == {"state": {"section": 2}}
    assert http.get(s + "/checkpoints/1").json() == {"state": {"section": 1}}
    listed = http.get(s + "/checkpoints").json()["checkpoints"]
    assert [c["n"] for c in listed] == [1, 2] and all(c["created_at_ms"] > 0 for c in listed)
    assert all(c["created_at"].endswith("Z") for c in listed)
    first = http.post(s + "/tool-schema", json={"value": [{"name": "sql"}]})
    assert first.json() == {"value": [{"name": "sql"}]}
    second = http.post(s + "/tool-schema", json={"value": [{"name": "other"}]})
    assert second.json() == {"value": [{"name": "sql"}]}  # built once per session


def test_tool_cache(http: httpx.Client, namespace: str) -> None:
    c = f"/v1/namespaces/{namespace}/cache/web_search"
    args = {"q": "redis streams", "n": 3}
    assert http.post(c + "/lookup", json={"args": args}).json() == {"hit": False, "result": None}
    assert http.put(c, json={"args": args, "result": ["a", "b"], "ttl": 60}).status_code == 204
    same = {"n": 3, "q": "redis streams"}  # canonical JSON: key order does not matter
    assert http.post(c + "/lookup", json={"args": same}).json() == {
        "hit": True,
        "result": ["a", "b"],
    }
    assert http.put(c, json={"args": 1, "result": None}).status_code == 204
    assert http.post(c + "/lookup", json={"args": 1}).json() == {"hit": True, "result": None}
    other = f"/v1/namespaces/{namespace}/cache/other_tool/lookup"
    assert http.post(other, json={"args": args}).json()["hit"] is False
    error(http.put(c, json={"args": 1, "result": 1, "ttl": 0}), 400, "invalid_input")


def test_long_term_memory(http: httpx.Client, namespace: str) -> None:
    a = f"/v1/namespaces/{namespace}/agents/assistant"
    first = http.post(
        a + "/memories",
        json={
            "content": "Leonor moved from Lisbon to Porto in March",
            "kind": "fact",
            "importance": 0.8,
            "tags": ["home"],
            "occurred_at": "2026-03-16T00:00:00Z",
            "metadata": {"source_doc": 7},
        },
    )
    assert first.status_code == 201, first.text
    rec = first.json()
    assert rec["status"] == "created" and rec["occurred_at_ms"] == 1773619200000
    assert rec["occurred_at"] == "2026-03-16T00:00:00.000Z"
    again = http.post(
        a + "/memories", json={"content": "Leonor moved from Lisbon to Porto in March"}
    )
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert again.json()["id"] == rec["id"]
    many = http.post(
        a + "/memories/batch",
        json={
            "items": [
                "Deploy of billing-service v2.3 failed: migration 0042 timed out",
                {
                    "content": "Prefers answers as short bullet points",
                    "kind": "preference",
                    "related": [rec["id"]],
                },
            ]
        },
    )
    assert many.status_code == 201, many.text
    linked = many.json()["memories"][1]
    assert [m["status"] for m in many.json()["memories"]] == ["created", "created"]

    hits = http.post(a + "/recall", json={"query": "where does Leonor live now?", "k": 3}).json()
    assert hits["hits"][0]["record"]["id"] == rec["id"]
    assert set(hits["hits"][0]) == {
        "record",
        "score",
        "vector",
        "text",
        "exact",
        "recency",
        "importance",
    }
    code = http.post(a + "/recall", json={"query": "migration 0042", "k": 1}).json()["hits"]
    assert "0042" in code[0]["record"]["content"]
    filtered = http.post(
        a + "/recall",
        json={
            "query": "Leonor",
            "tags": ["home"],
            "kinds": ["fact"],
            "since": "2026-01-01T00:00:00Z",
            "min_importance": 0.5,
            "agents": ["assistant"],
        },
    ).json()["hits"]
    assert [h["record"]["id"] for h in filtered] == [rec["id"]]
    assert http.post(
        a + "/recall", json={"query": "Leonor", "agents": ["someone-else"]}
    ).json() == {"hits": []}

    m = f"/v1/namespaces/{namespace}/memories/{rec['id']}"
    got = http.get(m).json()
    assert got["content"].startswith("Leonor") and got["metadata"] == {"source_doc": 7}
    updated = http.patch(m, json={"importance": 0.3, "tags": ["home", "moved"]}).json()
    assert updated["importance"] == 0.3 and updated["tags"] == ["home", "moved"]
    # `linked` points at `rec`: forgetting it with cascade removes both.
    assert http.delete(
        f"/v1/namespaces/{namespace}/memories/{linked['id']}", params={"cascade": "true"}
    ).json() == {"removed": 2}
    error(http.get(m), 404, "not_found")


def test_a_correction_supersedes_and_filters_are_typed(http: httpx.Client, namespace: str) -> None:
    a = f"/v1/namespaces/{namespace}/agents/assistant"
    old = http.post(a + "/memories", json={"content": "Ana is allergic to nuts"}).json()
    fix = http.post(a + "/memories", json={"content": "Ana is not allergic to nuts"})
    assert fix.status_code == 201, fix.text  # stored: a correction is a new memory
    assert (fix.json()["status"], fix.json()["supersedes"]) == ("superseded", old["id"])
    got = http.get(f"/v1/namespaces/{namespace}/memories/{old['id']}").json()
    assert got["superseded_by"] == fix.json()["id"]

    def recalled(**extra: Any) -> list[str]:
        body = {"query": "is Ana allergic to nuts?", "k": 5, **extra}
        return [h["record"]["id"] for h in http.post(a + "/recall", json=body).json()["hits"]]

    assert recalled() == [fix.json()["id"]]
    assert set(recalled(include_superseded=True)) == {old["id"], fix.json()["id"]}
    assert recalled(until=0) == []
    for name, value in [("kinds", "fact"), ("tags", "x"), ("min_importance", "0.5"),
                        ("include_superseded", "yes"), ("since", "yesterday")]:  # fmt: skip
        message = error(http.post(a + "/recall", json={"query": "Ana", name: value}), 400,
                        "invalid_input")  # fmt: skip
        assert name in message
    listed = f"/v1/namespaces/{namespace}/memories"

    def ids(**params: Any) -> list[str]:
        return [m["id"] for m in http.get(listed, params=params).json()["memories"]]

    assert ids() == [fix.json()["id"]]  # current memories only
    assert ids(include_superseded="true") == sorted([old["id"], fix.json()["id"]])
    assert ids(superseded_only="true") == [old["id"]]


def test_episodes_skills_search_context_introspect(http: httpx.Client, namespace: str) -> None:
    a = f"/v1/namespaces/{namespace}/agents/ops"
    s = session_path(namespace, agent="ops", session="deploy-1")
    http.post(
        s + "/steps",
        json={"action": "deploy", "observation": "migration 0042 timed out", "success": False},
    )
    assert (
        http.post(
            a + "/memories", json={"content": "billing-service runs on Postgres 16"}
        ).status_code
        == 201
    )
    episode = http.post(
        s + "/episode",
        json={
            "task_prompt": "Deploy billing v2.3",
            "outcome": "rolled back to v2.2.4",
            "success": False,
            "duration_seconds": 310,
            "tags": ["billing"],
        },
    )
    assert episode.status_code == 201, episode.text
    assert episode.json()["steps"][0]["action"] == "deploy"
    found = http.post(a + "/episodes/search", json={"query": "what went wrong with billing?"})
    assert found.json()["episodes"][0]["id"] == episode.json()["id"]

    skill = http.put(
        a + "/skills/rollback",
        json={
            "description": "Roll a service back",
            "steps": ["find last good tag", "deploy it"],
            "tags": ["ops"],
        },
    )
    assert skill.status_code == 200, skill.text
    assert skill.json()["runs"] == 0 and skill.json()["success_rate"] is None
    run = http.post(a + "/skills/rollback/executions", json={"success": True, "duration": 42.0})
    assert run.json()["success_rate"] == 1.0 and run.json()["mean_duration"] == 42.0
    assert http.get(a + "/skills/rollback").json()["runs"] == 1
    skills = http.post(a + "/skills/search", json={"query": "roll back a service"}).json()
    assert skills["skills"][0]["name"] == "rollback"

    everything = http.post(a + "/search", json={"query": "billing deploy"}).json()
    assert set(everything) == {"episodic", "semantic", "skills"}
    assert everything["episodic"] and everything["semantic"]
    context = http.post(
        a + "/context",
        json={"query": "billing deploy", "budget_tokens": 500, "session": "deploy-1"},
    ).json()["context"]
    assert "0042" in context
    report = http.post(a + "/introspect", json={"topic": "billing"}).json()
    assert report["total"] >= 1 and "billing" in report["summary"]


def test_memory_tools(http: httpx.Client, namespace: str) -> None:
    for fmt, name_of in (
        ("openai", lambda t: t["function"]["name"]),
        ("anthropic", lambda t: t["name"]),
    ):
        listed = http.get("/v1/tools", params={"format": fmt}).json()
        assert listed["format"] == fmt
        assert "search_memory" in {name_of(t) for t in listed["tools"]}
    error(http.get("/v1/tools", params={"format": "cobol"}), 400, "invalid_input")
    t = f"/v1/namespaces/{namespace}/agents/helper/tools"
    assert http.post(
        t + "/set_working_memory", json={"session": "s1", "values": {"goal": 1}}
    ).json() == {"result": {"updated": ["goal"]}}
    assert http.post(t + "/get_working_memory", json={"session": "s1"}).json() == {
        "result": {"goal": 1}
    }
    stored = http.post(t + "/store_memory", json={"content": "The user's city is Porto"}).json()
    assert stored["result"]["status"] == "created"
    found = http.post(t + "/search_memory", json={"query": "which city?"}).json()["result"]
    assert found[0]["id"] == stored["result"]["id"]
    # The same session through the plain routes: the tools are the same memory.
    assert http.get(session_path(namespace, "helper") + "/working/goal").json()["value"] == 1
    message = error(http.post(t + "/search_memory", json={"k": 3}), 400, "invalid_input")
    assert "query" in message


async def test_concurrent_first_requests_share_one_client(api: Api, namespace: str) -> None:
    s = session_path(namespace)
    async with httpx.AsyncClient(base_url=api.server.base, headers={"X-API-Key": KEY_ALL}) as c:
        writes = await asyncio.gather(
            *(c.put(f"{s}/working/k{i}", json={"value": i}) for i in range(30))
        )
        assert {w.status_code for w in writes} == {204}
        values = (await c.get(f"{s}/working")).json()["values"]
    assert values == {f"k{i}": i for i in range(30)}


def test_every_namespace_shares_one_connection_pool(tmp_path: Path) -> None:
    """A server serving hundreds of namespaces holds one client: a new namespace costs no new
    connection, and namespaces that left the cache keep their data."""
    redis_server = RedisProcess(tmp_path / "redis", modules=True)
    redis_server.start()
    server = start(redis_server.url, tmp_path, env={"AETHER_MAX_NAMESPACES": "4"})
    try:
        with redis.Redis.from_url(redis_server.url) as admin:
            with server.client() as http:
                http.put(session_path(f"warm-{RUN}") + "/working/i", json={"value": -1})
                before = admin.info("stats")["total_connections_received"]
                names = [f"many{i}-{RUN}" for i in range(200)]
                for i, ns in enumerate(names):
                    assert http.put(session_path(ns) + "/working/i", json={"value": i}).is_success
                for i, ns in enumerate(names[:10]):  # long out of the cache, data intact
                    assert http.get(session_path(ns) + "/working/i").json()["value"] == i
            opened = admin.info("stats")["total_connections_received"] - before
    finally:
        server.stop()
        redis_server.stop()
    assert opened <= 4, f"{opened} connections opened for 200 new namespaces"


# -- KAOS (document 003): history survives the server being killed ---------------------------------
def test_history_survives_sigkill_of_a_server(api: Api, tmp_path: Path, namespace: str) -> None:
    first = start(api.redis_url, tmp_path)
    second = start(api.redis_url, tmp_path)
    s = session_path(namespace, agent="kaos", session="conversation-1")
    turns = [
        ("user_message", f"question {i}") if i % 2 == 0 else ("assistant_message", f"answer {i}")
        for i in range(40)
    ]
    try:
        with first.client() as writer:
            for i, (kind, text) in enumerate(turns):
                written = writer.post(s + "/events", json={"type": kind, "data": {"text": text}})
                assert written.status_code == 201
                assert (
                    writer.patch(
                        s + "/working", json={"values": {"turn": i, "last": text}}
                    ).status_code
                    == 204
                )
        first.kill()  # SIGKILL right after the last acknowledged write
        assert first.proc.returncode == -signal.SIGKILL

        def read_back(server: RestServer) -> None:
            with server.client() as reader:
                events = reader.get(s + "/events", params={"limit": 1000}).json()["events"]
                assert [(e["type"], e["data"]["text"]) for e in events] == turns
                working = reader.get(s + "/working").json()["values"]
                assert working == {"turn": 39, "last": "answer 39"}
                sessions = reader.get(f"/v1/namespaces/{namespace}/agents/kaos/sessions").json()
                assert [x["id"] for x in sessions["sessions"]] == ["conversation-1"]

        read_back(second)
        restarted = start(api.redis_url, tmp_path, port=first.port)
        try:
            read_back(restarted)
        finally:
            restarted.stop()
    finally:
        first.kill()
        second.stop()


# -- browsing and erasing -------------------------------------------------------------------------
def _follow(http: httpx.Client, url: str, key: str, params: dict[str, Any]) -> list[Any]:
    """Every item of a listing, following the `next` links (and checking the Link header)."""
    out: list[Any] = []
    response = http.get(url, params=params)
    while True:
        body = response.json()
        assert response.status_code == 200, body
        out += body[key]
        if body["next"] is None:
            assert body["next_cursor"] is None and "link" not in response.headers
            return out
        assert response.headers["link"] == f'<{body["next"]}>; rel="next"'
        assert body["next_cursor"] in body["next"]
        response = http.get(body["next"])


def test_every_collection_pages_with_next_links(http: httpx.Client, namespace: str) -> None:
    ns = f"/v1/namespaces/{namespace}"
    a = ns + "/agents/a1"
    for i in range(5):
        assert http.put(session_path(namespace, session=f"s{i}") + "/working/k",
                        json={"value": i}).status_code == 204  # fmt: skip
    sessions = _follow(http, a + "/sessions", "sessions", {"limit": 2})
    assert sorted(x["id"] for x in sessions) == [f"s{i}" for i in range(5)]
    assert all(x["last_active"].endswith("Z") and x["last_active_ms"] > 0 for x in sessions)
    s = session_path(namespace, session="s0")
    for i in range(7):
        http.post(s + "/events", json={"type": "step", "data": {"i": i}})
        if i < 3:
            http.post(s + "/checkpoints", json={"state": {"i": i}})
    events = _follow(http, s + "/log", "events", {"limit": 3})
    assert [e["data"]["i"] for e in events] == list(range(7))
    assert [c["n"] for c in _follow(http, s + "/checkpoints", "checkpoints", {"limit": 2})] == [
        1, 2, 3,
    ]  # fmt: skip
    texts = (
        "Invoices are due on the first Monday", "It rained all week in Porto",
        "The billing service runs on three nodes", "Snow closed the mountain pass",
        "Refunds need a manager's approval", "A heatwave is expected in July",
    )  # fmt: skip
    for i, text in enumerate(texts):
        body = {"content": text, "tags": [("money", "sky")[i % 2]],
                "occurred_at": 1_700_000_000_000 + i}  # fmt: skip
        assert http.post(a + "/memories", json=body).status_code == 201, text
    memories = _follow(http, ns + "/memories", "memories", {"limit": 4})
    assert [m["occurred_at_ms"] for m in memories] == [1_700_000_000_000 + i for i in range(6)]
    sky = _follow(http, ns + "/memories", "memories", {"tag": "sky", "limit": 1})
    assert [m["content"] for m in sky] == [texts[i] for i in (1, 3, 5)]
    since = _follow(
        http, ns + "/memories", "memories", {"since": "2023-11-14T22:13:20.003Z", "limit": 10}
    )
    assert len(since) == 3
    http.post(s + "/episode", json={"task_prompt": "deploy", "outcome": "ok", "success": True})
    http.put(a + "/skills/rollback", json={"description": "roll back", "steps": ["a"]})
    assert [e["task_prompt"] for e in _follow(http, ns + "/episodes", "episodes", {})] == ["deploy"]
    assert [k["name"] for k in _follow(http, ns + "/skills", "skills", {})] == ["rollback"]
    assert _follow(http, ns + "/agents", "agents", {"limit": 1}) == ["a1"]
    # Bounded pages, checked cursors, the same error table.
    error(http.get(ns + "/agents", params={"limit": 1001}), 400, "invalid_input")
    cursor = http.get(a + "/sessions", params={"limit": 1}).json()["next_cursor"]
    error(http.get(ns + "/memories", params={"cursor": cursor}), 400, "invalid_input")


def test_erasure_over_rest_and_the_admin_scope(api: Api, namespace: str) -> None:
    ns, who = f"/v1/namespaces/{NS_A}", f"eraser-{new_id().lower()}"
    with api.server.client(KEY_A) as http:
        for sid in ("s1", "s2"):
            http.put(session_path(NS_A, agent=who, session=sid) + "/working/k", json={"value": 1})
            http.post(
                session_path(NS_A, agent=who, session=sid) + "/events",
                json={"type": "t", "data": 1},
            )
        http.post(ns + f"/agents/{who}/memories", json={"content": "the sky is blue in Porto"})
        preview = http.delete(
            session_path(NS_A, agent=who, session="s1"), params={"dry_run": True}
        ).json()
        assert preview["dry_run"] and preview["counts"]["events"] == 1
        done = http.delete(session_path(NS_A, agent=who, session="s1")).json()
        assert done["counts"] == preview["counts"] and not done["dry_run"]
        assert http.get(session_path(NS_A, agent=who, session="s1") + "/working").json() == {
            "values": {}
        }
        agent = http.delete(ns + f"/agents/{who}").json()
        assert agent["counts"]["sessions"] == 1 and agent["counts"]["memories"] == 1
        assert who not in http.get(ns + "/agents", params={"limit": 1000}).json()["agents"]
        # Erasing a whole namespace, or listing them all, takes an admin key.
        error(http.delete(ns), 403, "forbidden")
        error(http.get("/v1/namespaces"), 403, "forbidden")
    with api.server.client(KEY_ALL) as http:
        error(http.delete(ns), 403, "forbidden")
        http.put(session_path(NS_A) + "/working/k", json={"value": 1})
    with api.server.client(ADMIN_A) as http:
        error(http.delete(f"/v1/namespaces/{NS_B}"), 403, "forbidden")  # another namespace
        error(http.get("/v1/namespaces"), 403, "forbidden")  # not an admin of every one
        gone = http.delete(ns).json()
        assert gone["scope"] == "namespace" and gone["counts"]["sessions"] >= 1
        assert http.get(session_path(NS_A) + "/working").json() == {"values": {}}
    with api.server.client(ADMIN_ALL) as http:
        http.put(session_path(namespace) + "/working/k", json={"value": 1})
        listed = _follow(http, "/v1/namespaces", "namespaces", {"limit": 1000})
        assert namespace in listed
        assert http.delete(f"/v1/namespaces/{namespace}").json()["total"] > 0
        assert namespace not in _follow(http, "/v1/namespaces", "namespaces", {"limit": 1000})


# -- schemathesis: no input makes the server fail --------------------------------------------------
@pytest.fixture(scope="module")
def fuzzed_server(
    servers: dict[str, RedisProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RestServer]:
    """One server for the fuzzing, on Redis with the modules (the schema is the same on both;
    random namespaces also exercise closing clients beyond the limit)."""
    server = start(
        servers["redis-modules"].url,
        tmp_path_factory.mktemp("fuzz"),
        env={"AETHER_MAX_NAMESPACES": "16"},
    )
    try:
        yield server
    finally:
        server.stop()
    assert "Traceback" not in server.output(), server.output()


# The schema comes from the app object itself (no server needed to collect the tests: one
# test per operation); the requests go over HTTP to the server process.
# The feed's Server-Sent Events stream and the blocking queue claim hold the request open by
# design (their own tests cover them): fuzzing them would only time out.
schema = (
    schemathesis.openapi.from_dict(create_app(RestSettings(api_keys=None)).openapi())
    .exclude(path_regex=r"/feed$")
    .exclude(path_regex=r"/claim$")
)


# REST_FUZZ_EXAMPLES=N runs N random examples per operation instead of the fixed 8.
@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("REST_FUZZ_EXAMPLES", "8")),
    deadline=None,
    derandomize="REST_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_fuzzed_requests_never_fail_the_server(
    fuzzed_server: RestServer, case: schemathesis.Case
) -> None:
    case.call_and_validate(
        base_url=fuzzed_server.base,
        headers={"X-API-Key": KEY_ALL},
        timeout=30,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )


def test_serves_a_sqlite_store(tmp_path: Path) -> None:
    """The same server over the embedded store: `AETHER_URL=sqlite:///…`."""
    server = start(f"sqlite:///{tmp_path}/rest.db", tmp_path / "logs")
    try:
        with server.client() as http:
            path = session_path("lite")
            assert http.put(f"{path}/working/goal", json={"value": "ship"}).status_code < 300
            assert http.get(f"{path}/working/goal").json()["value"] == "ship"
            ready = http.get("/readyz").json()
            assert ready["store"] == "sqlite" and ready["health"]["ok"] is True
    finally:
        server.stop()


def test_readyz_reports_the_fallback_while_redis_is_down(tmp_path: Path) -> None:
    redis = RedisProcess(tmp_path / "redis")
    redis.start()
    env = {"AETHER_FALLBACK": f"sqlite:///{tmp_path}/fallback.db"}
    server = start(redis.url, tmp_path / "logs", env=env)
    try:
        with server.client() as http:
            assert http.get("/readyz").json()["health"]["serving"] == "redis"
            redis.kill()
            path = session_path("outage")
            assert http.put(f"{path}/working/goal", json={"value": "on"}).status_code < 300
            health = http.get("/readyz").json()["health"]
            assert health["degraded"] is True and health["outbox"] >= 1
            assert http.get(f"{path}/working/goal").json()["value"] == "on"
    finally:
        server.stop()
        redis.stop()


# -- hostile bodies -------------------------------------------------------------------------------
# (method, path under the agent or session, body with %s where the hostile JSON goes, and where
# a stored value reads back: a path whose JSON has the value under "value", or None).
HOSTILE_BODIES: list[tuple[str, str, str, str | None]] = [
    ("PUT", "{s}/working/k", '{"value": %s}', "{s}/working/k"),
    ("PATCH", "{s}/working", '{"values": {"k": %s}}', "{s}/working/k"),
    ("PATCH", "{s}/working", '{"values": {%s: 1}}', None),
    ("PATCH", "{s}/working", '{"values": %s}', None),
    ("POST", "{s}/working/delete", '{"keys": [%s]}', None),
    ("PUT", "{s}/scratch/k", '{"value": %s}', "{s}/scratch/k"),
    ("POST", "{s}/events", '{"type": "t", "data": %s}', None),
    ("POST", "{s}/events", '{"type": %s, "data": 1}', None),
    ("POST", "{s}/events", '{"type": "t", "data": 1, "latency_ms": %s}', None),
    ("POST", "{s}/events/batch", '{"events": [%s]}', None),
    ("POST", "{s}/steps", '{"action": %s}', None),
    ("POST", "{s}/steps", '{"action": "a", "success": %s}', None),
    ("POST", "{s}/checkpoints", '{"state": %s}', None),
    ("POST", "{s}/tool-schema", '{"value": %s}', None),
    ("POST", "{s}/episode", '{"task_prompt": %s, "outcome": "o", "success": true}', None),
    (
        "POST",
        "{s}/episode",
        '{"task_prompt": "t", "outcome": "o", "success": true, "duration_seconds": %s}',
        None,
    ),
    ("PUT", "{a}/identity/d", '{"text": %s}', None),
    ("PATCH", "{a}/identity", '{"documents": {"d": %s}}', None),
    ("PATCH", "{a}/state", '{"fields": {"f": %s}}', None),
    ("POST", "{a}/memories", '{"content": %s}', None),
    ("POST", "{a}/memories", '{"content": "{t}", "importance": %s}', None),
    ("POST", "{a}/memories", '{"content": "{t}", "tags": [%s]}', None),
    ("POST", "{a}/memories", '{"content": "{t}", "tags": %s}', None),
    ("POST", "{a}/memories", '{"content": "{t}", "metadata": {"m": %s}}', None),
    ("POST", "{a}/memories", '{"content": "{t}", "occurred_at": %s}', None),
    ("POST", "{a}/memories/batch", '{"items": [%s]}', None),
    ("POST", "{a}/recall", '{"query": %s}', None),
    ("POST", "{a}/recall", '{"query": "q", "since": %s}', None),
    ("POST", "{a}/recall", '{"query": "q", "k": %s}', None),
    ("POST", "{a}/context", '{"query": %s}', None),
    ("POST", "{a}/introspect", '{"topic": %s}', None),
    ("PUT", "{a}/skills/{k}", '{"description": %s, "steps": []}', None),
    ("PUT", "{a}/skills/{k}", '{"description": "d", "steps": [%s]}', None),
    ("POST", "{a}/skills/{k}/executions", '{"success": true, "duration": %s}', None),
    ("POST", "{a}/skills/{k}/executions", '{"success": %s, "duration": 1}', None),
    ("PUT", "{n}/cache/probe", '{"args": %s, "result": 1}', None),
    ("PUT", "{n}/cache/probe", '{"args": "{t}", "result": %s}', None),
    ("PUT", "{n}/cache/probe", '{"args": "{t}", "result": 1, "ttl": %s}', None),
    ("POST", "{a}/tools/store_memory", '{"content": %s}', None),
    ("POST", "{a}/tools/set_working_memory", '{"session": "{sid}", "values": {"k": %s}}', None),
    ("POST", "{a}/tools/set_working_memory", '{"session": "{sid}", "values": {%s: 1}}', None),
    (
        "POST",
        "{a}/tools/record_event",
        '{"session": "{sid}", "event_type": "t", "data": %s}',
        None,
    ),
]


def rest_footprint(http: httpx.Client, p: dict[str, str]) -> dict[str, Any]:
    """Everything a request in `HOSTILE_BODIES` could have written for these paths."""
    s, a = p["s"], p["a"]
    recall = http.post(a + "/recall", json={"query": "note anything", "k": 50,
                                            "agents": [p["agent"]]})  # fmt: skip
    assert recall.status_code == 200, recall.text
    return {
        "working": http.get(s + "/working").json(),
        "scratch": http.get(s + "/scratch").json(),
        "events": http.get(s + "/events", params={"limit": 100}).json(),
        "checkpoints": http.get(s + "/checkpoints").json(),
        "identity": http.get(a + "/identity").json(),
        "state": {
            k: v for k, v in http.get(a + "/state").json()["state"].items() if k != "updated_at"
        },
        "memories": sorted(h["record"]["content"] for h in recall.json()["hits"]),
        "skill": {
            k: v
            for k, v in http.get(f"{a}/skills/{p['k']}").json().items()
            if k not in ("updated_at", "score")
        },
        "cache": http.post(p["n"] + "/cache/probe/lookup", json={"args": p["t"]}).json(),
    }


def _expected_error(response: httpx.Response) -> str:
    assert response.status_code < 500, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    code = body["error"]["code"]
    status = response.status_code
    assert STATUS_BY_CODE.get(code) == status or CODE_BY_STATUS.get(status) == code, body
    return str(code)


def _parsed(fragment: str) -> tuple[bool, Any]:
    """(True, value) when a server would parse `fragment` into a value JSON holds exactly."""
    try:
        value = json.loads(fragment)
    except (ValueError, RecursionError):
        return False, None
    return is_json_safe(value), value


@pytest.mark.parametrize(
    "template", HOSTILE_BODIES, ids=[f"{m} {p} {b[:28]}" for m, p, b, _ in HOSTILE_BODIES]
)
@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fragment=st.one_of(json_fragments, invalid_utf8))
def test_hostile_bodies_are_refused_with_the_error_table_and_write_nothing(
    http: httpx.Client, template: tuple[str, str, str, str | None], fragment: str | bytes
) -> None:
    """NaN and infinities (JSON literals Python's parser accepts), numbers past 64 bits, lone
    surrogates as escapes, invalid UTF-8, wrong types and deep nesting, in every field: the
    answer is 2xx with the value reading back exactly, or a 4xx whose code is the error
    table's, and nothing was written."""
    method, path, body, readback = template
    tag = new_id().lower()
    n = f"/v1/namespaces/{NS_A}"
    p = {"n": n, "agent": "h" + tag, "a": f"{n}/agents/h{tag}", "sid": "s" + tag,
         "k": "sk" + tag, "t": f"note {tag}"}  # fmt: skip
    p["s"] = f"{p['a']}/sessions/{p['sid']}"
    assert http.put(f"{p['a']}/skills/{p['k']}", json={"description": "d", "steps": []}).is_success
    before = rest_footprint(http, p)
    filled = body.replace("{t}", p["t"]).replace("{sid}", p["sid"]).encode()
    raw = fragment if isinstance(fragment, bytes) else fragment.encode()
    content = filled.replace(b"%s", raw)
    target = path.format(**p)
    response = http.request(method, target, content=content,
                            headers={"content-type": "application/json"})  # fmt: skip
    safe, value = (False, None) if isinstance(fragment, bytes) else _parsed(fragment)
    if response.status_code >= 400:
        _expected_error(response)
        assert rest_footprint(http, p) == before, f"{method} {target} refused but wrote"
        if path.endswith("/tool-schema"):  # the first schema stored wins: none was
            schema = http.post(target, json={"value": "probe"}).json()
            assert schema["value"] == "probe", schema
        return
    assert safe, f"{method} {target} accepted {content[:80]!r}"
    if readback is not None:
        assert http.get(readback.format(**p)).json()["value"] == value


def test_recall_with_include_archive_without_an_archive(http: httpx.Client, namespace: str) -> None:
    a = f"/v1/namespaces/{namespace}/agents/a"
    body = {"query": "anything", "include_archive": True}
    assert "archive" in error(http.post(a + "/recall", json=body), 503, "configuration")
    message = error(http.post(a + "/recall", json={**body, "include_archive": "yes"}), 400,
                    "invalid_input")  # fmt: skip
    assert "include_archive" in message


@pytest.mark.timeout(300)
def test_recall_with_include_archive_brings_archived_memories_back(
    servers: dict[str, RedisProcess], tmp_path: Path, namespace: str
) -> None:
    from aether_memory import Memory
    from aether_memory.core.config import Options, TTLs

    redis_url = server_named(servers, "redis-modules").url
    archive = "sqlite:///" + str(tmp_path / "archive.db")
    options = Options(namespace=namespace, ttl=TTLs(semantic=1.0))
    with Memory.open(redis_url, options=options, archive=archive) as mem:  # the server's model
        key = mem.agent("a").remember("the deploy key rotates every Tuesday")
        mem.agent("a").remember("lunch is served at noon in the cafeteria")
        time.sleep(1.2)  # both lifetimes end
        assert mem.lifecycle.run().archived == 2
    server = start(redis_url, tmp_path, env={"AETHER_ARCHIVE_URL": archive})
    try:
        with httpx.Client(base_url=server.base, headers={"X-API-Key": KEY_ALL},
                          timeout=60) as client:  # fmt: skip
            a = f"/v1/namespaces/{namespace}/agents/a"

            def recalled(**extra: Any) -> list[str]:
                body = {"query": "when does the deploy key rotate", "k": 1, **extra}
                response = client.post(a + "/recall", json=body)
                assert response.status_code == 200, response.text
                return [h["record"]["id"] for h in response.json()["hits"]]

            assert recalled() == []  # only the archive has it
            assert recalled(include_archive=True) == [key.id]
            assert recalled() == [key.id]  # hot again
            got = client.get(f"/v1/namespaces/{namespace}/memories/{key.id}").json()
            assert got["content"] == key.content
    finally:
        server.stop()
