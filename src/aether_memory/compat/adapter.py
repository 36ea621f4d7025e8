"""The Redis memory adapter's API (`create_memory_adapter`), on aether memory.

Code written against that adapter runs unchanged: the same factory arguments, the same async
methods, results with the attribute names it reads (``episode.memory_id``,
``skill.skill_name``, ``skill.success_rate``, ``episode.task_prompt``, ``semantic.pattern``),
and ``memory.redis_manager.available``. Underneath it is one `AsyncMemory`: with
``backend="redis"`` a Redis store with a SQLite fallback (served from while Redis is down,
replayed onto it when it answers — no code change for the caller), with ``backend="sqlite"`` a
SQLite file.

Where it differs, on purpose: values are JSON + zstd, never pickle; nothing is logged and
skipped — a failed write raises a typed `AetherError`. Episodes and skills are shared by the
namespace, so another agent's `search_episodes` finds them at once; with ``enable_pubsub`` the
adapter also follows the namespace's change feed: when another agent saves an episode, a
memory or a skill, it logs ``Received memory update: add episodic <id> from <agent>`` (as the
original did) and calls every callback given to `MemoryAdapter.on_update` with the
`Notification`. The follower is a task the adapter owns: `close()` stops it and raises what
made it fail, if anything did.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aether_memory.client._async.agent import AsyncAgent
from aether_memory.client._async.memory import AsyncMemory
from aether_memory.client._async.session import AsyncSession
from aether_memory.client.common import default_sqlite_url
from aether_memory.core.config import Settings, redis_url
from aether_memory.core.errors import BackendUnavailable, ConfigurationError
from aether_memory.core.feed import Notification
from aether_memory.core.types import Episode, Hit, Skill
from aether_memory.storage._async.feed import close_stream

log = logging.getLogger("aether_memory")

BACKENDS = ("redis", "sqlite")
# What the adapter follows with enable_pubsub, and how it names each kind in its log line.
_FOLLOWED = {"episode": "episodic", "memory": "semantic", "skill": "skill", "skill_run": "skill"}
_VERBS = {"remembered": "add", "updated": "update", "superseded": "update",
          "forgotten": "delete", "saved": "add", "ran": "update"}  # fmt: skip
FALLBACK_FILE = "fallback.db"

__all__ = [
    "EpisodeResult",
    "MemoryAdapter",
    "RedisManager",
    "SemanticResult",
    "SkillResult",
    "create_memory_adapter",
]


@dataclass(frozen=True)
class EpisodeResult:
    """An episode, with the adapter's names (``memory_id``) beside aether's."""

    episode: Episode

    @property
    def memory_id(self) -> str:
        return self.episode.id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.episode, name)


@dataclass(frozen=True)
class SkillResult:
    """A skill, with the adapter's names (``skill_name``, ``action_sequence``)."""

    skill: Skill

    @property
    def skill_name(self) -> str:
        return self.skill.name

    @property
    def action_sequence(self) -> list[Any]:
        return list(self.skill.steps)

    @property
    def success_rate(self) -> float:
        """Successful runs / runs (0.0 before the first run, so it formats as a percentage)."""
        return self.skill.success_rate or 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.skill, name)


@dataclass(frozen=True)
class SemanticResult:
    """A recalled long-term memory, with the adapter's names (``pattern``, ``memory_id``)."""

    hit: Hit

    @property
    def pattern(self) -> str:
        return self.hit.record.content

    @property
    def memory_id(self) -> str:
        return self.hit.record.id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.hit.record, name)


class RedisManager:
    """What the adapter's ``redis_manager`` told its callers: whether Redis serves now."""

    def __init__(self, memory: AsyncMemory) -> None:
        self._memory = memory

    @property
    def available(self) -> bool:
        """True while Redis serves calls (False on SQLite, or on the fallback in an outage)."""
        return self._memory.capabilities.backend == "redis"


class MemoryAdapter:
    """One agent's memory in the adapter's shape; build it with `create_memory_adapter`."""

    def __init__(self, memory: AsyncMemory, agent_id: str, session_id: str | None) -> None:
        self.memory = memory
        self.agent: AsyncAgent = memory.agent(agent_id)
        self.session: AsyncSession = self.agent.session(session_id)
        self.redis_manager = RedisManager(memory)
        self._callbacks: list[Callable[[Notification], Any]] = []
        self._follower: asyncio.Task[None] | None = None

    def on_update(self, callback: Callable[[Notification], Any]) -> None:
        """Call `callback` (a function or a coroutine function) with each notification of
        another agent's memory write (with ``enable_pubsub``)."""
        self._callbacks.append(callback)

    def _follow(self, after: str | None) -> None:
        self._follower = asyncio.get_running_loop().create_task(
            self._updates(after), name="aether-memory-adapter-pubsub"
        )

    async def _updates(self, after: str | None) -> None:
        stream = self.memory.subscribe(kinds=list(_FOLLOWED), after=after)
        try:
            async for note in stream:
                if note.agent == self.agent.id:
                    continue
                log.info("Received memory update: %s %s %s from %s",
                         _VERBS.get(note.op, note.op), _FOLLOWED[note.kind], note.id,
                         note.agent)  # fmt: skip
                for callback in list(self._callbacks):
                    result = callback(note)
                    if inspect.isawaitable(result):
                        await result
        finally:
            await close_stream(stream)

    @property
    def agent_id(self) -> str:
        return self.agent.id

    @property
    def session_id(self) -> str:
        return self.session.id

    async def initialize(self) -> None:
        """Create the search index now rather than on first use (idempotent)."""
        await self.memory.setup()

    async def add_step(
        self,
        action: str,
        observation: Any,
        reasoning: str | None = None,
        success: bool = True,
        **data: Any,
    ) -> str:
        """Record one step of the current task; returns its id."""
        event = await self.session.add_step(action, observation, reasoning, success, **data)
        return event.id

    async def save_episode(
        self,
        task_prompt: str,
        outcome: str,
        success: bool,
        duration_seconds: float | None = None,
        tags: Sequence[str] = (),
        importance: float = 0.5,
    ) -> EpisodeResult:
        """Summarise the session's steps into a searchable episode."""
        episode = await self.session.save_episode(
            task_prompt, outcome, success, duration_seconds, tags, importance
        )
        return EpisodeResult(episode)

    async def search_episodes(self, query: str, limit: int = 5) -> list[EpisodeResult]:
        """Past episodes (of every agent in the namespace) relevant to `query`."""
        return [EpisodeResult(e) for e in await self.agent.search_episodes(query, limit)]

    async def save_skill(
        self,
        skill_name: str,
        description: str,
        action_sequence: Sequence[Any],
        tags: Sequence[str] = (),
    ) -> SkillResult:
        """Create or replace a skill (its run statistics are kept)."""
        return SkillResult(
            await self.agent.save_skill(skill_name, description, action_sequence, tags)
        )

    async def record_skill_execution(
        self, skill_name: str, success: bool, duration: float
    ) -> SkillResult:
        """Count one run of a skill; the result carries its success rate."""
        return SkillResult(await self.agent.record_skill_execution(skill_name, success, duration))

    async def get_enriched_context(
        self, query: str, detailed_steps: int = 5, limit_per_type: int = 2
    ) -> str:
        """The prompt block for `query`: identity, working memory, the session's last steps,
        relevant memories, episodes and skills."""
        return await self.agent.context(
            query,
            session=self.session,
            detailed_steps=detailed_steps,
            limit_per_type=limit_per_type,
        )

    async def rotate_session(self) -> str:
        """Continue in a new session linked to the current one; returns its id."""
        self.session = await self.session.rotate()
        return self.session.id

    async def get_session_history(self) -> list[str]:
        """The chain of session ids the current session belongs to, oldest first."""
        return await self.session.history()

    async def search_all(self, query: str, limit_per_type: int = 3) -> dict[str, list[Any]]:
        """``{"episodic": [...], "semantic": [...], "skills": [...]}`` for `query`."""
        found = await self.agent.search_all(query, limit_per_type)
        return {
            "episodic": [EpisodeResult(e) for e in found["episodic"]],
            "semantic": [SemanticResult(h) for h in found["semantic"]],
            "skills": [SkillResult(s) for s in found["skills"]],
        }

    async def close(self) -> None:
        """Stop following the feed, close the connection (and the fallback file); raises
        what stopped the follower early, if anything did."""
        follower, self._follower = self._follower, None
        failed: BaseException | None = None
        if follower is not None:
            if not follower.done():
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
            elif not follower.cancelled():
                failed = follower.exception()
        await self.memory.aclose()
        if failed is not None:
            raise failed


async def create_memory_adapter(
    backend: str | None = None,
    agent_id: str = "agent",
    session_id: str | None = None,
    redis_host: str | None = None,
    redis_port: int | None = None,
    enable_pubsub: bool = False,
    *,
    redis_db: int | None = None,
    redis_password: str | None = None,
    namespace: str | None = None,
    embedder: Any = None,
) -> MemoryAdapter:
    """Open the memory of `agent_id`, as the Redis memory adapter did.

    Args:
        backend: ``redis`` or ``sqlite`` (any case); default ``MEMORY_BACKEND``, else
            ``redis``.
        agent_id: the agent whose steps, episodes and skills these are.
        session_id: the session to continue (default: a new one).
        redis_host, redis_port, redis_db, redis_password: the server (default
            ``REDIS_HOST`` / ``REDIS_PORT`` / ``REDIS_DB`` / ``REDIS_PASSWORD``, else
            ``localhost:6379``, database 0).
        enable_pubsub: follow other agents' memory writes (see `MemoryAdapter.on_update`).
        namespace: the aether namespace (default ``AETHER_NAMESPACE``, else ``default``).
        embedder: the text embedder for search (default: the local model).

    Raises:
        ConfigurationError: `backend` is neither ``redis`` nor ``sqlite``.
    """
    settings = Settings()
    chosen = (backend or settings.backend or "redis").lower()
    if chosen not in BACKENDS:
        raise ConfigurationError(f"backend={backend!r} is not a backend: use redis or sqlite")
    if chosen == "sqlite":
        memory = await AsyncMemory.open(
            default_sqlite_url("memory.db"), namespace=namespace, embedder=embedder
        )
    else:
        url = redis_url(
            redis_host or settings.redis_host or "localhost",
            redis_port or settings.redis_port,
            settings.redis_db if redis_db is None else redis_db,
            settings.password() if redis_password is None else redis_password,
        )
        memory = await AsyncMemory.open(
            url,
            namespace=namespace,
            embedder=embedder,
            fallback=settings.fallback or default_sqlite_url(FALLBACK_FILE),
        )
    adapter = MemoryAdapter(memory, agent_id, session_id)
    if enable_pubsub:
        try:
            start: str | None = await memory.feed.position()
        except BackendUnavailable:  # on the fallback: follow from when Redis is back
            start = None
        adapter._follow(start)
    return adapter
