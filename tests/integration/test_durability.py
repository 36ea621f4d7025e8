"""Memory survives the death of the agent process, and of the server within its fsync policy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aether_memory import Memory
from aether_memory.server.local import RedisProcess

# The agent writes, prints "written" once every write has been acknowledged, then waits to be
# killed: nothing gets a chance to flush or close cleanly.
AGENT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from aether_memory import Memory

    url, namespace, identity_dir = sys.argv[1:4]
    mem = Memory.open(url, namespace=namespace)
    agent = mem.agent("kernel")
    agent.identity.load_dir(identity_dir)
    agent.state.set(status="busy", current_task="long job")
    session = agent.session("boot-1")
    session.tool_schema(lambda: {"tools": ["search"]})
    session.working.update({"goal": "survive", "progress": 0.6})
    for i in range(50):
        session.add_step(f"step {i}", {"ok": i})
    session.record("user_message", {"text": "Remember this: the secret code is 42"})
    session.checkpoint({"resume_at": 50, "notes": ["a", "b"]})
    print("written", flush=True)
    time.sleep(600)
    """
)


def test_agent_killed_with_sigkill_loses_nothing(url: str, namespace: str, tmp_path: Path) -> None:
    identity = tmp_path / "identity"
    identity.mkdir()
    (identity / "aether_core.md").write_text("# Core\nI persist.\n", encoding="utf-8")
    (identity / "mission.md").write_text("Survive restarts.", encoding="utf-8")

    proc = subprocess.Popen(
        [sys.executable, "-c", AGENT, url, namespace, str(identity)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "written"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    with Memory.open(url, namespace=namespace) as mem:
        agent = mem.agent("kernel")
        assert agent.identity.all() == {
            "aether_core": "# Core\nI persist.\n",
            "mission": "Survive restarts.",
        }
        assert agent.state.get()["current_task"] == "long job"
        session = agent.session("boot-1")
        assert session.working.all() == {"goal": "survive", "progress": 0.6}
        events = session.events(limit=100)
        assert len(events) == 51
        assert [e.data["action"] for e in events[:50]] == [f"step {i}" for i in range(50)]
        assert events[-1].type == "user_message"
        assert session.restore() == {"resume_at": 50, "notes": ["a", "b"]}
        assert session.tool_schema(lambda: pytest.fail("schema rebuilt")) == {"tools": ["search"]}
        assert [s.id for s in agent.sessions()] == ["boot-1"]


@pytest.mark.parametrize("modules", [True, False], ids=["redis-modules", "redis-plain"])
def test_server_killed_with_sigkill_keeps_acknowledged_writes(
    tmp_path: Path, modules: bool
) -> None:
    server = RedisProcess(tmp_path / "data", fsync="always", modules=modules)
    server.start()
    try:
        with Memory.open(server.url, namespace="durable") as mem:
            agent = mem.agent("a")
            agent.identity.put("mission", "keep everything")
            session = agent.session("s")
            written = session.record_many([("message", {"i": i}) for i in range(200)])
            for i in range(20):
                session.working.set(f"k{i}", i)
            n = session.checkpoint({"at": 200})

        server.kill()  # SIGKILL: no shutdown, no final AOF flush
        server.restart()

        with Memory.open(server.url, namespace="durable") as mem:
            agent = mem.agent("a")
            session = agent.session("s")
            assert agent.identity.get("mission") == "keep everything"
            assert [e.id for e in session.events(limit=500)] == [e.id for e in written]
            assert session.working.all() == {f"k{i}": i for i in range(20)}
            assert session.restore(n) == {"at": 200}
            assert session.checkpoint({"at": 201}) == n + 1  # numbering continues
    finally:
        server.stop()


def test_client_reconnects_after_server_restart(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path / "data", fsync="always")
    server.start()
    try:
        with Memory.open(server.url, namespace="reconnect") as mem:
            session = mem.agent("a").session("s")
            assert session.checkpoint({"v": 1}) == 1
            server.kill()
            server.restart()  # same port: the pool's connections are dead, scripts are gone
            session.working.set("after", True)  # reconnects on its own
            assert session.checkpoint({"v": 2}) == 2  # reloads the lost Lua script
            assert session.restore() == {"v": 2}
            assert session.working.get("after") is True
    finally:
        server.stop()


def test_unreachable_server_gives_backend_unavailable(tmp_path: Path) -> None:
    from aether_memory import BackendUnavailable, Options

    server = RedisProcess(tmp_path / "data")
    server.start()
    options = Options(namespace="down", socket_timeout=0.5, connect_timeout=0.5, retries=1)
    mem = Memory.open(server.url, options=options)
    try:
        server.kill()
        with pytest.raises(BackendUnavailable) as info:
            mem.agent("a").session("s").working.set("k", 1)
        assert info.value.retryable
        with pytest.raises(BackendUnavailable):
            Memory.open(server.url, options=options)
    finally:
        mem.close()
        server.stop()
