"""The aether export file: a namespace as JSON Lines, its header, and reading its lines.

Every backend writes and reads the same file (Redis with or without modules, SQLite), so a
namespace moves Redis → SQLite → Redis unchanged. Values are written as the JSON they hold,
never as a server's internal encoding: an import decodes every line, checks it, and writes it
back through the store's ordinary writes (``HSET``, ``XADD``, ``ZADD``; SQLite rows), so no
file — damaged or crafted — can hand a server bytes it would have to trust.

Format (UTF-8, one JSON object per line)::

    {"format": "aether-export", "version": 2, "namespace": "default",
     "exported_at": "2026-05-01T12:00:00Z", "source": "redis 8.2.3",
     "embedder": "all-MiniLM-L6-v2|384", "records": 5,
     "counts": {"agents": 1, "sessions": 1, "events": 1, "checkpoints": 1, "memories": 1,
                "skills": 0}}
    {"type": "agent", "agent": "planner", "identity": {"mission": "..."}, "state": {...}}
    {"type": "session", "agent": "planner", "session": "s1", "last_active": 1714564800000,
     "meta": {"created_at": "1714564700000"}, "working": {"goal": "..."}, "scratch": {},
     "tool_schema": [...], "events": 1, "checkpoints": 1}
    {"type": "event", "id": "01H...", "event_type": "step", "outcome": "success",
     "ts": 1714564800000, "latency_ms": null, "data": {...}, "trace_id": "4bf9..."}
    {"type": "checkpoint", "n": 1, "created_at": 1714564800000, "state": {...}}
    {"type": "memory", "id": "01H...", "content": "...", "kind": "fact", "agent": "planner",
     "embedding": "<base64 float32>", "expires_at": 1722340800000, ...}
    {"type": "skill", "name": "rollback", "description": "...", "steps": [...], "runs": 1, ...}

A session's events and checkpoints follow its ``session`` line. Times are milliseconds since
the epoch; a memory keeps its absolute expiry, while working memory, events and checkpoints
start their TTLs afresh at import. Tool-result caches are not exported (they are caches).

Written by `aether_memory.cli.export`; its records are checked by
`aether_memory.cli.export_checks` and written by `aether_memory.cli.importer`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from aether_memory.core.errors import InvalidInput
from aether_memory.core.ids import check_name

EXPORT_FORMAT: Final = "aether-export"
EXPORT_VERSION: Final = 2
MAX_LINE_BYTES: Final = 64 * 1024 * 1024
KINDS: Final = ("agents", "sessions", "events", "checkpoints", "memories", "skills")
"""What the header counts, in the order of the file."""
PLURAL: Final = {
    "agent": "agents", "session": "sessions", "event": "events", "checkpoint": "checkpoints",
    "memory": "memories", "skill": "skills",
}  # fmt: skip
"""The kind (one of `KINDS`) each record type counts as."""

ProgressCallback = Callable[[int, int], None]
"""A progress callback: ``(done, total)``."""


@dataclass(frozen=True, slots=True)
class ExportHeader:
    """The first line of an export file."""

    namespace: str
    records: int
    counts: dict[str, int]
    exported_at: str
    source: str = ""
    embedder: str | None = None
    version: int = EXPORT_VERSION

    def line(self) -> bytes:
        return json_line(
            {
                "format": EXPORT_FORMAT,
                "version": self.version,
                "namespace": self.namespace,
                "exported_at": self.exported_at,
                "source": self.source,
                "embedder": self.embedder,
                "records": self.records,
                "counts": self.counts,
            }
        )


def json_line(data: Mapping[str, Any]) -> bytes:
    """One line of the file: `data` as JSON, with its newline."""
    return orjson.dumps(data) + b"\n"


def is_count(value: Any) -> bool:
    """Is `value` a whole number >= 0 (and not a bool)?"""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """The file's lines as bytes, numbered from 1 (blank lines skipped).

    Raises:
        InvalidInput: A line is over `MAX_LINE_BYTES`.
    """
    with path.open("rb") as fp:
        for lineno, line in enumerate(fp, start=1):
            if len(line) > MAX_LINE_BYTES:
                raise InvalidInput(f"line {lineno} of {path} is over {MAX_LINE_BYTES} bytes")
            if line.strip():
                yield lineno, line


def load_json(line: bytes, lineno: int) -> Any:
    """Decode line `lineno` of the file.

    Raises:
        InvalidInput: The line is not UTF-8 JSON.
    """
    if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]  # a UTF-8 byte-order mark some editors add
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"line {lineno} is not UTF-8 ({exc.reason} at byte {exc.start}); an aether export "
            "is UTF-8 JSON Lines"
        ) from exc
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"line {lineno} is not JSON: {exc}") from exc


def read_header(first: bytes) -> ExportHeader:
    """Parse the first line of an export file.

    Raises:
        InvalidInput: The line is not an aether export header, is the old raw format, or of
            an unknown version.
    """
    if first[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in first[:200]:
        raise InvalidInput(
            "the file is UTF-16 (or another encoding with NUL bytes), not UTF-8: an aether "
            "export is UTF-8 JSON Lines. Convert it back (e.g. `iconv -f UTF-16 -t UTF-8`) "
            "or export the namespace again"
        )
    what = (
        f"not an aether export: the first line must be the JSON header "
        f'{{"format": "{EXPORT_FORMAT}", "version": {EXPORT_VERSION}, ...}}'
    )
    if not first.strip():
        raise InvalidInput(f"{what}; the file is empty")
    try:
        data = load_json(first, 1)
    except InvalidInput as exc:
        raise InvalidInput(f"{what}; {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise InvalidInput(what)
    if data.get("version") == 1:
        raise InvalidInput(
            "this file is a version 1 aether export, made of raw Redis DUMP payloads, which "
            "this version no longer imports: a damaged or crafted payload can crash the server "
            "that restores it. Export the namespace again with this version (`aether export`), "
            "which writes the logical format that every store can read"
        )
    if data.get("version") != EXPORT_VERSION:
        raise InvalidInput(
            f"aether export version {data.get('version')!r} is not supported: this aether "
            f"reads version {EXPORT_VERSION}"
        )
    records, counts = data.get("records"), data.get("counts")
    if not isinstance(records, int) or not is_count(records) or not isinstance(counts, dict):
        raise InvalidInput("the export header's `records` and `counts` must be counts")
    if set(counts) != set(KINDS) or not all(is_count(v) for v in counts.values()):
        raise InvalidInput(f"the export header's `counts` must count each of {', '.join(KINDS)}")
    embedder = data.get("embedder")
    if embedder is not None:
        model, _, dims = str(embedder).rpartition("|")
        if not model or not dims.isdigit() or not 1 <= int(dims) <= 8192:
            raise InvalidInput(f"the export header's embedder {embedder!r} is not 'model|dims'")
    return ExportHeader(
        namespace=check_name(data.get("namespace"), "the export's namespace"),
        records=records,
        counts=dict(counts),
        exported_at=str(data.get("exported_at", "")),
        source=str(data.get("source", "")),
        embedder=None if embedder is None else str(embedder),
    )
