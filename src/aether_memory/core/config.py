"""Options the library takes, and the one place that reads the environment.

Constructors take `Options` (frozen, with `DEFAULT_*` values). Only `Settings` reads
environment variables, and only when an entry point (`Memory.open`, the CLI) asks it to.

Where the URL comes from, first match wins:

1. the `url` argument of `Memory.open` / `AsyncMemory.open`;
2. ``AETHER_URL``;
3. ``MEMORY_REDIS_URL`` (KAOS), then ``REDIS_URL`` (AetherOS);
4. ``REDIS_HOST`` / ``REDIS_PORT`` / ``REDIS_DB`` / ``REDIS_PASSWORD`` (the Redis adapter),
   when ``REDIS_HOST`` or ``REDIS_PORT`` is set;
5. the backend named by ``AETHER_BACKEND``, ``MEMORY_BACKEND`` or ``MEMORY_TYPE`` (any case):
   ``redis`` alone means ``redis://localhost:6379/0`` (the Redis adapter's stated default),
   ``sqlite`` the file ``memory.db`` in the data folder; any other value is a
   `ConfigurationError` naming the variable;
6. the local server started by ``aether up`` (its URL is recorded in its data folder);
7. the SQLite file ``memory.db`` in the data folder (``$AETHER_HOME``, else
   ``~/.local/share/aether-memory``), said in a WARNING log line: nothing was configured.

``AETHER_FALLBACK`` (a ``sqlite:///`` URL) keeps a Redis-backed client working through
outages: see `Memory.open`'s ``fallback``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal, cast
from urllib.parse import quote

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aether_memory.core.errors import ConfigurationError

MINUTE = 60.0
HOUR = 60 * MINUTE
DAY = 24 * HOUR

DEFAULT_NAMESPACE = "default"
DEFAULT_EVENTS_MAXLEN = 10_000
DEFAULT_MAX_CHECKPOINTS = 100
DEFAULT_SOCKET_TIMEOUT = 5.0
DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_MAX_CONNECTIONS = 64
DEFAULT_RETRIES = 3
DEFAULT_WATCH_INTERVAL = 30.0  # seconds between re-checks of the server's eviction policy
DURABILITY_MODES: Final = ("async", "replicated")
DEFAULT_REPLICA_TIMEOUT = 1.0  # seconds a write waits for a replica (durability="replicated")
# With an archive, a hot copy outlives its lifetime by this long, so the sync service (which
# runs far more often) moves it before the store expires it. See docs/lifecycle.md.
DEFAULT_ARCHIVE_GRACE = 1 * DAY


@dataclass(frozen=True, slots=True)
class TTLs:
    """Time to live per kind of memory, in seconds (``None``: keep forever).

    Working memory and the scratchpad slide: each write restarts their clock. Events and
    checkpoints are kept for their TTL after the session's last step, event or checkpoint.
    """

    working: float | None = 1 * HOUR
    scratch: float | None = 15 * MINUTE
    events: float | None = 30 * DAY
    checkpoints: float | None = 48 * HOUR
    tool_results: float | None = 1 * HOUR
    semantic: float | None = 90 * DAY
    episodic: float | None = 30 * DAY
    skills: float | None = 180 * DAY


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


@dataclass(frozen=True, slots=True)
class SessionTTLs:
    """The session TTLs in milliseconds, as the stores apply them (``None``: no expiry)."""

    working_ms: int | None
    scratch_ms: int | None
    events_ms: int | None
    checkpoints_ms: int | None

    @classmethod
    def from_ttls(cls, ttl: TTLs) -> SessionTTLs:
        return cls(_ms(ttl.working), _ms(ttl.scratch), _ms(ttl.events), _ms(ttl.checkpoints))


@dataclass(frozen=True, slots=True)
class Options:
    """Everything a `Memory` can be tuned with; all fields have safe defaults."""

    namespace: str = DEFAULT_NAMESPACE
    ttl: TTLs = field(default_factory=TTLs)
    compress_threshold: int = 1024
    max_value_bytes: int = 1024 * 1024
    events_maxlen: int = DEFAULT_EVENTS_MAXLEN
    max_checkpoints: int = DEFAULT_MAX_CHECKPOINTS
    socket_timeout: float = DEFAULT_SOCKET_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    retries: int = DEFAULT_RETRIES
    watch_interval: float = DEFAULT_WATCH_INTERVAL
    strict: bool = False  # refuse servers that may evict durable keys, instead of warning
    summarize_on_rotate: bool = True  # save a session's summary when it is rotated or closed
    formation_batch: int = 20  # turns per call to the memory-formation extractor
    formation_max_lag: float = 60.0  # seconds a turn may wait for formation before health warns
    # "async": acknowledge once the primary applied a write (Redis's own replication
    # follows). "replicated": also WAIT until >= 1 replica has it, else `NotReplicated`.
    durability: Literal["async", "replicated"] = "async"
    replica_timeout: float = DEFAULT_REPLICA_TIMEOUT

    def __post_init__(self) -> None:
        if self.durability not in DURABILITY_MODES:
            raise ConfigurationError(
                f"durability must be one of {', '.join(DURABILITY_MODES)}, not {self.durability!r}"
            )
        if self.durability == "replicated" and not 0 < self.replica_timeout < self.socket_timeout:
            raise ConfigurationError(
                f"replica_timeout ({self.replica_timeout} s) must be above 0 and below "
                f"socket_timeout ({self.socket_timeout} s), or a WAIT would time the socket out"
            )

    # The hot budget of the namespace's long-term memory (None: no limit): over it, the
    # lowest decay scores leave for the archive (or are deleted, and said, without one).
    hot_budget: int | None = None
    hot_budget_bytes: int | None = None
    archive_grace: float = DEFAULT_ARCHIVE_GRACE

    def with_(self, **changes: Any) -> Options:
        return replace(self, **changes)


_TTL = TTLs()
DEFAULT_REDIS_HOST = "localhost"
DEFAULT_REDIS_PORT = 6379
BACKENDS: Final = ("redis", "sqlite")
BACKEND_VARIABLES: Final = ("AETHER_BACKEND", "MEMORY_BACKEND", "MEMORY_TYPE")


def redis_url(host: str, port: int | None, db: int = 0, password: str | None = None) -> str:
    """The ``redis://`` URL of a host, port, database and password (quoted)."""
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port or DEFAULT_REDIS_PORT}/{db}"


class Settings(BaseSettings):
    """Configuration read from environment variables (names in the field aliases)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    url: str | None = Field(
        default=None, validation_alias=AliasChoices("AETHER_URL", "MEMORY_REDIS_URL", "REDIS_URL")
    )
    backend: Literal["redis", "sqlite"] | None = Field(
        default=None,
        validation_alias=AliasChoices(*BACKEND_VARIABLES),
    )
    fallback: str | None = Field(default=None, validation_alias="AETHER_FALLBACK")
    redis_host: str | None = Field(default=None, validation_alias="REDIS_HOST")
    redis_port: int | None = Field(default=None, validation_alias="REDIS_PORT")
    redis_db: int = Field(default=0, validation_alias="REDIS_DB")
    redis_password: SecretStr | None = Field(default=None, validation_alias="REDIS_PASSWORD")
    namespace: str = Field(default=DEFAULT_NAMESPACE, validation_alias="AETHER_NAMESPACE")
    strict: bool = Field(default=False, validation_alias="AETHER_STRICT")
    durability: str = Field(default="async", validation_alias="AETHER_DURABILITY")
    replica_timeout: float = Field(
        default=DEFAULT_REPLICA_TIMEOUT, validation_alias="AETHER_REPLICA_TIMEOUT"
    )
    ttl_working: float | None = Field(default=_TTL.working, validation_alias="AETHER_TTL_WORKING")
    ttl_scratch: float | None = Field(default=_TTL.scratch, validation_alias="AETHER_TTL_SCRATCH")
    ttl_events: float | None = Field(default=_TTL.events, validation_alias="AETHER_TTL_EVENTS")
    ttl_checkpoints: float | None = Field(
        default=_TTL.checkpoints, validation_alias="AETHER_TTL_CHECKPOINTS"
    )
    ttl_tool_results: float | None = Field(
        default=_TTL.tool_results, validation_alias="AETHER_TTL_TOOL_RESULTS"
    )
    llm_url: str | None = Field(default=None, validation_alias="AETHER_LLM_URL")
    llm_model: str | None = Field(default=None, validation_alias="AETHER_LLM_MODEL")
    llm_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("AETHER_LLM_API_KEY", "OPENAI_API_KEY")
    )
    summarizer: Literal["extractive", "llm"] = Field(
        default="extractive", validation_alias="AETHER_SUMMARIZER"
    )
    extract_memories: bool = Field(default=False, validation_alias="AETHER_EXTRACT_MEMORIES")
    ttl_semantic: float | None = Field(
        default=_TTL.semantic, validation_alias="AETHER_TTL_SEMANTIC"
    )
    ttl_episodic: float | None = Field(
        default=_TTL.episodic, validation_alias="AETHER_TTL_EPISODIC"
    )
    ttl_skills: float | None = Field(default=_TTL.skills, validation_alias="AETHER_TTL_SKILLS")
    archive_url: str | None = Field(default=None, validation_alias="AETHER_ARCHIVE_URL")
    hot_budget: int | None = Field(default=None, ge=1, validation_alias="AETHER_HOT_BUDGET")
    hot_budget_bytes: int | None = Field(
        default=None, ge=1, validation_alias="AETHER_HOT_BUDGET_BYTES"
    )
    archive_grace: float = Field(
        default=DEFAULT_ARCHIVE_GRACE, gt=0, validation_alias="AETHER_ARCHIVE_GRACE"
    )

    @field_validator("backend", mode="before")
    @classmethod
    def _known_backend(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        name = str(value).strip().lower()
        if name not in BACKENDS:
            # Raised as is (not a ValueError), so it names the variable the user set.
            variable = next((v for v in BACKEND_VARIABLES if os.environ.get(v)), "backend")
            raise ConfigurationError(
                f"{variable}={value!r} is not a memory backend: use one of {', '.join(BACKENDS)}"
            )
        return name

    def explicit_url(self) -> str | None:
        """The URL the environment names (steps 2-5 of the precedence), if any."""
        if self.url:
            return self.url
        if self.redis_host or self.redis_port:
            return redis_url(
                self.redis_host or "127.0.0.1", self.redis_port, self.redis_db, self.password()
            )
        if self.backend == "redis":
            return redis_url(DEFAULT_REDIS_HOST, None, self.redis_db, self.password())
        return None

    def password(self) -> str | None:
        """``REDIS_PASSWORD``, or None when unset or empty."""
        secret = self.redis_password.get_secret_value() if self.redis_password else ""
        return secret or None

    def options(self) -> Options:
        return Options(
            namespace=self.namespace,
            strict=self.strict,
            durability=cast(Any, self.durability.strip().lower()),
            replica_timeout=self.replica_timeout,
            ttl=TTLs(
                working=self.ttl_working,
                scratch=self.ttl_scratch,
                events=self.ttl_events,
                checkpoints=self.ttl_checkpoints,
                tool_results=self.ttl_tool_results,
                semantic=self.ttl_semantic,
                episodic=self.ttl_episodic,
                skills=self.ttl_skills,
            ),
            hot_budget=self.hot_budget,
            hot_budget_bytes=self.hot_budget_bytes,
            archive_grace=self.archive_grace,
        )
