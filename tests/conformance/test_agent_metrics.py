"""Agent metrics on every store: written with the events, read back per bucket and tool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aether_memory import AsyncMemory, InvalidInput, Memory
from aether_memory.client._async import agent as async_agent
from aether_memory.client._async import session as async_session
from aether_memory.client._sync import agent as sync_agent
from aether_memory.client._sync import session as sync_session
from aether_memory.core.ids import now_ms


def at(monkeypatch: pytest.MonkeyPatch, ms: int) -> None:
    """Make the client's clock read `ms` (the store's TTLs still run on the server's)."""
    # Events are stamped by the session, metrics windows read by the agent.
    for module in (sync_session, async_session, sync_agent, async_agent):
        monkeypatch.setattr(module, "now_ms", lambda: ms)


def test_calls_errors_latency_and_tokens_per_tool(mem: Memory) -> None:
    agent = mem.agent("worker")
    s = agent.session("s1")
    s.record("tool_call", {"tool": "search", "q": "x"}, latency_ms=12.5, tokens=(100, 20))
    s.record("tool_call", {"tool": "search"}, outcome="failure", latency_ms=40.0)
    s.record_many([("tool_call", {"tool": "fetch"}, "success", 3.0, {"in": 5, "out": 1})])
    s.add_step("think", "done", success=False)

    out = agent.metrics(since=timedelta(minutes=5))
    assert out.agent == "worker"
    assert out.bucket_seconds == 60
    series = {(b.tool): b for b in out.buckets}
    assert set(series) == {None, "search", "fetch"}  # one minute, unless it just turned
    total = [b for b in out.buckets if b.tool is None]
    assert sum(b.calls for b in total) == 4
    assert sum(b.errors for b in total) == 2
    assert sum(b.tokens_in for b in total) == 105
    assert sum(b.tokens_out for b in total) == 21
    assert sum(b.latency_ms_sum for b in total) == pytest.approx(55.5)
    assert max(b.latency_ms_max for b in total) == 40.0
    search = [b for b in out.buckets if b.tool == "search"]
    assert (sum(b.calls for b in search), sum(b.errors for b in search)) == (2, 1)

    only = agent.metrics(since=timedelta(minutes=5), tool="fetch")
    assert {b.tool for b in only.buckets} == {"fetch"}
    assert mem.agent("other").metrics().buckets == []


def test_bucket_boundaries(mem: Memory, monkeypatch: pytest.MonkeyPatch) -> None:
    minute = (now_ms() // 3_600_000 - 1) * 3600  # the start of the previous hour, in seconds
    agent = mem.agent("clock")
    s = agent.session("s")
    at(monkeypatch, (minute + 59) * 1000 + 999)  # the last millisecond of a minute
    s.record("tool_call", {"tool": "t"}, latency_ms=1.0)
    at(monkeypatch, (minute + 60) * 1000)  # the first of the next
    s.record("tool_call", {"tool": "t"}, latency_ms=2.0)
    at(monkeypatch, (minute + 3599) * 1000)  # the hour's last second
    s.record("step", {})
    at(monkeypatch, (minute + 3600) * 1000)  # the next hour
    s.record("step", {})
    at(monkeypatch, (minute + 3700) * 1000)

    since = datetime.fromtimestamp(minute, UTC)
    by_minute = agent.metrics(since=since, bucket=60)
    totals = [(b.start, b.calls, b.latency_ms_sum) for b in by_minute.buckets if b.tool is None]
    assert totals == [
        (datetime.fromtimestamp(minute, UTC), 1, 1.0),
        (datetime.fromtimestamp(minute + 60, UTC), 1, 2.0),
        (datetime.fromtimestamp(minute + 3540, UTC), 1, 0.0),
        (datetime.fromtimestamp(minute + 3600, UTC), 1, 0.0),
    ]
    by_hour = agent.metrics(since=since, bucket=timedelta(hours=1))
    assert [(b.start, b.tool, b.calls) for b in by_hour.buckets] == [
        (datetime.fromtimestamp(minute, UTC), None, 3),
        (datetime.fromtimestamp(minute, UTC), "t", 2),
        (datetime.fromtimestamp(minute + 3600, UTC), None, 1),
    ]
    two = agent.metrics(since=since, bucket=120, tool="t")
    assert [(b.start, b.calls, b.latency_ms_max) for b in two.buckets] == [
        (datetime.fromtimestamp(minute, UTC), 2, 2.0)
    ]


def test_bad_input_writes_nothing(mem: Memory) -> None:
    agent = mem.agent("careful")
    s = agent.session("s")
    with pytest.raises(InvalidInput):
        s.record("tool_call", {"tool": "x"}, tokens=(-1, 0))
    with pytest.raises(InvalidInput):
        s.record_many([("step", {}), ("step", {}, "success", None, "lots")])
    assert s.events() == []
    assert agent.metrics().buckets == []
    for bad in ({"bucket": 30}, {"bucket": 0}, {"since": "yesterday"}, {"tool": "a:b"}):
        with pytest.raises(InvalidInput):
            agent.metrics(**bad)  # type: ignore[arg-type]


def test_erasing_the_namespace_erases_the_metrics(mem: Memory) -> None:
    agent = mem.agent("gone")
    agent.session("s").record("step", {})
    assert agent.metrics().buckets
    mem.erase_namespace()
    assert agent.metrics().buckets == []


async def test_async_metrics(amem: AsyncMemory) -> None:
    agent = amem.agent("async-worker")
    await agent.session("s").record("tool_call", {"tool": "a"}, tokens=(1, 2))
    out = await agent.metrics(bucket=3600)
    assert [(b.tool, b.calls, b.tokens_out) for b in out.buckets] == [(None, 1, 2), ("a", 1, 2)]


def test_a_retried_event_write_counts_once_on_redis(redis_url: str, namespace: str) -> None:
    """The write a fallback replays (or redis-py retries) after it was applied: the events
    script skips it by its write id, and so does the metrics script."""
    from aether_memory.core.agent_metrics import metric_writes

    with Memory.open(redis_url, namespace=namespace) as mem:
        s = mem.agent("retry").session("s")
        s.record("step", {})  # the session's meta
        store, keys_ = mem.kernel.store, s._keys
        ts = now_ms()
        rows = [
            ("01J0000000000000000000RETRY", "step", "success", ts, 4.0, mem.kernel.codec.encode({}))
        ]
        metrics = metric_writes(keys_.ns, keys_.agent, [(ts, None, False, 4.0, 3, 0)])
        for _ in range(2):
            store.events_append(keys_, rows, ts, mem.kernel.ttls, metrics)
        out = mem.agent("retry").metrics(bucket=3600)
        assert [(b.calls, b.tokens_in) for b in out.buckets] == [(2, 3)]
        assert len(s.events()) == 2


def test_erasing_the_agent_erases_its_metrics(mem: Memory) -> None:
    agent, other = mem.agent("leaving"), mem.agent("staying")
    agent.session("s").record("tool_call", {"tool": "t"})
    other.session("s").record("step", {})
    agent.erase()
    assert agent.metrics(bucket=60).buckets == agent.metrics(bucket=3600).buckets == []
    assert other.metrics().buckets
