"""Summarisers, grouping for consolidation, and reading an extractor's reply: pure code."""

from __future__ import annotations

import numpy as np
import pytest

from aether_memory.client.records import session_texts
from aether_memory.core.clusters import cluster_id, clusters
from aether_memory.core.errors import InvalidInput, SerializationError
from aether_memory.core.extract import Extracted, parse_extracted
from aether_memory.core.ids import check_name, new_id
from aether_memory.core.summarize import ExtractiveSummarizer, Summarizer, sentences
from tests.word_embedder import WordHashEmbedder

TRIP = [
    "The user flew to Lisbon on Monday. The flight was delayed by two hours.",
    "In Lisbon the user visited the Alfama district. The weather was sunny.",
    "The user met Ana in Lisbon for dinner. They ate grilled sardines in Lisbon.",
    "Unrelated: the printer on floor 3 is out of toner.",
]


def test_sentences_are_split_and_kept_once_in_order() -> None:
    found = sentences(["One fact. Two facts!", "one  FACT.\nThree?"])
    assert found == ["One fact.", "Two facts!", "Three?"]


def test_the_extractive_summary_is_central_sentences_in_order_and_repeatable() -> None:
    summarizer = ExtractiveSummarizer(WordHashEmbedder())
    assert isinstance(summarizer, Summarizer)
    first = summarizer.summarize(TRIP, 2)
    assert first == summarizer.summarize(TRIP, 2)  # deterministic
    chosen = [s for s in sentences(TRIP) if s in first]
    assert len(chosen) == 2
    assert any("Lisbon" in s for s in chosen)  # the centre of these texts is the trip
    order = sentences(TRIP)
    assert [order.index(s) for s in chosen] == sorted(order.index(s) for s in chosen)
    assert "toner" not in first


def test_short_input_is_its_own_summary_and_bad_counts_are_refused() -> None:
    summarizer = ExtractiveSummarizer(WordHashEmbedder())
    assert summarizer.summarize(["Just this."], 3) == "Just this."
    assert summarizer.summarize([], 3) == ""
    for bad in (0, 51, True, 2.5):
        with pytest.raises(InvalidInput):
            summarizer.summarize(TRIP, bad)  # type: ignore[arg-type]


def test_clusters_group_close_rows_and_drop_small_groups() -> None:
    embedder = WordHashEmbedder()
    texts = [
        "the user likes green tea",
        "the user drinks green tea daily",
        "the user prefers green tea in the morning",
        "the deploy failed on friday",
        "the deploy on friday failed again",
    ]
    vectors = embedder.embed(texts)
    assert clusters(vectors, 0.5, 3) == [[0, 1, 2]]
    assert clusters(vectors, 0.5, 2) == [[0, 1, 2], [3, 4]]
    assert clusters(vectors, 0.5, 2) == clusters(vectors.copy(), 0.5, 2)
    with pytest.raises(InvalidInput):
        clusters(vectors, 0.0, 3)
    with pytest.raises(InvalidInput):
        clusters(vectors, 0.5, 1)
    assert clusters(np.zeros((0, 4), dtype=np.float32)) == []


def test_a_group_has_one_id_whatever_the_order() -> None:
    ids = [new_id() for _ in range(4)]
    assert cluster_id(ids) == cluster_id(list(reversed(ids)))
    assert cluster_id(ids) != cluster_id(ids[:3])
    check_name(cluster_id(ids), "memory id")
    assert cluster_id(ids)[:10] == max(ids)[:10]  # sorts beside its newest source


def test_an_extractor_reply_is_read_leniently_and_refused_when_unreadable() -> None:
    reply = """```json
    {"memories": [
        {"content": "The user lives in Porto.", "kind": "fact", "turns": [1, 2, 9]},
        {"content": "  The user likes  jazz. ", "kind": "preference", "turns": [3]},
        {"content": "the user lives in porto.", "kind": "fact"},
        {"content": "", "kind": "fact"},
        {"content": "Odd kind", "kind": "opinion", "turns": ["x", true]},
        42
    ]}
    ```"""
    assert parse_extracted(reply, 3) == [
        Extracted("The user lives in Porto.", "fact", (0, 1)),
        Extracted("The user likes jazz.", "preference", (2,)),
        Extracted("Odd kind", "fact", ()),
    ]
    assert parse_extracted('["Bare text"]', 1) == [Extracted("Bare text", "fact", ())]
    assert parse_extracted('{"memories": []}', 1) == []
    for bad in ("not json", '{"other": 1}', "3"):
        with pytest.raises(SerializationError):
            parse_extracted(bad, 1)


def test_session_texts_read_turns_steps_and_tool_calls() -> None:
    texts, turns = session_texts(
        [
            ("message", {"speaker": "user", "content": "Book a table", "memory_id": "M1"}),
            ("step", {"action": "search", "observation": "3 places", "reasoning": "nearby"}),
            ("tool_call", {"tool": "book", "result": "confirmed"}),
            ("tool_call", {"tool": "noop"}),
        ]
    )
    assert texts == [
        "user: Book a table",
        "search: 3 places (nearby)",
        "Called book: confirmed",
        "Called noop.",
    ]
    assert turns == ["M1"]
