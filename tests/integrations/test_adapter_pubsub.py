"""Document 004's multi-agent example: "when agent_001 saves an episode, agent_002 will be
notified via pub/sub" — with ``enable_pubsub=True``, on each kind of Redis server."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

import pytest

from aether_memory.compat.adapter import create_memory_adapter
from aether_memory.core.feed import Notification
from tests.word_embedder import WordHashEmbedder

WAIT_SECONDS = 60


def _server(redis_url: str) -> tuple[str, int]:
    host, port = redis_url.removeprefix("redis://").split("/")[0].rsplit(":", 1)
    return host, int(port)


def _options(redis_url: str, namespace: str) -> dict[str, Any]:
    host, port = _server(redis_url)
    return {"backend": "redis", "redis_host": host, "redis_port": port,
            "namespace": namespace, "embedder": WordHashEmbedder()}  # fmt: skip


async def test_agent_002_is_notified_when_agent_001_saves_an_episode(
    redis_url: str, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    common = _options(redis_url, namespace)
    agent1 = await create_memory_adapter(agent_id="agent_001", enable_pubsub=True, **common)
    agent2 = await create_memory_adapter(agent_id="agent_002", enable_pubsub=True, **common)
    received: asyncio.Queue[Notification] = asyncio.Queue()
    agent2.on_update(received.put)
    try:
        with caplog.at_level(logging.INFO, logger="aether_memory"):
            await agent1.add_step("search", "found it", success=True)
            episode = await agent1.save_episode("find the report", "found", success=True)
            note = await asyncio.wait_for(received.get(), 30)
            assert (note.kind, note.op, note.id, note.agent) == (
                "episode",
                "remembered",
                episode.memory_id,
                "agent_001",
            )
            results = await agent2.search_episodes("report")  # and agent 2 can search it
            assert [r.memory_id for r in results] == [episode.memory_id]
        expected = f"Received memory update: add episodic {episode.memory_id} from agent_001"
        assert expected in caplog.text
    finally:
        await agent1.close()
        await agent2.close()


async def test_a_failing_callback_surfaces_on_close(redis_url: str, namespace: str) -> None:
    common = _options(redis_url, namespace)
    listener = await create_memory_adapter(agent_id="b", enable_pubsub=True, **common)
    writer = await create_memory_adapter(agent_id="a", **common)
    failed = asyncio.Event()

    def callback(note: Notification) -> None:
        failed.set()
        raise RuntimeError(f"cannot handle {note.id}")

    listener.on_update(callback)
    try:
        await writer.save_skill("s", "a skill", ["x"])
        await asyncio.wait_for(failed.wait(), 30)
        await asyncio.sleep(0.05)
    finally:
        await writer.close()
    with pytest.raises(RuntimeError, match="cannot handle"):
        await listener.close()


async def test_agents_in_two_processes_notify_each_other(
    redis_url: str, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Document 004's two agents in two processes on one Redis: agent_001 (a child process)
    saves an episode and agent_002 is notified and finds it; agent_002's episode reaches
    agent_001 the same way."""
    agent2 = await create_memory_adapter(
        agent_id="agent_002", enable_pubsub=True, **_options(redis_url, namespace)
    )
    received: asyncio.Queue[Notification] = asyncio.Queue()
    agent2.on_update(received.put)
    host, port = _server(redis_url)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.integrations.adapter_agent", host, str(port), namespace,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    try:
        with caplog.at_level(logging.INFO, logger="aether_memory"):
            line = await asyncio.wait_for(child.stdout.readline(), WAIT_SECONDS)
            assert line, (await child.communicate())[1].decode()
            saved = json.loads(line)["saved"]
            note = await asyncio.wait_for(received.get(), WAIT_SECONDS)
            assert (note.kind, note.op, note.id, note.agent) == (
                "episode", "remembered", saved, "agent_001",
            )  # fmt: skip
            found = await agent2.search_episodes("quarterly report")
            assert [r.memory_id for r in found] == [saved]
        expected = f"Received memory update: add episodic {saved} from agent_001"
        assert expected in caplog.text

        reply = await agent2.save_episode("read the summary", "read", success=True)
        out, err = await asyncio.wait_for(child.communicate(), WAIT_SECONDS)
        assert child.returncode == 0, err.decode()
        assert json.loads(out) == {
            "notified": {"kind": "episode", "op": "remembered", "id": reply.memory_id,
                         "agent": "agent_002"},
        }  # fmt: skip
    finally:
        if child.returncode is None:
            child.kill()
            await child.communicate()
        await agent2.close()
