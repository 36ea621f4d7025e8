"""`AsyncMemory` and its handles: agents, sessions, working memory, caches.

This file is the source of truth; `client/_sync/memory.py` is generated from it by
`scripts/unasync.py`. Handles do no I/O when created; every public operation is one round
trip to the store (the first write of a session in a process adds one, to record its meta).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from aether_memory.client._async.archive import AsyncLifecycle
from aether_memory.client._async.connect import open_store
from aether_memory.client._async.consolidation import AsyncConsolidator, Consolidation
from aether_memory.client._async.feed import AsyncFeed
from aether_memory.client._async.formation import AsyncFormation
from aether_memory.client._async.longterm import AsyncLongTermMemory
from aether_memory.client._async.queue import AsyncQueue
from aether_memory.client._async.run import AsyncAgentRun
from aether_memory.client.common import (
    ClosedStore,
    args_hash,
    chat_model,
    check_batch,
    check_field,
    context_sections,
    read_documents,
    resolve_url,
)
from aether_memory.client.records import (
    MAX_EPISODE_STEPS,
    RELEVANT,
    Memorable,
    check_message,
    episode_from_record,
    memorable,
    recall_filters,
    session_texts,
)
from aether_memory.core import keys, telemetry
from aether_memory.core.agent_metrics import (
    AgentMetrics,
    Sample,
    bucket_keys,
    check_bucket,
    check_tokens,
    fold,
    metric_writes,
    tool_of,
    window,
)
from aether_memory.core.codec import Codec
from aether_memory.core.config import Options, SessionTTLs, Settings
from aether_memory.core.context import render
from aether_memory.core.errors import BackendUnavailable, InvalidInput, NotFound
from aether_memory.core.feed import DEFAULT_HEARTBEAT_TTL, AgentStatus, InboxMessage, Notification
from aether_memory.core.ids import check_name, new_id, now_ms
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
from aether_memory.core.query import Filters
from aether_memory.core.queues import (
    DEFAULT_BACKOFF,
    DEFAULT_BACKOFF_CAP,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_VISIBILITY,
    QueueOptions,
)
from aether_memory.core.types import (
    Capabilities,
    CheckpointInfo,
    Episode,
    Event,
    Health,
    Hit,
    Introspection,
    MemoryRecord,
    Message,
    SessionInfo,
    Skill,
    TopicSummary,
)
from aether_memory.core.validate import (
    check_flag,
    check_int,
    check_limit,
    check_mapping,
    check_number,
    check_seconds,
    check_strings,
    seconds_to_ms,
)
from aether_memory.storage._async.fallback import AsyncFallbackStore
from aether_memory.storage._async.store import AsyncStore
from aether_memory.storage.rows import EventRow, HashKind
from aether_memory.tools._async.runner import AsyncTools

if TYPE_CHECKING:
    from aether_memory.core.embeddings import Embedder
    from aether_memory.core.extract import LLMExtractor
    from aether_memory.core.summarize import Summarizer
    from aether_memory.storage.archive import Archive

log = logging.getLogger("aether_memory")

F = TypeVar("F", bound=Callable[..., Any])
_MAX_OPENED = 10_000  # sessions whose meta this client has written (bounded memo)
_MAX_CHAIN = 1_000
MAX_SESSION_EVENTS = 500  # events a session summary reads (the last ones)
MAX_SUMMARY_LINKS = 100
_SUMMARISED = ("message", "step", "tool_call")
DEFAULT_TOOLS_AGENT = "agent"
MAX_BUDGET_TOKENS = 10_000_000
MAX_LATENCY_MS = 1e12  # about 30 years
MAX_CHECKPOINT_NUMBER = 2**53  # stored as a zset score, a double


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
        self._store: AsyncStore = store
        self._codec = Codec(self.options.compress_threshold, self.options.max_value_bytes)
        self._ttls = SessionTTLs.from_ttls(self.options.ttl)
        self._opened: dict[str, None] = {}
        self._embedder = embedder
        self._longterm: AsyncLongTermMemory | None = None
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
        chat = chat_model(settings) if summarizer is None or extractor is None else None
        if summarizer is None and chat is not None and settings.summarizer == "llm":
            from aether_memory.core.summarize import LLMSummarizer

            summarizer = LLMSummarizer(chat)
        if extractor is None and chat is not None and settings.extract_memories:
            from aether_memory.core.extract import LLMExtractor

            extractor = LLMExtractor(chat)
        store = await open_store(url, opts, fallback or settings.fallback)
        archive = archive or settings.archive_url
        owns_archive = isinstance(archive, str)
        if isinstance(archive, str):
            from aether_memory.backends.archive import open_archive

            try:
                archive = open_archive(archive)
            except BaseException:
                await store.aclose()
                raise
        elif archive is None:
            _warn_no_archive(opts)
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
            self._longterm = AsyncLongTermMemory(
                self._store.longterm, self.namespace, self._codec, self.options.ttl, embedder
            )
            if self._archive is not None or self._budget().active:
                self._longterm.lifecycle = self.lifecycle
        return self._longterm

    def _budget(self) -> HotBudget:
        return HotBudget(self.options.hot_budget, self.options.hot_budget_bytes)

    @property
    def lifecycle(self) -> AsyncLifecycle:
        """The sync service of this namespace: moves what leaves the hot tier to the archive
        (``run``), brings memories back (``rehydrate``), and reports both tiers (``status``)."""
        if self._lifecycle is None:
            longterm = self.longterm if self._longterm is None else self._longterm
            self._lifecycle = AsyncLifecycle(
                self._store.longterm, self.namespace, self._archive, self.options.ttl,
                self._budget(), self.options.archive_grace, longterm.embedder.dims, self._codec,
            )  # fmt: skip
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
        return self._store.capabilities

    @telemetry.traced("setup")
    async def setup(self) -> None:
        """Create what long-term memory needs in this namespace (the search index).

        Idempotent, and also done on the first `remember` or `recall`; call it at deploy time
        to keep index creation off the first request. Loads no model.
        """
        embedder = self.longterm.embedder
        await self._store.longterm.setup(self.namespace, embedder.dims, embedder.model)

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
        return await self._store.agents(self.namespace)

    @telemetry.traced("list_agents")
    async def list_agents(self, cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> Page[str]:
        """The namespace's agent ids, in order, a page at a time."""
        return _name_page(await self.agents(), "agents", cursor, limit)

    @telemetry.traced("list_namespaces")
    async def list_namespaces(
        self, cursor: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> Page[str]:
        """Every namespace the store holds anything of, in order (an admin call: it walks
        the store)."""
        return _name_page(await self._store.namespaces(), "namespaces", cursor, limit)

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
        scope = _scope(kinds, agent, session, tags, since, until)
        if not (include_superseded or superseded_only):
            scope = replace(scope, include_superseded=False)
        key = decode_cursor(cursor, "memories")
        records, after = await self.longterm.browse(
            scope, _text_key(key), limit, superseded_only=superseded_only
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
        scope = _scope(("episodic",), agent, session, None, since, until)
        key = decode_cursor(cursor, "episodes")
        records, after = await self.longterm.browse(scope, _text_key(key), limit)
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
        skills, after = await self.longterm.browse_skills(_text_key(key), limit)
        return Page(tuple(skills), None if after is None else encode_cursor("skills", [after]))

    @telemetry.traced("erase_namespace")
    async def erase_namespace(self, dry_run: bool = False) -> Erasure:
        """Erase everything this namespace holds — agents, sessions, memories, skills,
        caches, indexes and dedup state, and its archived memories — or with `dry_run`,
        count it.

        One call removes it all; if it is interrupted, calling it again finishes the job.
        The embedding cache of this process is emptied too (it holds the namespace's texts).
        """
        counts = await self._store.erase_namespace(self.namespace, bool(dry_run))
        if self._archive is not None:
            counts = {**counts, "archived": await self.lifecycle.erase(bool(dry_run))}
        if not dry_run:
            self._opened.clear()
            embedder = self._longterm.embedder if self._longterm is not None else self._embedder
            clear = getattr(embedder, "cache_clear", None)
            if clear is not None:
                clear()
        return Erasure("namespace", self.namespace, counts, bool(dry_run))

    @telemetry.traced("ping")
    async def ping(self) -> bool:
        """True when the store answers."""
        return await self._store.ping()

    @telemetry.traced("health")
    async def health(self) -> Health:
        """Which store serves calls now and, with a fallback, how many writes wait for
        replay; and what needs a person's attention (`Health.warnings`: an evicting policy,
        a full server, evicted keys, a damaged or lost file), read from the server now.
        Never raises for an unreachable server: it says so."""
        if isinstance(self._store, AsyncFallbackStore):
            health = await self._store.health()
        else:
            backend = self._store.capabilities.backend
            try:
                await self._store.ping()
            except BackendUnavailable as exc:
                return Health(serving=backend, primary=backend, ok=False, last_error=str(exc))
            health = Health(serving=backend, primary=backend)
        formation = self.formation
        if formation is not None:
            health = replace(health, formation=formation.status())
        try:
            found = await self._store.checkup()
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
        check_name(tool, "tool name")
        if ttl is not None:
            check_seconds(ttl)

        def decorate(fn: F) -> F:
            signature = inspect.signature(fn)

            @functools.wraps(fn)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                hit, value = await self.cache.lookup(tool, bound.arguments)
                if hit:
                    return value
                value = await fn(*args, **kwargs)
                await self.cache.put(tool, bound.arguments, value, ttl=ttl)
                return value

            return wrapper  # type: ignore[return-value]

        return decorate

    async def aclose(self) -> None:
        """Close the connection pool; later calls raise `ClientClosed`."""
        if self._formation is not None:
            await self._formation.aclose()
        store, self._store = self._store, ClosedStore()  # type: ignore[assignment]
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

    # -- used by the handles -------------------------------------------------------------------
    def _opening(self, s: SessionKeys) -> SessionTTLs | None:
        """What a write into session `s` passes as its `opening`: this client's TTLs the
        first time it writes there (the write records the session in the same round trip,
        see `AsyncStore.session_open`), None once it has."""
        return None if s.meta in self._opened else self._ttls

    def _opened_now(self, s: SessionKeys) -> None:
        """Note that a write recorded session `s` (its `opening` went through)."""
        if s.meta in self._opened:
            return
        if len(self._opened) >= _MAX_OPENED:
            self._opened.clear()
        self._opened[s.meta] = None

    # -- views and batch reads ------------------------------------------------------------------
    def with_options(self, options: Options) -> AsyncMemory:
        """A view of this memory on the same connection with other `options` (e.g. another
        namespace, or working memory that never expires: ``options.with_(ttl=...)``).

        No I/O. Closing the view closes only the view; closing this memory closes both.
        """
        if not isinstance(options, Options):
            raise InvalidInput(f"options must be an Options, not {type(options).__name__}")
        view = type(self)(self._store, options, embedder=self._embedder,
                          summarizer=self._summarizer, archive=self._archive)  # fmt: skip
        view._view = True
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
        found = await self._store.hash_pick(picks)
        decode = self._codec.decode
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


class AsyncAgent:
    """One agent: its identity documents, its state and its sessions."""

    def __init__(self, memory: AsyncMemory, agent_id: str) -> None:
        self.memory = memory
        self.id = agent_id
        self.identity = AsyncIdentity(self)
        self.state = AsyncAgentState(self)
        self.tools = AsyncTools(self)

    def session(self, session_id: str | None = None) -> AsyncSession:
        """The handle of a session; without an id, a new session with a fresh id (no I/O)."""
        sid = new_id() if session_id is None else check_name(session_id, "session id")
        return AsyncSession(self, sid)

    def run(
        self,
        session: str | AsyncSession | None = None,
        task: str | None = None,
        cacheable: Iterable[str] = (),
        cache_ttl: float | None = None,
    ) -> AsyncAgentRun:
        """A recorded task for any agent loop: ``async with agent.run(...) as run:``.

        Args:
            session: the session to work in (an id, a handle, or None for a new one).
            task: what the run is for; it becomes the episode's task prompt.
            cacheable: names of tools whose results may be reused for the same arguments.
            cache_ttl: how long cached tool results live, in seconds (default: settings).
        """
        handle = self.session(session) if not isinstance(session, AsyncSession) else session
        return AsyncAgentRun(self, handle, task, cacheable, cache_ttl)

    @telemetry.traced("agent.working_of")
    async def working_of(self, session_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The working memory of several sessions (``session.working.all()`` of each), in
        their order, in one round trip."""
        check_batch(session_ids, "working_of")
        handles = [self.session(sid) for sid in session_ids]
        if not handles:
            return []
        store = self.memory._store
        found = await store.hash_all_many([h._keys for h in handles], "working")
        decode = self.memory._codec.decode
        return [{k: decode(v) for k, v in raw.items()} for raw in found]

    @telemetry.traced("agent.sessions")
    async def sessions(self, limit: int = 100) -> list[SessionInfo]:
        """This agent's sessions, most recently active first."""
        limit = check_limit(limit)
        rows = await self.memory._store.sessions(self.memory.namespace, self.id, limit)
        return [SessionInfo(sid, ts) for sid, ts in rows]

    @telemetry.traced("agent.list_sessions")
    async def list_sessions(
        self, cursor: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> Page[SessionInfo]:
        """This agent's sessions, most recently active first, a page at a time. The cursor
        is the last session's (activity, id): a session active since moves ahead of it."""
        check_page_limit(limit)
        key = decode_cursor(cursor, "sessions")
        before = None
        if key is not None:
            if len(key) != 2 or not isinstance(key[0], int) or not isinstance(key[1], str):
                raise InvalidInput("this cursor belongs to another listing, not to sessions")
            before = (key[0], key[1])
        rows = await self.memory._store.sessions_page(self.memory.namespace, self.id, before,
                                                      limit)  # fmt: skip
        items = tuple(SessionInfo(sid, ts) for sid, ts in rows)
        if len(rows) < limit:
            return Page(items)
        return Page(items, encode_cursor("sessions", [rows[-1][1], rows[-1][0]]))

    @telemetry.traced("agent.erase")
    async def erase(self, dry_run: bool = False) -> Erasure:
        """Erase this agent: every session (working memory, events, checkpoints, tool
        schema), every memory it formed and the skills they describe, its identity and
        state, and its entry in the namespace — or with `dry_run`, count them.

        Sessions go first and the agent's own index last, so an interrupted erasure is
        finished by calling it again.
        """
        mem, dry = self.memory, bool(dry_run)
        counts: dict[str, int] = {}
        before: tuple[int, str] | None = None
        while True:
            rows = await mem._store.sessions_page(mem.namespace, self.id, before, 200)
            for sid, _ in rows:
                found = await mem._store.erase_session(self.session(sid)._keys, dry)
                _add(counts, found)
            if len(rows) < 200:
                break
            before = (rows[-1][1], rows[-1][0])
        _add(counts, await mem.longterm.erase(Filters(agents=(self.id,)), dry))
        _add(counts, await mem._store.erase_agent(mem.namespace, self.id, dry))
        if not dry:
            mem._opened.clear()
        return Erasure("agent", self.id, counts, dry)

    # -- long-term memory ---------------------------------------------------------------------
    @telemetry.traced("remember")
    async def remember(
        self,
        content: str,
        kind: str = "fact",
        importance: float = 0.5,
        tags: Sequence[str] = (),
        session: str | AsyncSession | None = None,
        source: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        related: Sequence[str] = (),
        occurred_at: datetime | int | None = None,
    ) -> MemoryRecord:
        """Store a long-term memory; recallable as soon as this returns.

        The same text from this agent (same kind) is not stored twice, and a near-identical
        memory is reinforced instead of copied: the returned record's ``status`` says which
        (``created``, ``duplicate`` or ``near_duplicate``). A near-identical memory that
        differs in a number, a date, a name or a negation is a correction: it is stored with
        ``status="superseded"`` and ``supersedes`` naming the memory it replaces, which stays
        (``superseded_by``) but leaves recall unless ``include_superseded=True``.
        """
        telemetry.annotate("kind", kind)
        item = Memorable(
            content=content, kind=kind, importance=importance, tags=tags,
            session=session.id if isinstance(session, AsyncSession) else session,
            source=source, metadata=metadata, related=related, occurred_at=occurred_at,
        )  # fmt: skip
        return (await self.memory.longterm.remember_many(self.id, [item]))[0]

    @telemetry.traced("remember_many")
    async def remember_many(
        self, items: Iterable[Memorable | Mapping[str, Any] | str]
    ) -> list[MemoryRecord]:
        """Store several memories in one batch (one embedding call, two round trips)."""
        batch = [memorable(item) for item in check_strings(items, "remember_many's items")]
        check_batch(batch, "remember_many")
        return await self.memory.longterm.remember_many(self.id, batch)

    @telemetry.traced("recall", hits=True)
    async def recall(
        self,
        query: str,
        k: int = 5,
        kinds: Iterable[str] | None = None,
        session: str | AsyncSession | None = None,
        tags: Iterable[str] | None = None,
        since: datetime | int | None = None,
        min_importance: float | None = None,
        agent: str | Iterable[str] | None = None,
        until: datetime | int | None = None,
        include_superseded: bool = False,
        include_archive: bool = False,
    ) -> list[Hit]:
        """The `k` memories that best answer `query`, best first, from the whole namespace
        unless `agent` (an id or several) narrows it; every filter value is escaped.

        With `include_archive`, the archive is searched too, by text and by vector as hot
        recall is: its text matches and its memories nearer to the query than the weakest hot
        hit come back into the hot tier and are ranked with the rest;
        those the answer does not use return to the archive (`ConfigurationError` without an
        archive).

        `kinds` and `tags` are lists (a bare string is refused with `InvalidInput`, as is any
        filter of the wrong type); `since`/`until` bound ``occurred_at``. Memories superseded
        by a correction are left out unless `include_superseded` asks for the history.
        """
        scope = recall_filters(
            kinds=kinds, session=session.id if isinstance(session, AsyncSession) else session,
            tags=tags, since=since, until=until, min_importance=min_importance, agent=agent,
            include_superseded=include_superseded,
        )  # fmt: skip
        if not check_flag(include_archive, "include_archive"):
            return await self.memory.longterm.recall(query, k, scope)
        longterm, lifecycle = self.memory.longterm, self.memory.lifecycle
        hits = await longterm.recall(query, k, scope, touch=False)
        n = max(k * 2, 20)
        found = await lifecycle.search(await longterm.query_vector(query), n, query)
        # Only text matches and archived memories closer to the query than the weakest hot
        # hit can place (the best `n` of them, fused as hot recall fuses).
        floor = min((h.vector for h in hits), default=-1.0) if len(hits) >= k else -1.0
        back = await lifecycle.rehydrate_rows(
            [m.id for m in found[:n] if m.relevance is not None or m.similarity > floor]
        )
        hits = await longterm.recall(query, k, scope)
        used = {hit.record.id for hit in hits}
        await lifecycle.archive_back([m for m in back if m.id not in used])
        return hits

    @telemetry.traced("forget")
    async def forget(self, memory_id: str, cascade: bool = False) -> int:
        """Delete a memory; with `cascade`, also the memories its `related` links reach
        (within this namespace, each once). Returns how many were removed. An archived copy
        is deleted too (a cascade follows the links of hot memories only)."""
        removed = await self.memory.longterm.forget(memory_id, cascade)
        if self.memory._archive is not None:
            removed += await self.memory.lifecycle.forget([memory_id])
        return removed

    @telemetry.traced("memory.update")
    async def update(
        self,
        memory_id: str,
        content: str | None = None,
        importance: float | None = None,
        tags: Iterable[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> MemoryRecord:
        """Change a memory in place (new content is embedded again); returns it."""
        return await self.memory.longterm.update(memory_id, content, importance, tags, metadata)

    @telemetry.traced("memory.get")
    async def memory_record(self, memory_id: str) -> MemoryRecord:
        """One long-term memory by id (`NotFound` if it is gone)."""
        return await self.memory.longterm.get(memory_id)

    @telemetry.traced("introspect")
    async def introspect(self, topic: str) -> Introspection:
        """What this agent knows about `topic`: counts by kind, its strongest memories,
        related episodes and skills (``.summary()`` renders it as text)."""
        return await self.memory.longterm.introspect(self.id, topic)

    @telemetry.traced("summarize")
    async def summarize(self, topic: str, max_sentences: int = 3) -> TopicSummary:
        """A summary of what this agent knows about `topic`: its relevant memories (up to
        20, strongest first) condensed by the memory's summariser."""
        report = await self.memory.longterm.introspect(self.id, topic)
        hits = await self.memory.longterm.recall(topic, 20, Filters(agents=(self.id,)),
                                                 touch=False)  # fmt: skip
        sources = [h for h in hits if h.vector >= RELEVANT or h.text > 0]
        summarizer = self.memory.summarizer
        texts = [h.record.content for h in sources]
        text = ""
        if texts:
            text = await asyncio.to_thread(summarizer.summarize, texts, max_sentences)
        return TopicSummary(topic, text, tuple(h.record.id for h in sources), report.total,
                            report.by_kind, summarizer.name)  # fmt: skip

    # -- episodes and skills (shared by the namespace) -------------------------------------------
    @telemetry.traced("search_episodes", hits=True)
    async def search_episodes(self, query: str, limit: int = 5) -> list[Episode]:
        """Past episodes (of any agent in the namespace) relevant to `query`."""
        return await self.memory.longterm.search_episodes(query, limit, Filters())

    @telemetry.traced("skill.save")
    async def save_skill(
        self, name: str, description: str, steps: Sequence[Any], tags: Sequence[str] = ()
    ) -> Skill:
        """Create or replace the skill `name` (its run statistics are kept)."""
        return await self.memory.longterm.save_skill(self.id, name, description, steps, tags)

    @telemetry.traced("skill.record_execution")
    async def record_skill_execution(self, name: str, success: bool, duration: float) -> Skill:
        """Count one run of a skill; returns it with its success rate and mean duration."""
        return await self.memory.longterm.record_skill_execution(name, success, duration)

    @telemetry.traced("skill.get")
    async def skill(self, name: str) -> Skill:
        """The skill `name` (`NotFound` if there is none)."""
        return await self.memory.longterm.skill(name)

    @telemetry.traced("search_skills", hits=True)
    async def search_skills(self, query: str, limit: int = 5) -> list[Skill]:
        """Skills whose name and description match `query`."""
        return await self.memory.longterm.search_skills(query, limit, Filters())

    @telemetry.traced("search_all")
    async def search_all(self, query: str, limit_per_type: int = 3) -> dict[str, list[Any]]:
        """``{"episodic": [Episode], "semantic": [Hit], "skills": [Skill]}`` for `query`."""
        return await self.memory.longterm.search_all(query, limit_per_type, Filters())

    @telemetry.traced("context")
    async def context(
        self,
        query: str,
        budget_tokens: int = 2000,
        session: str | AsyncSession | None = None,
        detailed_steps: int = 5,
        limit_per_type: int = 2,
    ) -> str:
        """The prompt block for `query`: identity, working memory, recent steps, relevant
        memories, episodes and skills, most useful first, within `budget_tokens`."""
        budget_tokens = check_int(budget_tokens, "budget_tokens", 1, MAX_BUDGET_TOKENS)
        detailed_steps = check_limit(detailed_steps, "detailed_steps", MAX_EPISODE_STEPS * 50)
        limit_per_type = check_int(limit_per_type, "limit_per_type", 1, 1000)
        handle = self.session(session) if isinstance(session, str) else session
        identity = await self.identity.all()
        working: dict[str, Any] = {}
        steps: list[Event] = []
        if handle is not None:
            working = await handle.working.all()
            steps = await handle.events(limit=detailed_steps, types=("step", "tool_call"))
        found = await self.search_all(query, limit_per_type)
        return render(
            context_sections(identity, working, steps, found["semantic"], found["episodic"],
                             found["skills"]),
            budget_tokens,
        )  # fmt: skip

    # -- coordination: presence and messages ------------------------------------------------------
    async def heartbeat(
        self,
        status: str = "online",
        current_task: str | None = None,
        ttl: float = DEFAULT_HEARTBEAT_TTL,
    ) -> None:
        """Say this agent is alive: it reads as `status` (with `current_task`) in
        `agents_status()` for `ttl` seconds, then as offline. A change of the status it
        reads as is a ``presence`` notification."""
        await self.memory.feed.heartbeat(self.id, status, current_task, ttl)

    async def send(self, to_agent: str, body: Any) -> str:
        """Put a message (any JSON value) in `to_agent`'s inbox; returns its id."""
        return await self.memory.feed.send(self.id, to_agent, body)

    async def inbox(self, limit: int = 100, ack: str | None = None) -> list[InboxMessage]:
        """Acknowledge the messages up to id `ack` (those handled), then read up to `limit`
        after it, oldest first. Messages stay until acknowledged: a reader that crashes
        before acking reads them again (at least once)."""
        return await self.memory.feed.inbox(self.id, limit, ack)

    @telemetry.traced("agent.metrics")
    async def metrics(
        self,
        since: datetime | timedelta | None = None,
        bucket: timedelta | float = 60,
        tool: str | None = None,
    ) -> AgentMetrics:
        """This agent's calls, errors, latency and tokens over time, in `bucket`-wide
        buckets (a whole number of minutes) from `since` (a time, a span back from now, or
        None for 60 buckets back) to now; one round trip.

        Each bucket is the agent's total (``tool=None``) or one tool's share; asking for a
        `tool` keeps only its series. Minute buckets are kept two days and hour buckets 35
        days (see `aether_memory.core.agent_metrics`); `since` is moved up to what is kept.
        """
        width = check_bucket(bucket)
        if tool is not None:
            check_name(tool, "tool name")
        now = now_ms()
        since_s, res = window(since, width, now)
        names = bucket_keys(self.memory.namespace, self.id, since_s, res, now)
        stored = await self.memory._store.metrics_read(names)
        return fold(self.id, since_s, width, res, stored, tool)

    def __repr__(self) -> str:
        return f"AsyncAgent({self.id!r}, namespace={self.memory.namespace!r})"


class AsyncIdentity:
    """An agent's identity documents (persona, mission, rules): text kept with no TTL."""

    def __init__(self, agent: AsyncAgent) -> None:
        self._agent = agent
        self._mem = agent.memory

    @telemetry.traced("identity.put")
    async def put(self, name: str, text: str) -> None:
        """Store (or replace) the document `name`."""
        await self.put_many({name: text})

    @telemetry.traced("identity.put_many")
    async def put_many(self, docs: Mapping[str, str]) -> None:
        """Store several documents in one write."""
        check_batch(check_mapping(docs, "documents"), "identity.put_many")
        encoded = {}
        for name, text in docs.items():
            if not isinstance(text, str):
                raise InvalidInput(f"identity document {name!r} must be text (str)")
            encoded[check_name(name, "identity document name")] = self._mem._codec.encode(text)
        if encoded:
            await self._mem._store.identity_put(self._mem.namespace, self._agent.id, encoded)

    @telemetry.traced("identity.get")
    async def get(self, name: str) -> str | None:
        """The document `name`, or None."""
        raw = await self._mem._store.identity_get(
            self._mem.namespace, self._agent.id, check_name(name, "identity document name")
        )
        return None if raw is None else str(self._mem._codec.decode(raw))

    @telemetry.traced("identity.all")
    async def all(self) -> dict[str, str]:
        """Every document of the agent, by name."""
        raw = await self._mem._store.identity_all(self._mem.namespace, self._agent.id)
        decode = self._mem._codec.decode
        return {name: decode(value) for name, value in sorted(raw.items())}

    @telemetry.traced("identity.delete")
    async def delete(self, name: str) -> bool:
        """Remove the document `name`; True if it existed."""
        check_name(name, "identity document name")
        removed = await self._mem._store.identity_delete(
            self._mem.namespace, self._agent.id, [name]
        )
        return removed > 0

    @telemetry.traced("identity.load_dir")
    async def load_dir(self, path: str | Path, pattern: str = "*.md") -> int:
        """Load every file matching `pattern` in `path`, named by its stem; returns how many."""
        # Identity folders are a few small files read once at boot: reading them inline is
        # simpler than a thread hop and blocks the loop for microseconds.
        docs = read_documents(Path(path), pattern)
        await self.put_many(docs)
        return len(docs)


class AsyncAgentState:
    """An agent's self-description: status, current task, active tools, and any other field."""

    def __init__(self, agent: AsyncAgent) -> None:
        self._agent = agent
        self._mem = agent.memory

    @telemetry.traced("state.set")
    async def set(self, /, **fields: Any) -> None:
        """Update the given fields (others are kept); ``updated_at`` is set to now (ms)."""
        encode = self._mem._codec.encode
        encoded = {check_name(k, "state field"): encode(v) for k, v in fields.items()}
        encoded["updated_at"] = encode(now_ms())
        await self._mem._store.state_put(self._mem.namespace, self._agent.id, encoded)

    @telemetry.traced("state.get")
    async def get(self) -> dict[str, Any]:
        """All fields of the state (empty if never set)."""
        raw = await self._mem._store.state_get(self._mem.namespace, self._agent.id)
        decode = self._mem._codec.decode
        return {k: decode(v) for k, v in raw.items()}


class AsyncSession:
    """One working session of an agent: working memory, scratchpad, events, checkpoints."""

    def __init__(self, agent: AsyncAgent, session_id: str) -> None:
        self.agent = agent
        self.id = session_id
        self._mem = agent.memory
        self._keys = SessionKeys.build(self._mem.namespace, agent.id, session_id)
        self.working = AsyncWorkingMemory(self, "working")
        self.scratch = AsyncWorkingMemory(self, "scratch")

    def __repr__(self) -> str:
        return f"AsyncSession({self.id!r}, agent={self.agent.id!r})"

    # -- the episodic record ------------------------------------------------------------------
    @telemetry.traced("add_step")
    async def add_step(
        self,
        action: str,
        observation: Any,
        reasoning: str | None = None,
        success: bool = True,
        **data: Any,
    ) -> Event:
        """Record one step of the agent's work (an event of type ``step``)."""
        success = check_flag(success, "success")
        payload = {"action": action, "observation": observation, "reasoning": reasoning, **data}
        outcome = "success" if success else "failure"
        return (await self._append([("step", payload, outcome)]))[0]

    @telemetry.traced("record")
    async def record(
        self,
        event_type: str,
        data: Any,
        outcome: str = "success",
        latency_ms: float | None = None,
        tokens: tuple[int, int] | Mapping[str, int] | None = None,
    ) -> Event:
        """Append one event (tool call, message, step...) to the session's record.

        `tokens` (``(in, out)`` or ``{"in": n, "out": n}``) counts the model tokens the call
        used, in the agent's metrics (see `AsyncAgent.metrics`).
        """
        return (await self._append([(event_type, data, outcome, latency_ms, tokens)]))[0]

    @telemetry.traced("record_many")
    async def record_many(self, events: Iterable[Sequence[Any]]) -> list[Event]:
        """Append several events in one round trip, in order.

        Each item is ``(event_type, data)``, ``(event_type, data, outcome, latency_ms)`` or
        ``(event_type, data, outcome, latency_ms, tokens)``. The agent's metrics are
        updated in the same round trip.
        """
        return await self._append(events)

    async def _append(self, events: Iterable[Sequence[Any]]) -> list[Event]:
        built: list[Event] = []
        rows: list[EventRow] = []
        samples: list[Sample] = []
        encode = self._mem._codec.encode
        ts = now_ms()
        shape = "an event is (event_type, data[, outcome[, latency_ms[, tokens]]])"
        trace = telemetry.trace_id()
        for item in check_strings(events, "events"):
            if isinstance(item, str | bytes) or not isinstance(item, Sequence):
                raise InvalidInput(shape)
            if not 2 <= len(item) <= 5:
                raise InvalidInput(shape)
            event_type, data = item[0], item[1]
            outcome: str = item[2] if len(item) > 2 else "success"
            latency: float | None = item[3] if len(item) > 3 else None
            tok_in, tok_out = check_tokens(item[4] if len(item) > 4 else None)
            check_name(event_type, "event type")
            check_name(outcome, "outcome")
            if latency is not None:
                latency = check_number(latency, "latency_ms", 0, MAX_LATENCY_MS)
            event = Event(new_id(), event_type, data, outcome, ts, latency, trace)
            rows.append((event.id, event_type, outcome, ts, latency, encode(data), trace))
            tool = tool_of(event_type, data)
            samples.append((ts, tool, outcome != "success", latency, tok_in, tok_out))
            built.append(event)
        check_batch(rows, "record_many")
        if rows:
            metrics = metric_writes(self._keys.ns, self._keys.agent, samples)
            telemetry.annotate("bytes", lambda: sum(len(row[5]) for row in rows))
            opening = self._mem._opening(self._keys)
            await self._mem._store.events_append(
                self._keys, rows, ts, self._mem._ttls, metrics, opening
            )
            self._mem._opened_now(self._keys)
        return built

    @telemetry.traced("add_messages")
    async def add_messages(self, messages: Iterable[Mapping[str, Any]]) -> list[Message]:
        """Record conversation turns: each becomes a ``message`` event of this session and a
        long-term memory (kind ``message``, content ``"{speaker}: {content}"``, the speaker
        in its metadata, the time as its ``occurred_at``) that `recall` finds.

        Each item is ``{"speaker" or "role": str, "content": str, "at": datetime | epoch ms
        | ISO 8601 text}`` (``at`` defaults to now). One embedding call and one round trip
        per batch (the first one into a session also records the session); turns are never
        merged as duplicates. A bad item raises `InvalidInput` and nothing is written.
        """
        ts = now_ms()
        turns = [check_message(m, ts) for m in messages]
        check_batch(turns, "add_messages")
        if not turns:
            return []
        items = [
            Memorable(
                content=f"{speaker}: {content}", kind="message", session=self.id,
                source="message", metadata={"speaker": speaker}, occurred_at=at,
            )
            for speaker, content, at in turns
        ]  # fmt: skip
        longterm = self._mem.longterm
        records, memories = await longterm.message_rows(
            self.agent.id, items, [item.content for item in items]
        )
        encode = self._mem._codec.encode
        events: list[EventRow] = []
        out: list[Message] = []
        trace = telemetry.trace_id()
        for (speaker, content, at), record in zip(turns, records, strict=True):
            data = {"speaker": speaker, "content": content, "at": at, "memory_id": record.id}
            event_id = new_id()
            events.append((event_id, "message", "success", ts, None, encode(data), trace))
            out.append(Message(event_id, record.id, speaker, content, at))
        opening = self._mem._opening(self._keys)
        await self._mem._store.messages_append(
            self._keys, events, ts, self._mem._ttls, memories, opening
        )
        self._mem._opened_now(self._keys)
        formation = self._mem.formation
        if formation is not None:  # read in the background: this call does not wait for it
            formation.notify([(m.memory_id, self.agent.id, self.id, r.content)
                              for m, r in zip(out, records, strict=True)])  # fmt: skip
        return out

    @telemetry.traced("events", hits=True)
    async def events(self, limit: int = 20, types: Iterable[str] | None = None) -> list[Event]:
        """The last `limit` events (of the given types, if any), oldest first."""
        limit = check_limit(limit)
        wanted = None
        if types is not None:
            wanted = frozenset(check_name(t, "event type") for t in check_strings(types, "types"))
        if limit == 0:
            return []
        rows = await self._mem._store.events_tail(self._keys, limit, wanted)
        decode = self._mem._codec.decode
        return [Event(i, t, decode(d), o, ts, lat, tr) for i, t, o, ts, lat, d, tr in rows]

    # -- checkpoints ---------------------------------------------------------------------------
    @telemetry.traced("checkpoint")
    async def checkpoint(self, state: Any) -> int:
        """Save `state` as the session's next checkpoint; returns its number (1, 2, ...)."""
        raw = self._mem._codec.encode(state)
        telemetry.annotate("bytes", len(raw))
        opening = self._mem._opening(self._keys)
        n = await self._mem._store.checkpoint_save(
            self._keys, raw, now_ms(), self._mem._ttls, self._mem.options.max_checkpoints,
            opening=opening,
        )  # fmt: skip
        self._mem._opened_now(self._keys)
        return n

    @telemetry.traced("restore")
    async def restore(self, n: int | None = None) -> Any:
        """The state of checkpoint `n`, or of the latest one when `n` is None.

        Returns None when the session has no checkpoint; raises `NotFound` when a given `n`
        does not exist (never saved, trimmed, or expired).
        """
        if n is not None:
            n = check_int(n, "checkpoint number", 1, MAX_CHECKPOINT_NUMBER)
        found = await self._mem._store.checkpoint_load(self._keys, n)
        if found is None:
            if n is None:
                return None
            raise NotFound(f"session {self.id!r} has no checkpoint {n}")
        telemetry.annotate("bytes", len(found[1]))
        return self._mem._codec.decode(found[1])

    @telemetry.traced("checkpoints")
    async def checkpoints(self) -> list[CheckpointInfo]:
        """The session's checkpoints, oldest first."""
        rows = await self._mem._store.checkpoint_list(self._keys)
        return [CheckpointInfo(n, ts) for n, ts in rows]

    @telemetry.traced("list_checkpoints")
    async def list_checkpoints(
        self, cursor: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> Page[CheckpointInfo]:
        """The session's checkpoints by number, a page at a time."""
        check_page_limit(limit)
        key = decode_cursor(cursor, "checkpoints")
        after = key[0] if key and isinstance(key[0], int) else 0
        rows = [r for r in await self._mem._store.checkpoint_list(self._keys) if r[0] > after]
        items = tuple(CheckpointInfo(n, ts) for n, ts in rows[:limit])
        more = len(rows) > limit
        return Page(items, encode_cursor("checkpoints", [items[-1].n]) if more else None)

    @telemetry.traced("list_events")
    async def list_events(
        self, cursor: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> Page[Event]:
        """The session's events, oldest first, a page at a time."""
        check_page_limit(limit)
        key = decode_cursor(cursor, "events")
        rows = await self._mem._store.events_page(self._keys, _text_key(key), limit)
        decode = self._mem._codec.decode
        items = tuple(
            Event(i, t, decode(d), o, ts, lat, tr) for _, (i, t, o, ts, lat, d, tr) in rows
        )
        last = rows[-1][0] if len(rows) == limit else None
        return Page(items, None if last is None else encode_cursor("events", [last]))

    @telemetry.traced("session.erase")
    async def erase(self, dry_run: bool = False, memories: bool = False) -> Erasure:
        """Erase this session — working memory, scratchpad, events, checkpoints, tool schema
        and its entry in the agent's session index — or with `dry_run`, count them. With
        `memories`, the long-term memories recorded in this session go too (they are
        shared by the namespace, so they are kept by default)."""
        mem, dry = self._mem, bool(dry_run)
        counts: dict[str, int] = {}
        if memories:
            scope = Filters(agents=(self.agent.id,), sessions=(self.id,))
            _add(counts, await mem.longterm.erase(scope, dry))
        _add(counts, await mem._store.erase_session(self._keys, dry))
        if not dry:
            mem._opened.pop(self._keys.meta, None)
        return Erasure("session", f"{self.agent.id}/{self.id}", counts, dry)

    # -- tool schema -----------------------------------------------------------------------------
    @telemetry.traced("tool_schema")
    async def tool_schema(self, build: Callable[[], Any] | Callable[[], Awaitable[Any]]) -> Any:
        """The session's tool schema: `build()` runs once per session, later calls read it.

        When two processes build at once, the first to store wins and both return its value.
        """
        store, codec = self._mem._store, self._mem._codec
        raw = await store.tools_get_or_put(self._keys, None, None)
        if raw is not None:
            return codec.decode(raw)
        value = build()
        if inspect.isawaitable(value):
            value = await value
        raw = await store.tools_get_or_put(
            self._keys, codec.encode(value), self._mem._ttls.checkpoints_ms
        )
        return value if raw is None else codec.decode(raw)

    # -- continuity ------------------------------------------------------------------------------
    @telemetry.traced("rotate")
    async def rotate(self) -> AsyncSession:
        """Start a new session linked to this one, carrying the working memory over; first,
        this session's summary is saved (see `close`), unless the options say not to."""
        if self._mem.options.summarize_on_rotate:
            await self.summarize()
        new = self.agent.session()
        ts, ttls, store = now_ms(), self._mem._ttls, self._mem._store
        await store.session_link(self._keys, new._keys, ts, ttls.events_ms)
        working = await store.hash_all(self._keys, "working")
        if working:
            await store.hash_set(new._keys, "working", working, ts, ttls.working_ms)
        self._mem._opened[new._keys.meta] = None
        return new

    @telemetry.traced("session.summarize")
    async def summarize(self, max_sentences: int = 3) -> MemoryRecord | None:
        """Save this session's summary ("compress on close"): its conversation turns, steps
        and tool calls condensed by the memory's summariser into an ``episodic`` memory
        (source ``session_summary``, linked to the turns it summarises). None when the
        session recorded nothing; the same summary saved twice is one memory."""
        rows = await self._mem._store.events_tail(self._keys, MAX_SESSION_EVENTS,
                                                  frozenset(_SUMMARISED))  # fmt: skip
        decode = self._mem._codec.decode
        texts, turns = session_texts([(row[1], decode(row[5])) for row in rows])
        if not texts:
            return None
        summarizer = self._mem.summarizer
        text = await asyncio.to_thread(summarizer.summarize, texts, max_sentences)
        if not text:
            return None
        item = Memorable(
            content=text, kind="episodic", session=self.id, source="session_summary",
            related=tuple(turns[:MAX_SUMMARY_LINKS]),
            metadata={"summarizer": summarizer.name, "events": len(rows)},
        )  # fmt: skip
        # Compared with episodes only: a one-turn session's summary is not that turn again.
        stored = await self._mem.longterm.remember_many(self.agent.id, [item], among=("episodic",))
        return stored[0]

    @telemetry.traced("session.close")
    async def close(self) -> MemoryRecord | None:
        """End this session: its summary is saved (`summarize`), unless the options say
        not to; returns it. The session's records are kept until their TTL."""
        if not self._mem.options.summarize_on_rotate:
            return None
        return await self.summarize()

    @telemetry.traced("history")
    async def history(self) -> list[str]:
        """The chain of session ids this session belongs to, oldest first."""
        store, agent = self._mem._store, self.agent
        meta = await store.session_meta(self._keys)
        chain = [self.id]
        seen = {self.id}
        back = meta
        while (parent := back.get("parent")) is not None and len(chain) < _MAX_CHAIN:
            sid = parent.decode()
            if sid in seen:
                break
            seen.add(sid)
            chain.insert(0, sid)
            back = await store.session_meta(agent.session(sid)._keys)
        forward = meta
        while (child := forward.get("rotated_to")) is not None and len(chain) < _MAX_CHAIN:
            sid = child.decode()
            if sid in seen:
                break
            seen.add(sid)
            chain.append(sid)
            forward = await store.session_meta(agent.session(sid)._keys)
        return chain

    @telemetry.traced("save_episode")
    async def save_episode(
        self,
        task_prompt: str,
        outcome: str,
        success: bool,
        duration_seconds: float | None = None,
        tags: Sequence[str] = (),
        importance: float = 0.5,
    ) -> Episode:
        """Summarise this session's steps and tool calls into a searchable episode."""
        steps = await self.events(limit=MAX_EPISODE_STEPS, types=("step", "tool_call"))
        return await self._mem.longterm.save_episode(
            self.agent.id, self.id, steps, task_prompt, outcome, success, duration_seconds,
            tags, importance,
        )  # fmt: skip

    @telemetry.traced("session.meta")
    async def meta(self) -> dict[str, Any]:
        """The session's meta: agent, created_at (ms), parent and rotated_to when linked."""
        raw = await self._mem._store.session_meta(self._keys)
        meta: dict[str, Any] = {k: v.decode() for k, v in raw.items()}
        for name in ("created_at", "checkpoint_seq"):
            if name in meta:
                meta[name] = int(meta[name])
        return meta


class AsyncWorkingMemory:
    """A session's working memory (or scratchpad): JSON values by key, with a sliding TTL."""

    def __init__(self, session: AsyncSession, kind: HashKind) -> None:
        self._keys = session._keys
        self._mem = session._mem
        self._kind = kind
        self._ttl_ms = (
            self._mem._ttls.working_ms if kind == "working" else self._mem._ttls.scratch_ms
        )

    @telemetry.traced("working.set")
    async def set(self, key: str, value: Any) -> None:
        """Store `value` under `key`; restarts the TTL."""
        fields = {check_field(key): self._mem._codec.encode(value)}
        telemetry.annotate("bytes", len(fields[key]))
        await self._write(fields)

    @telemetry.traced("working.update")
    async def update(self, values: Mapping[str, Any]) -> None:
        """Store several keys in one write; restarts the TTL."""
        check_batch(check_mapping(values, "values"), "update")
        encode = self._mem._codec.encode
        fields = {check_field(k): encode(v) for k, v in values.items()}
        if fields:
            await self._write(fields)

    async def _write(self, fields: Mapping[str, bytes]) -> None:
        opening = self._mem._opening(self._keys)
        await self._mem._store.hash_set(
            self._keys, self._kind, fields, now_ms(), self._ttl_ms, opening
        )
        self._mem._opened_now(self._keys)

    @telemetry.traced("working.get")
    async def get(self, key: str, default: Any = None) -> Any:
        """The value of `key`, or `default`."""
        raw = await self._mem._store.hash_get(self._keys, self._kind, check_field(key))
        return default if raw is None else self._mem._codec.decode(raw)

    @telemetry.traced("working.all")
    async def all(self) -> dict[str, Any]:
        """Every key and value."""
        raw = await self._mem._store.hash_all(self._keys, self._kind)
        decode = self._mem._codec.decode
        return {k: decode(v) for k, v in raw.items()}

    @telemetry.traced("working.delete")
    async def delete(self, *keys_: str) -> int:
        """Remove the given keys; returns how many existed."""
        if not keys_:
            return 0
        fields = [check_field(k) for k in keys_]
        return await self._mem._store.hash_delete(self._keys, self._kind, fields)

    @telemetry.traced("working.clear")
    async def clear(self) -> None:
        """Remove every key."""
        await self._mem._store.hash_clear(self._keys, self._kind)

    async def keys(self) -> list[str]:
        """Every key, without the values (cheap on a large working memory), sorted."""
        return sorted(await self._mem._store.hash_keys(self._keys, self._kind))


def _add(counts: dict[str, int], more: Mapping[str, int]) -> None:
    for name, n in more.items():
        counts[name] = counts.get(name, 0) + n


def _text_key(key: list[Any] | None) -> str | None:
    if key is None:
        return None
    if len(key) != 1 or not isinstance(key[0], str):
        raise InvalidInput("this cursor is damaged")
    return key[0]


def _name_page(names: Sequence[str], collection: str, cursor: str | None, limit: int) -> Page[str]:
    check_page_limit(limit)
    after = _text_key(decode_cursor(cursor, collection))
    rest = [n for n in sorted(names) if after is None or n > after]
    items = tuple(rest[:limit])
    return Page(items, encode_cursor(collection, [items[-1]]) if len(rest) > limit else None)


def _scope(
    kinds: Iterable[str] | None,
    agent: str | Iterable[str] | None,
    session: str | None,
    tags: Iterable[str] | None,
    since: datetime | int | None,
    until: datetime | int | None,
) -> Filters:
    # A listing shows every memory, superseded ones too (their status says so).
    return recall_filters(
        kinds=kinds, agent=agent, session=session, tags=tags, since=since, until=until,
        include_superseded=True,
    )  # fmt: skip


class AsyncToolCache:
    """Results of tool calls, shared by the namespace, keyed by tool + canonical arguments."""

    def __init__(self, memory: AsyncMemory) -> None:
        self._mem = memory

    def key(self, tool: str, args: Any) -> str:
        return keys.cache(self._mem.namespace, check_name(tool, "tool name"), args_hash(args))

    @telemetry.traced("cache.lookup")
    async def lookup(self, tool: str, args: Any) -> tuple[bool, Any]:
        """``(True, result)`` on a hit (the result may be None), ``(False, None)`` on a miss."""
        raw = await self._mem._store.cache_get(self.key(tool, args))
        telemetry.cache_lookup(raw is not None)
        return (False, None) if raw is None else (True, self._mem._codec.decode(raw))

    @telemetry.traced("cache.get")
    async def get(self, tool: str, args: Any) -> Any:
        """The cached result, or None on a miss."""
        return (await self.lookup(tool, args))[1]

    @telemetry.traced("cache.put")
    async def put(self, tool: str, args: Any, result: Any, ttl: float | None = None) -> None:
        """Cache `result`; `ttl` in seconds (default: the tool-results TTL)."""
        seconds = self._mem.options.ttl.tool_results if ttl is None else check_seconds(ttl)
        raw = self._mem._codec.encode(result)
        ttl_ms = None if seconds is None else seconds_to_ms(seconds)
        await self._mem._store.cache_put(self.key(tool, args), raw, ttl_ms)


_warned: list[bool] = []  # whether this process said it has no archive (once)


def _warn_no_archive(options: Options) -> None:
    ttl = options.ttl
    if _warned or (ttl.semantic is None and ttl.episodic is None):
        return
    _warned.append(True)
    log.warning(
        "aether-memory: no archive is configured: long-term memories are deleted when their "
        "lifetime ends (semantic %s, episodic %s); set AETHER_ARCHIVE_URL to keep them in a "
        "cold tier", _lifetime(ttl.semantic), _lifetime(ttl.episodic),
    )  # fmt: skip


def _lifetime(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    return f"{seconds / 86400:g} days" if seconds >= 86400 else f"{seconds:g} s"
