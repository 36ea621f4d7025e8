"""The admin commands of `aether`: search, inspect, export / import, identity load, doctor.

The commands are thin: what they compute lives in the plain functions of the first half of
this module (tests call them directly), and the commands only resolve settings, call them
and print. This is the one place that walks a namespace with ``SCAN`` (export, import's
checks, doctor's key count); no request path of the library enumerates keys.

Export format (JSON Lines, UTF-8)::

    {"format": "aether-export", "version": 1, "namespace": "default",
     "redis_version": "8.2.3", "exported_at": "2026-05-01T12:00:00+00:00", "keys": 2}
    {"key": "aether:{default}:agents", "type": "set", "pttl": null, "dump": "<base64>"}
    {"key": "aether:{default/a/s1}:working", "type": "hash", "pttl": 3599000, "dump": "..."}

``dump`` is the key's ``DUMP`` payload, which ``RESTORE`` turns back into the same value for
every Redis type (strings, hashes with their field TTLs, lists, sets, sorted sets, streams
with their consumer groups, vector sets, module types); ``pttl`` is the time left in
milliseconds at export (``null``: no expiry), restarted from the moment of import. A key
whose name is not UTF-8 is written as ``key_b64`` instead of ``key``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Literal

import orjson
import redis
import typer
from redis import exceptions as rx
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aether_memory.backends.redis import probe
from aether_memory.backends.redis._sync.longterm import INDEX_VERSION
from aether_memory.backends.redis.errors import TRANSLATE, translate
from aether_memory.client._sync.memory import Memory
from aether_memory.client.common import check_redis_url, guard_eviction, redacted, resolve_url
from aether_memory.core import keys
from aether_memory.core.config import Settings
from aether_memory.core.embeddings import Embedder
from aether_memory.core.errors import (
    AetherError,
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
)
from aether_memory.core.ids import check_name
from aether_memory.core.query import Filters
from aether_memory.core.types import Capabilities, CheckpointInfo, Event, Hit, SessionInfo

if TYPE_CHECKING:
    from aether_memory.core.embeddings import Vectors

EXPORT_FORMAT: Final = "aether-export"
EXPORT_VERSION: Final = 1
SCAN_COUNT: Final = 1000
"""Keys asked of each SCAN step (a hint to the server, not a limit)."""
BATCH_KEYS: Final = 256
"""Keys per round trip when dumping or restoring."""
BATCH_BYTES: Final = 8 * 1024 * 1024
"""Payload bytes per RESTORE round trip (a few large keys fill a batch early)."""
SPOOL_BYTES: Final = 32 * 1024 * 1024
"""An export is assembled in memory up to this size, then in a temporary file (the header,
which counts the keys, can only be written once every key is dumped)."""
INDEX_WAIT: Final = 60.0
"""Seconds `prepare_index` waits for the Query Engine to index the imported memories."""
DEFAULT_TIMEOUT: Final = 5.0

ProgressCallback = Callable[[int, int], None]
"""A progress callback: ``(done, total)``."""


# =============================================================================== connecting


def resolve_target(url: str | None, namespace: str | None) -> tuple[str, str]:
    """The URL and namespace a command works on: the options, else the library's settings.

    Raises:
        ConfigurationError: The URL's scheme is not a Redis one.
        InvalidInput: The namespace is not a valid name.
    """
    settings = Settings()
    resolved = resolve_url(url, settings)
    check_redis_url(resolved)
    return resolved, check_name(namespace or settings.namespace, "namespace")


def connect(url: str, timeout: float = DEFAULT_TIMEOUT) -> redis.Redis:
    """A plain redis-py client for the admin commands (bytes replies, RESP2); no I/O yet."""
    try:
        return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    except ValueError as exc:
        raise ConfigurationError(f"invalid Redis URL {redacted(url)!r}: {exc}") from exc


def namespace_keys(client: redis.Redis, ns: str) -> list[bytes]:
    """Every key of namespace `ns`, sorted (SCAN, never KEYS; SCAN may repeat a key)."""
    check_name(ns, "namespace")
    with TRANSLATE:
        found: set[bytes] = set(
            client.scan_iter(match=keys.namespace_pattern(ns), count=SCAN_COUNT)
        )
    return sorted(found)


def in_namespace(key: bytes, ns: str) -> bool:
    """Whether `key` belongs to namespace `ns` (the test SCAN applies, done locally)."""
    return fnmatchcase(key, keys.namespace_pattern(ns).encode())


# =============================================================================== export / import


@dataclass(frozen=True, slots=True)
class ExportHeader:
    """The first line of an export file."""

    namespace: str
    keys: int
    redis_version: str
    exported_at: str
    version: int = EXPORT_VERSION

    def line(self) -> str:
        return _json_line(
            {
                "format": EXPORT_FORMAT,
                "version": self.version,
                "namespace": self.namespace,
                "redis_version": self.redis_version,
                "exported_at": self.exported_at,
                "keys": self.keys,
            }
        )


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One exported key: its name, type, DUMP payload and time left (ms; None: no expiry)."""

    key: bytes
    type: str
    dump: bytes
    pttl: int | None

    def line(self) -> str:
        try:
            name: dict[str, str] = {"key": self.key.decode("utf-8")}
        except UnicodeDecodeError:
            name = {"key_b64": base64.b64encode(self.key).decode("ascii")}
        return _json_line(
            {
                **name,
                "type": self.type,
                "pttl": self.pttl,
                "dump": base64.b64encode(self.dump).decode("ascii"),
            }
        )


def _json_line(data: dict[str, Any]) -> str:
    return orjson.dumps(data).decode() + "\n"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _batches(items: Sequence[bytes], size: int) -> Iterator[Sequence[bytes]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def export_namespace(
    client: redis.Redis, ns: str, fp: IO[str], progress: ProgressCallback | None = None
) -> int:
    """Write every key of namespace `ns` to `fp` as an aether export; returns how many.

    Keys are found with SCAN, then read in batches, each batch in one ``MULTI`` so that a
    key's type, TTL and payload are read together. A key that expires or is deleted between
    the SCAN and its batch is left out (the header counts the keys actually written).
    Not for Redis Cluster: SCAN on one connection sees one node's keys.

    Raises:
        BackendUnavailable: The server could not be reached.
    """
    names = namespace_keys(client, ns)
    with TRANSLATE:
        version = _text(client.info("server").get("redis_version", "unknown"))
    total, written = len(names), 0
    if progress is not None:
        progress(0, total)
    with tempfile.SpooledTemporaryFile(SPOOL_BYTES, mode="w+", encoding="utf-8") as body:
        done = 0
        for batch in _batches(names, BATCH_KEYS):
            pipe = client.pipeline(transaction=True)
            for name in batch:
                pipe.type(name)
                pipe.pttl(name)
                pipe.dump(name)
            with TRANSLATE:
                replies = pipe.execute()
            for i, name in enumerate(batch):
                kind, pttl, payload = replies[3 * i : 3 * i + 3]
                if payload is None or pttl == -2:
                    continue  # gone since the SCAN
                # PTTL 0 means "expires now"; RESTORE reads a TTL of 0 as "never": keep 1 ms.
                ttl = None if pttl < 0 else max(int(pttl), 1)
                body.write(KeyRecord(name, _text(kind), bytes(payload), ttl).line())
                written += 1
            done += len(batch)
            if progress is not None:
                progress(done, total)
        header = ExportHeader(
            namespace=ns,
            keys=written,
            redis_version=version,
            exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        fp.write(header.line())
        body.seek(0)
        shutil.copyfileobj(body, fp)
    return written


def read_header(line: str) -> ExportHeader:
    """Parse the first line of an export file.

    Raises:
        InvalidInput: The line is not an aether export header, or of an unknown version.
    """
    what = (
        f"not an aether export: the first line must be the JSON header "
        f'{{"format": "{EXPORT_FORMAT}", "version": {EXPORT_VERSION}, ...}}'
    )
    if not line.strip():
        raise InvalidInput(f"{what}; the file is empty")
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{what}; it is not JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise InvalidInput(what)
    if data.get("version") != EXPORT_VERSION:
        raise InvalidInput(
            f"aether export version {data.get('version')!r} is not supported: this aether "
            f"reads version {EXPORT_VERSION}"
        )
    keys_ = data.get("keys")
    if not isinstance(keys_, int) or isinstance(keys_, bool) or keys_ < 0:
        raise InvalidInput(f"the export header's `keys` must be a count, not {keys_!r}")
    return ExportHeader(
        namespace=check_name(data.get("namespace"), "the export's namespace"),
        keys=keys_,
        redis_version=str(data.get("redis_version", "unknown")),
        exported_at=str(data.get("exported_at", "")),
    )


def _parse_record(line: str, lineno: int, ns: str) -> KeyRecord:
    where = f"line {lineno} of the export"
    try:
        data = orjson.loads(line)
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        key = (
            base64.b64decode(data["key_b64"], validate=True)
            if "key_b64" in data
            else str(data["key"]).encode("utf-8")
        )
        pttl = data.get("pttl")
        if pttl is not None and (not isinstance(pttl, int) or isinstance(pttl, bool) or pttl < 1):
            raise ValueError(f"pttl must be a positive number of ms or null, not {pttl!r}")
        record = KeyRecord(
            key=key,
            type=str(data.get("type", "")),
            dump=base64.b64decode(data["dump"], validate=True),
            pttl=pttl,
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise InvalidInput(f"{where} is not a key record: {exc}") from exc
    if not in_namespace(record.key, ns):
        raise InvalidInput(
            f"{where} holds key {record.key!r}, which is outside namespace {ns!r}: refused"
        )
    return record


def _records(fp: IO[str], ns: str) -> Iterator[KeyRecord]:
    for lineno, line in enumerate(fp, start=2):
        if line.strip():
            yield _parse_record(line, lineno, ns)


def _restore_error(exc: rx.RedisError, key: bytes, header: ExportHeader) -> AetherError:
    message = str(exc)
    if message.startswith("BUSYKEY"):
        return Conflict(
            f"key {key!r} was created by someone else during the import; it was not "
            "overwritten (pass --replace to overwrite)"
        )
    if "payload version" in message.lower():
        return ConfigurationError(
            f"Redis refused the payload of {key!r}: the export comes from Redis "
            f"{header.redis_version}, and a DUMP payload restores only into the same or a "
            "newer Redis"
        )
    return translate(exc)


def import_namespace(
    client: redis.Redis,
    fp: IO[str],
    replace: bool = False,
    progress: ProgressCallback | None = None,
    namespace: str | None = None,
) -> ExportHeader:
    """Restore an aether export into the server; returns its header (``keys`` were restored).

    The whole file is checked before anything is written: the header, every record (each key
    must belong to the header's namespace), the count the header announces, and — unless
    `replace` — that none of its keys exists yet. Then the keys are restored in batches with
    their TTLs; without `replace`, ``RESTORE`` also refuses a key that appeared meanwhile.

    Args:
        client: The target server.
        fp: The export, opened as text; it is read twice, so it must be seekable.
        replace: Overwrite keys that already exist.
        progress: Called with ``(done, total)`` as keys are restored.
        namespace: Refuse a file of any other namespace (None: take the file's).

    Raises:
        InvalidInput: The file is not a valid export (of `namespace`), or not seekable.
        Conflict: Some keys exist and `replace` is false; nothing was written.
        BackendUnavailable: The server could not be reached.
    """
    if not fp.seekable():
        raise InvalidInput("an import reads its file twice (check, then restore): give a file")
    start = fp.tell()
    header = read_header(fp.readline())
    ns = header.namespace
    if namespace is not None and namespace != ns:
        raise InvalidInput(
            f"the file is an export of namespace {ns!r}, not {namespace!r} (keys keep their "
            "namespace: import it without --namespace, or into that namespace)"
        )
    names = [record.key for record in _records(fp, ns)]
    if len(names) != header.keys:
        raise InvalidInput(
            f"the export's header announces {header.keys} keys but the file holds "
            f"{len(names)}: it is truncated or was edited"
        )
    if len(set(names)) != len(names):
        raise InvalidInput("the export holds the same key twice: it was edited")
    if not replace:
        existing = existing_keys(client, names)
        if existing:
            sample = ", ".join(k.decode(errors="replace") for k in existing[:3])
            raise Conflict(
                f"{len(existing)} of the {len(names)} keys already exist in namespace {ns!r} "
                f"(e.g. {sample}); nothing was written. Pass --replace to overwrite them"
            )
    fp.seek(start)
    fp.readline()
    done = 0
    if progress is not None:
        progress(0, header.keys)
    batch: list[KeyRecord] = []
    size = 0
    for record in _records(fp, ns):
        batch.append(record)
        size += len(record.dump)
        if len(batch) >= BATCH_KEYS or size >= BATCH_BYTES:
            done += _restore(client, batch, replace, header)
            batch, size = [], 0
            if progress is not None:
                progress(done, header.keys)
    if batch:
        done += _restore(client, batch, replace, header)
        if progress is not None:
            progress(done, header.keys)
    return header


def _restore(
    client: redis.Redis, batch: Sequence[KeyRecord], replace: bool, header: ExportHeader
) -> int:
    pipe = client.pipeline(transaction=False)
    for record in batch:
        pipe.restore(record.key, record.pttl or 0, record.dump, replace=replace)
    with TRANSLATE:
        replies = pipe.execute(raise_on_error=False)
    for record, reply in zip(batch, replies, strict=True):
        if isinstance(reply, rx.RedisError):
            raise _restore_error(reply, record.key, header) from reply
    return len(batch)


def existing_keys(client: redis.Redis, names: Sequence[bytes]) -> list[bytes]:
    """Which of `names` exist on the server (one EXISTS each, pipelined in batches)."""
    found: list[bytes] = []
    for batch in _batches(names, BATCH_KEYS * 4):
        pipe = client.pipeline(transaction=False)
        for name in batch:
            pipe.exists(name)
        with TRANSLATE:
            replies = pipe.execute()
        found += [name for name, n in zip(batch, replies, strict=True) if n]
    return found


class _RecordedModel(Embedder):
    """Stands in for the embedder a namespace's memories were made with, to create their
    index: `Memory.setup` reads only ``model`` and ``dims``. It embeds nothing."""

    def __init__(self, model: str, dims: int) -> None:
        self.model = model
        self.dims = dims

    def embed(self, texts: Sequence[str]) -> Vectors:
        raise ConfigurationError("the import's index setup cannot embed text")


def prepare_index(url: str, client: redis.Redis, ns: str, timeout: float = INDEX_WAIT) -> bool:
    """After an import: create the namespace's search index and wait until it has indexed
    the imported memories. Returns False when there is nothing to do (no Query Engine, or
    no long-term memory in the namespace).

    The index is created for the model the namespace records (``aether:{ns}:embedder``),
    whichever embedder it is; creating it indexes the hashes already there, in the
    background, so this polls ``FT.INFO`` until that is done (or `timeout` passes).
    """
    with TRANSLATE:
        recorded = client.get(keys.embedder(ns))
    if recorded is None:
        return False  # no long-term memory: creating an index would add the embedder key
    model, _, dims = _text(recorded).rpartition("|")
    if not model or not dims.isdigit():
        raise ConfigurationError(f"{keys.embedder(ns)} holds {recorded!r}, not 'model|dims'")
    with Memory.open(url, namespace=ns, embedder=_RecordedModel(model, int(dims))) as mem:
        if not mem.capabilities.search:
            return False
        mem.setup()
    return wait_for_index(client, keys.memory_index(ns, INDEX_VERSION), timeout)


def wait_for_index(client: redis.Redis, index: str, timeout: float) -> bool:
    """Poll ``FT.INFO`` until the index is not indexing any more; False on timeout."""
    deadline = time.monotonic() + timeout
    raw: Any = client  # redis-py leaves execute_command untyped
    while True:
        with TRANSLATE:
            info = raw.execute_command("FT.INFO", index)
        if isinstance(info, list):  # older redis-py: a flat [name, value, ...] list
            info = dict(zip(info[::2], info[1::2], strict=True))
        fields = {_text(k): v for k, v in info.items()}
        if not int(fields.get("indexing", 0)):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


# =============================================================================== doctor

Status = Literal["OK", "WARN", "FAIL"]


@dataclass(frozen=True, slots=True)
class Check:
    """One line of `aether doctor`: a status, what was checked, what was found, and what to
    change (empty when nothing needs to)."""

    status: Status
    name: str
    finding: str
    advice: str = ""


@dataclass(frozen=True, slots=True)
class ServerFacts:
    """What doctor reads from a server, in one place (the input of `assess`)."""

    url: str
    namespace: str
    connect_ms: float
    ping_ms: float
    capabilities: Capabilities
    used_memory: int | None = None
    maxmemory: int | None = None
    namespace_keys: int | None = None


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def assess(facts: ServerFacts) -> list[Check]:
    """The checks of `aether doctor` for what was read from a server (pure)."""
    caps = facts.capabilities
    checks = [
        Check(
            "OK",
            "connection",
            f"{redacted(facts.url)}: connected in {facts.connect_ms:.1f} ms, "
            f"PING {facts.ping_ms:.2f} ms",
        )
    ]
    version = caps.server_version
    major = int(version.split(".")[0]) if version[:1].isdigit() else 0
    if major >= 8:
        checks.append(Check("OK", "server", f"Redis {version}"))
    elif caps.search:
        checks.append(
            Check("OK", "server", f"Redis {version} (the Query Engine covers long-term memory)")
        )
    else:
        checks.append(
            Check(
                "WARN",
                "server",
                f"Redis {version}: no Query Engine and no vector sets (Redis 8)",
                "use Redis 8 (redis:8, redis/redis-stack-server) for long-term memory",
            )
        )
    modules = ", ".join(sorted(caps.modules)) or "none"
    if caps.search:
        checks.append(Check("OK", "modules", f"Query Engine present ({modules})"))
    elif caps.vector_sets:
        checks.append(
            Check(
                "WARN",
                "modules",
                f"no Query Engine ({modules}): recall re-scores a vector set's nearest "
                "neighbours on the client, without full-text candidates or server-side filters",
                "load the search module (Redis 8 with the Query Engine, redis-stack-server, "
                "or `aether up` without --plain)",
            )
        )
    else:
        checks.append(
            Check(
                "FAIL",
                "modules",
                f"no Query Engine and no vector sets ({modules}): remember/recall cannot work",
                "use Redis 8 or load the search module",
            )
        )
    checks += _persistence(caps)
    checks.append(_eviction(caps, facts.url))
    checks.append(_memory(facts))
    n = facts.namespace_keys
    checks.append(
        Check(
            "OK",
            "namespace",
            f"{n} keys in namespace {facts.namespace!r}"
            + (" (empty: nothing written yet, or another namespace?)" if n == 0 else ""),
        )
    )
    return checks


def _persistence(caps: Capabilities) -> list[Check]:
    if caps.aof is None:
        return [
            Check(
                "WARN",
                "persistence",
                "unknown: the server refuses CONFIG GET appendonly",
                "make sure AOF is on in your provider's settings",
            )
        ]
    if not caps.aof:
        if caps.rdb:
            return [
                Check(
                    "WARN",
                    "persistence",
                    "RDB snapshots only: a crash loses every write since the last snapshot",
                    "CONFIG SET appendonly yes (and appendonly yes in redis.conf)",
                )
            ]
        return [
            Check(
                "FAIL",
                "persistence",
                "none (no AOF, no RDB): a restart loses every memory",
                "CONFIG SET appendonly yes (and appendonly yes in redis.conf)",
            )
        ]
    snapshots = " + RDB snapshots" if caps.rdb else ""
    checks = [Check("OK", "persistence", f"AOF on{snapshots}")]
    if caps.fsync == "always":
        checks.append(Check("OK", "appendfsync", "always: nothing acknowledged is lost"))
    elif caps.fsync == "everysec":
        checks.append(
            Check("OK", "appendfsync", "everysec: a power loss costs at most ~1 s of writes")
        )
    elif caps.fsync == "no":
        checks.append(
            Check(
                "WARN",
                "appendfsync",
                "no: the OS flushes when it likes (tens of seconds of writes at risk)",
                "CONFIG SET appendfsync everysec",
            )
        )
    else:
        checks.append(
            Check(
                "WARN",
                "appendfsync",
                f"unknown ({caps.fsync})",
                "use appendfsync everysec (or always)",
            )
        )
    return checks


def _eviction(caps: Capabilities, url: str) -> Check:
    policy = caps.maxmemory_policy
    if policy is None:
        return Check(
            "WARN",
            "eviction",
            "unknown: the server refuses CONFIG GET maxmemory-policy",
            "make sure it is noeviction or volatile-*: durable memories have no TTL",
        )
    try:
        guard_eviction(caps, url, strict=True)
    except ConfigurationError as exc:  # the eviction guard's own words
        return Check("FAIL", "eviction", f"maxmemory-policy {policy}", str(exc))
    if policy == "noeviction":
        return Check(
            "OK",
            "eviction",
            "noeviction: nothing is evicted; writes fail loudly when maxmemory is reached",
        )
    return Check(
        "OK",
        "eviction",
        f"{policy}: only keys with a TTL (working memory, events, caches) can be evicted early",
    )


def _memory(facts: ServerFacts) -> Check:
    used, limit = facts.used_memory, facts.maxmemory
    if used is None:
        return Check("WARN", "memory", "unknown: INFO memory gave no used_memory")
    if not limit:
        return Check("OK", "memory", f"{_mib(used)} used, no maxmemory (bounded by the host)")
    share = used / limit
    finding = f"{_mib(used)} used of maxmemory {_mib(limit)} ({share:.0%})"
    advice = "raise maxmemory (CONFIG SET maxmemory ...) or forget old memories"
    if share >= 0.95:
        return Check("FAIL", "memory", finding, advice)
    if share >= 0.8:
        return Check("WARN", "memory", finding, advice)
    return Check("OK", "memory", finding)


def read_facts(client: redis.Redis, url: str, ns: str) -> ServerFacts:
    """Read what `assess` needs (timed PINGs, INFO, MODULE LIST, CONFIG GET, a SCAN count).

    Raises:
        BackendUnavailable: The server did not answer.
    """
    with TRANSLATE:
        t0 = time.perf_counter()
        client.ping()  # opens the connection
        t1 = time.perf_counter()
        client.ping()
        t2 = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        pipe.info()
        pipe.module_list()
        for name in ("maxmemory-policy", "appendonly", "appendfsync", "save"):
            pipe.config_get(name)
        replies = pipe.execute(raise_on_error=False)
    if isinstance(replies[0], rx.RedisError):
        raise translate(replies[0])
    # Managed services refuse CONFIG or MODULE: those facts become unknown, not errors.
    replies = [None if isinstance(r, rx.RedisError) else r for r in replies]
    info: dict[str, Any] = replies[0]
    caps = probe.capabilities(*replies)
    return ServerFacts(
        url=url,
        namespace=ns,
        connect_ms=(t1 - t0) * 1000,
        ping_ms=(t2 - t1) * 1000,
        capabilities=caps,
        used_memory=_int(info.get("used_memory")),
        maxmemory=_int(info.get("maxmemory")),
        namespace_keys=len(namespace_keys(client, ns)),
    )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def doctor_checks(url: str, ns: str, timeout: float = DEFAULT_TIMEOUT) -> list[Check]:
    """Everything `aether doctor` checks; an unreachable server is one FAIL line."""
    client = connect(url, timeout)
    try:
        try:
            facts = read_facts(client, url, ns)
        except AetherError as exc:
            return [
                Check(
                    "FAIL",
                    "connection",
                    f"{redacted(url)}: {exc}",
                    "start Redis (`aether up` for a local one), or pass --url / set AETHER_URL",
                )
            ]
        return assess(facts)
    finally:
        client.close()


# =============================================================================== inspect, search


@dataclass(frozen=True, slots=True)
class AgentReport:
    """What `aether inspect agent` shows."""

    agent: str
    identity: dict[str, str]
    state: dict[str, Any]
    sessions: list[SessionInfo]


@dataclass(frozen=True, slots=True)
class SessionReport:
    """What `aether inspect session` shows."""

    agent: str
    session: str
    meta: dict[str, Any]
    working: dict[str, Any]
    scratch: dict[str, Any]
    events: list[Event]
    checkpoints: list[CheckpointInfo]


def agent_report(mem: Memory, agent_id: str, sessions: int = 20) -> AgentReport:
    """An agent's identity documents, state and most recently active sessions.

    Raises:
        NotFound: The agent has no identity, state or session in the namespace.
    """
    agent = mem.agent(agent_id)
    report = AgentReport(
        agent=agent.id,
        identity=agent.identity.all(),
        state=agent.state.get(),
        sessions=agent.sessions(limit=sessions),
    )
    if not (report.identity or report.state or report.sessions):
        raise NotFound(f"agent {agent_id!r} has nothing stored in namespace {mem.namespace!r}")
    return report


def session_report(mem: Memory, agent_id: str, session_id: str, events: int = 20) -> SessionReport:
    """A session's meta, working memory, scratchpad, last events and checkpoints.

    Raises:
        NotFound: Nothing of the session is stored (never written, or expired).
    """
    session = mem.agent(agent_id).session(session_id)
    report = SessionReport(
        agent=agent_id,
        session=session.id,
        meta=session.meta(),
        working=session.working.all(),
        scratch=session.scratch.all(),
        events=session.events(limit=events),
        checkpoints=session.checkpoints(),
    )
    if not (report.meta or report.working or report.scratch or report.events or report.checkpoints):
        raise NotFound(
            f"no session {session_id!r} of agent {agent_id!r} in namespace {mem.namespace!r}"
        )
    return report


def search_memories(
    mem: Memory, query: str, k: int = 5, agent: str | None = None, kinds: Sequence[str] = ()
) -> list[Hit]:
    """Long-term recall over the namespace (or one agent's memories), best first.

    An admin's look does not count as an access: the memories' recall statistics (which
    feed nothing but `introspect`) are left alone.
    """
    scope = Filters(
        kinds=tuple(check_name(k_, "memory kind") for k_ in kinds),
        agents=() if agent is None else (check_name(agent, "agent id"),),
    )
    return mem.longterm.recall(query, k, scope, touch=False)


# =============================================================================== the commands

console = Console()
err = Console(stderr=True)

UrlOption = typer.Option(
    None,
    "--url",
    help="Redis URL. Default: AETHER_URL, MEMORY_REDIS_URL, REDIS_URL, REDIS_HOST/REDIS_PORT, "
    "the server of `aether up`, then redis://127.0.0.1:6379/0.",
)
NamespaceOption = typer.Option(
    None, "--namespace", "-n", help="Namespace (default: AETHER_NAMESPACE, else 'default')."
)

inspect_app = typer.Typer(
    help="Show what memory holds: an agent, a session, or one long-term memory.",
    no_args_is_help=True,
)
identity_app = typer.Typer(help="Manage agents' identity documents.", no_args_is_help=True)


@contextlib.contextmanager
def _reported() -> Iterator[None]:
    """Print the library's errors (and file errors) as one red line and exit 1."""
    try:
        yield
    except (AetherError, OSError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(code=1) from exc


def _when(ms: int | None) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _short(value: Any, width: int = 80) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    text = " ".join(text.split())
    return escape(text if len(text) <= width else text[: width - 1] + "…")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )


def search(
    query: str = typer.Argument(..., metavar="QUERY", help="What to look for, in plain words."),
    agent: str | None = typer.Option(None, "--agent", "-a", help="Only this agent's memories."),
    k: int = typer.Option(5, "--k", "-k", help="How many memories to show (1-1000)."),
    kind: list[str] = typer.Option(
        [], "--kind", help="Only memories of this kind (fact, episodic, ...); repeatable."
    ),
    url: str | None = UrlOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Recall long-term memories the way an agent would, with each score's components."""
    with _reported(), Memory.open(url, namespace=namespace) as mem:
        hits = search_memories(mem, query, k, agent, kind)
        if not hits:
            console.print(f"no memory in namespace {mem.namespace!r} matches {query!r}")
            return
        table = Table(title=f"recall {query!r} in namespace {mem.namespace!r}")
        for name in ("#", "score", "vector", "text", "exact", "recency", "importance"):
            table.add_column(name, justify="right")
        for name in ("kind", "agent", "id", "content"):
            table.add_column(name)
        for i, hit in enumerate(hits, start=1):
            r = hit.record
            table.add_row(
                str(i),
                f"{hit.score:.3f}",
                f"{hit.vector:.3f}",
                f"{hit.text:.3f}",
                f"{hit.exact:.2f}",
                f"{hit.recency:.2f}",
                f"{hit.importance:.2f}",
                r.kind,
                r.agent,
                r.id,
                _short(r.content, 120),
            )
        console.print(table)


@inspect_app.command("agent")
def inspect_agent(
    agent_id: str = typer.Argument(..., metavar="AGENT", help="The agent's id."),
    sessions: int = typer.Option(20, help="How many sessions to list, most recent first."),
    url: str | None = UrlOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """An agent's identity documents, its state and its sessions by last activity."""
    with _reported(), Memory.open(url, namespace=namespace) as mem:
        report = agent_report(mem, agent_id, sessions)
    console.print(f"[bold]agent {escape(report.agent)}[/bold] in namespace {mem.namespace!r}")
    identity = Table(title="identity documents")
    identity.add_column("name")
    identity.add_column("chars", justify="right")
    identity.add_column("text")
    for name, text in report.identity.items():
        identity.add_row(escape(name), str(len(text)), _short(text))
    state = Table(title="state")
    state.add_column("field")
    state.add_column("value")
    for name, value in sorted(report.state.items()):
        shown = _when(value) if name == "updated_at" and isinstance(value, int) else value
        state.add_row(escape(name), _short(shown))
    listed = Table(title="sessions, most recently active first")
    listed.add_column("session")
    listed.add_column("last active (UTC)")
    for info in report.sessions:
        listed.add_row(escape(info.id), _when(info.last_active))
    for table in (identity, state, listed):
        console.print(table if table.row_count else f"{table.title}: none")


@inspect_app.command("session")
def inspect_session(
    agent_id: str = typer.Argument(..., metavar="AGENT", help="The agent's id."),
    session_id: str = typer.Argument(..., metavar="SESSION", help="The session's id."),
    events: int = typer.Option(20, help="How many of the last events to show."),
    url: str | None = UrlOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """A session's working memory, scratchpad, last events and checkpoints."""
    with _reported(), Memory.open(url, namespace=namespace) as mem:
        report = session_report(mem, agent_id, session_id, events)
    meta = ", ".join(
        f"{k}: {_when(v) if k == 'created_at' else v}" for k, v in sorted(report.meta.items())
    )
    console.print(
        f"[bold]session {escape(report.session)}[/bold] of agent {escape(report.agent)} "
        f"in namespace {mem.namespace!r}" + (f" ({escape(meta)})" if meta else "")
    )
    tables = []
    for title, values in (("working memory", report.working), ("scratchpad", report.scratch)):
        table = Table(title=title)
        table.add_column("key")
        table.add_column("value")
        for key, value in sorted(values.items()):
            table.add_row(escape(key), _short(value, 100))
        tables.append(table)
    log = Table(title=f"last {len(report.events)} events, oldest first")
    for name in ("time (UTC)", "type", "outcome", "latency ms", "data"):
        log.add_column(name)
    for e in report.events:
        latency = "-" if e.latency_ms is None else f"{e.latency_ms:.1f}"
        log.add_row(_when(e.ts), escape(e.type), escape(e.outcome), latency, _short(e.data, 100))
    saved = Table(title="checkpoints")
    saved.add_column("n", justify="right")
    saved.add_column("created (UTC)")
    for c in report.checkpoints:
        saved.add_row(str(c.n), _when(c.created_at))
    for table in (*tables, log, saved):
        console.print(table if table.row_count else f"{table.title}: none")


@inspect_app.command("memory")
def inspect_memory(
    memory_id: str = typer.Argument(..., metavar="ID", help="The memory's id (from search)."),
    url: str | None = UrlOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """One long-term memory with all its fields."""
    with _reported(), Memory.open(url, namespace=namespace) as mem:
        record = mem.longterm.get(memory_id)
    table = Table(title=f"memory {record.id} in namespace {mem.namespace!r}")
    table.add_column("field")
    table.add_column("value")
    rows: list[tuple[str, Any]] = [
        ("content", record.content),
        ("kind", record.kind),
        ("agent", record.agent),
        ("session", record.session or "-"),
        ("importance", f"{record.importance:.2f}"),
        ("tags", ", ".join(record.tags) or "-"),
        ("source", record.source or "-"),
        ("metadata", record.metadata or "-"),
        ("related", ", ".join(record.related) or "-"),
        ("occurred at (UTC)", _when(record.occurred_at)),
        ("created at (UTC)", _when(record.created_at)),
        ("last accessed (UTC)", _when(record.last_accessed)),
        ("access count", str(record.access_count)),
    ]
    for name, value in rows:
        table.add_row(name, escape(value) if isinstance(value, str) else _short(value, 200))
    console.print(table)


def export_command(
    file: Path = typer.Argument(..., metavar="FILE.jsonl", help="Where to write the export."),
    url: str | None = UrlOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Export every key of a namespace (values, types, TTLs) to a JSON Lines file."""
    with _reported():
        target, ns = resolve_target(url, namespace)
        client = connect(target)
        partial = file.with_name(file.name + ".partial")
        try:
            with _progress() as bar, partial.open("w", encoding="utf-8") as fp:
                task = bar.add_task(f"export {ns}", total=None)
                n = export_namespace(
                    client,
                    ns,
                    fp,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            partial.replace(file)  # never leave half an export under the real name
        finally:
            client.close()
            partial.unlink(missing_ok=True)
    console.print(f"exported {n} keys of namespace {ns!r} from {redacted(target)} to {file}")


def import_command(
    file: Path = typer.Argument(
        ..., metavar="FILE.jsonl", exists=True, dir_okay=False, help="An `aether export` file."
    ),
    replace: bool = typer.Option(
        False,
        "--replace",
        help="Overwrite keys that already exist (keys the file does not hold are left alone).",
    ),
    url: str | None = UrlOption,
    namespace: str | None = typer.Option(
        None,
        "--namespace",
        "-n",
        help="Refuse the file unless it is an export of this namespace (default: take the "
        "file's namespace; keys keep the namespace they were exported from).",
    ),
) -> None:
    """Import an export file: every key with its value and TTL, then the search index."""
    with _reported():
        target = resolve_target(url, None)[0]
        client = connect(target)
        try:
            with _progress() as bar, file.open(encoding="utf-8") as fp:
                task = bar.add_task("import", total=None)
                header = import_namespace(
                    client,
                    fp,
                    replace=replace,
                    namespace=namespace,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            indexed = prepare_index(target, client, header.namespace)
        finally:
            client.close()
    console.print(
        f"imported {header.keys} keys into namespace {header.namespace!r} on "
        f"{redacted(target)} (exported {header.exported_at} from Redis {header.redis_version})"
        + ("; search index ready" if indexed else "")
    )


def doctor(
    url: str | None = UrlOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Check the server: connection, version, modules, persistence, eviction, memory.

    Exits with 1 when any check FAILs.
    """
    with _reported():
        target, ns = resolve_target(url, namespace)
        checks = doctor_checks(target, ns)
    style = {"OK": "green", "WARN": "yellow", "FAIL": "red"}
    table = Table(title=f"aether doctor: {redacted(target)}")
    table.add_column("status")
    table.add_column("check")
    table.add_column("finding")
    table.add_column("what to change")
    for c in checks:
        table.add_row(
            f"[{style[c.status]}]{c.status}[/]", c.name, escape(c.finding), escape(c.advice)
        )
    console.print(table)
    counts = {s: sum(c.status == s for c in checks) for s in style}
    console.print(", ".join(f"{n} {s}" for s, n in counts.items()))
    if counts["FAIL"]:
        raise typer.Exit(code=1)


@identity_app.command("load")
def identity_load(
    directory: Path = typer.Argument(
        ..., metavar="DIR", exists=True, file_okay=False, help="A folder of identity files."
    ),
    agent: str = typer.Option(..., "--agent", "-a", help="The agent whose identity to load."),
    pattern: str = typer.Option("*.md", help="Which files to load (each named by its stem)."),
    url: str | None = UrlOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Load identity documents (persona.md, mission.md, ...) into an agent's identity."""
    with _reported(), Memory.open(url, namespace=namespace) as mem:
        n = mem.agent(agent).identity.load_dir(directory, pattern)
        if not n:
            raise InvalidInput(f"no file in {directory} matches {pattern!r}; nothing loaded")
    names = ", ".join(sorted(p.stem for p in directory.glob(pattern)))
    console.print(
        f"loaded {n} documents ({escape(names)}) into the identity of agent {agent!r} "
        f"in namespace {mem.namespace!r}"
    )


def register(app: typer.Typer) -> None:
    """Add the admin commands to the `aether` app."""
    app.command()(search)
    app.add_typer(inspect_app, name="inspect")
    app.command("export")(export_command)
    app.command("import")(import_command)
    app.add_typer(identity_app, name="identity")
    app.command()(doctor)
