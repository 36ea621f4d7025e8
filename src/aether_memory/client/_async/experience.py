"""Experience: episodes (finished tasks) and skills (named procedures), both kept as
long-term memories so they are recalled like the rest, and introspection over all of it.

Source of truth for `client/_sync/experience.py` (generated).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aether_memory.client.records import (
    MAX_CONTENT_CHARS,
    RELEVANT,
    SEMANTIC_KINDS,
    Memorable,
    check_tags,
    episode_from_record,
    episode_text,
    step_summary,
)
from aether_memory.core.errors import NotFound
from aether_memory.core.ids import check_name, now_ms
from aether_memory.core.query import Filters
from aether_memory.core.types import Episode, Event, Hit, Introspection, Skill
from aether_memory.core.validate import (
    check_duration,
    check_flag,
    check_number,
    check_strings,
    check_text,
)
from aether_memory.storage.rows import text

if TYPE_CHECKING:
    from aether_memory.client._async.kernel import AsyncKernel
    from aether_memory.client._async.longterm import AsyncLongTermMemory


class AsyncExperience:
    """Episodes and skills of one namespace, stored through its long-term memory."""

    def __init__(
        self,
        memories: AsyncLongTermMemory,
        kernel: AsyncKernel,
    ) -> None:
        self._memories = memories
        self._k = kernel
        self._ns = kernel.namespace
        self._codec = kernel.codec

    # -- episodes ------------------------------------------------------------------------------
    async def save_episode(
        self,
        agent: str,
        session: str,
        steps: Sequence[Event],
        task_prompt: str,
        outcome: str,
        success: bool,
        duration_seconds: float | None,
        tags: Sequence[str],
        importance: float,
    ) -> Episode:
        """Store a finished task as an ``episodic`` memory summarising its steps."""
        check_text(task_prompt, "an episode's task prompt", max_chars=MAX_CONTENT_CHARS)
        check_text(outcome, "an episode's outcome", max_chars=MAX_CONTENT_CHARS, allow_empty=True)
        success = check_flag(success, "success")
        if duration_seconds is not None:
            duration_seconds = check_duration(duration_seconds, "duration_seconds")
        tags = check_tags(tags)
        importance = check_number(importance, "importance", 0.0, 1.0)
        step_rows = [step_summary(e) for e in steps]
        content = episode_text(task_prompt, outcome, success, step_rows)
        meta = {
            "task_prompt": task_prompt,
            "outcome": outcome,
            "success": bool(success),
            "duration_seconds": duration_seconds,
            "steps": step_rows,
        }
        item = Memorable(
            content=content, kind="episodic", importance=importance, tags=tuple(tags),
            session=session, metadata=meta, source="episode",
        )  # fmt: skip
        record = (await self._memories.remember_many(agent, [item]))[0]
        return Episode(
            id=record.id, task_prompt=task_prompt, outcome=outcome, success=bool(success),
            agent=agent, session=session, steps=tuple(step_rows),
            duration_seconds=duration_seconds, tags=tuple(tags), importance=importance,
            occurred_at=record.occurred_at,
        )  # fmt: skip

    async def search_episodes(self, query: str, limit: int, scope: Filters) -> list[Episode]:
        hits = await self._memories.recall(query, limit, replace(scope, kinds=("episodic",)))
        return [episode_from_record(h.record, h.score) for h in hits]

    # -- skills --------------------------------------------------------------------------------
    async def save_skill(
        self, agent: str, name: str, description: str, steps: Sequence[Any], tags: Sequence[str]
    ) -> Skill:
        """Create or replace a skill; its description is searchable (``procedural``)."""
        check_name(name, "skill name")
        check_text(description, "a skill's description", max_chars=MAX_CONTENT_CHARS)
        tags = check_tags(tags)
        steps_raw = self._codec.encode(list(check_strings(steps, "a skill's steps")))
        existing = (await self._k.longterm.skill_get(self._ns, [name]))[0]
        summary = f"{name}: {description}"
        old_id = text(existing.get("memory_id", b"")) if existing else ""
        if old_id:
            await self._memories.update(old_id, summary, None, tags, {"skill": name})
            memory_id = old_id
        else:
            item = Memorable(
                content=summary, kind="procedural", tags=tuple(tags),
                metadata={"skill": name}, source="skill",
            )  # fmt: skip
            memory_id = (await self._memories.remember_many(agent, [item]))[0].id
        fields = {
            "name": name,
            "description": description,
            "steps": steps_raw,
            "tags": ",".join(tags),
            "memory_id": memory_id,
            "updated_at": now_ms(),
        }
        await self._k.longterm.skill_put(
            self._ns, name, fields, self._memories.ttl_ms("procedural")
        )
        return await self.skill(name)

    async def skill(self, name: str) -> Skill:
        check_name(name, "skill name")
        row = (await self._k.longterm.skill_get(self._ns, [name]))[0]
        if row is None:
            raise NotFound(f"no skill {name!r} in namespace {self._ns!r}")
        return self._skill(row)

    async def record_skill_execution(self, name: str, success: bool, duration: float) -> Skill:
        check_name(name, "skill name")
        success = check_flag(success, "success")
        duration = check_duration(duration, "duration")
        found = await self._k.longterm.skill_run(
            self._ns, name, success, duration, self._memories.ttl_ms("procedural")
        )
        if not found:
            raise NotFound(f"no skill {name!r} to record a run of; save_skill() it first")
        return await self.skill(name)

    async def search_skills(self, query: str, limit: int, scope: Filters) -> list[Skill]:
        hits = await self._memories.recall(query, limit, replace(scope, kinds=("procedural",)))
        return await self._skills_of(hits)

    async def _skills_of(self, hits: Sequence[Hit]) -> list[Skill]:
        names = [h.record.metadata.get("skill") for h in hits]
        pairs = [(str(n), h.score) for n, h in zip(names, hits, strict=True) if n]
        rows = await self._k.longterm.skill_get(self._ns, [n for n, _ in pairs])
        return [
            replace(self._skill(row), score=score)
            for (_, score), row in zip(pairs, rows, strict=True)
            if row is not None
        ]

    def _skill(self, row: Mapping[str, Any]) -> Skill:
        return Skill(
            name=text(row["name"]),
            description=text(row["description"]),
            steps=tuple(self._codec.decode(row["steps"])),
            tags=tuple(t for t in text(row.get("tags", b"")).split(",") if t),
            runs=int(row.get("runs", 0)),
            successes=int(row.get("successes", 0)),
            total_duration=float(row.get("total_duration", 0.0)),
            memory_id=text(row.get("memory_id", b"")) or None,
            updated_at=int(row.get("updated_at", 0)),
        )

    async def browse_skills(self, after: str | None, limit: int) -> tuple[list[Skill], str | None]:
        """Up to `limit` skills by name after `after`, and the name to continue after."""
        names = await self._k.longterm.skill_names(self._ns, after, limit)
        rows = await self._k.longterm.skill_get(self._ns, names) if names else []
        skills = [self._skill(row) for row in rows if row is not None]
        return skills, (names[-1] if len(names) == limit else None)

    # -- everything at once ----------------------------------------------------------------------
    async def search_all(
        self, query: str, limit_per_type: int, scope: Filters
    ) -> dict[str, list[Any]]:
        """Episodes, facts (fact + semantic) and skills relevant to `query`."""
        semantic = await self._memories.recall(
            query, limit_per_type, replace(scope, kinds=SEMANTIC_KINDS)
        )
        return {
            "episodic": await self.search_episodes(query, limit_per_type, scope),
            "semantic": semantic,
            "skills": await self.search_skills(query, limit_per_type, scope),
        }

    async def introspect(self, agent: str, topic: str) -> Introspection:
        check_text(topic, "a topic", max_chars=MAX_CONTENT_CHARS)
        scope = Filters(agents=(agent,))
        hits = await self._memories.recall(topic, 20, scope, touch=False)
        relevant = _relevant(hits)
        by_kind: dict[str, int] = {}
        for hit in relevant:
            by_kind[hit.record.kind] = by_kind.get(hit.record.kind, 0) + 1
        strongest = sorted(relevant, key=lambda h: h.score * (0.5 + h.record.importance))[::-1]
        # Only episodes and skills about the topic: the best of them may be about nothing.
        episodes = _relevant(
            await self._memories.recall(topic, 3, replace(scope, kinds=("episodic",)), touch=False)
        )
        skills = _relevant(
            await self._memories.recall(
                topic, 3, replace(scope, kinds=("procedural",)), touch=False
            )
        )
        return Introspection(
            topic=topic,
            total=len(relevant),
            by_kind=by_kind,
            strongest=tuple(strongest[:5]),
            episodes=tuple(episode_from_record(h.record, h.score) for h in episodes),
            skills=tuple(await self._skills_of(skills)),
        )


def _relevant(hits: Sequence[Hit]) -> list[Hit]:
    """The hits that are about the query: close in meaning, or sharing a word with it."""
    return [h for h in hits if h.vector >= RELEVANT or h.text > 0]
