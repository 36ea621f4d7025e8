"""Agent-metric buckets (pure): which bucket a call lands in, how reads fold, what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aether_memory.core import keys
from aether_memory.core.agent_metrics import (
    HOUR,
    HOUR_RETENTION_S,
    MINUTE,
    MINUTE_RETENTION_S,
    bucket_keys,
    check_bucket,
    check_tokens,
    fold,
    metric_writes,
    resolution,
    tool_of,
    window,
)
from aether_memory.core.errors import InvalidInput

T0 = 1_800_000_000  # a whole hour (and minute), in seconds


def fields_of(writes: tuple[tuple[str, int, tuple[tuple[str, str, float], ...]], ...]) -> dict:
    return {key: {f: (op, v) for f, op, v in ops} for key, _, ops in writes}


def test_a_call_at_the_last_millisecond_of_a_minute_stays_in_it() -> None:
    before = (T0 + 59) * 1000 + 999
    after = (T0 + 60) * 1000
    writes = fields_of(
        metric_writes("ns", "a", [(before, None, False, 5.0, 0, 0), (after, None, True, 7.0, 0, 0)])
    )
    first, second = (
        keys.agent_metrics("ns", "a", MINUTE, T0),
        keys.agent_metrics("ns", "a", MINUTE, T0 + 60),
    )
    assert writes[first]["|calls"] == ("+", 1)
    assert "|errors" not in writes[first]
    assert writes[second]["|errors"] == ("+", 1)
    # Both fall in the same hour bucket: summed there, the larger latency kept as the max.
    hour = writes[keys.agent_metrics("ns", "a", HOUR, T0)]
    assert hour["|calls"] == ("+", 2)
    assert hour["|latency_ms_sum"] == ("+", 12.0)
    assert hour["|latency_ms_max"] == ("^", 7.0)


def test_a_tool_call_counts_for_its_tool_and_the_total() -> None:
    writes = fields_of(metric_writes("ns", "a", [(T0 * 1000, "search", False, None, 10, 3)]))
    minute = writes[keys.agent_metrics("ns", "a", MINUTE, T0)]
    assert minute == {
        "|calls": ("+", 1), "|tokens_in": ("+", 10), "|tokens_out": ("+", 3),
        "search|calls": ("+", 1), "search|tokens_in": ("+", 10), "search|tokens_out": ("+", 3),
    }  # fmt: skip


def test_the_ttl_is_the_retention_past_the_bucket() -> None:
    ttls = {
        key: ttl for key, ttl, _ in metric_writes("ns", "a", [(T0 * 1000, None, False, None, 0, 0)])
    }
    assert ttls[keys.agent_metrics("ns", "a", MINUTE, T0)] == (MINUTE + MINUTE_RETENTION_S) * 1000
    assert ttls[keys.agent_metrics("ns", "a", HOUR, T0)] == (HOUR + HOUR_RETENTION_S) * 1000


def test_fold_merges_minutes_into_wider_buckets() -> None:
    stored = [
        {"|calls": b"2", "|errors": b"1", "|latency_ms_sum": b"30", "|latency_ms_max": b"20"},
        {},
        {"|calls": b"1", "|latency_ms_sum": b"5", "|latency_ms_max": b"5", "x|calls": b"1"},
        {"|calls": b"4", "|tokens_in": b"9", "junk": b"1"},
    ]
    out = fold("a", T0, 120, MINUTE, stored, None)
    assert out.bucket_seconds == 120
    assert [(b.start, b.tool, b.calls) for b in out.buckets] == [
        (datetime.fromtimestamp(T0, UTC), None, 2),
        (datetime.fromtimestamp(T0 + 120, UTC), None, 5),
        (datetime.fromtimestamp(T0 + 120, UTC), "x", 1),
    ]
    second = out.buckets[1]
    assert (second.latency_ms_sum, second.latency_ms_max, second.tokens_in) == (5.0, 5.0, 9)
    only_x = fold("a", T0, 120, MINUTE, stored, "x")
    assert [(b.tool, b.calls) for b in only_x.buckets] == [("x", 1)]


def test_window_aligns_and_keeps_to_the_retention() -> None:
    now_ms = (T0 + 3 * HOUR + 17) * 1000
    assert window(timedelta(minutes=10), 60, now_ms) == (T0 + 3 * HOUR - 600, MINUTE)
    assert window(None, 300, now_ms) == (T0 + 3 * HOUR - 60 * 300, MINUTE)
    assert window(timedelta(days=30), 60, now_ms)[0] >= T0 + 3 * HOUR - MINUTE_RETENTION_S
    assert window(datetime.fromtimestamp(T0, UTC), HOUR, now_ms) == (T0, HOUR)
    assert window(datetime(2000, 1, 1), HOUR, now_ms)[0] >= T0 - HOUR_RETENTION_S
    since, res = window(timedelta(hours=2), HOUR, now_ms)
    assert len(bucket_keys("ns", "a", since, res, now_ms)) == 3


def test_resolution_follows_the_bucket() -> None:
    assert resolution(60) == resolution(300) == resolution(5400) == MINUTE
    assert resolution(3600) == resolution(86400) == HOUR


@pytest.mark.parametrize("bucket", [0, 30, 90, -60, float("nan"), "60", True, 10**9])
def test_bad_buckets_are_refused(bucket: object) -> None:
    with pytest.raises(InvalidInput):
        check_bucket(bucket)


def test_buckets_as_timedelta_or_seconds() -> None:
    assert check_bucket(timedelta(minutes=5)) == 300
    assert check_bucket(3600.0) == 3600


@pytest.mark.parametrize(
    "tokens", [(1,), (1, 2, 3), (-1, 0), (1.5, 2), {"in": 1, "bogus": 2}, "12", 7, (True, 1)]
)
def test_bad_tokens_are_refused(tokens: object) -> None:
    with pytest.raises(InvalidInput):
        check_tokens(tokens)


def test_tokens_shapes() -> None:
    assert check_tokens(None) == (0, 0)
    assert check_tokens((3, 4)) == (3, 4)
    assert check_tokens({"in": 3}) == (3, 0)
    assert check_tokens({"input": 1, "output": 2}) == (1, 2)


def test_tool_of_needs_a_tool_call_naming_a_valid_tool() -> None:
    assert tool_of("tool_call", {"tool": "web_search"}) == "web_search"
    assert tool_of("step", {"tool": "web_search"}) is None
    assert tool_of("tool_call", {"tool": "a|b"}) is None
    assert tool_of("tool_call", ["web_search"]) is None
