"""The kernel benchmark with the OpenTelemetry SDK set up: what instrumentation costs when on.

Traces go through a `BatchSpanProcessor` to an exporter that drops them, and metrics to a
reader nobody collects, so the figures are the library's and the SDK's own work, with no
network. Compare with ``bench_kernel.py`` run in the same session (API only: instrumentation
off).

Run:
    python bench/bench_otel.py --plain --n 1000
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import bench_kernel
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class Drop(SpanExporter):
    """An exporter that sends nothing anywhere."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def main() -> int:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Drop()))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    try:
        return bench_kernel.main()
    finally:
        tracer_provider.shutdown()


if __name__ == "__main__":
    sys.exit(main())
