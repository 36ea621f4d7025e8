"""Episodes, skills, search_all, context and introspection, on every backend."""

from __future__ import annotations

import pytest

from aether_memory import InvalidInput, Memory, NotFound
from aether_memory.core.context import count_tokens


def test_save_episode_summarises_steps_and_is_searchable(lt: Memory) -> None:
    researcher = lt.agent("researcher")
    s = researcher.session("task-1")
    s.add_step("search_web", "Found 10 results", reasoning="User requested information")
    s.add_step("extract_data", "Extracted key facts", success=False)
    s.record("message", {"text": "not a step"})
    episode = s.save_episode(
        "Research topic X", "Gathered the information", True, duration_seconds=5.2,
        tags=["research"], importance=0.8,
    )  # fmt: skip
    assert [st["action"] for st in episode.steps] == ["search_web", "extract_data"]
    assert episode.steps[1]["outcome"] == "failure"

    # another agent of the namespace finds it (document 004's multi-agent sharing)
    found = lt.agent("writer").search_episodes("research topic", limit=5)
    assert [e.id for e in found] == [episode.id]
    assert found[0].task_prompt == "Research topic X"
    assert found[0].success is True
    assert found[0].duration_seconds == 5.2
    assert found[0].session == "task-1"
    assert found[0].score is not None


def test_skills_track_their_runs(lt: Memory) -> None:
    agent = lt.agent("a")
    steps = [{"action": "search_web", "params": {"query": "{{query}}"}}, {"action": "extract"}]
    skill = agent.save_skill("web_research", "Search the web and extract facts", steps, ["r"])
    assert (skill.runs, skill.success_rate, skill.mean_duration) == (0, None, None)
    agent.record_skill_execution("web_research", True, 5.0)
    agent.record_skill_execution("web_research", True, 3.0)
    after = agent.record_skill_execution("web_research", False, 1.0)
    assert after.runs == 3
    assert after.success_rate == pytest.approx(2 / 3)
    assert after.mean_duration == pytest.approx(3.0)
    assert after.steps == tuple(steps)

    # saving again replaces the description but keeps the statistics and the search entry
    again = agent.save_skill("web_research", "Research on the web, then summarise", steps)
    assert again.runs == 3 and again.memory_id == skill.memory_id
    assert [s.name for s in agent.search_skills("summarise research")] == ["web_research"]
    with pytest.raises(NotFound):
        agent.skill("nope")
    with pytest.raises(NotFound):
        agent.record_skill_execution("nope", True, 1.0)
    with pytest.raises(InvalidInput):
        agent.record_skill_execution("web_research", True, -1)


def test_search_all_groups_by_type(lt: Memory) -> None:
    agent = lt.agent("a")
    agent.remember("Web scraping needs a polite crawl delay", kind="semantic")
    agent.remember("The scraper config lives in scraper.yaml", kind="fact")
    s = agent.session("s")
    s.add_step("scrape", "got 200 pages")
    s.save_episode("Scrape the docs site", "done", True)
    agent.save_skill("scrape_site", "Web scraping of a whole site", ["fetch", "parse"])
    found = agent.search_all("web scraping", limit_per_type=3)
    assert set(found) == {"episodic", "semantic", "skills"}
    assert [e.task_prompt for e in found["episodic"]] == ["Scrape the docs site"]
    assert {h.record.kind for h in found["semantic"]} <= {"fact", "semantic"}
    assert len(found["semantic"]) == 2
    assert [s.name for s in found["skills"]] == ["scrape_site"]


def test_context_has_every_section_within_budget(lt: Memory) -> None:
    agent = lt.agent("a")
    agent.identity.put("persona", "A careful research agent.")
    s = agent.session("s")
    s.working.set("goal", "compare vector indexes")
    s.add_step("search", "HNSW is approximate")
    agent.remember("FLAT search is exact but slower at 100k vectors", kind="fact")
    agent.save_skill("benchmark", "Benchmark vector indexes", ["load", "query"])
    text = agent.context("vector indexes", budget_tokens=2000, session=s)
    for title in ("Identity", "Working memory", "Recent steps", "Relevant memories", "Skills"):
        assert f"## {title}" in text
    assert text.index("## Identity") < text.index("## Working memory")
    assert "A careful research agent." in text
    assert '"compare vector indexes"' in text
    assert count_tokens(text) <= 2000

    small = agent.context("vector indexes", budget_tokens=30, session=s)
    assert count_tokens(small) <= 30
    assert small.startswith("## Identity")


def test_introspect(lt: Memory) -> None:
    agent = lt.agent("a")
    agent.remember("Redis streams keep events in order", kind="fact", importance=0.9)
    agent.remember("Redis streams can be trimmed with MAXLEN", kind="semantic")
    agent.remember("Lunch is at noon", kind="fact")
    report = agent.introspect("redis streams")
    assert report.total >= 2
    assert report.by_kind.get("fact", 0) >= 1
    assert report.strongest[0].record.content.startswith("Redis streams")
    assert "redis streams" in report.summary()
