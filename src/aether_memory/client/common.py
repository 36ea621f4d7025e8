"""Pieces of the client that do no I/O, shared by the async source and its sync twin."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

from aether_memory.backends.redis import probe
from aether_memory.core.codec import dumps
from aether_memory.core.config import Options, Settings
from aether_memory.core.context import Section
from aether_memory.core.errors import ClientClosed, ConfigurationError, InvalidInput
from aether_memory.core.types import Capabilities, Episode, Event, Hit, Skill
from aether_memory.core.validate import check_text, describe

if TYPE_CHECKING:
    from aether_memory.core.extract import LLMExtractor
    from aether_memory.core.summarize import Summarizer

log = logging.getLogger("aether_memory")

MAX_FIELD_CHARS = 1024
MAX_BATCH = 10_000
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")


class ClosedStore:
    """Stands in for the store after `close()`, so that any further use fails clearly."""

    def __getattr__(self, name: str) -> NoReturn:
        raise ClientClosed("this memory client is closed; open a new one with Memory.open()")


def check_field(key: object) -> str:
    """A working-memory key: any non-empty string up to `MAX_FIELD_CHARS`."""
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"a working-memory key must be a non-empty string, not {describe(key)}")
    # Blank keys are allowed (they always were); lone surrogates are not: no store holds them.
    return check_text(key, "a working-memory key", max_chars=MAX_FIELD_CHARS, allow_empty=True)


def check_batch(items: Any, what: str) -> None:
    if len(items) > MAX_BATCH:
        raise InvalidInput(f"{what}: {len(items)} items in one call; the limit is {MAX_BATCH}")


def read_documents(folder: Path, pattern: str) -> dict[str, str]:
    """The text of every file in `folder` matching `pattern`, by file stem."""
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a directory")
    return {f.stem: f.read_text(encoding="utf-8") for f in sorted(folder.glob(pattern))}


def args_hash(args: Any) -> str:
    """A stable digest of tool arguments: canonical JSON (sorted keys), BLAKE2b-128."""
    return hashlib.blake2b(dumps(args, sort_keys=True), digest_size=16).hexdigest()


def resolve_url(url: str | None, settings: Settings) -> str:
    """Pick the URL by the precedence documented in `aether_memory.core.config`."""
    if url:
        return url
    explicit = settings.explicit_url()
    if explicit:
        return explicit
    if settings.backend == "sqlite":
        return default_sqlite_url("memory.db")
    from aether_memory.server.local import recorded_url  # only when nothing is configured

    local = recorded_url()
    if local:
        log.info("aether-memory: no URL configured; using the local server at %s", local)
        return local
    fallback = default_sqlite_url("memory.db")
    # A warning: a user who meant Redis (and mistyped a variable) must not be served a local
    # file in silence.
    log.warning(
        "aether-memory: no URL configured and no local server; using the SQLite file %s "
        "(set AETHER_URL or REDIS_URL for Redis)",
        fallback,
    )
    return fallback


def default_sqlite_url(filename: str) -> str:
    """A SQLite file in the user's data folder (see `aether_memory.server.local`)."""
    from aether_memory.server.local import default_data_dir

    return "sqlite:///" + str((default_data_dir() / filename).absolute())


def check_url(url: str) -> str:
    """The backend a URL names (``redis`` or ``sqlite``); refuses any other scheme."""
    scheme = urlsplit(url).scheme
    if scheme in REDIS_SCHEMES:
        return "redis"
    if scheme == "sqlite":
        sqlite_path(url)
        return "sqlite"
    raise ConfigurationError(
        f"unsupported URL scheme {scheme!r} in {redacted(url)!r}: use redis://, rediss://, "
        "unix://, redis+cluster://host:port[,host:port...] or sqlite:///path"
    )


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///relative.db`` or ``sqlite:////absolute.db`` URL (the
    convention SQLAlchemy uses)."""
    if not url.startswith("sqlite:///") or len(url) == len("sqlite:///"):
        raise ConfigurationError(
            f"a SQLite URL names a file: sqlite:///relative/path.db or sqlite:////absolute/"
            f"path.db, not {url!r}"
        )
    path = url[len("sqlite:///") :]
    if path == ":memory:" or "?" in path:
        raise ConfigurationError(f"a SQLite URL names a file on disk (no options): {url!r}")
    return Path(path)


def check_redis_url(url: str) -> None:
    if check_url(url) != "redis":
        raise ConfigurationError(
            f"this command works on Redis only, and {redacted(url)!r} is a SQLite store"
        )


def redacted(url: str) -> str:
    """The URL with any password replaced, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def guard_eviction(caps: Capabilities, url: str, strict: bool) -> None:
    """Warn about (or with `strict`, refuse) a server that may evict this project's keys
    (any policy but ``noeviction``; see `Capabilities.evicts_durable_keys`)."""
    if not caps.evicts_durable_keys:
        return
    message = probe.eviction_message(str(caps.maxmemory_policy), redacted(url))
    if strict:
        raise ConfigurationError(message)
    log.warning("aether-memory: %s", message)


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def context_sections(
    identity: Mapping[str, str],
    working: Mapping[str, Any],
    steps: Sequence[Event],
    memories: Sequence[Hit],
    episodes: Sequence[Episode],
    skills: Sequence[Skill],
) -> list[Section]:
    """The sections of `Agent.context`, most useful first."""
    compact = dumps  # JSON, one line per value
    sections = [
        Section(
            "Identity", [f"[{name}] {' '.join(text.split())}" for name, text in identity.items()]
        ),
        Section("Working memory", [f"{k}: {compact(v).decode()}" for k, v in working.items()]),
        Section(
            "Recent steps",
            [
                f"{_day(e.ts)} {e.type} ({e.outcome}): "
                + (
                    f"{e.data.get('action')} -> {e.data.get('observation')}"
                    if isinstance(e.data, dict) and "action" in e.data
                    else compact(e.data).decode()
                )
                for e in reversed(steps)
            ],
        ),
        Section(
            "Relevant memories",
            [
                f"{h.record.content} ({h.record.kind}, {_day(h.record.occurred_at)})"
                for h in memories
            ],
        ),
        Section(
            "Past episodes",
            [
                f"{e.task_prompt} -> {'succeeded' if e.success else 'failed'}: {e.outcome}"
                for e in episodes
            ],
        ),
        Section(
            "Skills",
            [
                f"{s.name}: {s.description}"
                + (f" (success {s.successes}/{s.runs})" if s.runs else "")
                for s in skills
            ],
        ),
    ]
    return sections


def chat_model(settings: Settings) -> Any:
    """The `OpenAIChat` that ``AETHER_LLM_URL`` and ``AETHER_LLM_MODEL`` name, or None when
    the URL is unset (`ConfigurationError` when the model is missing)."""
    if not settings.llm_url:
        return None
    if not settings.llm_model:
        raise ConfigurationError("AETHER_LLM_URL is set: name the model in AETHER_LLM_MODEL")
    from aether_memory.backends.llm import OpenAIChat

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return OpenAIChat(settings.llm_url, settings.llm_model, key or None)


def default_writers(
    settings: Settings, summarizer: Summarizer | None, extractor: LLMExtractor | None
) -> tuple[Summarizer | None, LLMExtractor | None]:
    """The summariser and extractor a memory opens with: those given, else the chat model's
    when the settings ask for them (`AETHER_SUMMARIZER=llm`, `AETHER_EXTRACT_MEMORIES`)."""
    chat = chat_model(settings) if summarizer is None or extractor is None else None
    if summarizer is None and chat is not None and settings.summarizer == "llm":
        from aether_memory.core.summarize import LLMSummarizer

        summarizer = LLMSummarizer(chat)
    if extractor is None and chat is not None and settings.extract_memories:
        from aether_memory.core.extract import LLMExtractor

        extractor = LLMExtractor(chat)
    return summarizer, extractor


_warned: list[bool] = []  # whether this process said it has no archive (once)


def warn_no_archive(options: Options) -> None:
    """Say once per process that memories past their lifetime are deleted, not archived."""
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
