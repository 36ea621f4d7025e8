"""Moving a namespace between stores: a logical export in JSON Lines, and its import.

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

An import checks the whole file before it writes anything; then it writes one unit at a time
(an agent, a session with its events and checkpoints, a batch of memories, a skill), each
one transaction that replaces what it names, and records in a journal beside the file how
many records are written. If it stops, the error says exactly what was written, and the same
import with ``resume`` carries on from there. The version 1 format (raw Redis ``DUMP``
payloads) is refused: a crafted payload can crash the server that restores it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

import orjson

from aether_memory.client._sync.memory import Memory
from aether_memory.client.records import content_hash, when_text
from aether_memory.core import keys
from aether_memory.core.errors import AetherError, Conflict, InvalidInput
from aether_memory.core.ids import check_name, check_tag
from aether_memory.core.keys import SessionKeys
from aether_memory.storage.rows import CheckpointRow, EventRow

EXPORT_FORMAT: Final = "aether-export"
EXPORT_VERSION: Final = 2
PAGE: Final = 500
"""Items read per round trip while exporting."""
MEMORY_BATCH: Final = 256
"""Memories written per transaction while importing."""
SPOOL_BYTES: Final = 32 * 1024 * 1024
"""An export is assembled in memory up to this size, then in a temporary file (the header,
which counts the records, can only be written once every record is read)."""
MAX_LINE_BYTES: Final = 64 * 1024 * 1024
KINDS: Final = ("agents", "sessions", "events", "checkpoints", "memories", "skills")
_TRACE_ID: Final = re.compile("[0-9a-f]{32}")

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
        return _json_line(
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


@dataclass(slots=True)
class ImportReport:
    """What an import wrote: the header of its file and the records written, by kind."""

    header: ExportHeader
    namespace: str
    written: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    records_done: int = 0
    resumed_from: int = 0

    def summary(self) -> str:
        parts = ", ".join(f"{n} {kind}" for kind, n in self.written.items() if n)
        return parts or "nothing"


class ImportStopped(AetherError):
    """An import stopped part-way; `report` says exactly what was written."""

    code = "import_stopped"

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


def _json_line(data: Mapping[str, Any]) -> bytes:
    return orjson.dumps(data) + b"\n"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# ================================================================================== export


def export_namespace(mem: Memory, fp: IO[bytes], progress: ProgressCallback | None = None) -> int:
    """Write every record of `mem`'s namespace to `fp` (binary) as an aether export; returns
    how many records (header excluded). Reads in pages; not a snapshot: a write made during
    the export may or may not be in it.

    Raises:
        BackendUnavailable: The store could not be reached.
    """
    store, ns = mem._store, mem.namespace
    counts = dict.fromkeys(KINDS, 0)
    written = 0

    def emit(kind: str | None, record: dict[str, Any]) -> None:
        nonlocal written
        body.write(_json_line(record))
        written += 1
        if kind is not None:
            counts[kind] += 1
        if progress is not None and written % 100 == 0:
            progress(written, 0)

    with tempfile.SpooledTemporaryFile(SPOOL_BYTES, mode="w+b") as body:
        for agent in store.agents(ns):
            _export_agent(mem, agent, emit)
        after: str | None = None
        while True:
            rows = store.longterm.page(ns, after, PAGE)
            for memory_id, row in rows:
                if row is not None:
                    emit("memories", _memory_record(mem, memory_id, row))
            if len(rows) < PAGE:
                break
            after = rows[-1][0]
        name: str | None = None
        while True:
            names = store.longterm.skill_names(ns, name, PAGE)
            for raw in store.longterm.skill_get(ns, names) if names else []:
                if raw is not None:
                    emit("skills", _skill_record(mem, raw))
            if len(names) < PAGE:
                break
            name = names[-1]
        embedder = store.cache_get(keys.embedder(ns))
        caps = store.capabilities
        header = ExportHeader(
            namespace=ns,
            records=written,
            counts=counts,
            exported_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            source=f"{caps.backend} {caps.server_version}",
            embedder=None if embedder is None else _text(embedder),
        )
        fp.write(header.line())
        body.seek(0)
        shutil.copyfileobj(body, fp)
    if progress is not None:
        progress(written, written)
    return written


def _export_agent(
    mem: Memory, agent: str, emit: Callable[[str | None, dict[str, Any]], None]
) -> None:
    store, ns, decode = mem._store, mem.namespace, mem._codec.decode
    emit(
        "agents",
        {
            "type": "agent",
            "agent": agent,
            "identity": {k: decode(v) for k, v in sorted(store.identity_all(ns, agent).items())},
            "state": {k: decode(v) for k, v in sorted(store.state_get(ns, agent).items())},
        },
    )
    before: tuple[int, str] | None = None
    while True:
        sessions = store.sessions_page(ns, agent, before, PAGE)
        for sid, last_active in sessions:
            _export_session(mem, SessionKeys.build(ns, agent, sid), last_active, emit)
        if len(sessions) < PAGE:
            return
        before = (sessions[-1][1], sessions[-1][0])


def _export_session(
    mem: Memory,
    s: SessionKeys,
    last_active: int,
    emit: Callable[[str | None, dict[str, Any]], None],
) -> None:
    store, decode = mem._store, mem._codec.decode
    meta = {k: _text(v) for k, v in store.session_meta(s).items() if k != "agent"}
    working, scratch = store.hash_all(s, "working"), store.hash_all(s, "scratch")
    tools = store.tools_get_or_put(s, None, None)
    events: list[EventRow] = []
    after: str | None = None
    while True:
        page = store.events_page(s, after, PAGE)
        events += [row for _, row in page]
        if len(page) < PAGE:
            break
        after = page[-1][0]
    unique: dict[str, EventRow] = {}
    for event in events:
        unique.setdefault(event[0], event)  # a retried XADD can have stored an event twice
    events = list(unique.values())
    checkpoints = []
    for n, created_at in store.checkpoint_list(s):
        found = store.checkpoint_load(s, n)
        if found is not None:
            checkpoints.append((n, created_at, found[1]))
    if not (meta or working or scratch or tools or events or checkpoints):
        return  # expired: only its entry in the agent's index was left
    session: dict[str, Any] = {
        "type": "session",
        "agent": s.agent,
        "session": s.sid,
        "last_active": last_active,
        "meta": meta,
        "working": {k: decode(v) for k, v in sorted(working.items())},
        "scratch": {k: decode(v) for k, v in sorted(scratch.items())},
        "events": len(events),
        "checkpoints": len(checkpoints),
    }
    if tools is not None:
        session["tool_schema"] = decode(tools)
    emit("sessions", session)
    for event_id, type_, outcome, ts, latency_ms, data, trace in events:
        line = {"type": "event", "id": event_id, "event_type": type_, "outcome": outcome,
                "ts": ts, "latency_ms": latency_ms, "data": decode(data)}  # fmt: skip
        if trace is not None:
            line["trace_id"] = trace
        emit("events", line)
    for n, created_at, state in checkpoints:
        emit(
            "checkpoints",
            {"type": "checkpoint", "n": n, "created_at": created_at, "state": decode(state)},
        )


def _memory_record(mem: Memory, memory_id: str, row: Mapping[str, Any]) -> dict[str, Any]:
    def get(name: str, default: Any) -> Any:
        value = row.get(name)
        return default if value is None else value

    metadata = row.get("metadata")
    embedding = row.get("embedding")
    return {
        "type": "memory",
        "id": memory_id,
        "content": _text(get("content", "")),
        "kind": _text(get("kind", "fact")),
        "agent": _text(get("agent", "")),
        "session": _text(get("session", "")) or None,
        "tags": [t for t in _text(get("tags", "")).split(",") if t],
        "source": _text(get("source", "")) or None,
        "importance": float(get("importance", 0.5)),
        "occurred_at": int(float(get("occurred_at", 0))),
        "created_at": int(float(get("created_at", 0))),
        "last_accessed": int(float(get("last_accessed", 0))),
        "access_count": int(float(get("access_count", 0))),
        "related": [r for r in _text(get("related", "")).split(",") if r],
        "metadata": mem._codec.decode(metadata) if metadata else {},
        "embedding": None if embedding is None else base64.b64encode(embedding).decode("ascii"),
        "expires_at": row.get("expires_at"),
        # A correction's links (absent from files written before corrections existed).
        "supersedes": _text(get("supersedes", "")) or None,
        "superseded_by": _text(get("superseded_by", "")) or None,
        "superseded_at": None if not row.get("superseded_at") else int(float(row["superseded_at"])),
    }


def _skill_record(mem: Memory, row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "skill",
        "name": _text(row["name"]),
        "description": _text(row["description"]),
        "steps": mem._codec.decode(row["steps"]),
        "tags": [t for t in _text(row.get("tags", b"")).split(",") if t],
        "runs": int(row.get("runs", 0)),
        "successes": int(row.get("successes", 0)),
        "total_duration": float(row.get("total_duration", 0.0)),
        "memory_id": _text(row.get("memory_id", b"")) or None,
        "updated_at": int(row.get("updated_at", 0)),
    }


# ================================================================================== import


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """The file's lines as bytes, numbered from 1 (blank lines skipped)."""
    with path.open("rb") as fp:
        for lineno, line in enumerate(fp, start=1):
            if len(line) > MAX_LINE_BYTES:
                raise InvalidInput(f"line {lineno} of {path} is over {MAX_LINE_BYTES} bytes")
            if line.strip():
                yield lineno, line


def _load_json(line: bytes, lineno: int) -> Any:
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
        data = _load_json(first, 1)
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
    if not isinstance(records, int) or not _count(records) or not isinstance(counts, dict):
        raise InvalidInput("the export header's `records` and `counts` must be counts")
    if set(counts) != set(KINDS) or not all(_count(v) for v in counts.values()):
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


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class _Checker:
    """Validates records one by one (pure), turning each into what the store writes."""

    def __init__(self, header: ExportHeader) -> None:
        self.dims = int(header.embedder.rpartition("|")[2]) if header.embedder else None
        self.counts = dict.fromkeys(KINDS, 0)
        self.session_left = (0, 0)  # events, checkpoints still expected for the last session
        self.sessions: set[tuple[str, str]] = set()
        self.ids: set[str] = set()

    def check(self, data: Any, lineno: int) -> tuple[str, dict[str, Any]]:
        where = f"line {lineno}"
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise InvalidInput(f"{where} is not a record (a JSON object with a `type`)")
        kind = data["type"]
        try:
            checked = getattr(self, "_" + kind)(data) if kind in _RECORD_TYPES else None
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            if isinstance(exc, InvalidInput):
                raise InvalidInput(f"{where} ({kind}): {exc}") from exc
            raise InvalidInput(f"{where} is not a valid {kind} record: {exc!r}") from exc
        if checked is None:
            raise InvalidInput(f"{where} has an unknown record type {kind!r}")
        return kind, checked

    def finish(self, header: ExportHeader) -> None:
        if self.session_left != (0, 0):
            raise InvalidInput("the last session lacks some of its events or checkpoints")
        if self.counts != header.counts:
            raise InvalidInput(
                f"the file holds {self.counts} but its header announces {header.counts}: it "
                "is truncated or was edited"
            )

    def _expect(self, kind: str) -> None:
        events, checkpoints = self.session_left
        if kind == "events" and events > 0:
            self.session_left = (events - 1, checkpoints)
        elif kind == "checkpoints" and events == 0 and checkpoints > 0:
            self.session_left = (0, checkpoints - 1)
        elif kind in ("events", "checkpoints") or self.session_left != (0, 0):
            raise InvalidInput("a session's events and checkpoints must follow its session line")
        self.counts[kind] += 1

    def _agent(self, d: dict[str, Any]) -> dict[str, Any]:
        self._expect("agents")
        if not isinstance(d["identity"], dict) or not isinstance(d["state"], dict):
            raise TypeError("identity and state must be objects")
        for name, text in d["identity"].items():
            check_name(name, "identity document name")
            if not isinstance(text, str):
                raise TypeError(f"identity document {name!r} must be text")
        for name in d["state"]:
            check_name(name, "state field")
        return {"agent": check_name(d["agent"], "agent id"), "identity": d["identity"],
                "state": d["state"]}  # fmt: skip

    def _session(self, d: dict[str, Any]) -> dict[str, Any]:
        self._expect("sessions")
        agent, sid = check_name(d["agent"], "agent id"), check_name(d["session"], "session id")
        if (agent, sid) in self.sessions:
            raise ValueError(f"session {agent}/{sid} appears twice")
        self.sessions.add((agent, sid))
        meta = d["meta"]
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise TypeError("meta must be an object of text values")
        for name in ("created_at", "checkpoint_seq"):
            if name in meta and not meta[name].isdigit():
                raise ValueError(f"meta {name} must be a whole number")
        for name in meta:
            check_name(name, "meta field")
        for hash_name in ("working", "scratch"):
            if not isinstance(d[hash_name], dict):
                raise TypeError(f"{hash_name} must be an object")
            for key in d[hash_name]:
                if not isinstance(key, str) or not key or len(key) > 1024:
                    raise ValueError(f"{hash_name} keys must be 1-1024 characters")
        if not (_count(d["last_active"]) and _count(d["events"]) and _count(d["checkpoints"])):
            raise ValueError("last_active, events and checkpoints must be counts")
        self.session_left = (d["events"], d["checkpoints"])
        return {**d, "agent": agent, "session": sid}

    def _event(self, d: dict[str, Any]) -> dict[str, Any]:
        self._expect("events")
        check_name(d["id"], "event id")
        check_name(d["event_type"], "event type")
        check_name(d["outcome"], "outcome")
        latency = d["latency_ms"]
        if not _count(d["ts"]) or not (latency is None or isinstance(latency, int | float)):
            raise ValueError("ts must be ms and latency_ms a number or null")
        trace = d.get("trace_id")
        if trace is not None and not (isinstance(trace, str) and _TRACE_ID.fullmatch(trace)):
            raise ValueError("trace_id must be 32 lowercase hex digits or absent")
        return d

    def _checkpoint(self, d: dict[str, Any]) -> dict[str, Any]:
        self._expect("checkpoints")
        if not (_count(d["n"]) and d["n"] >= 1 and _count(d["created_at"])) or "state" not in d:
            raise ValueError("a checkpoint needs a number n >= 1, created_at and a state")
        return d

    def _memory(self, d: dict[str, Any]) -> dict[str, Any]:
        self._expect("memories")
        memory_id = check_name(d["id"], "memory id")
        if memory_id in self.ids:
            raise ValueError(f"memory {memory_id} appears twice")
        self.ids.add(memory_id)
        if not isinstance(d["content"], str) or not d["content"].strip():
            raise ValueError("content must be non-empty text")
        check_name(d["kind"], "memory kind")
        check_name(d["agent"], "agent id")
        if d["session"] is not None:
            check_name(d["session"], "session id")
        for tag in d["tags"]:
            check_tag(tag)
        for other in d["related"]:
            check_name(other, "related memory id")
        if not isinstance(d["metadata"], dict) or not isinstance(d["importance"], int | float):
            raise TypeError("metadata must be an object and importance a number")
        if not 0 <= d["importance"] <= 1:
            raise ValueError("importance must be between 0 and 1")
        for name in ("occurred_at", "created_at", "last_accessed", "access_count"):
            if not _count(d[name]):
                raise ValueError(f"{name} must be a count")
        if d["expires_at"] is not None and not _count(d["expires_at"]):
            raise ValueError("expires_at must be ms or null")
        for name in ("supersedes", "superseded_by"):
            if d.get(name) is not None:
                check_name(d[name], "memory id")
        if d.get("superseded_at") is not None and not _count(d["superseded_at"]):
            raise ValueError("superseded_at must be ms or null")
        vector = base64.b64decode(d["embedding"] or "", validate=True)
        if self.dims is None or len(vector) != 4 * self.dims:
            raise ValueError(
                f"the embedding holds {len(vector) // 4} numbers, not the {self.dims} of the "
                "export's embedder"
            )
        return {**d, "embedding": vector}

    def _skill(self, d: dict[str, Any]) -> dict[str, Any]:
        self._expect("skills")
        check_name(d["name"], "skill name")
        if not isinstance(d["description"], str) or not isinstance(d["steps"], list):
            raise TypeError("description must be text and steps a list")
        for tag in d["tags"]:
            check_tag(tag)
        if not (_count(d["runs"]) and _count(d["successes"]) and _count(d["updated_at"])):
            raise ValueError("runs, successes and updated_at must be counts")
        if not isinstance(d["total_duration"], int | float) or d["total_duration"] < 0:
            raise ValueError("total_duration must be a non-negative number")
        if d["memory_id"] is not None:
            check_name(d["memory_id"], "memory id")
        return d


_PLURAL: Final = {
    "agent": "agents", "session": "sessions", "event": "events", "checkpoint": "checkpoints",
    "memory": "memories", "skill": "skills",
}  # fmt: skip
_RECORD_TYPES = frozenset(_PLURAL)


def _checked(path: Path) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Every record of the file after the header, validated."""
    lines = _lines(path)
    first = next(lines, None)
    header = read_header(b"" if first is None else first[1])
    checker = _Checker(header)
    for lineno, line in lines:
        kind, record = checker.check(_load_json(line, lineno), lineno)
        yield lineno, kind, record
    checker.finish(header)


def journal_path(path: Path) -> Path:
    """Where an import of `path` records its progress."""
    return path.with_name(path.name + ".import-state")


def import_namespace(
    mem: Memory,
    path: Path,
    *,
    replace: bool = False,
    resume: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import an export file into `mem`'s namespace (whichever it was exported from).

    The whole file is checked first (every line decoded and validated, the counts the header
    announces); nothing is written if anything is wrong. Unless `replace` or `resume`, the
    namespace must be empty. Then each unit is written in one transaction, replacing items
    with the same ids, and the journal beside the file records the records done.

    Raises:
        InvalidInput: The file is not a valid export (nothing was written).
        Conflict: The namespace already holds data and neither `replace` nor `resume` was
            given (nothing was written).
        ImportStopped: A write failed part-way; its report says what was written, and the
            same import with `resume` continues from there.
    """
    with path.open("rb") as fp:
        first = fp.readline()
    header = read_header(first)
    digest = hashlib.sha256(first).hexdigest()
    for _ in _checked(path):
        pass
    ns = mem.namespace
    journal = journal_path(path)
    report = ImportReport(header, ns)
    if resume:
        report.resumed_from = _read_journal(journal, digest, ns)
    elif not replace and _holds_data(mem):
        raise Conflict(
            f"namespace {ns!r} already holds data; nothing was written. Import into an empty "
            "namespace (-n), erase this one first, or pass --replace to overwrite the items "
            "the file names"
        )
    try:
        _write(mem, path, header, report, journal, digest, progress)
    except AetherError as exc:
        raise ImportStopped(
            f"the import stopped after {report.records_done} of {header.records} records "
            f"({report.summary()} written into namespace {ns!r}): {exc}. Run the same import "
            "with --resume to continue",
            report,
        ) from exc
    journal.unlink(missing_ok=True)
    return report


def _holds_data(mem: Memory) -> bool:
    store, ns = mem._store, mem.namespace
    return bool(
        store.agents(ns)
        or store.longterm.page(ns, None, 1)
        or store.longterm.skill_names(ns, None, 1)
    )


def _read_journal(journal: Path, digest: str, ns: str) -> int:
    try:
        state = orjson.loads(journal.read_bytes())
    except FileNotFoundError:
        return 0  # it never started, or it finished
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read the import journal {journal}: {exc}") from exc
    if state.get("header") != digest or state.get("namespace") != ns:
        raise InvalidInput(
            f"the import journal {journal} belongs to another file or namespace; remove it to "
            "start over"
        )
    done = state.get("records_done")
    if not _count(done):
        raise InvalidInput(f"the import journal {journal} is damaged; remove it to start over")
    return int(done)


def _save_journal(journal: Path, digest: str, report: ImportReport) -> None:
    partial = journal.with_name(journal.name + ".partial")
    partial.write_bytes(
        orjson.dumps(
            {"header": digest, "namespace": report.namespace,
             "records_done": report.records_done, "written": report.written}
        )
    )  # fmt: skip
    os.replace(partial, journal)


def _write(
    mem: Memory,
    path: Path,
    header: ExportHeader,
    report: ImportReport,
    journal: Path,
    digest: str,
    progress: ProgressCallback | None,
) -> None:
    store, ns, encode = mem._store, mem.namespace, mem._codec.encode
    if header.embedder is not None and header.counts["memories"]:
        model, _, dims = header.embedder.rpartition("|")
        store.longterm.setup(ns, int(dims), model)  # refuses another embedder's namespace
    pending: list[tuple[str, dict[str, Any]]] = []  # one unit's records
    done_at = report.resumed_from

    def commit() -> None:
        if not pending:
            return
        kind = pending[0][0]
        if kind == "agent":
            _write_agent(mem, pending[0][1])
        elif kind == "session":
            _write_session(mem, pending)
        elif kind == "memory":
            rows = [_memory_row(ns, r, encode) for _, r in pending]
            store.longterm.load(ns, rows)
        else:
            _write_skill(mem, pending[0][1])
        for k, _ in pending:
            report.written[_PLURAL[k]] += 1
        report.records_done += len(pending)
        pending.clear()
        _save_journal(journal, digest, report)
        if progress is not None:
            progress(report.records_done, header.records)

    report.records_done = done_at
    for position, (_, kind, record) in enumerate(_checked(path), start=1):
        if position <= done_at:
            continue
        batch_full = len(pending) >= MEMORY_BATCH or (pending and pending[0][0] != "memory")
        if kind in ("agent", "session", "skill") or (kind == "memory" and batch_full):
            commit()
        pending.append((kind, record))
    commit()


def _write_agent(mem: Memory, record: dict[str, Any]) -> None:
    store, ns, encode = mem._store, mem.namespace, mem._codec.encode
    agent = record["agent"]
    docs = {name: encode(text) for name, text in record["identity"].items()}
    if docs:
        store.identity_put(ns, agent, docs)
    state = {name: encode(value) for name, value in record["state"].items()}
    if state:
        store.state_put(ns, agent, state)
    # An agent with neither is registered by its sessions, which carry it.


def _write_session(mem: Memory, records: list[tuple[str, dict[str, Any]]]) -> None:
    store, encode = mem._store, mem._codec.encode
    head = records[0][1]
    s = SessionKeys.build(mem.namespace, head["agent"], head["session"])
    events: list[EventRow] = []
    checkpoints: list[CheckpointRow] = []
    for kind, r in records[1:]:
        if kind == "event":
            events.append((r["id"], r["event_type"], r["outcome"], r["ts"], r["latency_ms"],
                           encode(r["data"]), r.get("trace_id")))  # fmt: skip
        else:
            checkpoints.append((r["n"], r["created_at"], encode(r["state"])))
    meta = {k: v.encode() for k, v in head["meta"].items()}
    if checkpoints and int(meta.get("checkpoint_seq", b"0")) < checkpoints[-1][0]:
        meta["checkpoint_seq"] = str(max(n for n, _, _ in checkpoints)).encode()
    hashes = {
        name: {k: encode(v) for k, v in head[name].items()} for name in ("working", "scratch")
    }
    tools = encode(head["tool_schema"]) if "tool_schema" in head else None
    store.session_load(s, meta, head["last_active"], hashes, tools, events, checkpoints,
                       mem._ttls)  # fmt: skip
    mem._opened.forget(s)


def _memory_row(
    ns: str, r: dict[str, Any], encode: Callable[[Any], bytes]
) -> tuple[str, dict[str, Any], int | None]:
    fields: dict[str, Any] = {
        "content": r["content"],
        "when": when_text(r["occurred_at"]),
        "kind": r["kind"],
        "agent": r["agent"],
        "session": r["session"] or "",
        "tags": ",".join(r["tags"]),
        "source": r["source"] or "",
        "importance": float(r["importance"]),
        "occurred_at": r["occurred_at"],
        "created_at": r["created_at"],
        "last_accessed": r["last_accessed"],
        "access_count": r["access_count"],
        "related": ",".join(r["related"]),
        "metadata": encode(r["metadata"]),
        "hash": content_hash(r["agent"], r["kind"], r["content"]),
        "embedding": r["embedding"],
        "v": 1,
    }
    for name in ("supersedes", "superseded_by", "superseded_at"):
        if r.get(name) is not None:
            fields[name] = r[name]
    return r["id"], fields, r["expires_at"]


def _write_skill(mem: Memory, r: dict[str, Any]) -> None:
    fields = {
        "name": r["name"],
        "description": r["description"],
        "steps": mem._codec.encode(r["steps"]),
        "tags": ",".join(r["tags"]),
        "memory_id": r["memory_id"] or "",
        "updated_at": r["updated_at"],
        "runs": r["runs"],
        "successes": r["successes"],
        "total_duration": float(r["total_duration"]),
    }
    ttl = mem.options.ttl.skills
    mem._store.longterm.skill_put(
        mem.namespace, r["name"], fields, None if ttl is None else int(ttl * 1000)
    )
