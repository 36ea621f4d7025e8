"""The real OpenTelemetry SDK with in-memory exporters, for the telemetry tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aether_memory.core import telemetry


@dataclass
class Otel:
    """An SDK set up for aether-memory (not globally), and what it has recorded."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        found = list(self.exporter.get_finished_spans())
        return [s for s in found if name is None or s.name == name]

    def span(self, name: str) -> ReadableSpan:
        (found,) = self.spans(name)
        return found

    def points(self, metric: str) -> list[Any]:
        """The data points of `metric` collected now (cumulative)."""
        data = self.reader.get_metrics_data()
        out: list[Any] = []
        for rm in data.resource_metrics if data is not None else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == metric:
                        out += m.data.data_points
        return out

    def total(self, metric: str, **attributes: Any) -> float:
        """The sum (or histogram count) of `metric`'s points whose attributes include these."""
        total = 0.0
        for p in self.points(metric):
            if all(p.attributes.get(k) == v for k, v in attributes.items()):
                total += p.count if hasattr(p, "count") else p.value
        return total


def otel_setup() -> Iterator[Otel]:
    """Configure aether-memory with a fresh SDK for one test, and turn it off after."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    telemetry.configure(tracer_provider, meter_provider)
    try:
        yield Otel(tracer_provider, meter_provider, exporter, reader)
    finally:
        telemetry.reset()
        tracer_provider.shutdown()
        meter_provider.shutdown()
