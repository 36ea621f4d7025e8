"""Open sync and async clients with no OpenTelemetry SDK, then set the SDK up globally, as an
application may (``python late_sdk.py URL NAMESPACE follow|disable``); asserts what the
clients' next calls record. A process of its own: the API sets each global provider once."""

from __future__ import annotations

import asyncio
import sys

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aether_memory import AsyncMemory, Memory
from aether_memory.client._sync.working import WorkingMemory
from aether_memory.core import telemetry


def metric_names(reader: InMemoryMetricReader) -> set[str]:
    data = reader.get_metrics_data()
    found = data.resource_metrics if data is not None else []
    return {m.name for rm in found for sm in rm.scope_metrics for m in sm.metrics}


async def main(url: str, namespace: str, mode: str) -> None:
    traced_set = WorkingMemory.set
    if mode == "disable":
        telemetry.disable()
        assert WorkingMemory.set is traced_set.__wrapped__  # type: ignore[attr-defined]
    sync = Memory.open(url, namespace=namespace)
    amem = await AsyncMemory.open(url, namespace=namespace)
    s, a = sync.agent("a").session("s"), amem.agent("a").session("s")
    s.working.set("k", 0)
    await a.working.set("k", 0)
    assert not telemetry.enabled() and s.record("step", {}).trace_id is None

    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

    s.working.set("k", 1)
    event = s.record("step", {})
    await a.working.get("k")
    spans = list(exporter.get_finished_spans())
    if mode == "follow":
        assert [sp.name for sp in spans] == ["working.set", "record", "working.get"], spans
        assert event.trace_id == format(spans[1].context.trace_id, "032x")
        assert "aether.operations" in metric_names(reader)
    else:
        assert spans == [] and event.trace_id is None and not telemetry.enabled()
        assert "aether.operations" not in metric_names(reader)
        telemetry.reset()
        assert WorkingMemory.set is traced_set
        s.working.set("k", 2)
        assert [sp.name for sp in exporter.get_finished_spans()] == ["working.set"]
    sync.close()
    await amem.aclose()
    provider.shutdown()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
