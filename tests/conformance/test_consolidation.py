"""Consolidation, session summaries and topic summaries, on every backend: a run merges each
group of related memories into one consolidated memory linked to its sources, a second run
adds nothing, a run cut short is finished by the next, and a session rotated or closed leaves
its summary."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from aether_memory import (
    AsyncConsolidationScheduler,
    AsyncMemory,
    ConsolidationScheduler,
    InvalidInput,
    Memory,
)
from tests.word_embedder import WordHashEmbedder

TEA = [
    "The user likes green tea",
    "The user drinks green tea every morning",
    "The user prefers green tea without sugar",
]
DEPLOY = [
    "The deploy of the billing service failed on Friday",
    "The billing service deploy failed again on Friday night",
    "The billing service deploy failed because of a missing secret",
]


@pytest.fixture
def words(url: str, namespace: str) -> Iterator[Memory]:
    with Memory.open(url, namespace=namespace, embedder=WordHashEmbedder()) as memory:
        yield memory


def consolidated(mem: Memory) -> list[str]:
    page = mem.list_memories(kinds=["semantic"], limit=100)
    return [r.id for r in page.items if r.source == "consolidation"]


def test_consolidation_merges_groups_once_and_links_their_sources(words: Memory) -> None:
    agent = words.agent("a")
    tea = [agent.remember(t).id for t in TEA]
    deploy = [agent.remember(t, kind="episodic", tags=["ops"]).id for t in DEPLOY]
    alone = agent.remember("Paris is the capital of France").id

    report = words.consolidate(threshold=0.5)
    assert (report.clusters, report.consolidated) == (2, 6)
    assert sorted(report.created) == sorted(consolidated(words))
    by_sources = {}
    for memory_id in report.created:
        record = agent.memory_record(memory_id)
        assert record.kind == "semantic" and record.source == "consolidation"
        by_sources[frozenset(record.related)] = record
    assert set(by_sources) == {frozenset(tea), frozenset(deploy)}
    ops = by_sources[frozenset(deploy)]
    assert "billing" in ops.content and ops.tags == ("ops",)
    assert "tea" in by_sources[frozenset(tea)].content
    for source in [*tea, *deploy]:
        record = agent.memory_record(source)
        assert record.metadata["consolidated_into"] in report.created
        assert record.related == ()  # sources keep their own links, and gain none
    assert "consolidated_into" not in agent.memory_record(alone).metadata

    again = words.consolidate(threshold=0.5)
    assert (again.clusters, again.consolidated, again.created) == (0, 0, ())
    assert sorted(consolidated(words)) == sorted(report.created)  # no second copy
    for memory_id in report.created:  # and the links are as they were
        assert frozenset(agent.memory_record(memory_id).related) in by_sources


def test_a_run_cut_short_is_finished_by_the_next_without_a_copy(words: Memory) -> None:
    agent = words.agent("a")
    tea = [agent.remember(t).id for t in TEA]
    first = words.consolidate(threshold=0.5)
    assert len(first.created) == 1
    # As if the run had stopped after storing the consolidated memory, before the marks.
    words.longterm.merge_metadata(tea, {"consolidated_into": None})
    second = words.consolidate(threshold=0.5)
    assert second.created == first.created  # the same memory, stored again
    assert consolidated(words) == list(first.created)
    assert all(agent.memory_record(t).metadata["consolidated_into"] == first.created[0]
               for t in tea)  # fmt: skip


def test_sources_of_a_forgotten_consolidated_memory_are_merged_again(words: Memory) -> None:
    agent = words.agent("a")
    tea = [agent.remember(t).id for t in TEA]
    (made,) = words.consolidate(threshold=0.5).created
    assert agent.forget(made) == 1  # the summary only: its sources stay
    assert all(agent.memory_record(t).metadata["consolidated_into"] == made for t in tea)
    again = words.consolidate(threshold=0.5)
    assert again.created == (made,)  # the same group, the same id
    assert set(agent.memory_record(made).related) == set(tea)
    assert words.consolidate(threshold=0.5).created == ()


def test_a_dry_run_writes_nothing_and_bad_arguments_are_refused(words: Memory) -> None:
    agent = words.agent("a")
    for text in TEA:
        agent.remember(text)
    report = words.consolidate(threshold=0.5, dry_run=True)
    assert (report.clusters, report.consolidated, report.created) == (1, 3, ())
    assert consolidated(words) == []
    with pytest.raises(InvalidInput):
        words.consolidate(kinds="fact")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        words.consolidate(min_size=1)
    assert consolidated(words) == []


def test_groups_do_not_cross_agents(words: Memory) -> None:
    for i, text in enumerate(TEA):
        words.agent(f"a{i}").remember(text)
    assert words.consolidate(threshold=0.5).clusters == 0


def test_a_rotated_or_closed_session_leaves_its_summary(words: Memory) -> None:
    agent = words.agent("a")
    session = agent.session("s1")
    turns = session.add_messages(
        [
            {"speaker": "user", "content": "I want to book a trip to Lisbon in May."},
            {"speaker": "assistant", "content": "Lisbon in May is a good choice."},
        ]
    )
    session.add_step("search flights", "3 flights to Lisbon found")
    new = session.rotate()
    page = words.list_memories(kinds=["episodic"], session="s1")
    summaries = [r for r in page.items if r.source == "session_summary"]
    assert len(summaries) == 1
    summary = summaries[0]
    assert "Lisbon" in summary.content
    assert set(summary.related) == {t.memory_id for t in turns}
    assert session.close() is not None  # the same summary again: one memory
    assert len([r for r in words.list_memories(kinds=["episodic"], session="s1").items
                if r.source == "session_summary"]) == 1  # fmt: skip
    assert new.close() is None  # nothing recorded: nothing to summarise
    quiet = words.with_options(words.options.with_(summarize_on_rotate=False))
    assert quiet.agent("a").session("s1").close() is None


def test_summarize_returns_a_summary_of_the_relevant_memories(words: Memory) -> None:
    agent = words.agent("a")
    for text in [*TEA, "The user is allergic to peanuts"]:
        agent.remember(text)
    found = agent.summarize("green tea")
    assert "green tea" in found.summary and found.summarizer == "extractive"
    assert len(found.sources) >= 3 and found.total >= 3
    assert "peanuts" not in found.summary or len(found.sources) > 3
    nothing = agent.summarize("quantum chromodynamics")
    assert (nothing.summary, nothing.sources) == ("", ())
    result = agent.tools.call("summarize_memory", {"topic": "green tea"})["result"]
    assert "green tea" in result["summary"] and result["sources"]


async def test_async_consolidation(url: str, namespace: str) -> None:
    memory = await AsyncMemory.open(url, namespace=namespace, embedder=WordHashEmbedder())
    async with memory:
        agent = memory.agent("a")
        for text in TEA:
            await agent.remember(text)
        report = await memory.consolidate(threshold=0.5)
        assert report.clusters == 1
        assert (await memory.consolidate(threshold=0.5)).created == ()


def test_the_scheduler_runs_consolidation_in_the_background(words: Memory) -> None:
    agent = words.agent("a")
    for text in TEA:
        agent.remember(text)
    with ConsolidationScheduler(words, every=3600, threshold=0.5) as scheduler:
        deadline = time.monotonic() + 60
        while scheduler.runs < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert scheduler.runs == 1 and scheduler.last_error is None
        assert scheduler.last is not None and scheduler.last.clusters == 1
    assert len(consolidated(words)) == 1


async def test_the_async_scheduler_reports_a_failed_run(url: str, namespace: str) -> None:
    memory = await AsyncMemory.open(url, namespace=namespace, embedder=WordHashEmbedder())
    # kinds as a bare string is refused each run: the failure is kept, not raised
    scheduler = AsyncConsolidationScheduler(memory, every=3600, kinds="fact")
    async with memory, scheduler:
        for _ in range(1200):
            if scheduler.runs:
                break
            await asyncio.sleep(0.05)
        assert scheduler.runs == 1 and scheduler.last is None
        assert scheduler.last_error is not None and "InvalidInput" in scheduler.last_error
