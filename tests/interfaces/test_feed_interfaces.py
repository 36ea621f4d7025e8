"""The feed, presence and messages through the interfaces: the REST server (Server-Sent
Events resumed by Last-Event-ID, presence, inbox, send, broadcast, with the scoped keys), the
function-calling tools, the MCP server and `aether tail`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from aether_memory import AsyncMemory, Memory
from aether_memory.core.ids import new_id
from aether_memory.mcp import build_server
from aether_memory.server.local import RedisProcess
from tests.conftest import server_named
from tests.integration.test_fallback import wait_for
from tests.interfaces.test_rest import KEY_A, KEY_ALL, NS_A, NS_B, RestServer, error, start

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rest(
    servers: dict[str, RedisProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RestServer]:
    server = start(server_named(servers, "redis-modules").url, tmp_path_factory.mktemp("rest"))
    try:
        yield server
    finally:
        server.stop()


def sse(client: httpx.Client, path: str, n: int, **headers: str) -> list[dict[str, Any]]:
    """The first `n` events of a Server-Sent Events stream (``id``, ``event``, ``data``)."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if "event" in current:
                    events.append(current)
                    if len(events) == n:
                        return events
                current = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                current[name] = json.loads(value) if name == "data" else value
    raise AssertionError("the stream ended early")


def test_the_feed_as_server_sent_events_resumes_by_last_event_id(rest: RestServer) -> None:
    ns = NS_A
    with rest.client(KEY_A) as a:
        start_at = a.get(f"/v1/namespaces/{ns}/feed/position").json()["position"]
        for i in range(5):
            r = a.post(f"/v1/namespaces/{ns}/broadcasts", json={"channel": "c", "body": i})
            assert r.status_code == 204, r.text
        path = f"/v1/namespaces/{ns}/feed?kinds=broadcast"
        first = sse(a, f"{path}&after={start_at}", 2)
        assert [e["data"]["body"] for e in first] == [0, 1]
        assert first[0]["event"] == "broadcast" and first[0]["id"] == first[0]["data"]["position"]
        rest_of = sse(a, f"{path}&after=0", 3, **{"Last-Event-ID": first[-1]["id"]})
        assert [e["data"]["body"] for e in rest_of] == [2, 3, 4]  # the header wins over after
        gone = sse(a, f"{path}", 1, **{"Last-Event-ID": "1-0"})
        assert gone[0]["event"] == "truncated" and "oldest" in gone[0]["data"]
        error(a.get(f"/v1/namespaces/{ns}/feed?after=x;y"), 400, "invalid_input")
        error(a.get(f"/v1/namespaces/{ns}/feed?kinds=nope"), 400, "invalid_input")


def test_presence_messages_and_inbox_routes(rest: RestServer) -> None:
    ns, run = NS_A, new_id().lower()
    boss, worker = f"boss-{run}", f"worker-{run}"
    with rest.client(KEY_A) as a:
        base = f"/v1/namespaces/{ns}"
        beat = a.put(f"{base}/agents/{worker}/heartbeat",
                     json={"status": "busy", "current_task": "t1", "ttl": 60})  # fmt: skip
        assert beat.status_code == 204, beat.text
        found = {s["agent"]: s for s in a.get(f"{base}/presence").json()["agents"]}
        assert found[worker]["online"] and found[worker]["current_task"] == "t1"
        sent = a.post(f"{base}/agents/{boss}/messages", json={"to": worker, "body": {"do": 1}})
        assert sent.status_code == 201, sent.text
        inbox = a.post(f"{base}/agents/{worker}/inbox", json={}).json()["messages"]
        assert [(m["id"], m["sender"], m["body"]) for m in inbox] == [
            (sent.json()["id"], boss, {"do": 1})
        ]
        again = a.post(f"{base}/agents/{worker}/inbox", json={"ack": inbox[-1]["id"]})
        assert again.json() == {"messages": []}
        error(a.post(f"{base}/agents/{boss}/messages", json={"to": "a:b", "body": 1}), 400,
              "invalid_input")  # fmt: skip
        error(a.post(f"{base}/broadcasts", json={"channel": "x}", "body": 1}), 400,
              "invalid_input")  # fmt: skip
        error(a.put(f"{base}/agents/{worker}/heartbeat", json={"ttl": -1}), 400, "invalid_input")


def test_a_key_cannot_reach_another_namespaces_feed(rest: RestServer) -> None:
    with rest.client(KEY_A) as a:
        base = f"/v1/namespaces/{NS_B}"
        for response in (
            a.get(f"{base}/feed"),
            a.get(f"{base}/feed/position"),
            a.get(f"{base}/presence"),
            a.put(f"{base}/agents/x/heartbeat", json={}),
            a.post(f"{base}/agents/x/messages", json={"to": "y", "body": 1}),
            a.post(f"{base}/agents/y/inbox", json={}),
            a.post(f"{base}/broadcasts", json={"channel": "c", "body": 1}),
        ):
            error(response, 403, "forbidden")
    with rest.client(KEY_ALL) as admin:  # nothing A tried reached B's inboxes
        assert admin.post(f"/v1/namespaces/{NS_B}/agents/y/inbox", json={}).json() == {
            "messages": []
        }


def test_the_tools_send_read_and_list(url: str, namespace: str) -> None:
    with Memory.open(url, namespace=namespace) as mem:
        mem.agent("worker").heartbeat(status="busy", current_task="report")
        sent = mem.agent("boss").tools.call("send_message", {"to_agent": "worker",
                                                             "message": "start"})  # fmt: skip
        assert sent["ok"], sent
        tools = mem.agent("worker").tools
        got = tools.call("read_inbox", {"ack": None, "limit": None})["result"]["messages"]
        assert [(m["sender"], m["body"]) for m in got] == [("boss", "start")]
        done = tools.call("read_inbox", {"ack": got[-1]["id"], "limit": 5})["result"]
        assert done == {"messages": []}
        agents = tools.call("agents_status", {})["result"]["agents"]
        assert [(s["agent"], s["status"]) for s in agents if s["online"]] == [("worker", "busy")]
        bad = tools.call("send_message", {"to_agent": "a:b", "message": "x"})
        assert bad["error"]["code"] == "invalid_input"


async def test_the_mcp_tools_send_read_and_list(url: str, namespace: str) -> None:
    memory = await AsyncMemory.open(url, namespace=namespace)
    async with memory, Client(build_server("boss", memory=memory)) as client:
        sent = await client.call_tool("send_message", {"to_agent": "worker", "message": "hi"})
        assert not sent.is_error, sent.content
        await memory.agent("worker").heartbeat()
        status = await client.call_tool("agents_status", {})
        assert "worker" in {s["agent"] for s in status.structured_content["agents"]}
        got = await memory.agent("worker").inbox()
        assert [(m.sender, m.body) for m in got] == [("boss", "hi")]
        inbox = await client.call_tool("read_inbox", {"ack": None, "limit": None})
        assert inbox.structured_content == {"messages": []}  # boss's own inbox


def _interruptible() -> None:
    """In the child, before exec: Ctrl-C as in a terminal. A disposition or mask inherited
    from the test process (whatever an earlier test left) would otherwise make it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_aether_tail_prints_the_feed_as_json_lines(url: str, tmp_path: Path) -> None:
    ns = "t" + new_id().lower()
    with Memory.open(url, namespace=ns) as mem:
        start_at = mem.feed.position()
        out = tmp_path / "tail.jsonl"
        env = {**os.environ, "AETHER_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1",
               "PYTHONFAULTHANDLER": "1"}  # fmt: skip
        err = tmp_path / "tail.err"  # warnings (e.g. no archive configured) go there
        with out.open("wb") as sink, err.open("wb") as errors:
            tail = subprocess.Popen(
                [sys.executable, "-m", "aether_memory.cli.main", "tail", "--url", url,
                 "--namespace", ns, "--after", start_at, "--kind", "broadcast"],
                stdout=sink, stderr=errors, env=env, cwd=ROOT, preexec_fn=_interruptible,
            )  # fmt: skip
        try:
            mem.agent("a").state.set(x=1)  # filtered out
            for i in range(3):
                mem.broadcast("c", i)
            wait_for(lambda: out.read_text().count("\n") >= 3, "aether tail's lines")
        finally:
            tail.send_signal(signal.SIGINT)
            try:
                tail.wait(timeout=60)
            except subprocess.TimeoutExpired as exc:
                tail.send_signal(signal.SIGABRT)  # faulthandler prints where it is stuck
                tail.wait(timeout=30)
                raise AssertionError(
                    f"Ctrl-C did not stop aether tail (test process: SIGINT "
                    f"{signal.getsignal(signal.SIGINT)}, blocked "
                    f"{signal.pthread_sigmask(signal.SIG_BLOCK, set())}):\n{err.read_text()}"
                ) from exc
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(n["kind"], n["body"]) for n in lines] == [("broadcast", 0), ("broadcast", 1),
                                                      ("broadcast", 2)]  # fmt: skip


def test_the_server_stops_while_a_feed_client_listens(
    servers: dict[str, RedisProcess], tmp_path: Path
) -> None:
    """SIGTERM with a Server-Sent Events client connected: the server exits within its grace
    and the stream ends (before, it waited for the client to leave, and the client waited
    for events)."""
    server = start(server_named(servers, "redis-modules").url, tmp_path)
    try:
        with server.client(KEY_A) as a, a.stream("GET", f"/v1/namespaces/{NS_A}/feed") as feed:
            assert feed.status_code == 200
            lines = feed.iter_lines()
            assert next(lines).startswith(":")  # subscribed
            server.proc.terminate()
            server.proc.wait(timeout=60)  # a bound for a hang: the grace is a few seconds
            # The client is not left waiting: its stream ends (cut mid-stream, as a lost
            # connection is; an EventSource then reconnects with its Last-Event-ID).
            with pytest.raises(httpx.RemoteProtocolError):
                list(lines)
    finally:
        server.kill()
