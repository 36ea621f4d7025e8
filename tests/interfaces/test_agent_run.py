"""The memory-augmented agent wrapper and the example agent that uses it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aether_memory import AsyncMemory, Memory
from tests.word_embedder import WordHashEmbedder

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "research_agent.py"


@pytest.fixture
def mem(url: str, namespace: str) -> Iterator[Memory]:
    with Memory.open(url, namespace=namespace, embedder=WordHashEmbedder()) as memory:
        yield memory


def test_run_records_tools_caches_and_saves_the_episode(mem: Memory) -> None:
    agent = mem.agent("a")
    calls: list[str] = []

    def search(query: str) -> list[str]:
        calls.append(query)
        return [f"page about {query}"]

    with agent.run(task="find pages", cacheable={"search"}) as run:
        assert agent.state.get()["status"] == "working"
        assert run.tool("search", search, query="redis") == ["page about redis"]
        assert run.tool("search", search, query="redis") == ["page about redis"]  # cached
        run.fact("Redis pages exist", importance=0.7)
        assert run.checkpoint({"found": 1}) == 1
        assert "Redis pages exist" in run.context("redis pages")
    assert calls == ["redis"]
    events = run.session.events(limit=10, types=["tool_call"])
    assert [e.data["cached"] for e in events] == [False, True]
    assert events[0].data["input"] == {"query": "redis"}
    assert events[0].latency_ms is not None
    assert run.episode is not None and run.episode.success
    assert run.episode.task_prompt == "find pages"
    assert agent.state.get()["status"] == "idle"
    assert agent.recall("redis pages", k=1)[0].record.session == run.session.id


def test_a_failing_tool_is_recorded_and_the_episode_says_so(mem: Memory) -> None:
    agent = mem.agent("a")

    def broken() -> None:
        raise TimeoutError("upstream did not answer")

    with pytest.raises(TimeoutError), agent.run(task="doomed") as run:
        run.tool("fetch", broken)
    (event,) = run.session.events(types=["tool_call"])
    assert event.outcome == "failure"
    assert "upstream did not answer" in event.data["output"]["error"]
    assert run.episode is not None and not run.episode.success
    assert "TimeoutError" in run.episode.outcome


def test_unserialisable_tool_output_is_recorded_as_repr(mem: Memory) -> None:
    with mem.agent("a").run() as run:
        value = run.tool("now", lambda: {1, 2})
    assert value == {1, 2}
    (event,) = run.session.events(types=["tool_call"])
    assert event.data["output"] == {"repr": "{1, 2}"}


async def test_async_run(url: str, namespace: str) -> None:
    mem = await AsyncMemory.open(url, namespace=namespace, embedder=WordHashEmbedder())
    async with mem:

        async def lookup(key: str) -> str:
            return key.upper()

        async with mem.agent("a").run(task="t", cacheable={"lookup"}) as run:
            assert await run.tool("lookup", lookup, key="x") == "X"
            await run.step("think", "done")
        assert run.episode is not None and len(run.episode.steps) == 2


def test_example_agent_runs_offline_and_remembers(url: str) -> None:
    env = {**os.environ, "AETHER_URL": url, "HF_HUB_OFFLINE": "1"}
    first = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, env=env, timeout=120
    )
    assert first.returncode == 0, first.stderr
    assert "saved episode" in first.stdout
    assert "appendfsync everysec" in first.stdout.split("recall:")[1]
    second = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, env=env, timeout=120
    )
    assert second.returncode == 0, second.stderr
    assert "I did this before" in second.stdout
    assert "remembered (duplicate)" in second.stdout
