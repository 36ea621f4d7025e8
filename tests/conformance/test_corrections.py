"""Long-term memory keeps what it is told, on every backend: a correction supersedes the fact
it corrects, dedup state lives and dies with its memory, a wrong-typed filter is refused, and
introspection reports only what is about the topic."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from aether_memory import InvalidInput, Memory
from aether_memory.backends.redis._async.longterm import field_ttl
from aether_memory.core import keys
from aether_memory.core.config import Options, TTLs
from tests.word_embedder import CloseEmbedder, WordHashEmbedder


@pytest.fixture
def close(url: str, namespace: str) -> Iterator[Memory]:
    with Memory.open(url, namespace=namespace, embedder=CloseEmbedder()) as memory:
        yield memory


CORRECTIONS = [
    ("Leonor moved to Porto in March", "Leonor moved to Porto in May", "where did Leonor move"),
    ("The meeting is at 3pm", "The meeting is at 4pm", "when is the meeting"),
    ("Ana is allergic to nuts", "Ana is not allergic to nuts", "Ana nuts allergy"),
    (
        "The API limit is 100 requests/min",
        "The API limit is 1000 requests/min",
        "API limit requests",
    ),
]


@pytest.mark.parametrize(("old", "new", "query"), CORRECTIONS)
def test_a_correction_supersedes_the_fact_it_corrects(
    close: Memory, old: str, new: str, query: str
) -> None:
    agent = close.agent("a")
    first = agent.remember(old)
    second = agent.remember(new)
    assert (second.status, second.supersedes, second.content) == ("superseded", first.id, new)
    assert second.id != first.id
    assert agent.memory_record(first.id).superseded_by == second.id  # both are kept
    assert agent.memory_record(second.id).supersedes == first.id
    assert [h.record.id for h in agent.recall(query, k=5)] == [second.id]
    history = {h.record.id for h in agent.recall(query, k=5, include_superseded=True)}
    assert history == {first.id, second.id}


def test_forgetting_a_correction_brings_back_what_it_replaced(close: Memory) -> None:
    agent = close.agent("a")
    old = agent.remember("The meeting is at 3pm")
    new = agent.remember("The meeting is at 4pm")
    assert agent.forget(new.id) == 1
    assert agent.memory_record(old.id).superseded_by is None
    assert [h.record.id for h in agent.recall("when is the meeting", k=5)] == [old.id]
    again = agent.remember("The meeting is at 4pm")  # the correction, made anew
    assert (again.status, again.supersedes) == ("superseded", old.id)


def test_a_fact_said_again_after_its_correction_is_current_again(close: Memory) -> None:
    agent = close.agent("a")
    march = agent.remember("Leonor moved to Porto in March")
    may = agent.remember("Leonor moved to Porto in May")
    again = agent.remember("Leonor moved to Porto in March")
    assert (again.id, again.status, again.supersedes) == (march.id, "superseded", may.id)
    assert agent.memory_record(may.id).superseded_by == march.id
    assert [h.record.id for h in agent.recall("where did Leonor move", k=5)] == [march.id]
    assert agent.remember("Leonor moved to Porto in March").status == "duplicate"


def test_a_rewording_with_the_same_facts_still_reinforces(close: Memory) -> None:
    agent = close.agent("a")
    first = agent.remember("User moved from Lisbon to Porto in March")
    again = agent.remember("user moved from Lisbon to Porto in March!")
    assert (again.status, again.id) == ("near_duplicate", first.id)
    assert agent.memory_record(first.id).superseded_by is None
    assert len(agent.recall("Porto", k=10, include_superseded=True)) == 1


def test_another_code_is_another_memory_not_a_correction(close: Memory) -> None:
    agent = close.agent("a")
    first = agent.remember("Ticket SUP-4471: refund requested for a double charge")
    other = agent.remember("Ticket SUP-4472: refund requested for a double charge")
    assert (other.status, other.supersedes) == ("created", None)
    assert agent.memory_record(first.id).superseded_by is None
    assert {h.record.id for h in agent.recall("refund double charge", k=5)} == {first.id, other.id}


def test_superseded_memories_do_not_take_places_in_the_top_k(close: Memory) -> None:
    agent = close.agent("a")
    for n in range(1, 26):  # each value corrects the one before
        latest = agent.remember(f"The nightly build counter of the release pipeline is {n}")
        assert latest.status == ("created" if n == 1 else "superseded")
    other = agent.remember("The office plant needs water on Fridays")
    hits = agent.recall("nightly build counter", k=2)
    assert [h.record.id for h in hits] == [latest.id, other.id]
    assert len(agent.recall("nightly build counter", k=30, include_superseded=True)) == 26


def _short_lived(url: str, namespace: str) -> Memory:
    options = Options(namespace=namespace, ttl=TTLs(semantic=0.4))
    return Memory.open(url, options=options, embedder=WordHashEmbedder())


def test_text_can_be_remembered_again_after_its_memory_expired(url: str, namespace: str) -> None:
    with _short_lived(url, namespace) as mem:
        agent = mem.agent("a")
        first = agent.remember("The deploy key rotates every quarter")
        time.sleep(0.6)  # past the TTL: the memory is gone
        assert agent.recall("deploy key", k=5) == []
        again = agent.remember("The deploy key rotates every quarter")
        assert again.status == "created" and again.id != first.id
        assert agent.memory_record(again.id).content == "The deploy key rotates every quarter"
        assert [h.record.id for h in agent.recall("deploy key", k=5)] == [again.id]


def test_text_can_be_remembered_again_after_its_memory_was_evicted(
    redis_url: str, namespace: str
) -> None:
    with Memory.open(redis_url, namespace=namespace, embedder=WordHashEmbedder()) as mem:
        agent = mem.agent("a")
        first = agent.remember("The backup runs at midnight")
        with redis.Redis.from_url(redis_url) as r:
            r.delete(keys.memory(namespace, first.id))  # as an evicting policy would
        again = agent.remember("The backup runs at midnight")
        assert again.status == "created" and again.id != first.id
        assert [h.record.id for h in agent.recall("backup midnight", k=5)] == [again.id]
        assert agent.remember("The backup runs at midnight").status == "duplicate"


def test_a_dedup_entry_expires_with_its_memory(redis_url: str, namespace: str) -> None:
    with _short_lived(redis_url, namespace) as mem, redis.Redis.from_url(redis_url) as r:
        if not field_ttl(str(r.info("server")["redis_version"])):
            pytest.skip("hash fields cannot expire before Redis 7.4: the lookup drops them")
        mem.agent("a").remember("Short-lived fact about the cache")
        assert r.hlen(keys.content_hashes(namespace)) == 1
        time.sleep(0.6)
        assert r.hlen(keys.content_hashes(namespace)) == 0


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("kinds", "fact"),
        ("tags", "work"),
        ("kinds", 3),
        ("agent", 5),
        ("session", 7),
        ("since", "yesterday"),
        ("until", "2026-01-01"),
        ("min_importance", "high"),
        ("include_superseded", "yes"),
    ],
)
def test_a_wrong_typed_filter_is_refused_naming_it(
    lt: Memory, argument: str, value: object
) -> None:
    agent = lt.agent("a")
    agent.remember("a fact about the work calendar", kind="fact", tags=["work"])
    with pytest.raises(InvalidInput, match=argument):
        agent.recall("work calendar", **{argument: value})  # type: ignore[arg-type]
    assert len(agent.recall("work calendar", kinds=["fact"], tags=["work"])) == 1


def test_introspection_reports_only_what_is_about_the_topic(lt: Memory) -> None:
    agent = lt.agent("a")
    agent.session().save_episode(
        "deploy the billing service", "rolled out to production", success=True
    )
    agent.save_skill("rollback", "revert the billing service to the previous release", ["git"])
    unrelated = agent.introspect("quantum chromodynamics")
    assert (unrelated.total, unrelated.episodes, unrelated.skills) == (0, (), ())
    related = agent.introspect("billing service")
    assert [e.task_prompt for e in related.episodes] == ["deploy the billing service"]
    assert [s.name for s in related.skills] == ["rollback"]


def test_listing_shows_current_memories_unless_asked_for_superseded_ones(close: Memory) -> None:
    agent = close.agent("a")
    old = agent.remember("The meeting is at 3pm")
    new = agent.remember("The meeting is at 4pm")
    other = agent.remember("Deploys need the release checklist QA-19.")
    assert new.supersedes == old.id
    assert [r.id for r in close.list_memories()] == sorted([new.id, other.id])
    every = close.list_memories(include_superseded=True)
    assert [r.id for r in every] == sorted([old.id, new.id, other.id])
    only = close.list_memories(superseded_only=True)
    assert [(r.id, r.superseded_by) for r in only] == [(old.id, new.id)]
    assert [r.id for r in close.list_memories(agent="a", superseded_only=True, limit=1)] == [old.id]
    with pytest.raises(InvalidInput):
        close.list_memories(include_superseded=1)  # type: ignore[arg-type]
