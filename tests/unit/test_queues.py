"""The queue pieces without I/O: backoff, options, the stats assembled from store replies."""

from __future__ import annotations

import pytest

from aether_memory import InvalidInput
from aether_memory.core.keys import QueueKeys, namespace_of
from aether_memory.core.queues import (
    QueueOptions,
    WorkerStats,
    backoff_ms,
    check_error,
    check_priority,
    stats_from,
)


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    assert [backoff_ms(a, 1000, 5000) for a in range(1, 6)] == [1000, 2000, 4000, 5000, 5000]
    assert backoff_ms(1, 0, 5000) == 0


def test_options_are_checked() -> None:
    assert QueueOptions(visibility=0.25).visibility_ms == 250
    for bad in ({"visibility": 0}, {"max_attempts": 0}, {"backoff": float("nan")}):
        with pytest.raises(InvalidInput):
            QueueOptions(**bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        check_priority(1000)


def test_errors_are_cut_not_refused() -> None:
    assert check_error(ValueError("bad")) == "ValueError: bad"
    assert len(check_error("x" * 10_000)) == 2000


def test_stats_join_counters_and_holders() -> None:
    stats = stats_from(
        (3, 1, 2, 0),
        {"acked": 5, "failed": 1, "expired": 1, "acked:w1": 4, "acked:w2": 1, "failed:w2": 1},
        {"w1": 2},
    )
    assert (stats.pending, stats.delayed, stats.in_flight, stats.acked, stats.expired) == (
        3, 1, 2, 5, 1,
    )  # fmt: skip
    assert stats.workers == {"w1": WorkerStats(2, 4, 0), "w2": WorkerStats(0, 1, 1)}


def test_every_queue_key_is_under_the_namespace_tag() -> None:
    k = QueueKeys.build("team", "jobs")
    assert {namespace_of(getattr(k, f)) for f in k.__slots__} == {"team"}
    assert k.ready == "aether:{team}:queue:jobs:ready"
