"""Corrections with the real default embedder (MiniLM): "the meeting is at 4pm" after "... 3pm"
scores under the near-duplicate threshold, yet supersedes; "order 1235 shipped", as close to
"order 1234 shipped", is another order and stays beside it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aether_memory import Memory
from aether_memory.backends.embedders.minilm import MiniLMEmbedder
from tests.conformance.test_corrections import CORRECTIONS


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()  # loaded once for the module


@pytest.fixture
def real(url: str, namespace: str, minilm: MiniLMEmbedder) -> Iterator[Memory]:
    with Memory.open(url, namespace=namespace, embedder=minilm) as memory:
        yield memory


@pytest.mark.parametrize(("old", "new", "query"), CORRECTIONS)
def test_a_correction_supersedes_with_the_real_embedder(
    real: Memory, old: str, new: str, query: str
) -> None:
    agent = real.agent("a")
    first = agent.remember(old)
    second = agent.remember(new)
    assert (second.status, second.supersedes) == ("superseded", first.id)
    assert agent.memory_record(first.id).superseded_by == second.id
    assert [h.record.id for h in agent.recall(query, k=5)] == [second.id]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Order 1234 shipped", "Order 1235 shipped"),
        ("We run version 2.3", "We run version 2.4"),
        ("PR #12 was merged", "PR #13 was merged"),
        ("Ticket SUP-4471 is open", "Ticket SUP-4472 is open"),
    ],
)
def test_another_identifier_is_another_memory_with_the_real_embedder(
    real: Memory, old: str, new: str
) -> None:
    agent = real.agent("a")
    first = agent.remember(old)
    second = agent.remember(new)
    assert (second.status, second.supersedes) == ("created", None)
    assert agent.memory_record(first.id).superseded_by is None
