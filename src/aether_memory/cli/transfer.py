"""Exporting a namespace to JSON Lines and importing it back, exactly.

This is the one place (with `doctor`'s key count) that walks a namespace with ``SCAN``; no
request path of the library enumerates keys.

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
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Final

import orjson
import redis
from redis import exceptions as rx

from aether_memory.backends.redis._sync.longterm import INDEX_VERSION
from aether_memory.backends.redis.errors import TRANSLATE, translate
from aether_memory.cli.target import in_namespace, namespace_keys
from aether_memory.client._sync.memory import Memory
from aether_memory.core import keys
from aether_memory.core.embeddings import Embedder
from aether_memory.core.errors import (
    AetherError,
    ConfigurationError,
    Conflict,
    InvalidInput,
)
from aether_memory.core.ids import check_name

if TYPE_CHECKING:
    from aether_memory.core.embeddings import Vectors

EXPORT_FORMAT: Final = "aether-export"
EXPORT_VERSION: Final = 1
BATCH_KEYS: Final = 256
"""Keys per round trip when dumping or restoring."""
BATCH_BYTES: Final = 8 * 1024 * 1024
"""Payload bytes per RESTORE round trip (a few large keys fill a batch early)."""
SPOOL_BYTES: Final = 32 * 1024 * 1024
"""An export is assembled in memory up to this size, then in a temporary file (the header,
which counts the keys, can only be written once every key is dumped)."""
INDEX_WAIT: Final = 60.0
"""Seconds `prepare_index` waits for the Query Engine to index the imported memories."""

ProgressCallback = Callable[[int, int], None]
"""A progress callback: ``(done, total)``."""


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
