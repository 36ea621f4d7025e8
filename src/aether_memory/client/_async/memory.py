"""`AsyncMemory`: a connection to agent memory in one namespace, and the entry to
its handles (agents, sessions, long-term memory, the feed, queues, caches).

This file is the source of truth; `client/_sync/memory.py` is generated from it by
`scripts/unasync.py`. Handles do no I/O when created; every public operation is one round
trip to the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from aether_memory.client._async.agent import AsyncAgent
from aether_memory.client._async.archive import AsyncLifecycle
from aether_memory.client._async.cache import AsyncToolCache, cached
from aether_memory.client._async.connect import open_cold_tier, open_store
from aether_memory.client._async.consolidation import AsyncConsolidator, Consolidation
from aether_memory.client._async.experience import AsyncExperience
from aether_memory.client._async.feed import AsyncFeed
from aether_memory.client._async.formation import AsyncFormation
from aether_memory.client._async.kernel import AsyncKernel
from aether_memory.client._async.longterm import AsyncLongTermMemory
from aether_memory.client._async.queue import AsyncQueue
from aether_memory.client.common import (
    ClosedStore,
    check_batch,
    check_field,
    default_writers,
    resolve_url,
    warn_no_archive,
)
from aether_memory.client.listing import listing_scope, name_page, text_key
from aether_memory.client.records import episode_from_record
from aether_memory.core import telemetry
from aether_memory.core.config import Options, Settings
from aether_memory.core.errors import BackendUnavailable, InvalidInput
from aether_memory.core.feed import AgentStatus, Notification
from aether_memory.core.ids import check_name
from aether_memory.core.keys import SessionKeys
from aether_memory.core.lifecycle import HotBudget
from aether_memory.core.pages import (
    DEFAULT_LIMIT,
    Erasure,
    Page,
    check_page_limit,
    decode_cursor,
    encode_cursor,
)
from aether_memory.core.queues import (
    DEFAULT_BACKOFF,
    DEFAULT_BACKOFF_CAP,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_VISIBILITY,
    QueueOptions,
)
from aether_memory.core.types import Capabilities, Episode, Health, MemoryRecord, Skill
from aether_memory.core.validate import check_flag, check_strings
from aether_memory.storage._async.fallback import AsyncFallbackStore
from aether_memory.storage._async.store import AsyncStore
from aether_memory.storage.rows import HashKind
from aether_memory.tools._async.runner import AsyncTools

if TYPE_CHECKING:
    from aether_memory.core.embeddings import Embedder
    from aether_memory.core.extract import LLMExtractor
    from aether_memory.core.summarize import Summarizer
    from aether_memory.storage.archive import Archive

log = logging.getLogger("aether_memory")


F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_TOOLS_AGENT = "agent"


class AsyncMemory:
    """A connection to agent memory in one namespace.

    Build it with `open()`; use it as a context manager or call `aclose()`.

    Example:
        mem = await AsyncMemory.open("redis://localhost:6379/0")
        async with mem:
            session = mem.agent("planner").session("s1")
            await session.working.set("goal", "ship it")
    """

    def __init__(
        self,
        store: AsyncStore,
        options: Options | None = None,
        *,
        embedder: Embedder | None = None,
        summarizer: Summarizer | None = None,
        extractor: LLMExtractor | None = None,
        archive: Archive | None = None,
    ) -> None:
        self.options = options or Options()
        self.namespace = check_name(self.options.namespace, "namespace")
        # What this memory's handles share: the store, the codec, the lifetimes.
        self.kernel = AsyncKernel.build(store, self.options)
        self._embedder = embedder
        self._longterm: AsyncLongTermMemory | None = None
        self._experience: AsyncExperience | None = None
        self.cache = AsyncToolCache(self)
        self._view = False
        self.feed = AsyncFeed(self)
        self._summarizer = summarizer
        self._extractor = extractor
        self._formation: AsyncFormation | None = None
        self._archive = archive
        self._owns_archive = False
        self._lifecycle: AsyncLifecycle | None = None
        telemetry.refresh()

    @classmethod
    async def open(
        cls,
        url: str | None = None,
        *,
        namespace: str | None = None,
        options: Options | None = None,
        strict: bool | None = None,
        embedder: Embedder | None = None,
        fallback: str | None = None,
        summarizer: Summarizer | None = None,
        extractor: LLMExtractor | None = None,
        archive: str | Archive | None = None,
    ) -> AsyncMemory:
        """Connect to the memory store.

        Args:
            url: ``redis://``, ``rediss://``, ``unix://``, ``redis+cluster://host:port,...``
                (a Redis Cluster; see docs/cluster.md) or ``sqlite:///path/to/file.db``
                (``sqlite:////abs/path.db`` for an absolute path). Without it, the
                environment decides (see `aether_memory.core.config` for the precedence).
            namespace: the tenant to work in (default ``default``).
            options: tuning; defaults come from the environment.
            strict: refuse a server that may evict durable keys instead of warning.
            embedder: turns text into vectors for long-term memory (default: the local
                all-MiniLM-L6-v2 model, loaded on first use).
            fallback: a ``sqlite:///`` URL (default: ``AETHER_FALLBACK``). While Redis is
                unreachable, calls are served from that file and writes are queued there;
                they are replayed onto Redis, in order, when it answers again. See
                `health()`.
            summarizer: writes summaries (consolidation, sessions, `summarize`); default:
                ``AETHER_SUMMARIZER=llm`` with ``AETHER_LLM_URL`` set, else the offline
                `ExtractiveSummarizer`. See docs/consolidation.md.
            extractor: reads facts and preferences out of recorded turns in the background
                (default: with ``AETHER_EXTRACT_MEMORIES`` and ``AETHER_LLM_URL`` set, an
                `LLMExtractor`; otherwise none: there is no offline extractor).
            archive: the cold tier long-term memories move to when they leave the hot store
                (``sqlite:///path`` or ``postgresql://…``, or an `Archive`; default:
                ``AETHER_ARCHIVE_URL``). Without one, a memory past its lifetime is deleted
                by the store, as a WARNING at open says. See docs/lifecycle.md.

        Raises:
            BackendUnavailable: the server did not answer in time.
            ConfigurationError: the URL or settings are wrong, or `strict` refused the server.
        """
        settings = Settings()
        opts = options or settings.options()
        if namespace is not None:
            opts = opts.with_(namespace=namespace)
        if strict is not None:
            opts = opts.with_(strict=strict)
        check_name(opts.namespace, "namespace")
        url = resolve_url(url, settings)
        summarizer, extractor = default_writers(settings, summarizer, extractor)
        store = await open_store(url, opts, fallback or settings.fallback)
        archive = archive or settings.archive_url
        owns_archive = isinstance(archive, str)
        if isinstance(archive, str):
            archive = await open_cold_tier(archive, store)
        elif archive is None:
            warn_no_archive(opts)
        mem = cls(
            store,
            opts,
            embedder=embedder,
            summarizer=summarizer,
            extractor=extractor,
            archive=archive,
        )
        mem._owns_archive = owns_archive
        return mem

    @property
    def longterm(self) -> AsyncLongTermMemory:
        """Long-term memory of this namespace (the embedder loads on first use, not here)."""
        if self._longterm is None:
            embedder = self._embedder
            if embedder is None:
                from aether_memory.backends.embedders import default_embedder
                from aether_memory.core.embeddings import CachedEmbedder

                embedder = CachedEmbedder(default_embedder())
            self._longterm = AsyncLongTermMemory(self.kernel, embedder)
            if self._archive is not None or self._budget().active:
                self._longterm.lifecycle = self.lifecycle
        return self._longterm

    @property
    def experience(self) -> AsyncExperience:
        """Episodes and skills of this namespace (kept as long-term memories)."""
        if self._experience is None:
            self._experience = AsyncExperience(self.longterm, self.kernel)
        return self._experience

    def _budget(self) -> HotBudget:
        return HotBudget(self.options.hot_budget, self.options.hot_budget_bytes)

    @property
    def lifecycle(self) -> AsyncLifecycle:
        """The sync service of this namespace: moves what leaves the hot tier to the archive
        (``run``), brings memories back (``rehydrate``), and reports both tiers (``status``)."""
        if self._lifecycle is None:
            longterm = self.longterm if self._longterm is None else self._longterm
            self._lifecycle = AsyncLifecycle(
                self.kernel,
                self._archive,
                self._budget(),
                self.options.archive_grace,
                longterm.embedder.dims,
            )
        return self._lifecycle

    @property
    def summarizer(self) -> Summarizer:
        """What writes summaries: the one given, else the offline extractive summariser
        (on this memory's embedder)."""
        if self._summarizer is None:
            from aether_memory.core.summarize import ExtractiveSummarizer

            self._summarizer = ExtractiveSummarizer(self.longterm.embedder)
        return self._summarizer

    @property
    def formation(self) -> AsyncFormation | None:
        """The background reader of recorded turns (None without an extractor)."""
        if self._formation is None and self._extractor is not None and not self._view:
            self._formation = AsyncFormation(
                self.longterm, self._extractor, self.options.formation_batch,
                self.options.formation_max_lag,
            )  # fmt: skip
        return self._formation

    @telemetry.traced("consolidate")
    async def consolidate(
        self,
        kinds: Iterable[str] = ("episodic", "fact"),
        threshold: float = 0.6,
        min_size: int = 3,
        max_sentences: int = 3,
        dry_run: bool = False,
        agents: Iterable[str] | None = None,
    ) -> Consolidation:
        """Merge each group of at least `min_size` related memories of `kinds` (cosine within
        `threshold` of the group's centre, one agent's) into one ``semantic`` memory: their
        summary, linked to them by ``related``, its sources marked
        (``metadata["consolidated_into"]``). Running it again adds nothing; a run cut short
        is finished by the next; `agents` limits it to those agents' memories. See
        docs/consolidation.md."""
        consolidator = AsyncConsolidator(self.longterm, self.summarizer)
        owners = None if agents is None else tuple(check_strings(agents, "agents"))
        return await consolidator.run(
            tuple(check_strings(kinds, "kinds")), threshold, min_size, max_sentences,
            dry_run=bool(dry_run), agents=owners,
        )  # fmt: skip

    @property
    def capabilities(self) -> Capabilities:
        """What the connected server offers (modules, version, persistence, eviction)."""
        return self.kernel.store.capabilities

    @telemetry.traced("setup")
    async def setup(self) -> None:
        """Create what long-term memory needs in this namespace (the search index).

        Idempotent, and also done on the first `remember` or `recall`; call it at deploy time
        to keep index creation off the first request. Loads no model.
        """
        embedder = self.longterm.embedder
        await self.kernel.store.longterm.setup(self.namespace, embedder.dims, embedder.model)

    @property
    def tools(self) -> AsyncTools:
        """The memory tools of the agent named ``agent`` (see `AsyncAgent.tools` for others)."""
        return self.agent(DEFAULT_TOOLS_AGENT).tools

    def agent(self, agent_id: str) -> AsyncAgent:
        """The handle of one agent (no I/O)."""
        return AsyncAgent(self, check_name(agent_id, "agent id"))

    @telemetry.traced("agents")
    async def agents(self) -> list[str]:
        """Ids of the agents that have written anything in this namespace."""
        return await self.kernel.store.agents(self.namespace)

    @telemetry.traced("list_agents")
    async def list_agents(self, cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> Page[str]:
        """The namespace's agent ids, in order, a page at a time."""
        return name_page(await self.agents(), "agents", cursor, limit)

    @telemetry.traced("list_namespaces")
    async def list_namespaces(
        self, cursor: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> Page[str]:
        """Every namespace the store holds anything of, in order (an admin call: it walks
        the store)."""
        return name_page(await self.kernel.store.namespaces(), "namespaces", cursor, limit)

    @telemetry.traced("list_memories")
    async def list_memories(
        self,
        *,
        kinds: Iterable[str] | None = None,
        agent: str | Iterable[str] | None = None,
        session: str | None = None,
        tags: Iterable[str] | None = None,
        since: datetime | int | None = None,
        until: datetime | int | None = None,
        include_superseded: bool = False,
        superseded_only: bool = False,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page[MemoryRecord]:
        """Long-term memories, oldest first, filtered like `recall` (a tag matches any of
        `tags`; `since`/`until` bound ``occurred_at``). Memories replaced by a correction
        (``superseded_by``) are left out unless `include_superseded`; `superseded_only` lists
        only those. Reading statistics are not touched."""
        check_page_limit(limit)
        check_flag(include_superseded, "include_superseded")
        check_flag(superseded_only, "superseded_only")
        scope = listing_scope(kinds, agent, session, tags, since, until)
        if not (include_superseded or superseded_only):
            scope = replace(scope, include_superseded=False)
        key = decode_cursor(cursor, "memories")
        records, after = await self.longterm.browse(
            scope, text_key(key), limit, superseded_only=superseded_only
        )
        return Page(tuple(records), None if after is None else encode_cursor("memories", [after]))

    @telemetry.traced("list_episodes")
    async def list_episodes(
        self,
        *,
        agent: str | Iterable[str] | None = None,
        session: str | None = None,
        since: datetime | int | None = None,
        until: datetime | int | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page[Episode]:
        """Saved episodes, oldest first (the ``episodic`` memories)."""
        check_page_limit(limit)
        scope = listing_scope(("episodic",), agent, session, None, since, until)
        key = decode_cursor(cursor, "episodes")
        records, after = await self.longterm.browse(scope, text_key(key), limit)
        return Page(
            tuple(episode_from_record(r, None) for r in records),
            None if after is None else encode_cursor("episodes", [after]),
        )

    @telemetry.traced("list_skills")
    async def list_skills(
        self, cursor: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> Page[Skill]:
        """The namespace's skills by name."""
        check_page_limit(limit)
        key = decode_cursor(cursor, "skills")
        skills, after = await self.experience.browse_skills(text_key(key), limit)
        return Page(tuple(skills), None if after is None else encode_cursor("skills", [after]))

    @telemetry.traced("erase_namespace")
    async def erase_namespace(self, dry_run: bool = False) -> Erasure:
        """Erase everything this namespace holds — agents, sessions, memories, skills,
        caches, indexes and dedup state, and its archived memories — or with `dry_run`,
        count it.

        One call removes it all; if it is interrupted, calling it again finishes the job.
        The embedding cache of this process is emptied too (it holds the namespace's texts).
        """
        counts = await self.kernel.store.erase_namespace(self.namespace, bool(dry_run))
        if self._archive is not None:
            counts = {**counts, "archived": await self.lifecycle.erase(bool(dry_run))}
        if not dry_run:
            embedder = self._longterm.embedder if self._longterm is not None else self._embedder
            clear = getattr(embedder, "cache_clear", None)
            if clear is not None:
                clear()
        return Erasure("namespace", self.namespace, counts, bool(dry_run))

    @telemetry.traced("ping")
    async def ping(self) -> bool:
        """True when the store answers."""
        return await self.kernel.store.ping()

    @telemetry.traced("health")
    async def health(self) -> Health:
        """Which store serves calls now and, with a fallback, how many writes wait for
        replay; and what needs a person's attention (`Health.warnings`: an evicting policy,
        a full server, evicted keys, a damaged or lost file), read from the server now.
        Never raises for an unreachable server: it says so."""
        if isinstance(self.kernel.store, AsyncFallbackStore):
            health = await self.kernel.store.health()
        else:
            backend = self.kernel.store.capabilities.backend
            try:
                await self.kernel.store.ping()
            except BackendUnavailable as exc:
                return Health(serving=backend, primary=backend, ok=False, last_error=str(exc))
            health = Health(serving=backend, primary=backend)
        formation = self.formation
        if formation is not None:
            health = replace(health, formation=formation.status())
        try:
            found = await self.kernel.store.checkup()
        except BackendUnavailable as exc:  # it went down between the two round trips
            return replace(health, ok=False, last_error=str(exc))
        warnings = found.warnings
        lagging = health.formation
        if lagging is not None and lagging.lag_seconds > lagging.max_lag_seconds:
            warnings = (
                *warnings,
                f"memory formation lags {lagging.lag_seconds:.0f} s behind "
                f"({lagging.pending} turns waiting; last error: {lagging.last_error})",
            )
        return replace(health, full=found.full, evicted_keys=found.evicted_keys, warnings=warnings)

    def cached(self, tool: str, ttl: float | None = None) -> Callable[[F], F]:
        """Decorate a tool function so that its results are cached by tool name + arguments.

        Arguments are bound to the function's signature (defaults applied) and hashed as
        canonical JSON, so ``search("x")`` and ``search(query="x")`` share one entry.
        """
        return cached(self.cache, tool, ttl)

    async def aclose(self) -> None:
        """Close the connection pool; later calls raise `ClientClosed`."""
        if self._formation is not None:
            await self._formation.aclose()
        store = self.kernel.store
        # Every later call through this memory, its handles, services and views raises
        # `ClientClosed` (rather than reconnect a closed pool or read a closed file).
        self.kernel.refuse_calls()
        if not isinstance(store, ClosedStore) and not self._view:
            await store.aclose()
            if self._owns_archive and self._archive is not None:
                await asyncio.to_thread(self._archive.close)

    async def __aenter__(self) -> AsyncMemory:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- views and batch reads ------------------------------------------------------------------
    def with_options(self, options: Options) -> AsyncMemory:
        """A view of this memory on the same connection with other `options` (e.g. another
        namespace, or working memory that never expires: ``options.with_(ttl=...)``).

        No I/O. Closing the view closes only the view; closing this memory closes both.
        """
        if not isinstance(options, Options):
            raise InvalidInput(f"options must be an Options, not {type(options).__name__}")
        view = type(self)(self.kernel.store, options, embedder=self._embedder,
                          summarizer=self._summarizer, archive=self._archive)  # fmt: skip
        view._view = True
        self.kernel.adopt(view.kernel)  # refused with this memory's
        return view

    def in_namespace(self, name: str) -> AsyncMemory:
        """This memory in namespace `name`, on the same connection (no I/O): one client
        serves any number of namespaces. Closing the view closes only the view.

        Raises:
            InvalidInput: `name` is not a valid namespace name.
        """
        return self.with_options(self.options.with_(namespace=check_name(name, "namespace")))

    async def read_working(
        self, reads: Sequence[tuple[str, str, Sequence[str] | None]]
    ) -> list[dict[str, Any]]:
        """Parts of the working memory of several sessions, in one round trip.

        Each read is ``(agent_id, session_id, keys)``: the values of those keys that exist
        (every key when `keys` is None); the answers come in the order of `reads`.
        """
        check_batch(reads, "read_working")
        picks: list[tuple[SessionKeys, HashKind, Sequence[str] | None]] = []
        for agent_id, session_id, names in reads:
            # Only the session's keys (what its handle would build): this call reads many
            # sessions at once, and a full agent and session handle per read showed in profiles.
            keys = SessionKeys.build(
                self.namespace,
                check_name(agent_id, "agent id"),
                check_name(session_id, "session id"),
            )
            if names is not None:
                if isinstance(names, str):
                    raise InvalidInput("read_working: keys must be a list of keys, not a string")
                check_batch(names, "read_working")
                names = [check_field(n) for n in names]
            picks.append((keys, "working", names))
        if not picks:
            return []
        found = await self.kernel.store.hash_pick(picks)
        decode = self.kernel.codec.decode
        return [{k: decode(v) for k, v in raw.items()} for raw in found]

    # -- coordination: the change feed, presence, broadcasts (see client._async.feed) -------
    def subscribe(
        self,
        kinds: Iterable[str] | None = None,
        agents: Iterable[str] | None = None,
        after: str | None = None,
    ) -> AsyncIterator[Notification]:
        """The namespace's notifications as they happen, in order, once (see
        `AsyncFeed.subscribe`): ``async for note in mem.subscribe(kinds=["episode"]):``."""
        return self.feed.subscribe(kinds, agents, after)

    async def agents_status(self) -> list[AgentStatus]:
        """Every agent of the namespace with its presence (offline once its heartbeat ran
        out), in one round trip."""
        return await self.feed.agents_status()

    async def broadcast(self, channel: str, body: Any, agent: str = "") -> None:
        """Tell every subscriber of the namespace: a ``broadcast`` notification whose id is
        `channel` and whose body is `body` (any JSON value), sent by `agent`."""
        await self.feed.broadcast(channel, body, agent)

    # -- coordination ----------------------------------------------------------------------------
    def queue(
        self,
        name: str,
        *,
        visibility: float = DEFAULT_VISIBILITY,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
        backoff_cap: float = DEFAULT_BACKOFF_CAP,
    ) -> AsyncQueue:
        """The task queue `name` of this namespace (no I/O).

        Args:
            name: The queue's name (letters, digits, ``_ . -``).
            visibility: Seconds a claim lasts before an unacknowledged task goes back.
            max_attempts: Deliveries before a task that keeps failing is dead-lettered.
            backoff: Seconds before the first retry of a failed task, doubled each time.
            backoff_cap: The longest wait between retries, in seconds.
        """
        options = QueueOptions(visibility, max_attempts, backoff, backoff_cap)
        return AsyncQueue(self, name, options)
