"""The lifecycle's pure decisions: the decay score, what is due, what a budget evicts, the
archived row format, and the lifetimes the environment sets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aether_memory.backends.archive import open_archive
from aether_memory.core.config import DAY, Options, Settings, TTLs
from aether_memory.core.errors import ConfigurationError, SerializationError
from aether_memory.core.lifecycle import (
    DAY_MS,
    HotBudget,
    Standing,
    decay_score,
    due,
    kind_lifetime,
    over_budget,
    pack_row,
    unpack_row,
)

NOW = 1_800_000_000_000


def test_the_documents_lifetimes_are_the_defaults() -> None:
    ttl = TTLs()
    assert (ttl.working, ttl.scratch) == (3600, 900)
    assert (ttl.episodic, ttl.semantic, ttl.skills) == (30 * DAY, 90 * DAY, 180 * DAY)
    assert kind_lifetime(ttl, "episodic") == 30 * DAY
    assert kind_lifetime(ttl, "fact") == kind_lifetime(ttl, "preference") == 90 * DAY
    assert kind_lifetime(ttl, "procedural") == 180 * DAY


def test_lifetimes_and_budget_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AETHER_TTL_EPISODIC", "60")
    monkeypatch.setenv("AETHER_TTL_SEMANTIC", "120")
    monkeypatch.setenv("AETHER_TTL_SKILLS", "240")
    monkeypatch.setenv("AETHER_HOT_BUDGET", "1000")
    monkeypatch.setenv("AETHER_HOT_BUDGET_BYTES", "5000000")
    monkeypatch.setenv("AETHER_ARCHIVE_GRACE", "7200")
    monkeypatch.setenv("AETHER_ARCHIVE_URL", "sqlite:///a.db")
    settings = Settings()
    opts = settings.options()
    assert (opts.ttl.episodic, opts.ttl.semantic, opts.ttl.skills) == (60, 120, 240)
    assert (opts.hot_budget, opts.hot_budget_bytes, opts.archive_grace) == (1000, 5_000_000, 7200)
    assert settings.archive_url == "sqlite:///a.db"
    assert Options().hot_budget is None


def test_a_zero_budget_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AETHER_HOT_BUDGET", "0")
    with pytest.raises(ValueError):
        Settings()


def test_an_unknown_archive_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        open_archive("mongodb://localhost/x")


def test_the_decay_score_rises_with_importance_recency_and_use() -> None:
    base = decay_score(0.5, NOW - 10 * DAY_MS, 2, NOW)
    assert decay_score(0.9, NOW - 10 * DAY_MS, 2, NOW) > base
    assert decay_score(0.5, NOW - DAY_MS, 2, NOW) > base
    assert decay_score(0.5, NOW - 10 * DAY_MS, 8, NOW) > base
    assert decay_score(0.0, NOW, 100, NOW) == 0.0


@given(importance=st.floats(-1, 2), age=st.integers(0, 10_000 * DAY_MS), uses=st.integers(0, 10**9))
def test_the_decay_score_stays_in_0_1(importance: float, age: int, uses: int) -> None:
    assert 0.0 <= decay_score(importance, NOW - age, uses, NOW) <= 1.0


def test_due_means_only_the_grace_is_left() -> None:
    grace = DAY_MS
    assert due(NOW + grace, NOW, grace)
    assert not due(NOW + grace + 1, NOW, grace)
    assert not due(None, NOW, grace)  # kept forever


def test_within_budget_nothing_leaves() -> None:
    standings = [Standing(f"m{i}", 0.5, 100) for i in range(10)]
    assert over_budget(standings, HotBudget(count=10)) == []
    assert over_budget(standings, HotBudget(bytes=1000)) == []
    assert over_budget(standings, HotBudget()) == []


def test_over_budget_the_lowest_scores_leave_down_to_the_low_water_mark() -> None:
    standings = [Standing(f"m{i:02}", i / 100, 100) for i in range(21)]
    out = over_budget(standings, HotBudget(count=20))
    assert out == ["m00", "m01", "m02"]  # 21 -> 18: a tenth under the limit
    by_bytes = over_budget(standings, HotBudget(bytes=2000))
    assert by_bytes == [f"m{i:02}" for i in range(3)]


@given(st.lists(st.tuples(st.floats(0, 1), st.integers(1, 500)), max_size=60), st.integers(1, 40))
def test_after_an_eviction_the_rest_fits(items: list[tuple[float, int]], limit: int) -> None:
    standings = [Standing(f"m{i:03}", s, size) for i, (s, size) in enumerate(items)]
    out = set(over_budget(standings, HotBudget(count=limit)))
    assert len(standings) - len(out) <= limit
    kept = [s.score for s in standings if s.id not in out]
    gone = [s.score for s in standings if s.id in out]
    assert not kept or not gone or min(kept) >= max(gone)


def test_archived_rows_keep_bytes_and_numbers_exactly() -> None:
    row = {"content": b"caf\xc3\xa9", "embedding": bytes(range(256)), "importance": 0.7,
           "access_count": 3, "kind": "fact", "gone": None}  # fmt: skip
    assert unpack_row(pack_row(row)) == {k: v for k, v in row.items() if v is not None}


def test_a_damaged_archived_row_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError):
        unpack_row(b"{not json")
    with pytest.raises(SerializationError):
        unpack_row(b'{"embedding": {"$b64": 3}}')
