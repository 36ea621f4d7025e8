"""Telemetry at the interfaces: REST server spans continuing the caller's trace (a real server
process with the SDK set up), the agent-metrics route, MCP tool-call spans, CLI spans."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from opentelemetry.trace import SpanKind, StatusCode

from aether_memory import AsyncMemory
from aether_memory.mcp import build_server
from aether_memory.rest.tracing import TraceRequests
from aether_memory.server.local import RedisProcess
from tests.conftest import server_named
from tests.interfaces.otel_process import read_spans
from tests.interfaces.test_rest import KEY_ALL, start
from tests.telemetry import Otel, otel_setup
from tests.word_embedder import WordHashEmbedder

LAUNCHER = str(Path(__file__).with_name("otel_process.py"))
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture
def otel() -> Iterator[Otel]:
    yield from otel_setup()


def test_rest_spans_continue_the_callers_trace(url: str, tmp_path: Path) -> None:
    spans_file = tmp_path / "spans.jsonl"
    server = start(
        url, tmp_path, command=(LAUNCHER, "aether_memory.rest"),
        env={"AETHER_TEST_SPANS": str(spans_file)},
    )  # fmt: skip
    base = "/v1/namespaces/otel-rest/agents/a1"
    try:
        with server.client(KEY_ALL) as http:
            headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
            put = http.put(f"{base}/sessions/s1/working/goal", json={"value": "x"}, headers=headers)
            assert put.status_code == 204, put.text
            event = http.post(
                f"{base}/sessions/s1/events",
                json={"type": "tool_call", "data": {"tool": "search"}, "latency_ms": 4.5,
                      "tokens_in": 7, "tokens_out": 2},
                headers=headers,
            )  # fmt: skip
            assert event.status_code == 201, event.text
            assert event.json()["trace_id"] == TRACE_ID
            # Stored with the event: the history routes return it too (read without a trace).
            listed = http.get(f"{base}/sessions/s1/events", headers=headers).json()["events"]
            logged = http.get(f"{base}/sessions/s1/log", headers=headers).json()["events"]
            assert [e["trace_id"] for e in listed] == [e["trace_id"] for e in logged] == [TRACE_ID]
            missing = http.get(f"{base}/sessions/s1/working/nope", headers=headers)
            assert missing.status_code == 404
            metrics = http.get(f"{base}/metrics", params={"since": "600", "bucket": 3600})
            assert metrics.status_code == 200, metrics.text
            bad = http.get(f"{base}/metrics", params={"bucket": 30})
            assert bad.status_code == 400 and "invalid_input" in bad.text
            bad_since = http.get(f"{base}/metrics", params={"since": "last week"})
            assert bad_since.status_code == 400
    finally:
        server.stop()
    body = metrics.json()
    assert body["agent"] == "a1" and body["bucket_seconds"] == 3600
    assert [(b["tool"], b["calls"], b["tokens_in"]) for b in body["buckets"]] == [
        (None, 1, 7), ("search", 1, 7),
    ]  # fmt: skip
    assert body["buckets"][0]["start"].endswith("Z")

    spans = read_spans(spans_file)
    servers = [s for s in spans if s["kind"] == "SERVER"]
    route = "/v1/namespaces/{ns}/agents/{agent}/sessions/{session}"
    names = [s["name"] for s in servers]
    assert f"PUT {route}/working/{{key}}" in names
    assert f"POST {route}/events" in names
    continued = [s for s in servers if "/sessions/" in s["name"]]
    assert len(continued) == 5
    for s in continued:
        assert s["trace_id"] == TRACE_ID and s["parent"] == PARENT_ID
        # The route's namespace, agent and session, on the server span itself.
        assert {k: s["attributes"].get(k) for k in ("aether.namespace", "aether.agent",
                "aether.session")} == {"aether.namespace": "otel-rest", "aether.agent": "a1",
                                       "aether.session": "s1"}, s  # fmt: skip
    (agent_route,) = [s for s in servers if s["name"].endswith("/agents/{agent}/metrics")][:1]
    assert agent_route["attributes"]["aether.agent"] == "a1"
    assert "aether.session" not in agent_route["attributes"]
    by_id = {s["span_id"]: s for s in spans}

    def server_of(span: dict[str, Any]) -> dict[str, Any]:
        while span["kind"] != "SERVER":
            span = by_id[span["parent"]]
        return span

    record = next(s for s in spans if s["name"] == "record")
    assert record["trace_id"] == TRACE_ID
    assert server_of(record)["name"] == f"POST {route}/events"
    assert record["attributes"]["db.system"] == "redis"
    get = next(s for s in spans if s["name"] == "working.get")
    assert server_of(get)["attributes"]["http.response.status_code"] == 404
    assert next(s for s in spans if s["name"] == "agent.metrics")["kind"] == "CLIENT"


async def test_our_request_spans_where_fastapi_makes_none(
    otel: Otel, url: str, namespace: str
) -> None:
    """`TraceRequests`, which older FastAPI versions get, continues `traceparent` too."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    memory = await AsyncMemory.open(url, namespace=namespace)

    async def record(request: Request) -> JSONResponse:
        session = memory.agent(request.path_params["agent"]).session("s")
        event = await session.record("step", {})
        return JSONResponse({"trace_id": event.trace_id})

    async def fail(request: Request) -> JSONResponse:
        raise RuntimeError("boom")

    app = TraceRequests(Starlette(routes=[
        Route("/v1/namespaces/{ns}/agents/{agent}/record", record, methods=["POST"]),
        Route("/fail", fail),
    ]))  # fmt: skip
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with memory, httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
        reply = await http.post("/v1/namespaces/n/agents/a/record", headers=headers)
        assert reply.json() == {"trace_id": TRACE_ID}
        assert (await http.get("/fail")).status_code == 500
    server = otel.span("POST /v1/namespaces/{ns}/agents/{agent}/record")
    assert server.kind == SpanKind.SERVER
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None and format(server.parent.span_id, "016x") == PARENT_ID
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["aether.namespace"] == "n"
    assert server.attributes["aether.agent"] == "a"
    assert otel.span("record").parent.span_id == server.context.span_id
    failed = otel.span("GET /fail")
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.events[0].name == "exception"


async def test_mcp_tool_calls_are_spans(otel: Otel, url: str, namespace: str) -> None:
    memory = await AsyncMemory.open(url, namespace=namespace, embedder=WordHashEmbedder())
    async with memory, Client(build_server("a", memory=memory)) as client:
        await client.call_tool("store_memory", {"content": "MCP calls are traced"})
        await client.call_tool("search_memory", {"query": "traced"})
        failed = await client.call_tool("search_memory", {"query": ""})
        assert failed.is_error
    calls = [s for s in otel.spans() if s.name.startswith("tools/call")]
    assert [s.name for s in calls] == [
        "tools/call store_memory", "tools/call search_memory", "tools/call search_memory",
    ]  # fmt: skip
    for s in calls:
        assert s.kind == SpanKind.SERVER
        assert s.attributes["mcp.method.name"] == "tools/call"
        assert s.attributes["aether.agent"] == "a"
    assert calls[2].status.status_code == StatusCode.ERROR
    assert calls[2].attributes["error.type"] == "invalid_input"
    remember = otel.span("remember")
    assert remember.parent is not None and remember.parent.span_id == calls[0].context.span_id


def test_cli_commands_are_spans(servers: dict[str, RedisProcess], tmp_path: Path) -> None:
    redis_url = server_named(servers, "redis-modules").url
    spans_file = tmp_path / "spans.jsonl"
    env = {**os.environ, "AETHER_HOME": str(tmp_path), "AETHER_TEST_SPANS": str(spans_file),
           "AETHER_URL": redis_url}  # fmt: skip
    subprocess.run(
        [sys.executable, LAUNCHER, "aether_memory.cli.main", "doctor", "--url", redis_url],
        env=env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    (command,) = [s for s in read_spans(spans_file) if s["name"].startswith("aether ")]
    assert command["name"] == "aether doctor"
    assert command["attributes"]["aether.command"] == "doctor"
