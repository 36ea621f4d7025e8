"""Events as the caller gives them, checked and turned into rows and metric samples (pure:
shared by the async client and its sync twin)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from aether_memory.client.common import check_batch
from aether_memory.core.agent_metrics import Sample, check_tokens, tool_of
from aether_memory.core.errors import InvalidInput
from aether_memory.core.ids import check_name, new_id
from aether_memory.core.types import Event
from aether_memory.core.validate import check_number, check_strings
from aether_memory.storage.rows import EventRow

MAX_LATENCY_MS = 1e12  # about 30 years
_SHAPE = "an event is (event_type, data[, outcome[, latency_ms[, tokens]]])"


def event_rows(
    events: Iterable[Sequence[Any]], encode: Callable[[Any], bytes], ts: int, trace: str | None
) -> tuple[list[Event], list[EventRow], list[Sample]]:
    """The events recorded at `ts` (each ``(event_type, data[, outcome[, latency_ms[,
    tokens]]])``), their stored rows and their samples for the agent's metrics. Raises
    `InvalidInput` for the first bad item, before anything is written."""
    built: list[Event] = []
    rows: list[EventRow] = []
    samples: list[Sample] = []
    for item in check_strings(events, "events"):
        if isinstance(item, str | bytes) or not isinstance(item, Sequence):
            raise InvalidInput(_SHAPE)
        if not 2 <= len(item) <= 5:
            raise InvalidInput(_SHAPE)
        event_type, data = item[0], item[1]
        outcome: str = item[2] if len(item) > 2 else "success"
        latency: float | None = item[3] if len(item) > 3 else None
        tok_in, tok_out = check_tokens(item[4] if len(item) > 4 else None)
        check_name(event_type, "event type")
        check_name(outcome, "outcome")
        if latency is not None:
            latency = check_number(latency, "latency_ms", 0, MAX_LATENCY_MS)
        event = Event(new_id(), event_type, data, outcome, ts, latency, trace)
        rows.append((event.id, event_type, outcome, ts, latency, encode(data), trace))
        tool = tool_of(event_type, data)
        samples.append((ts, tool, outcome != "success", latency, tok_in, tok_out))
        built.append(event)
    check_batch(rows, "record_many")
    return built, rows, samples
