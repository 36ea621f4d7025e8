"""Recall's two channels on every backend: full-text relevance over the whole namespace and
vector similarity, fused; conversations recorded with `session.add_messages`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pytest

from aether_memory import InvalidInput, Memory
from tests.word_embedder import WordHashEmbedder


class BlindEmbedder:
    """Every memory leans the query's way, except memories that mention a 'zephyr', which
    are orthogonal to it: the vector channel ranks those last. A second direction picked by
    the text's digest keeps distinct texts from looking like near-duplicates (and makes the
    others only loosely similar to the query, as real unrelated text is)."""

    model = "test-blind-v1"
    dims = 256

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(texts), self.dims), np.float32)
        for row, text in enumerate(texts):
            out[row, 0] = 0.0 if "zephyr" in text.lower() else 0.3
            digest = hashlib.blake2b(text.encode(), digest_size=4).digest()
            out[row, 1 + int.from_bytes(digest) % (self.dims - 1)] = 1.0
        return out

    def embed_query(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(texts), self.dims), np.float32)
        out[:, 0] = 1.0
        return out


@pytest.fixture
def blind(url: str, namespace: str) -> Iterator[Memory]:
    with Memory.open(url, namespace=namespace, embedder=BlindEmbedder()) as memory:
        yield memory


def _distractors(n: int) -> list[str]:
    return [f"Routine note number {i} about the weekly status meeting" for i in range(n)]


def test_a_memory_only_the_text_channel_finds_is_recalled(blind: Memory) -> None:
    agent = blind.agent("a")
    agent.remember_many(_distractors(40))  # more than recall's vector candidates for k=5
    target = agent.remember("The zephyr invoice was paid twice in March")
    hits = agent.recall("zephyr invoice", k=5)
    assert target.id in [h.record.id for h in hits]
    found = next(h for h in hits if h.record.id == target.id)
    assert found.text > 0


def test_stemming_matches_other_forms_of_a_word(blind: Memory) -> None:
    agent = blind.agent("a")
    agent.remember_many(_distractors(40))
    target = agent.remember("Zephyr: Refunds are processed within five days")
    assert target.id in [h.record.id for h in agent.recall("refund zephyrs", k=5)]
    assert target.id in [h.record.id for h in agent.recall("REFUNDED", k=5)]


def test_filters_hold_in_the_text_channel(blind: Memory) -> None:
    a, b = blind.agent("a"), blind.agent("b")
    a.remember_many(_distractors(40))
    kept = a.remember("zephyr report for the finance team", kind="fact", tags=("finance",))
    other_kind = a.remember("zephyr report, a note", kind="note", tags=("finance",))
    other_tag = a.remember("zephyr report, another team", kind="fact", tags=("ops",))
    other_agent = b.remember("zephyr report by someone else", kind="fact", tags=("finance",))
    hits = a.recall("zephyr report", k=10, kinds=["fact"], tags=["finance"], agent="a")
    ids = [h.record.id for h in hits]
    assert kept.id in ids
    assert not {other_kind.id, other_tag.id, other_agent.id} & set(ids)
    assert all(h.record.kind == "fact" and h.record.agent == "a" for h in hits)


def test_namespaces_stay_apart_in_both_channels(url: str, namespace: str) -> None:
    embedder = WordHashEmbedder()
    with (
        Memory.open(url, namespace=namespace, embedder=embedder) as mine,
        Memory.open(url, namespace=namespace + "x", embedder=embedder) as theirs,
    ):
        theirs.agent("a").remember_many(
            ["zephyr secret in the other namespace", "Refunds of the other namespace"]
        )
        own = mine.agent("a").remember("an unrelated memory of my own")
        for query in ("zephyr secret", "refund", "other namespace"):
            assert [h.record.id for h in mine.agent("a").recall(query, k=10)] == [own.id]


def test_hostile_query_text_reaches_neither_channel_as_syntax(blind: Memory) -> None:
    agent = blind.agent("a")
    target = agent.remember("zephyr value in the ledger")
    for query in ('zephyr" OR "*', "@kind:{fact} | zephyr*", "zephyr)) -(", "NEAR(zephyr x)"):
        hits = agent.recall(query, k=5)
        assert [h.record.id for h in hits] == [target.id]


def test_add_messages_records_events_and_recallable_memories(lt: Memory) -> None:
    session = lt.agent("assistant").session("chat-1")
    at = datetime(2024, 1, 5, 9, 30, tzinfo=UTC)
    added = session.add_messages(
        [
            {"speaker": "Ana", "content": "I moved to Porto last spring", "at": at},
            {"role": "user", "content": "What is the refund policy?", "at": "2024-01-05T09:31"},
            {"speaker": "Ana", "content": "I moved to Porto last spring"},  # said twice
        ]
    )
    assert [m.speaker for m in added] == ["Ana", "user", "Ana"]
    assert added[0].at == int(at.timestamp() * 1000)
    assert len({m.memory_id for m in added}) == 3  # turns are never merged
    events = session.events(limit=10, types=["message"])
    assert [e.data["content"] for e in events] == [m.content for m in added]
    assert [e.data["memory_id"] for e in events] == [m.memory_id for m in added]
    hits = lt.agent("assistant").recall("refunds policy", k=1)
    record = hits[0].record
    assert record.id == added[1].memory_id
    assert (record.kind, record.content) == ("message", "user: What is the refund policy?")
    assert record.metadata["speaker"] == "user"
    assert record.session == "chat-1"
    assert record.occurred_at == int(datetime(2024, 1, 5, 9, 31, tzinfo=UTC).timestamp() * 1000)
    porto = lt.agent("assistant").recall("Porto", k=5, kinds=["message"], session="chat-1")
    assert {h.record.id for h in porto} >= {added[0].memory_id, added[2].memory_id}


@pytest.mark.parametrize(
    "bad",
    [
        {"content": "no speaker"},
        {"speaker": "", "content": "empty speaker"},
        {"speaker": "a", "content": "  "},
        {"speaker": "a", "content": "x", "at": "yesterday"},
        {"speaker": "a", "content": "x", "extra": 1},
        "just text",
    ],
)
def test_add_messages_refuses_bad_items_and_writes_nothing(lt: Memory, bad: object) -> None:
    session = lt.agent("assistant").session("chat-2")
    good = {"speaker": "Ana", "content": "zephyr must not be stored"}
    with pytest.raises(InvalidInput):
        session.add_messages([good, bad])  # type: ignore[list-item]
    assert session.events(limit=10) == []
    assert lt.agent("assistant").recall("zephyr stored", k=5) == []
