"""`aether export`: writing a namespace's records to an export file.

The store is read in pages through its ordinary reads, and each record written as the JSON
it holds (the file's format: `aether_memory.cli.export_format`).
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import IO, Any, Final

from aether_memory.cli.export_format import KINDS, ExportHeader, ProgressCallback, json_line
from aether_memory.client._sync.memory import Memory
from aether_memory.core import keys
from aether_memory.core.keys import SessionKeys
from aether_memory.storage.rows import EventRow

PAGE: Final = 500
"""Items read per round trip while exporting."""
SPOOL_BYTES: Final = 32 * 1024 * 1024
"""An export is assembled in memory up to this size, then in a temporary file (the header,
which counts the records, can only be written once every record is read)."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def export_namespace(mem: Memory, fp: IO[bytes], progress: ProgressCallback | None = None) -> int:
    """Write every record of `mem`'s namespace to `fp` (binary) as an aether export; returns
    how many records (header excluded). Reads in pages; not a snapshot: a write made during
    the export may or may not be in it.

    Raises:
        BackendUnavailable: The store could not be reached.
    """
    store, ns = mem.kernel.store, mem.namespace
    counts = dict.fromkeys(KINDS, 0)
    written = 0

    def emit(kind: str | None, record: dict[str, Any]) -> None:
        nonlocal written
        body.write(json_line(record))
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
    store, ns, decode = mem.kernel.store, mem.namespace, mem.kernel.codec.decode
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
    store, decode = mem.kernel.store, mem.kernel.codec.decode
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
        "metadata": mem.kernel.codec.decode(metadata) if metadata else {},
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
        "steps": mem.kernel.codec.decode(row["steps"]),
        "tags": [t for t in _text(row.get("tags", b"")).split(",") if t],
        "runs": int(row.get("runs", 0)),
        "successes": int(row.get("successes", 0)),
        "total_duration": float(row.get("total_duration", 0.0)),
        "memory_id": _text(row.get("memory_id", b"")) or None,
        "updated_at": int(row.get("updated_at", 0)),
    }
