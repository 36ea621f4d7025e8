"""The async API is the source of the sync one: the same behaviour, awaited."""

from __future__ import annotations

import asyncio

import pytest

from aether_memory import AsyncMemory, ClientClosed, NotFound
from aether_memory.core.ids import new_id


async def test_async_session_round_trip(amem: AsyncMemory) -> None:
    agent = amem.agent("planner")
    await agent.identity.put("mission", "remember")
    await agent.state.set(status="busy")
    s = agent.session("s1")
    await s.working.update({"goal": "x", "n": 1})
    await s.scratch.set("tmp", [1, 2])
    await s.add_step("search", {"hits": 3})
    await s.record("tool_call", {"tool": "web"}, latency_ms=3.0)
    n = await s.checkpoint({"step": 2})

    assert await agent.identity.get("mission") == "remember"
    assert (await agent.state.get())["status"] == "busy"
    assert await s.working.all() == {"goal": "x", "n": 1}
    assert await s.scratch.get("tmp") == [1, 2]
    assert [e.type for e in await s.events()] == ["step", "tool_call"]
    assert await s.restore() == {"step": 2}
    assert await s.restore(n) == {"step": 2}
    with pytest.raises(NotFound):
        await s.restore(n + 1)
    assert [c.n for c in await s.checkpoints()] == [n]


async def test_async_concurrent_writers_keep_every_event(amem: AsyncMemory) -> None:
    s = amem.agent("a").session("busy")

    async def writer(w: int) -> None:
        for i in range(25):
            await s.record("message", {"w": w, "i": i})

    await asyncio.gather(*(writer(w) for w in range(8)))
    events = await s.events(limit=1000)
    assert len(events) == 200
    assert len({e.id for e in events}) == 200
    for w in range(8):  # each writer's events are in its own order
        mine = [e.data["i"] for e in events if e.data["w"] == w]
        assert mine == list(range(25))


async def test_async_tool_schema_accepts_coroutine_builders(amem: AsyncMemory) -> None:
    async def build() -> list[str]:
        return ["search"]

    s = amem.agent("a").session("s")
    assert await s.tool_schema(build) == ["search"]
    assert await s.tool_schema(lambda: ["other"]) == ["search"]


async def test_async_cached_decorator(amem: AsyncMemory) -> None:
    calls = []

    @amem.cached("fetch")
    async def fetch(url: str) -> str:
        calls.append(url)
        return url.upper()

    assert await fetch("a") == "A"
    assert await fetch(url="a") == "A"
    assert calls == ["a"]


async def test_async_rotate_and_history(amem: AsyncMemory) -> None:
    s1 = amem.agent("a").session("s1")
    await s1.working.set("k", "v")
    s2 = await s1.rotate()
    assert await s2.working.get("k") == "v"
    assert await s2.history() == ["s1", s2.id]


async def test_async_closed(url: str, namespace: str) -> None:
    mem = await AsyncMemory.open(url, namespace=namespace)
    await mem.aclose()
    with pytest.raises(ClientClosed):
        await mem.agents()


async def test_async_long_term_memory(url: str, namespace: str) -> None:
    from tests.word_embedder import WordHashEmbedder

    mem = await AsyncMemory.open(url, namespace=namespace, embedder=WordHashEmbedder())
    async with mem:
        await mem.setup()
        await mem.setup()  # idempotent
        agent = mem.agent("a")
        records = await agent.remember_many(["the deploy failed on friday", "lunch at noon"])
        hits = await agent.recall("deploy failure", k=1)
        assert hits[0].record.id == records[0].id
        s = agent.session("s")
        await s.add_step("deploy", "failed")
        episode = await s.save_episode("Deploy v2", "rolled back", False)
        assert [e.id for e in await agent.search_episodes("deploy")] == [episode.id]
        assert "## Past episodes" in await agent.context("deploy", session=s)
        assert await agent.forget(records[1].id) == 1


async def test_an_async_subscription_ends_when_its_memory_is_closed(url: str) -> None:
    """A task iterating a subscription finishes when the memory is closed under it."""
    mem = await AsyncMemory.open(url, namespace="t" + new_id().lower())
    got: list[object] = []
    start = await mem.feed.position()

    async def listen() -> None:
        async for note in mem.subscribe(after=start):
            got.append(note.body)

    task = asyncio.create_task(listen())
    await mem.broadcast("before", 1)
    for _ in range(3000):
        if got:
            break
        await asyncio.sleep(0.01)
    await mem.aclose()
    await asyncio.wait_for(task, 30)  # a bound for a hang: it ends within one look (~1 s)
    assert got == [1]
    with pytest.raises(ClientClosed):
        mem.subscribe()
