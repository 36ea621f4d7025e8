"""The MCP server, through the SDK's own client: over stdio (the server as a subprocess, as an
MCP host runs it), over streamable HTTP, and in-process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client, ClientSession, StdioServerParameters, types
from mcp.client.session import IncomingMessage
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from pydantic_core import PydanticSerializationError

from aether_memory import AsyncMemory, Memory
from aether_memory.core.ids import new_id
from aether_memory.mcp import SERVER_NAME, build_server
from aether_memory.server.local import RedisProcess, free_port
from aether_memory.tools.definitions import TOOLS
from tests.hostile import hostile, invalid_utf8, json_fragments, with_surrogate
from tests.net import lan_address
from tests.word_embedder import CloseEmbedder, WordHashEmbedder

AGENT = "a"
# The server process loads the default embedder from its package; nothing may be downloaded.
SERVER_ENV = {"HF_HUB_OFFLINE": "1"}


def server_args(url: str, namespace: str, *extra: str) -> list[str]:
    return ["-m", "aether_memory.mcp", "--url", url, "--namespace", namespace,
            "--agent", AGENT, *extra]  # fmt: skip


@asynccontextmanager
async def stdio_session(url: str, namespace: str) -> AsyncIterator[ClientSession]:
    """An initialized session with a server subprocess; on a clean exit, checks that every line
    the server wrote to stdout was a protocol message."""
    stray: list[Exception] = []

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, Exception):
            stray.append(message)

    params = StdioServerParameters(
        command=sys.executable, args=server_args(url, namespace), env=SERVER_ENV
    )
    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write, message_handler=on_message) as session,
    ):
        await session.initialize()
        yield session
    assert stray == []


async def call(session: ClientSession | Client, name: str, arguments: dict[str, Any]) -> Any:
    """Call a tool that must succeed; its text is the JSON of its structured content."""
    result = await session.call_tool(name, arguments)
    assert not result.is_error, result.content
    [content] = result.content
    assert isinstance(content, types.TextContent)
    assert json.loads(content.text) == result.structured_content
    return result.structured_content


async def call_error(session: ClientSession | Client, name: str, arguments: dict[str, Any]) -> Any:
    """Call a tool that must fail as a tool result (not a protocol error); its error object."""
    result = await session.call_tool(name, arguments)
    assert result.is_error
    [content] = result.content
    assert isinstance(content, types.TextContent)
    assert json.loads(content.text) == result.structured_content
    return result.structured_content["error"]


async def conversation(session: ClientSession | Client) -> None:
    """Every tool, in the order an agent would use them."""
    fact = {"content": "The user is allergic to peanuts", "importance": 0.9, "tags": ["health"]}
    stored = await call(session, "store_memory", fact)
    assert stored["status"] == "created"
    found = await call(session, "search_memory", {"query": "peanut allergy", "k": 3})
    assert found["result"][0]["id"] == stored["id"]
    assert found["result"][0]["content"] == "The user is allergic to peanuts"
    values = {"goal": "plan dinner", "guests": 4}
    assert await call(session, "set_working_memory", {"session": "s1", "values": values}) == {
        "updated": ["goal", "guests"]
    }
    assert await call(session, "get_working_memory", {"session": "s1"}) == values
    assert await call(session, "get_working_memory", {"session": "s1", "key": "guests"}) == {
        "guests": 4
    }
    event = await call(session, "record_event", {"session": "s1", "event_type": "decision",
                                                 "data": {"menu": "no peanuts"}})  # fmt: skip
    assert event["id"]
    assert await call(session, "checkpoint", {"session": "s1", "state": {"step": 2}}) == {"n": 1}
    assert await call(session, "checkpoint", {"session": "s1", "state": {"step": 3}}) == {"n": 2}
    assert await call(session, "restore_checkpoint", {"session": "s1"}) == {"state": {"step": 3}}
    assert await call(session, "restore_checkpoint", {"session": "s1", "n": 1}) == {
        "state": {"step": 2}
    }
    context = (await call(session, "get_context", {"query": "dinner", "session": "s1"}))["context"]
    assert "plan dinner" in context and "peanuts" in context
    summary = await call(session, "summarize_memory", {"topic": "peanuts"})
    assert summary["total"] >= 1 and isinstance(summary["summary"], str)
    assert await call(session, "forget_memory", {"memory_id": stored["id"]}) == {"removed": 1}


def as_mcp(tool: types.Tool) -> dict[str, Any]:
    return tool.model_dump(by_alias=True, exclude_none=True)


async def test_tools_over_stdio(url: str, namespace: str) -> None:
    async with stdio_session(url, namespace) as session:
        init = session.initialize_result
        assert init is not None and init.server_info.name == SERVER_NAME
        assert init.capabilities.tools is not None and init.capabilities.resources is not None
        listed = await session.list_tools()
        assert [as_mcp(tool) for tool in listed.tools] == [t.as_format("mcp") for t in TOOLS]
        await conversation(session)


async def test_bad_calls_come_back_as_tool_errors_over_stdio(url: str, namespace: str) -> None:
    async with stdio_session(url, namespace) as session:
        missing = await call_error(session, "restore_checkpoint", {"session": "s1", "n": 7})
        assert missing["code"] == "not_found" and missing["retryable"] is False
        assert "7" in missing["message"]
        bad = await call_error(session, "store_memory", {"content": "x", "importance": 3})
        assert bad["code"] == "invalid_input" and "importance" in bad["message"]
        extra = await call_error(session, "store_memory", {"content": "x", "surprise": 1})
        assert extra["code"] == "invalid_input" and "surprise" in extra["message"]
        absent = await call_error(session, "store_memory", {})
        assert absent["code"] == "invalid_input" and "content" in absent["message"]
        bad_id = await call_error(session, "get_working_memory", {"session": "bad:id"})
        assert bad_id["code"] == "invalid_input"
        unknown = await call_error(session, "no_such_tool", {})
        assert unknown["code"] == "invalid_input" and "store_memory" in unknown["message"]
        # The connection is still good after errors.
        assert await call(session, "get_working_memory", {"session": "s1"}) == {}


async def test_identity_resources_over_stdio(amem: AsyncMemory, url: str, namespace: str) -> None:
    docs = {"persona": "# Persona\n\nCareful, brief.", "mission": "Ship the **Q3** report."}
    await amem.agent(AGENT).identity.put_many(docs)
    await amem.agent("other").identity.put("secret", "not served")
    async with stdio_session(url, namespace) as session:
        listed = await session.list_resources()
        assert [(r.uri, r.name, r.mime_type) for r in listed.resources] == [
            ("identity://a/mission", "mission", "text/markdown"),
            ("identity://a/persona", "persona", "text/markdown"),
        ]
        for name, text in docs.items():
            read = await session.read_resource(f"identity://{AGENT}/{name}")
            [contents] = read.contents
            assert isinstance(contents, types.TextResourceContents)
            assert (contents.text, contents.mime_type) == (text, "text/markdown")
        for uri in ("identity://a/nope", "identity://other/secret", "identity://a/bad:name",
                    "file:///etc/passwd"):  # fmt: skip
            with pytest.raises(MCPError) as caught:
                await session.read_resource(uri)
            assert caught.value.code == types.INVALID_PARAMS
            assert uri in caught.value.message


async def test_streamable_http(servers: dict[str, RedisProcess], namespace: str) -> None:
    url = servers["redis-modules"].url
    async with await AsyncMemory.open(url, namespace=namespace) as memory:
        await memory.agent(AGENT).identity.put("persona", "Calm.")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *server_args(url, namespace, "--transport", "http", "--port", str(port)),
        env={**os.environ, **SERVER_ENV},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    log_read = asyncio.ensure_future(process.stderr.read())  # until the process exits
    try:
        assert await _listening(port, process), "the server exited or did not listen"
        async with (
            streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write),
            ClientSession(read, write) as session,
        ):
            init = await session.initialize()
            assert init.server_info.name == SERVER_NAME
            assert len((await session.list_tools()).tools) == len(TOOLS)
            await conversation(session)
            missing = await call_error(session, "restore_checkpoint", {"session": "x", "n": 1})
            assert missing["code"] == "not_found"
            [persona] = (await session.read_resource(f"identity://{AGENT}/persona")).contents
            assert isinstance(persona, types.TextResourceContents) and persona.text == "Calm."
        # The SDK's high-level client negotiates the newest revision (2026-07-28) over HTTP.
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            assert client.protocol_version > init.protocol_version  # dates compare as text
            assert await call(client, "restore_checkpoint", {"session": "s1"}) == {
                "state": {"step": 3}
            }
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
        log = (await log_read).decode()
        sys.stderr.write(log)  # shown by pytest if the test fails
    assert code == 0  # SIGTERM stops it gracefully
    assert f"http://127.0.0.1:{port}/mcp" in log


def test_http_refuses_a_public_host_without_keys(servers: dict[str, RedisProcess]) -> None:
    url = servers["redis-plain"].url
    args = server_args(url, "x", "--transport", "http", "--host", "0.0.0.0", "--port", "0")
    refused = subprocess.run(
        [sys.executable, *args],
        env={**os.environ, **SERVER_ENV},
        capture_output=True,
        timeout=60,  # a server that starts instead of refusing never returns
    )
    assert refused.returncode == 2, refused.stderr
    assert b"AETHER_API_KEYS" in refused.stderr and b"--insecure-no-auth" in refused.stderr


INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


async def test_http_takes_the_scoped_api_keys_of_rest(
    servers: dict[str, RedisProcess], namespace: str
) -> None:
    """On every interface (0.0.0.0), reached from this machine's network address when it has
    one: each request needs a key, and a key for another namespace reaches nothing."""
    mine, other = f"mcp-key-{secrets.token_hex(8)}", f"mcp-other-{secrets.token_hex(8)}"
    keys = f"{mine}={namespace};{other}={namespace}-other"
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *server_args(servers["redis-modules"].url, namespace, "--transport", "http",
                     "--host", "0.0.0.0", "--port", str(port)),
        env={**os.environ, **SERVER_ENV, "AETHER_API_KEYS": keys},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    log_read = asyncio.ensure_future(process.stderr.read())
    endpoint = f"http://{lan_address() or '127.0.0.1'}:{port}/mcp"
    try:
        assert await _listening(port, process), "the server exited or did not listen"
        async with httpx.AsyncClient(timeout=30, headers=MCP_HEADERS) as http:
            missing = await http.post(endpoint, json=INIT)
            assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
            assert missing.json()["error"]["code"] == "unauthorized"
            wrong = await http.post(endpoint, json=INIT, headers=bearer("x" * 20))
            assert wrong.status_code == 401
            elsewhere = await http.post(endpoint, json=INIT, headers=bearer(other))
            assert (
                elsewhere.status_code == 403 and namespace in elsewhere.json()["error"]["message"]
            )
            opened = await http.post(endpoint, json=INIT, headers=bearer(mine))
            assert opened.status_code == 200, opened.text
            # A session opened with a good key is no way in for another key: every request
            # (every tool call) is checked.
            sid = {"mcp-session-id": opened.headers["mcp-session-id"]}
            call_ = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                     "params": {"name": "search_memory", "arguments": {"query": "x"}}}  # fmt: skip
            for key in (other, None):
                headers = {**sid, **(bearer(key) if key else {})}
                denied = await http.post(endpoint, json=call_, headers=headers)
                assert denied.status_code in (401, 403), denied.text
        async with (
            httpx2.AsyncClient(headers=bearer(mine), timeout=30) as authed,
            streamable_http_client(endpoint, http_client=authed) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            await conversation(session)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
        sys.stderr.write((await log_read).decode())


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_in_process_client_with_a_borrowed_memory(url: str, namespace: str) -> None:
    """`build_server(memory=...)` serves an open client and leaves it open; the SDK's in-process
    client speaks the newest protocol revision, where results may be any JSON value."""
    memory = await AsyncMemory.open(url, namespace=namespace, embedder=WordHashEmbedder())
    async with memory:
        await memory.agent(AGENT).identity.put("persona", "Calm.")
        async with Client(build_server(AGENT, memory=memory)) as client:
            assert {tool.name for tool in (await client.list_tools()).tools} == {
                t.name for t in TOOLS
            }
            await conversation(client)
            resources = (await client.list_resources()).resources
            assert [r.uri for r in resources] == ["identity://a/persona"]
        assert await memory.ping()  # still open: the server closes only what it opened


async def test_corrections_and_typed_filters_through_the_tools(url: str, namespace: str) -> None:
    memory = await AsyncMemory.open(url, namespace=namespace, embedder=CloseEmbedder())
    async with memory, Client(build_server(AGENT, memory=memory)) as client:
        old = await call(client, "store_memory", {"content": "The meeting is at 3pm"})
        new = await call(client, "store_memory", {"content": "The meeting is at 4pm"})
        assert new == {"id": new["id"], "status": "superseded", "supersedes": old["id"]}
        query = {"query": "when is the meeting", "k": 5}
        found = await call(client, "search_memory", query)
        assert [m["id"] for m in found["result"]] == [new["id"]]
        history = await call(client, "search_memory", {**query, "include_superseded": True})
        assert {m["id"] for m in history["result"]} == {old["id"], new["id"]}
        bad = await call_error(client, "search_memory", {**query, "kinds": "fact"})
        assert bad["code"] == "invalid_input" and "kinds" in bad["message"]
        unrelated = await call(client, "summarize_memory", {"topic": "quantum chromodynamics"})
        assert unrelated["total"] == 0


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_a_server_that_cannot_connect_exits_with_a_message(transport: str) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    process = await asyncio.create_subprocess_exec(
        sys.executable, *server_args(dead, "x", "--transport", transport, "--port", "0"),
        env={**os.environ, **SERVER_ENV},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert out == b""  # over stdio, stdout carries the protocol only
    assert b"aether mcp: error:" in err and b"unreachable" in err
    if transport == "stdio":  # (uvicorn logs the lifespan's traceback itself)
        assert b"Traceback" not in err


def test_bad_agent_id_is_refused_before_connecting() -> None:
    from aether_memory.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        build_server("no spaces")
    with pytest.raises(InvalidInput):
        build_server(AGENT, url="redis://x", memory=object())  # type: ignore[arg-type]


def test_import_and_build_do_no_io() -> None:
    code = (
        "import socket, subprocess\n"
        "def refuse(*a, **k): raise AssertionError('I/O at import')\n"
        "socket.socket.connect = refuse; subprocess.Popen.__init__ = refuse\n"
        "from aether_memory.mcp import build_server\n"
        "build_server('a', url='redis://127.0.0.1:1/0')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_sdk_is_the_real_mcp_package() -> None:
    """`aether_memory.mcp` must not stand in for the SDK it is built on."""
    import mcp.server.lowlevel

    import aether_memory.mcp

    assert mcp.__name__ == "mcp" and mcp.__file__ != aether_memory.mcp.__file__
    assert type(build_server()).__module__ == mcp.server.lowlevel.server.__name__


async def _listening(port: int, process: asyncio.subprocess.Process) -> bool:
    """Wait until the server accepts connections on `port` (False if it exits or takes 30 s)."""
    for _ in range(300):
        if process.returncode is not None:
            return False
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return True
    return False


def test_aether_mcp_command_serves_stdio_help() -> None:
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "aether_memory.cli.main", "mcp", "--help"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0
    assert "--transport" in result.stdout


# -- hostile arguments over the wire --------------------------------------------------------------


@dataclass
class McpWire:
    """A real `aether mcp --transport http` process and an initialized session with it."""

    http: httpx.Client
    endpoint: str
    headers: dict[str, str]
    url: str
    namespace: str

    def call(self, body: bytes) -> httpx.Response:
        return self.http.post(
            self.endpoint,
            content=body,
            headers={**self.headers, "content-type": "application/json"},
        )

    def tool(self, name: str, arguments: dict[str, Any]) -> Any:
        """Call a tool that must succeed; its structured result."""
        body = {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                "params": {"name": name, "arguments": arguments}}  # fmt: skip
        reply = rpc_reply(self.call(json.dumps(body).encode()))
        assert not reply["result"].get("isError"), reply
        return reply["result"]["structuredContent"]


def rpc_reply(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC message of a response, whether sent as JSON or as one SSE event."""
    assert response.status_code < 500, response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        return dict(json.loads(data[-1]))
    return dict(response.json())


@pytest.fixture(scope="module")
def wire(servers: dict[str, RedisProcess]) -> Iterator[McpWire]:
    url, namespace = servers["redis-modules"].url, "mcp-wire-" + new_id().lower()
    port = free_port()
    args = server_args(url, namespace, "--transport", "http", "--port", str(port))
    process = subprocess.Popen(
        [sys.executable, *args], env={**os.environ, **SERVER_ENV},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}/mcp"
    try:
        with httpx.Client(timeout=60, headers=MCP_HEADERS) as http:
            for _ in range(300):
                assert process.poll() is None, "the MCP server exited"
                try:
                    opened = http.post(endpoint, json=INIT)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert opened.status_code == 200, opened.text
            headers = {"mcp-session-id": opened.headers["mcp-session-id"],
                       "mcp-protocol-version": INIT["params"]["protocolVersion"]}  # fmt: skip
            note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            assert http.post(endpoint, json=note, headers=headers).status_code == 202
            yield McpWire(http, endpoint, headers, url, namespace)
    finally:
        process.terminate()
        process.wait(timeout=30)


# (tool, arguments as JSON text with %s where the hostile value goes); {sid} is the session.
HOSTILE_CALLS: list[tuple[str, str]] = [
    ("store_memory", '{"content": %s}'),
    ("store_memory", '{"content": "note {sid}", "importance": %s}'),
    ("store_memory", '{"content": "note {sid}", "tags": [%s]}'),
    ("store_memory", '{"content": "note {sid}", "kind": %s}'),
    ("search_memory", '{"query": %s}'),
    ("search_memory", '{"query": "q", "k": %s}'),
    ("forget_memory", '{"memory_id": %s}'),
    ("summarize_memory", '{"topic": %s}'),
    ("get_working_memory", '{"session": "{sid}", "key": %s}'),
    ("set_working_memory", '{"session": "{sid}", "values": {"k": %s}}'),
    ("set_working_memory", '{"session": "{sid}", "values": {%s: 1}}'),
    ("set_working_memory", '{"session": %s, "values": {"k": 1}}'),
    ("record_event", '{"session": "{sid}", "event_type": "t", "data": {"d": %s}}'),
    ("record_event", '{"session": "{sid}", "event_type": %s, "data": {}}'),
    ("checkpoint", '{"session": "{sid}", "state": {"s": %s}}'),
    ("restore_checkpoint", '{"session": "{sid}", "n": %s}'),
    ("get_context", '{"query": %s, "session": "{sid}"}'),
    ("get_context", '{"query": "q", "budget_tokens": %s}'),
]


def wire_footprint(w: McpWire, sid: str) -> dict[str, Any]:
    """What a call in `HOSTILE_CALLS` could have written for session `sid`."""
    with Memory.open(w.url, namespace=w.namespace) as mem:
        session = mem.agent(AGENT).session(sid)
        stored = (session.working.all(), session.events(limit=100), session.checkpoints())
    found = w.tool("search_memory", {"query": f"note {sid}", "k": 50})["result"]
    return {"session": stored, "memories": sorted(h["content"] for h in found)}


@pytest.mark.parametrize("template", HOSTILE_CALLS, ids=[f"{t} {a[:30]}" for t, a in HOSTILE_CALLS])
@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fragment=st.one_of(json_fragments, invalid_utf8))
def test_hostile_tool_arguments_over_http_are_tool_errors_that_write_nothing(
    wire: McpWire, template: tuple[str, str], fragment: str | bytes
) -> None:
    """The same value classes as the REST test, in every tool argument, sent as bytes on the
    wire: a protocol error for a body that is not JSON, else a tool result — the stored value
    on success, or ``isError`` with the error table's code — and nothing written."""
    tool, arguments = template
    sid = "s" + new_id().lower()
    before = wire_footprint(wire, sid)
    raw = fragment if isinstance(fragment, bytes) else fragment.encode()
    args = arguments.replace("{sid}", sid).encode().replace(b"%s", raw)
    body = b'{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "' + (
        tool.encode() + b'", "arguments": ' + args + b"}}"
    )
    response = wire.call(body)
    assert response.status_code < 500, response.text
    reply = rpc_reply(response) if response.status_code == 200 else {}
    result = reply.get("result")
    if result is not None and not result.get("isError"):
        return  # accepted: a JSON-safe value in a place that takes it
    if result is not None:
        code = result["structuredContent"]["error"]["code"]
        assert code in ("invalid_input", "too_large", "not_found"), result
    assert wire_footprint(wire, sid) == before, f"{tool} refused {args[:80]!r} but wrote"


# (tool, arguments with HOLE where the hostile value goes); in-process, so any Python value.
HOLE = object()
IN_PROCESS_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("store_memory", {"content": HOLE}),
    ("store_memory", {"content": "note", "tags": [HOLE]}),
    ("search_memory", {"query": HOLE}),
    ("summarize_memory", {"topic": HOLE}),
    ("get_working_memory", {"session": "s", "key": HOLE}),
    ("set_working_memory", {"session": "s", "values": {"k": HOLE}}),
    ("set_working_memory", {"session": "s", "values": {HOLE: 1}}),
    ("record_event", {"session": "s", "event_type": "t", "data": {"d": HOLE}}),
    ("checkpoint", {"session": "s", "state": {"s": HOLE}}),
    ("get_context", {"query": HOLE, "session": "s"}),
]


def _fill(arguments: Any, value: Any) -> Any:
    if arguments is HOLE:
        return value
    if isinstance(arguments, dict):
        return {_fill(k, value): _fill(v, value) for k, v in arguments.items()}
    if isinstance(arguments, list):
        return [_fill(v, value) for v in arguments]
    return arguments


@pytest.mark.parametrize("template", IN_PROCESS_CALLS, ids=[t for t, _ in IN_PROCESS_CALLS])
@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.one_of(with_surrogate, hostile))
async def test_hostile_tool_arguments_in_process_are_tool_errors_that_write_nothing(
    url: str, template: tuple[str, dict[str, Any]], value: Any
) -> None:
    """Python values the wire cannot carry (lone surrogates above all), through the SDK's
    in-process client, on every backend: a tool error with a typed code, and nothing written."""
    tool, arguments = template
    try:
        filled = _fill(arguments, value)
    except TypeError:
        return  # an unhashable value cannot be a mapping key, in any client
    namespace = "mcp-in-" + new_id().lower()
    memory = await AsyncMemory.open(url, namespace=namespace, embedder=WordHashEmbedder())
    async with memory, Client(build_server(AGENT, memory=memory)) as client:
        try:
            result = await client.call_tool(tool, filled)
        except (PydanticSerializationError, UnicodeError):
            return  # the client itself cannot send it (an arbitrary object, bytes as a key)
        if result.is_error:
            assert result.structured_content["error"]["code"] in ("invalid_input", "too_large")
            session = memory.agent(AGENT).session("s")
            assert await session.working.all() == {}
            assert await session.events() == [] and await session.checkpoints() == []
            assert await memory.agent(AGENT).recall("note", k=5) == []


async def test_search_memory_reaches_the_archive(url: str, namespace: str, tmp_path: Path) -> None:
    from aether_memory.core.config import Options, TTLs

    options = Options(namespace=namespace, ttl=TTLs(semantic=1.0))
    archive = "sqlite:///" + str(tmp_path / "archive.db")
    memory = await AsyncMemory.open(url, options=options, embedder=WordHashEmbedder(),
                                    archive=archive)  # fmt: skip
    async with memory, Client(build_server(AGENT, memory=memory)) as client:
        fact = {"content": "the deploy key rotates every Tuesday"}
        key = await call(client, "store_memory", fact)
        await asyncio.sleep(1.2)  # its lifetime ends
        assert (await memory.lifecycle.run()).archived == 1
        query = {"query": "deploy key rotates", "k": 1}
        assert (await call(client, "search_memory", query))["result"] == []
        found = await call(client, "search_memory", {**query, "include_archive": True})
        assert [m["id"] for m in found["result"]] == [key["id"]]
        bad = await call_error(client, "search_memory", {**query, "include_archive": "often"})
        assert bad["code"] == "invalid_input" and "include_archive" in bad["message"]


async def test_search_memory_without_an_archive_says_so(url: str, namespace: str) -> None:
    memory = await AsyncMemory.open(url, namespace=namespace, embedder=WordHashEmbedder())
    async with memory, Client(build_server(AGENT, memory=memory)) as client:
        query = {"query": "anything", "include_archive": True}
        assert (await call_error(client, "search_memory", query))["code"] == "configuration"


TEA = [
    "The user likes green tea",
    "The user drinks green tea every morning",
    "The user prefers green tea without sugar",
]


async def test_consolidate_memory_merges_only_the_agents_own(url: str, namespace: str) -> None:
    memory = await AsyncMemory.open(url, namespace=namespace, embedder=WordHashEmbedder())
    async with memory, Client(build_server(AGENT, memory=memory)) as client:
        mine = [(await call(client, "store_memory", {"content": t}))["id"] for t in TEA]
        other = [(await memory.agent("b").remember(t)).id for t in TEA]
        dry = await call(client, "consolidate_memory", {"kinds": None, "dry_run": True})
        assert (dry["clusters"], dry["created"]) == (1, [])
        done = await call(client, "consolidate_memory", {})
        assert (done["clusters"], done["consolidated"], len(done["created"])) == (1, 3, 1)
        made = await memory.agent(AGENT).memory_record(done["created"][0])
        assert made.agent == AGENT and set(made.related) == set(mine)
        for memory_id in other:  # another agent's memories are left as they were
            record = await memory.agent("b").memory_record(memory_id)
            assert "consolidated_into" not in record.metadata
        again = await call(client, "consolidate_memory", {"kinds": ["fact"], "dry_run": False})
        assert (again["clusters"], again["created"]) == (0, [])
        bad = await call_error(client, "consolidate_memory", {"kinds": "fact"})
        assert bad["code"] == "invalid_input" and "kinds" in bad["message"]


async def test_sigterm_stops_the_http_server_while_a_client_listens(
    servers: dict[str, RedisProcess], namespace: str
) -> None:
    """SIGTERM while a client holds the session's event stream open (``GET /mcp``, which
    stays open for server-sent messages): the server ends the stream and exits (the REST
    server's feed once kept it running; the SDK's session manager closes its streams)."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *server_args(servers["redis-modules"].url, namespace, "--transport", "http",
                     "--port", str(port)),
        env={**os.environ, **SERVER_ENV},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}/mcp"
    try:
        assert await _listening(port, process), "the server exited or did not listen"
        async with httpx.AsyncClient(timeout=30, headers=MCP_HEADERS) as http:
            opened = await http.post(endpoint, json=INIT)
            assert opened.status_code == 200
            session = {"mcp-session-id": opened.headers["mcp-session-id"],
                       "mcp-protocol-version": "2025-06-18"}  # fmt: skip
            ready = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            assert (await http.post(endpoint, json=ready, headers=session)).status_code == 202
            listen = {**session, "Accept": "text/event-stream"}
            async with http.stream("GET", endpoint, headers=listen) as stream:
                assert stream.status_code == 200
                process.send_signal(signal.SIGTERM)
                # A bound for a hang: the grace is a few seconds.
                code = await asyncio.wait_for(process.wait(), 60)
                with contextlib.suppress(httpx.HTTPError):  # ended, or cut: not left open
                    async for _ in stream.aiter_bytes():
                        pass
        assert code == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
