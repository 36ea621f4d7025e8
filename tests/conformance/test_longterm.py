"""Long-term memory on every backend: remember, recall with filters, dedup, forget, update.

These tests use a small hashed bag-of-words embedder (tests/word_embedder.py) to stay fast;
tests/integration/test_embedders.py covers the real model.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aether_memory import InvalidInput, Memory, NotFound
from tests.word_embedder import WordHashEmbedder


def test_a_memory_is_recallable_as_soon_as_remember_returns(lt: Memory) -> None:
    agent = lt.agent("assistant")
    rec = agent.remember("The user is allergic to peanuts", kind="fact", importance=0.9)
    assert rec.status == "created"
    hits = agent.recall("peanuts allergy", k=1)
    assert [h.record.id for h in hits] == [rec.id]
    hit = hits[0]
    assert hit.record.content == "The user is allergic to peanuts"
    assert hit.record.importance == 0.9
    assert hit.vector > 0 and hit.text > 0 and 0 < hit.recency <= 1
    assert hit.score > 0


def test_keyword_and_meaning_both_count(lt: Memory) -> None:
    agent = lt.agent("ops")
    agent.remember_many(
        [
            "Deploy of billing-service v2.3 failed: migration 0042 timed out",
            "The user prefers answers as short bullet points",
            "Weekly sync moved to Thursdays at 10:00",
            "Ticket SUP-4471: refund requested for a double charge",
        ]
    )
    assert "0042" in agent.recall("migration 0042", k=1)[0].record.content
    assert "SUP-4471" in agent.recall("SUP-4471", k=1)[0].record.content


def test_exact_and_near_duplicates_reinforce(lt: Memory) -> None:
    agent = lt.agent("a")
    first = agent.remember("User moved from Lisbon to Porto in March", importance=0.4)
    again = agent.remember("User moved from Lisbon to Porto in March", importance=0.9)
    near = agent.remember("user moved from Lisbon to Porto in March!", importance=0.2)
    assert (again.status, again.id) == ("duplicate", first.id)
    assert (near.status, near.id) == ("near_duplicate", first.id)
    stored = agent.memory_record(first.id)
    assert stored.access_count == 2
    assert (near.content, near.occurred_at) == (
        stored.content,
        stored.occurred_at,
    )  # the stored one
    assert stored.importance == 0.9  # importance only rises
    assert len(agent.recall("Porto", k=10)) == 1


def test_batch_remember_dedups_inside_the_batch(lt: Memory) -> None:
    records = lt.agent("a").remember_many(["same text", "same text", "other text"])
    assert [r.status for r in records] == ["created", "duplicate", "created"]
    assert records[0].id == records[1].id


def test_filters(lt: Memory) -> None:
    a, b = lt.agent("a"), lt.agent("b")
    old = datetime.now(UTC) - timedelta(days=400)
    a.remember("coffee order: flat white", kind="fact", tags=["food", "café"], session="s1")
    a.remember("coffee machine broke on monday", kind="episodic", tags=["office"])
    a.remember("coffee beans from Kenya", kind="fact", occurred_at=old, importance=0.1)
    b.remember("coffee is banned in the lab", kind="fact")

    def contents(**kw: object) -> set[str]:
        return {h.record.content for h in a.recall("coffee", k=10, **kw)}  # type: ignore[arg-type]

    assert len(contents()) == 4  # the namespace is shared by default
    assert contents(agent="b") == {"coffee is banned in the lab"}
    assert contents(agent="a", kinds=["episodic"]) == {"coffee machine broke on monday"}
    assert contents(tags=["café"]) == {"coffee order: flat white"}
    assert contents(session="s1") == {"coffee order: flat white"}
    assert "coffee beans from Kenya" not in contents(since=datetime.now(UTC) - timedelta(days=30))
    assert "coffee beans from Kenya" not in contents(min_importance=0.3)


def test_tags_made_of_underscores_are_tags_like_any_other(lt: Memory) -> None:
    """A tag of only ``_`` was a syntax error in the Query Engine's filter."""
    agent = lt.agent("a")
    for tag in ["_", "__", "_x", "y_", "a_b"]:
        agent.remember(f"the note tagged {tag}", tags=[tag])
    for tag in ["_", "__", "_x", "y_", "a_b"]:
        hits = agent.recall("note tagged", tags=[tag])
        assert [h.record.content for h in hits] == [f"the note tagged {tag}"]


def test_hostile_filter_values_match_nothing(lt: Memory) -> None:
    agent = lt.agent("a")
    agent.remember("secret plan", tags=["x"])
    for tag in ["x | y", "x}", "@tags:{x}", "*", "-x", "(x)", 'x"', "x\\"]:
        assert agent.recall("secret plan", tags=[tag]) == []
    for hostile in ["a|b", "x}", "*"]:
        with pytest.raises(InvalidInput):
            agent.recall("secret", agent=hostile)
    # query text with syntax in it is just words
    assert agent.recall('secret @tags:{x} | -(plan) "*"', k=1)[0].record.content == "secret plan"


def test_namespaces_do_not_see_each_other(url: str, namespace: str) -> None:
    with (
        Memory.open(url, namespace=namespace + "a", embedder=WordHashEmbedder()) as one,
        Memory.open(url, namespace=namespace + "b", embedder=WordHashEmbedder()) as two,
    ):
        one.agent("x").remember("the vault code is 1234")
        two.agent("x").remember("unrelated note")
        assert all("vault" not in h.record.content for h in two.agent("x").recall("vault code"))


def test_recall_counts_access(lt: Memory) -> None:
    agent = lt.agent("a")
    rec = agent.remember("the sky is blue")
    agent.recall("sky", k=1)
    agent.recall("sky", k=1)
    assert agent.memory_record(rec.id).access_count == 2


def test_recall_hits_carry_this_access(lt: Memory) -> None:
    agent = lt.agent("a")
    rec = agent.remember("the sky is blue")
    first = agent.recall("sky", k=1)[0].record
    second = agent.recall("sky", k=1)[0].record
    assert (first.access_count, second.access_count) == (1, 2)
    assert rec.created_at <= first.last_accessed <= second.last_accessed
    stored = agent.memory_record(rec.id)
    assert (stored.access_count, stored.last_accessed) == (2, second.last_accessed)


def test_recency_breaks_ties_for_updated_facts(lt: Memory) -> None:
    agent = lt.agent("a")
    now = datetime.now(UTC)
    agent.remember("User lives in Lisbon", occurred_at=now - timedelta(days=200))
    agent.remember("User lives in Porto", occurred_at=now - timedelta(days=2))
    assert agent.recall("where does the user live", k=1)[0].record.content.endswith("Porto")


def test_forget_and_cascade(lt: Memory) -> None:
    agent = lt.agent("a")
    leaf = agent.remember("leaf detail")
    mid = agent.remember("middle summary", related=[leaf.id])
    root = agent.remember("root topic", related=[mid.id])
    leaf_2 = agent.remember("another leaf", related=[root.id])  # a cycle back to root
    assert agent.forget(root.id, cascade=True) == 3
    with pytest.raises(NotFound):
        agent.memory_record(mid.id)
    assert agent.memory_record(leaf_2.id).content == "another leaf"
    assert agent.forget(root.id) == 0
    # the text can be remembered anew after forgetting
    assert agent.remember("leaf detail").status == "created"


def test_update(lt: Memory) -> None:
    agent = lt.agent("a")
    rec = agent.remember("meeting on Tuesday", tags=["calendar"])
    updated = agent.update(rec.id, content="meeting on Wednesday", importance=0.8, tags=["work"])
    assert (updated.content, updated.importance, updated.tags) == (
        "meeting on Wednesday",
        0.8,
        ("work",),
    )
    assert agent.recall("Wednesday meeting", k=1)[0].record.id == rec.id
    assert agent.recall("meeting", tags=["calendar"]) == []
    with pytest.raises(NotFound):
        agent.update("01NOTANIDATALL0000000000000", importance=0.1)


@pytest.mark.parametrize(
    "bad",
    [
        {"content": ""},
        {"content": "x" * 40_000},
        {"content": "x", "importance": 2},
        {"content": "x", "kind": "a b"},
        {"content": "x", "tags": ["a,b"]},
        {"content": "x", "related": ["x}"]},
        {"content": "x", "metadata": {"when": datetime.now(UTC)}},
    ],
)
def test_bad_memories_are_refused_before_writing(lt: Memory, bad: dict[str, object]) -> None:
    agent = lt.agent("a")
    with pytest.raises(InvalidInput):
        agent.remember(**bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        agent.remember_many(["fine", bad])  # type: ignore[list-item]
    assert agent.recall("fine x", k=5) == []


def test_questions_full_of_stop_words_are_safe(lt: Memory) -> None:
    # Query Engine 2.10 crashes on `is | it | ok`-style unions; stop words never reach it.
    agent = lt.agent("coder")
    agent.remember("Never force push to a shared branch")
    hits = agent.recall("is it ok to force push to a shared branch?", k=1)
    assert hits[0].record.content == "Never force push to a shared branch"
    assert lt.ping()


def test_a_namespace_keeps_one_embedder(url: str, namespace: str) -> None:
    from aether_memory import ConfigurationError

    class Other(WordHashEmbedder):
        model = "another-model-v1"

    with Memory.open(url, namespace=namespace, embedder=WordHashEmbedder()) as mem:
        mem.agent("a").remember("embedded with the first model")
    with (
        Memory.open(url, namespace=namespace, embedder=Other()) as mem,
        pytest.raises(ConfigurationError, match="embedded with 'test-word-hash-v1'"),
    ):
        mem.agent("a").recall("first model")
