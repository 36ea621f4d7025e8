"""Traces and metrics with the real OpenTelemetry SDK, on every store."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

from aether_memory import AsyncMemory, Memory, NotFound
from tests.telemetry import Otel, otel_setup
from tests.word_embedder import WordHashEmbedder


@pytest.fixture
def otel() -> Iterator[Otel]:
    yield from otel_setup()


def backend_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "redis"


def test_spans_for_the_main_operations(otel: Otel, lt: Memory, url: str) -> None:
    agent = lt.agent("planner")
    s = agent.session("s1")
    s.working.set("goal", "ship")
    s.record("tool_call", {"tool": "search"}, latency_ms=3.0, tokens=(5, 2))
    s.checkpoint({"step": 1})
    agent.remember("The deploy runs on Fridays", kind="fact")
    hits = agent.recall("when does the deploy run", k=3)

    names = [sp.name for sp in otel.spans()]
    assert names == ["working.set", "record", "checkpoint", "remember", "recall"]
    for sp in otel.spans():
        assert sp.kind == SpanKind.CLIENT
        assert sp.attributes["db.system"] == backend_of(url)
        assert sp.attributes["db.operation"] == sp.name
        assert sp.attributes["aether.namespace"] == lt.namespace
        assert sp.attributes["aether.agent"] == "planner"
        assert sp.status.status_code == StatusCode.UNSET
    ws = otel.span("working.set")
    assert ws.attributes["aether.session"] == "s1"
    assert ws.attributes["aether.kind"] == "working"
    assert ws.attributes["aether.bytes"] > 0
    assert otel.span("checkpoint").attributes["aether.bytes"] > 0
    assert otel.span("remember").attributes["aether.kind"] == "fact"
    assert otel.span("recall").attributes["aether.hits"] == len(hits) >= 1
    if backend_of(url) == "redis":
        assert ws.attributes["server.address"] == "127.0.0.1"
        assert isinstance(ws.attributes["server.port"], int)


async def test_async_spans(otel: Otel, url: str, namespace: str) -> None:
    mem = await AsyncMemory.open(url, namespace=namespace, embedder=WordHashEmbedder())
    async with mem:
        s = mem.agent("a").session("s")
        await s.working.set("k", 1)
        await s.add_step("look", "ok")
        await s.checkpoint([1])
        assert await s.restore() == [1]
        await mem.agent("a").remember("async memories are traced too")
        await mem.agent("a").recall("traced")
    assert [sp.name for sp in otel.spans()] == [
        "working.set", "add_step", "checkpoint", "restore", "remember", "recall",
    ]  # fmt: skip
    assert all(sp.attributes["db.system"] == backend_of(url) for sp in otel.spans())


def test_errors_are_recorded(otel: Otel, mem: Memory) -> None:
    s = mem.agent("a").session("s")
    with pytest.raises(NotFound):
        s.restore(7)
    span = otel.span("restore")
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == NotFound.code
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"].endswith("NotFound")
    assert otel.total("aether.operation.errors", **{"aether.operation": "restore"}) == 1
    labels = {"aether.operation": "restore", "error.type": NotFound.code}
    assert otel.total("aether.operation.duration", **labels) == 1


def test_events_carry_the_trace_id(otel: Otel, lt: Memory) -> None:
    agent = lt.agent("a")
    s = agent.session("s")
    tracer = otel.tracer_provider.get_tracer("the-app")
    with tracer.start_as_current_span("handle request") as parent:
        event = s.record("step", {"n": 1})
        (batch,) = s.record_many([("step", {"n": 2})])
        step = s.add_step("look", "ok")
        (turn,) = s.add_messages([{"speaker": "user", "content": "hello"}])
        with agent.run(session=s) as run:
            run.tool("search", lambda q: [q], q="x")
    trace_id = format(parent.get_span_context().trace_id, "032x")
    assert event.trace_id == batch.trace_id == step.trace_id == trace_id
    record = otel.spans("record")[0]
    assert record.parent is not None and record.parent.span_id == parent.get_span_context().span_id
    alone = s.record("step", {"n": 3})
    alone_trace = format(otel.spans("record")[-1].context.trace_id, "032x")
    assert alone.trace_id == alone_trace != trace_id

    # Stored with each event: every read returns the trace it was written in.
    expected = {event.id: trace_id, batch.id: trace_id, step.id: trace_id,
                turn.event_id: trace_id, alone.id: alone_trace}  # fmt: skip
    read = {e.id: e.trace_id for e in s.events(limit=100)}
    paged = {e.id: e.trace_id for e in s.list_events(limit=100).items}
    for found in (read, paged):
        assert {i: found[i] for i in expected} == expected
    tool_calls = s.events(limit=100, types=["tool_call"])
    assert [e.trace_id for e in tool_calls] == [trace_id]


def test_events_outside_a_span_have_no_trace_id(otel: Otel, mem: Memory) -> None:
    """An SDK is set up but no span is recording (a sampled-out parent): nothing is stored."""
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, use_span

    s = mem.agent("a").session("s")
    unsampled = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(0))
    traced = s.record("step", {})  # inside its own sampled `record` span
    assert traced.trace_id is not None
    with use_span(NonRecordingSpan(unsampled)):
        quiet = s.record("step", {})
    assert quiet.trace_id is None
    assert [e.trace_id is None for e in s.events()] == [False, True]


def test_metrics_values(otel: Otel, lt: Memory, url: str) -> None:
    agent = lt.agent("m")
    s = agent.session("s")
    for i in range(3):
        s.working.set(f"k{i}", i)
    s.working.get("k0")
    assert lt.cache.lookup("search", {"q": 1}) == (False, None)
    lt.cache.put("search", {"q": 1}, ["r"])
    assert lt.cache.lookup("search", {"q": 1}) == (True, ["r"])
    assert lt.cache.lookup("search", {"q": 1}) == (True, ["r"])
    agent.remember("metrics are counted")
    agent.recall("counted")

    backend = backend_of(url)
    ops = "aether.operations"
    assert otel.total(ops, **{"aether.operation": "working.set", "db.system": backend}) == 3
    assert otel.total(ops, **{"aether.operation": "working.get"}) == 1
    assert otel.total("aether.operation.duration", **{"aether.operation": "working.set"}) == 3
    assert otel.total("aether.operation.errors") == 0
    assert otel.total("aether.cache.lookups", **{"aether.cache.hit": True}) == 2
    assert otel.total("aether.cache.lookups", **{"aether.cache.hit": False}) == 1
    for phase in ("embedding", "search", "ranking", "fetch"):
        assert otel.total("aether.recall.duration", **{"aether.recall.phase": phase}) == 1


class ThreadMarker(SpanProcessor):
    """Marks each span with the thread that started it: the instrumentation is process-wide,
    so a thread another test left running could add spans of its own."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        span.set_attribute("test.thread", threading.get_ident())


def test_redis_instrumentation_spans_are_children_of_ours(
    otel: Otel, redis_url: str, namespace: str
) -> None:
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    otel.tracer_provider.add_span_processor(ThreadMarker())
    instrumentor = RedisInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    try:
        with Memory.open(redis_url, namespace=namespace) as mem:
            otel.exporter.clear()  # the probe at open runs outside any operation of ours
            s = mem.agent("a").session("s")
            s.working.set("k", "v")
            s.record("step", {})
            assert s.working.get("k") == "v"
    finally:
        instrumentor.uninstrument()
    ours = {sp.context.span_id: sp for sp in otel.spans() if sp.name in {
        "working.set", "record", "working.get"}}  # fmt: skip
    assert len(ours) == 3
    redis_spans = [sp for sp in otel.spans() if sp.attributes.get("db.system") == "redis"
                   and sp.attributes.get("test.thread") == threading.get_ident()
                   and sp.context.span_id not in ours]  # fmt: skip
    assert redis_spans, "the instrumentation recorded no command"
    for sp in redis_spans:
        assert sp.parent is not None and sp.parent.span_id in ours, sp.name
        assert sp.context.trace_id == ours[sp.parent.span_id].context.trace_id
    # One span per operation of ours: nothing doubled.
    assert sorted(sp.name for sp in ours.values()) == ["record", "working.get", "working.set"]


async def test_redis_instrumentation_with_the_async_client(
    otel: Otel, redis_url: str, namespace: str
) -> None:
    """The async client under `RedisInstrumentor`: each command span is a child of our
    operation's span, in its trace, and none is failed."""
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    instrumentor = RedisInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    try:
        mem = await AsyncMemory.open(redis_url, namespace=namespace)
        async with mem:
            otel.exporter.clear()
            s = mem.agent("a").session("s")
            await s.working.set("k", "v")
            await s.record("step", {})
            assert [e.type for e in await s.events()] == ["step"]
    finally:
        instrumentor.uninstrument()
    ours = {sp.context.span_id: sp for sp in otel.spans() if sp.name in {
        "working.set", "record", "events"}}  # fmt: skip
    assert sorted(sp.name for sp in ours.values()) == ["events", "record", "working.set"]
    commands = [sp for sp in otel.spans() if sp.context.span_id not in ours]
    assert commands, "the instrumentation recorded no command"
    for sp in commands:
        assert sp.parent is not None and sp.parent.span_id in ours, sp.name
        assert sp.context.trace_id == ours[sp.parent.span_id].context.trace_id
        assert sp.status.status_code != StatusCode.ERROR, sp.name


def test_fallback_gauges_and_switch_counter(otel: Otel, redis_url: str, namespace: str,
                                            tmp_path: Path) -> None:  # fmt: skip
    fallback = "sqlite:///" + str(tmp_path / "fallback.db")
    with Memory.open(redis_url, namespace=namespace, fallback=fallback) as mem:
        mem.agent("a").session("s").working.set("k", 1)
        assert otel.total("aether.fallback.active") == 0
        assert otel.total("aether.outbox.depth") == 0
        assert otel.points("aether.fallback.active")
        assert otel.span("working.set").attributes["db.system"] == "redis"


def test_fallback_gauges_during_an_outage(otel: Otel, tmp_path: Path) -> None:
    """Redis goes away: the fallback serves (gauge 1), writes queue up in the outbox (gauge
    = their count), one switch is counted each way; back, the gauges return to 0."""
    from aether_memory import Options
    from aether_memory.server.local import RedisProcess
    from tests.integration.test_fallback import replayed, wait_for

    server = RedisProcess(tmp_path / "redis", fsync="always", modules=False)
    server.start()
    options = Options(namespace="gauges", socket_timeout=0.5, connect_timeout=0.5, retries=1)
    try:
        fallback = "sqlite:///" + str(tmp_path / "fallback.db")
        with Memory.open(server.url, options=options, fallback=fallback) as mem:
            s = mem.agent("a").session("s")
            s.working.set("k", 0)
            server.kill()
            for i in range(3):
                s.working.set("k", i)
            assert mem.health().degraded
            assert otel.total("aether.fallback.active", **{"db.system": "redis"}) == 1
            queued = mem.health().outbox
            assert queued >= 3
            assert otel.total("aether.outbox.depth", **{"db.system": "redis"}) == queued
            assert otel.total("aether.store.switches", to="fallback") == 1
            server.restart()
            wait_for(lambda: replayed(mem.health()), "the replay")
            assert otel.total("aether.fallback.active") == 0
            assert otel.total("aether.outbox.depth") == 0
            assert otel.total("aether.store.switches", to="redis") == 1
    finally:
        server.stop()


def queue_depth(otel: Otel, queue: str) -> dict[str, float]:
    found = {}
    for p in otel.points("aether.queue.depth"):
        if p.attributes["aether.queue"] == queue:
            found[p.attributes["aether.queue.state"]] = p.value
    return found


def test_queue_depth_gauge(otel: Otel, mem: Memory, url: str) -> None:
    jobs = mem.queue("jobs", max_attempts=1)
    for i in range(4):
        jobs.put({"i": i})
    jobs.put({"later": True}, delay=3600)
    held = jobs.claim("w1")
    doomed = jobs.claim("w2")
    assert held is not None and doomed is not None
    assert doomed.fail("boom") == "dead"
    assert queue_depth(otel, "jobs") == {"pending": 2, "delayed": 1, "in_flight": 1, "dead": 1}
    point = next(
        p for p in otel.points("aether.queue.depth") if p.attributes["aether.queue"] == "jobs"
    )
    assert point.attributes["aether.namespace"] == mem.namespace
    assert point.attributes["db.system"] == backend_of(url)
    held.ack()
    assert queue_depth(otel, "jobs")["in_flight"] == 0


async def test_queue_depth_gauge_of_an_async_client(otel: Otel, amem: AsyncMemory) -> None:
    import asyncio

    jobs = amem.queue("ajobs")
    await jobs.put(1)
    await jobs.put(2)
    assert await jobs.claim("w") is not None
    # A reader collects on its own thread, while the client's loop runs.
    found = await asyncio.to_thread(queue_depth, otel, "ajobs")
    assert found == {"pending": 1, "delayed": 0, "in_flight": 1, "dead": 0}
    # Collected on the client's own loop, the figures cannot be read without blocking it.
    assert queue_depth(otel, "ajobs") == {}


def test_off_without_an_sdk(tmp_path: Path) -> None:
    """Only the API installed as a provider: nothing is switched on, spans are not made."""
    code = (
        "from aether_memory import Memory\n"
        "from aether_memory.core import telemetry\n"
        f"m = Memory.open('sqlite:///{tmp_path}/x.db')\n"
        "m.agent('a').session('s').working.set('k', 1)\n"
        "assert not telemetry.enabled()\n"
        "assert m.agent('a').session('s').record('step', {}).trace_id is None\n"
        "m.close()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def run_late_sdk(url: str, namespace: str, mode: str) -> None:
    """Run ``late_sdk.py`` (a fresh process: the global providers can be set once only)."""
    script = Path(__file__).with_name("late_sdk.py")
    subprocess.run([sys.executable, str(script), url, namespace, mode], check=True, timeout=60)


def test_a_provider_set_after_the_client_opened_is_followed(url: str, namespace: str) -> None:
    """The application sets the SDK up globally after opening its clients (sync and async):
    their next calls are traced and metered, and events carry the trace id."""
    run_late_sdk(url, namespace, "follow")


def test_disable_ignores_a_provider_set_later(tmp_path: Path) -> None:
    """After `disable` the classes hold the plain methods and a provider set later is not
    followed; `reset` follows it again."""
    run_late_sdk(f"sqlite:///{tmp_path}/x.db", "late", "disable")


def test_disable_then_configure(otel: Otel, mem: Memory) -> None:
    """`disable` in a configured process: nothing is recorded; `configure` turns it back on."""
    from aether_memory.core import telemetry

    s = mem.agent("a").session("s")
    telemetry.disable()
    s.working.set("k", 1)
    assert s.record("step", {}).trace_id is None
    assert otel.spans() == [] and otel.total("aether.operations") == 0
    telemetry.configure(otel.tracer_provider, otel.meter_provider)
    s.working.set("k", 2)
    assert [sp.name for sp in otel.spans()] == ["working.set"]
    assert otel.total("aether.operations") == 1


def test_queue_operations_are_traced(otel: Otel, mem: Memory, url: str) -> None:
    jobs = mem.queue("jobs", max_attempts=1)
    jobs.put({"i": 1})
    task = jobs.claim("w1")
    assert task is not None
    task.extend()
    task.ack()
    jobs.stats()
    assert [sp.name for sp in otel.spans()] == [
        "queue.put", "queue.claim", "task.extend", "task.ack", "queue.stats",
    ]  # fmt: skip
    for sp in otel.spans():
        assert sp.attributes["aether.namespace"] == mem.namespace
        assert sp.attributes["aether.queue"] == "jobs"
        assert sp.attributes["db.system"] == backend_of(url)
        assert "aether.agent" not in sp.attributes  # a task id is not an agent


def test_a_field_named_self_passes_through_the_span(otel: Otel, mem: Memory) -> None:
    """Keyword fields reach a traced method whatever their name (``self`` included)."""
    state = mem.agent("a").state
    state.set(status="idle", self="a field like any other")
    assert state.get()["self"] == "a field like any other"
    assert [sp.name for sp in otel.spans()] == ["state.set", "state.get"]
