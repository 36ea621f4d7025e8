"""Telling a correction from a re-wording, and checking recall filters (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aether_memory.client.records import recall_filters
from aether_memory.core.errors import InvalidInput
from aether_memory.core.facts import fact_differences, value_correction
from aether_memory.core.query import Filters


@pytest.mark.parametrize(
    ("old", "new", "aspects"),
    [
        ("Leonor moved to Porto in March", "Leonor moved to Porto in May", {"date"}),
        ("the meeting is at 3pm", "the meeting is at 4pm", {"number"}),
        ("Ana is allergic to nuts", "Ana is not allergic to nuts", {"negation"}),
        ("limit 100 requests/min", "limit 1000 requests/min", {"number"}),
        ("Leonor lives in Porto", "Leonor lives in Lisbon", {"name"}),
        ("Ana is allergic to nuts", "Maria is allergic to nuts", {"name"}),
        ("the sync is on Monday", "the sync is on Tuesday", {"date"}),
        ("the deadline is today", "the deadline is tomorrow", {"date"}),
        ("standup at 10:00", "standup at 10:30", {"number"}),
        ("we need two servers", "we need three servers", {"number"}),
        ("release on 2026-05-01", "release on 2026-06-01", {"number"}),
        ("the user likes tea", "the user doesn't like tea", {"negation"}),
        ("the user never drinks coffee", "the user drinks coffee", {"negation"}),
        ("Bob moved to Porto in 2024", "Alice moved to Porto in 2025", {"name", "number"}),
        ("Ticket SUP-4471: refund requested", "Ticket SUP-4472: refund requested", {"code"}),
        ("Deploy of billing v2.3 failed.", "Deploy of billing v2.4 failed", {"code"}),
        (
            "err_42 in billing-service at 3pm",
            "err_43 in billing-service at 4pm",
            {"code", "number"},
        ),
    ],
)
def test_a_correction_differs_in_what_it_says(old: str, new: str, aspects: set[str]) -> None:
    assert fact_differences(old, new) == aspects
    assert fact_differences(new, old) == aspects  # symmetric


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("User moved from Lisbon to Porto in March", "user moved from Lisbon to Porto in March!"),
        ("The limit is 1,000 requests", "the limit is 1000 requests"),
        ("Ana isn't allergic to nuts", "Ana is not allergic to nuts"),
        ("Ana never eats nuts", "Ana does not eat nuts"),  # both negative
        ("It is not untrue that the API is slow", "It is not untrue that the API is slow."),
        ("The meeting is at 4pm", "Meeting at 4pm, as planned"),
        ("you may leave early", "You may leave early"),  # "may" the verb, not the month
        ("Prefers short answers", "prefers short answers"),
        ("MiniLM-L6-v2 embeds the text", "the text is embedded by MiniLM-L6-v2"),
        ("billing-service is slow", "Billing-service is slow."),
        ("", ""),
    ],
)
def test_a_rewording_of_the_same_facts_differs_in_nothing(old: str, new: str) -> None:
    assert fact_differences(old, new) == frozenset()


def test_recall_filters_are_checked_and_built() -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    scope = recall_filters(
        kinds=["fact"], session="s1", tags=("x",), since=since, until=2_000_000_000_000,
        min_importance=1, agent="a", include_superseded=True,
    )  # fmt: skip
    assert scope == Filters(
        kinds=("fact",), agents=("a",), sessions=("s1",), tags=("x",),
        since_ms=1_767_225_600_000, until_ms=2_000_000_000_000, min_importance=1.0,
        include_superseded=True,
    )  # fmt: skip
    assert recall_filters() == Filters()
    assert recall_filters(agent=["a", "b"]).agents == ("a", "b")


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("kinds", "fact"), ("kinds", b"fact"), ("kinds", 3), ("kinds", [3]), ("tags", "x"),
        ("tags", ["a,b"]), ("agent", 5), ("agent", [None]), ("session", 5), ("since", "today"),
        ("until", True), ("min_importance", "0.5"), ("min_importance", False),
        ("include_superseded", 1),
    ],
)  # fmt: skip
def test_wrong_typed_filters_are_refused(argument: str, value: object) -> None:
    with pytest.raises(InvalidInput):
        recall_filters(**{argument: value})


def test_superseded_memories_are_filtered_out_unless_asked_for() -> None:
    assert Filters().compile() == "-@superseded_at:[-inf +inf]"
    assert Filters(include_superseded=True).compile() == "*"
    assert Filters(kinds=("fact",)).compile() == "@kind:{fact} -@superseded_at:[-inf +inf]"
    old = {"kind": "fact", "superseded_by": "01NEWER"}
    assert not Filters().matches(old) and Filters(include_superseded=True).matches(old)
    assert Filters().matches({"kind": "fact", "superseded_by": None})
    assert not Filters().narrows and not Filters(include_superseded=True).narrows
    assert Filters(kinds=("fact",)).narrows and Filters(min_importance=0.0).narrows


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("The meeting is at 3pm", "The meeting is at 4pm"),
        ("Leonor moved to Porto in March", "Leonor moved to Porto in May"),
        ("Ana is allergic to nuts", "Ana is not allergic to nuts"),
        ("The API limit is 100 requests/min", "The API limit is 1000 requests/min"),
        ("The team has 5 engineers", "The team has six engineers"),
    ],
)
def test_a_changed_value_in_the_same_words_is_a_value_correction(old: str, new: str) -> None:
    assert value_correction(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Order 1234 shipped", "Order 1235 shipped"),  # another order
        ("Ticket SUP-4471 is open", "Ticket SUP-4472 is open"),
        ("We run version 2.3", "We run version 2.4"),
        ("PR #12 was merged", "PR #13 was merged"),
        ("Invoice 991 was paid", "invoice 992 was paid"),
        ("Ana moved to Porto in May", "Bea moved to Porto in May"),  # a name: not a value
        ("The meeting is at 3pm", "The meeting is at 3pm"),  # nothing changed
        ("The meeting is at 3pm", "The standup is at 4pm"),  # another word changed too
        ("The meeting is at 3pm", "We meet at 3pm"),  # a re-wording
        ("The user likes tea", "Paris is the capital of France"),
    ],
)
def test_identifiers_names_and_other_words_are_not_value_corrections(old: str, new: str) -> None:
    assert not value_correction(old, new)
