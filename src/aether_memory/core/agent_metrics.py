"""Agent metrics: calls, errors, latency and tokens per agent and tool, in time buckets (pure).

Every event a session records (a step, a tool call, any `record`) counts as one call of its
agent; a ``tool_call`` event whose data names a ``tool`` (a valid name) counts for that tool
too. A call is an error when its outcome is not ``success``. The figures are kept in two
resolutions, written in the same round trip as the events:

- one-minute buckets, kept `MINUTE_RETENTION_S` (two days);
- one-hour buckets, kept `HOUR_RETENTION_S` (35 days).

Each bucket is one hash (``keys.agent_metrics``) whose fields are ``{tool}|{figure}`` (an empty
tool is the agent's total) with a TTL of its resolution's retention past the bucket's end, so
nothing needs sweeping. A read picks the hour buckets when the asked bucket is a whole number
of hours, else the minute buckets, and folds them into the asked width.

This module builds the writes and folds the reads; the stores only move the numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from aether_memory.core import keys
from aether_memory.core.errors import InvalidInput
from aether_memory.core.validate import check_int, check_number, describe

MINUTE = 60
HOUR = 3600
MINUTE_RETENTION_S = 2 * 24 * HOUR
HOUR_RETENTION_S = 35 * 24 * HOUR
RETENTION_S = {MINUTE: MINUTE_RETENTION_S, HOUR: HOUR_RETENTION_S}
MAX_BUCKET_S = HOUR_RETENTION_S
DEFAULT_BUCKETS = 60  # `since` defaults to this many buckets back
MAX_TOKENS = 2**53  # counted in a double on Redis
FIGURES = ("calls", "errors", "latency_ms_sum", "latency_ms_max", "tokens_in", "tokens_out")
_MAX = "latency_ms_max"  # the one figure merged by maximum, not by sum
_TOOL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")

# One sample: (ts ms, tool or None, error, latency ms or None, tokens in, tokens out).
Sample = tuple[int, str | None, bool, float | None, int, int]
# One bucket hash to update: (key, ttl ms, ((field, "+" add | "^" max, value), ...)).
MetricWrite = tuple[str, int, tuple[tuple[str, str, float], ...]]


class MetricBucket(BaseModel):
    """One time bucket of an agent's calls (of one tool, or of all when `tool` is None)."""

    start: datetime = Field(description="The bucket's start (UTC).")
    tool: str | None = Field(description="The tool, or None for the agent's total.")
    calls: int
    errors: int
    latency_ms_sum: float = Field(description="Summed latency of the calls that reported one.")
    latency_ms_max: float
    tokens_in: int
    tokens_out: int


class AgentMetrics(BaseModel):
    """An agent's calls over time; buckets with no calls are left out."""

    agent: str
    bucket_seconds: int
    since: datetime
    buckets: list[MetricBucket] = Field(description="Oldest first; per start, total first.")


def check_tokens(tokens: object) -> tuple[int, int]:
    """``(tokens_in, tokens_out)`` from ``(in, out)``, ``{"in": .., "out": ..}`` (or
    ``input``/``output``) or None; `InvalidInput` otherwise."""
    if tokens is None:
        return 0, 0
    if isinstance(tokens, Mapping):
        unknown = set(tokens) - {"in", "out", "input", "output"}
        if unknown:
            raise InvalidInput(f"tokens takes 'in' and 'out', not {sorted(map(str, unknown))}")
        pair: Sequence[object] = (
            tokens.get("in", tokens.get("input", 0)),
            tokens.get("out", tokens.get("output", 0)),
        )
    elif isinstance(tokens, tuple | list) and len(tokens) == 2:
        pair = tokens
    else:
        shape = "tokens must be (in, out) or {'in': n, 'out': n}"
        raise InvalidInput(f"{shape}, not {describe(tokens)}")
    return (
        check_int(pair[0], "tokens in", 0, MAX_TOKENS),
        check_int(pair[1], "tokens out", 0, MAX_TOKENS),
    )


def tool_of(event_type: str, data: object) -> str | None:
    """The tool a ``tool_call`` event names in its data, if it is a valid name."""
    if event_type != "tool_call" or not isinstance(data, Mapping):
        return None
    tool = data.get("tool")
    return tool if isinstance(tool, str) and _TOOL.fullmatch(tool) else None


def metric_writes(ns: str, agent: str, samples: Iterable[Sample]) -> tuple[MetricWrite, ...]:
    """The bucket updates for a batch of calls: one hash per resolution and bucket touched."""
    sums: dict[tuple[int, int], dict[str, float]] = {}
    for ts, tool, error, latency, tok_in, tok_out in samples:
        for res in (MINUTE, HOUR):
            fields = sums.setdefault((res, ts // 1000 // res * res), {})
            for name in ("", tool) if tool is not None else ("",):
                _add(fields, f"{name}|calls", 1)
                if error:
                    _add(fields, f"{name}|errors", 1)
                if latency is not None:
                    _add(fields, f"{name}|latency_ms_sum", latency)
                    peak = f"{name}|{_MAX}"
                    fields[peak] = max(fields.get(peak, 0.0), latency)
                if tok_in:
                    _add(fields, f"{name}|tokens_in", tok_in)
                if tok_out:
                    _add(fields, f"{name}|tokens_out", tok_out)
    out: list[MetricWrite] = []
    for (res, start), fields in sums.items():
        ttl_ms = (res + RETENTION_S[res]) * 1000
        ops = tuple((f, "^" if f.endswith(_MAX) else "+", v) for f, v in fields.items())
        out.append((keys.agent_metrics(ns, agent, res, start), ttl_ms, ops))
    return tuple(out)


def _add(fields: dict[str, float], name: str, value: float) -> None:
    fields[name] = fields.get(name, 0.0) + value


def check_bucket(bucket: object) -> int:
    """The bucket width in whole seconds: a `timedelta` or a number, a multiple of 60."""
    seconds = bucket.total_seconds() if isinstance(bucket, timedelta) else bucket
    value = check_number(seconds, "bucket", MINUTE, MAX_BUCKET_S)
    if value % MINUTE:
        raise InvalidInput(f"bucket must be a whole number of minutes, not {value:g} seconds")
    return int(value)


def resolution(bucket_s: int) -> int:
    """The stored resolution a read of `bucket_s`-wide buckets folds."""
    return HOUR if bucket_s % HOUR == 0 else MINUTE


def window(since: object, bucket_s: int, now_ms: int) -> tuple[int, int]:
    """``(since_s, res)``: the first second read (aligned to `bucket_s`, no older than the
    resolution keeps) and the resolution, from a `datetime`, a `timedelta` back from now or
    None (`DEFAULT_BUCKETS` buckets back)."""
    res = resolution(bucket_s)
    now_s = now_ms // 1000
    if since is None:
        start = now_s - DEFAULT_BUCKETS * bucket_s
    elif isinstance(since, timedelta):
        start = now_s - math.floor(since.total_seconds())
    elif isinstance(since, datetime):
        aware = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
        start = math.floor(aware.timestamp())
    else:
        raise InvalidInput(f"since must be a datetime, a timedelta or None, not {describe(since)}")
    start = max(start, now_s - RETENTION_S[res])
    return start // bucket_s * bucket_s, res


def bucket_keys(ns: str, agent: str, since_s: int, res: int, now_ms: int) -> list[str]:
    """The stored buckets from `since_s` to now, oldest first."""
    first = since_s // res * res
    return [keys.agent_metrics(ns, agent, res, s) for s in range(first, now_ms // 1000 + 1, res)]


def every_bucket_key(ns: str, agent: str, now_ms: int) -> list[str]:
    """Every bucket an agent can have now, at both resolutions (for erasing the agent on a
    store that cannot list keys by prefix cheaply)."""
    out: list[str] = []
    for res, kept in RETENTION_S.items():
        first = (now_ms // 1000 - kept - res) // res * res
        out += bucket_keys(ns, agent, first, res, now_ms + res * 1000)
    return out


def fold(
    agent: str,
    since_s: int,
    bucket_s: int,
    res: int,
    stored: Sequence[Mapping[str, bytes]],
    tool: str | None,
) -> AgentMetrics:
    """The read's answer from the stored hashes of `bucket_keys` (in its order): each folded
    into the `bucket_s`-wide bucket it starts in; `tool` keeps only that tool's series."""
    first = since_s // res * res
    merged: dict[tuple[int, str], dict[str, float]] = {}
    for i, fields in enumerate(stored):
        start = (first + i * res) // bucket_s * bucket_s
        if start < since_s:
            continue
        for field, raw in fields.items():
            name, _, figure = field.rpartition("|")
            if figure not in FIGURES or (tool is not None and name != tool):
                continue
            into = merged.setdefault((start, name), dict.fromkeys(FIGURES, 0.0))
            value = float(raw)
            into[figure] = max(into[figure], value) if figure == _MAX else into[figure] + value
    buckets = [_bucket(start, name, f) for (start, name), f in sorted(merged.items()) if f["calls"]]
    return AgentMetrics(
        agent=agent, bucket_seconds=bucket_s, since=datetime.fromtimestamp(since_s, UTC),
        buckets=buckets,
    )  # fmt: skip


def _bucket(start: int, tool: str, f: Mapping[str, float]) -> MetricBucket:
    return MetricBucket(
        start=datetime.fromtimestamp(start, UTC), tool=tool or None,
        calls=int(f["calls"]), errors=int(f["errors"]), latency_ms_sum=f["latency_ms_sum"],
        latency_ms_max=f["latency_ms_max"], tokens_in=int(f["tokens_in"]),
        tokens_out=int(f["tokens_out"]),
    )  # fmt: skip
