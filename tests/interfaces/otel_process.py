"""Run a module (``python tests/interfaces/otel_process.py MODULE ARGS...``) with the
OpenTelemetry SDK set up globally, as an application would, writing each finished span as a
JSON line to the file ``$AETHER_TEST_SPANS``."""

from __future__ import annotations

import json
import os
import runpy
import sys
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult


class JsonLines(SpanExporter):
    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(self.path, "a", encoding="utf-8") as out:
            for s in spans:
                line = {
                    "name": s.name,
                    "kind": s.kind.name,
                    "trace_id": format(s.context.trace_id, "032x"),
                    "span_id": format(s.context.span_id, "016x"),
                    "parent": None if s.parent is None else format(s.parent.span_id, "016x"),
                    "status": s.status.status_code.name,
                    "attributes": dict(s.attributes or {}),
                }
                out.write(json.dumps(line) + "\n")
        return SpanExportResult.SUCCESS


def read_spans(path: str | os.PathLike[str]) -> list[dict[str, object]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


if __name__ == "__main__":
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLines(os.environ["AETHER_TEST_SPANS"])))
    trace.set_tracer_provider(provider)
    module, sys.argv = sys.argv[1], [sys.argv[1], *sys.argv[2:]]
    sys.path.pop(0)  # this folder: the module is found as the package installs it
    runpy.run_module(module, run_name="__main__", alter_sys=True)
