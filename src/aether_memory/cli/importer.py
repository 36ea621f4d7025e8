"""`aether import`: writing an export file into a namespace, checked first, resumable.

An import checks the whole file before it writes anything (`aether_memory.cli.export_checks`);
then it writes one unit at a time (an agent, a session with its events and checkpoints, a batch
of memories, a skill), each one transaction that replaces what it names, and records in a
journal beside the file how many records are written (`aether_memory.cli.import_journal`). If
it stops, the error says exactly what was written, and the same import with ``resume`` carries
on from there. The version 1 format (raw Redis ``DUMP`` payloads) is refused: a crafted payload
can crash the server that restores it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aether_memory.cli.export_checks import checked_records
from aether_memory.cli.export_format import (
    KINDS,
    PLURAL,
    ExportHeader,
    ProgressCallback,
    read_header,
)
from aether_memory.cli.import_journal import journal_path, read_journal, save_journal
from aether_memory.client._sync.memory import Memory
from aether_memory.client.records import content_hash, when_text
from aether_memory.core.errors import AetherError, Conflict
from aether_memory.core.keys import SessionKeys
from aether_memory.storage.rows import CheckpointRow, EventRow

MEMORY_BATCH: Final = 256
"""Memories written per transaction while importing."""


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
    for _ in checked_records(path):
        pass
    ns = mem.namespace
    journal = journal_path(path)
    report = ImportReport(header, ns)
    if resume:
        report.resumed_from = read_journal(journal, digest, ns)
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
    store, ns = mem.kernel.store, mem.namespace
    return bool(
        store.agents(ns)
        or store.longterm.page(ns, None, 1)
        or store.longterm.skill_names(ns, None, 1)
    )


def _write(
    mem: Memory,
    path: Path,
    header: ExportHeader,
    report: ImportReport,
    journal: Path,
    digest: str,
    progress: ProgressCallback | None,
) -> None:
    store, ns, encode = mem.kernel.store, mem.namespace, mem.kernel.codec.encode
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
            report.written[PLURAL[k]] += 1
        report.records_done += len(pending)
        pending.clear()
        save_journal(journal, digest, report.namespace, report.records_done, report.written)
        if progress is not None:
            progress(report.records_done, header.records)

    report.records_done = done_at
    for position, (_, kind, record) in enumerate(checked_records(path), start=1):
        if position <= done_at:
            continue
        batch_full = len(pending) >= MEMORY_BATCH or (pending and pending[0][0] != "memory")
        if kind in ("agent", "session", "skill") or (kind == "memory" and batch_full):
            commit()
        pending.append((kind, record))
    commit()


def _write_agent(mem: Memory, record: dict[str, Any]) -> None:
    store, ns, encode = mem.kernel.store, mem.namespace, mem.kernel.codec.encode
    agent = record["agent"]
    docs = {name: encode(text) for name, text in record["identity"].items()}
    if docs:
        store.identity_put(ns, agent, docs)
    state = {name: encode(value) for name, value in record["state"].items()}
    if state:
        store.state_put(ns, agent, state)
    # An agent with neither is registered by its sessions, which carry it.


def _write_session(mem: Memory, records: list[tuple[str, dict[str, Any]]]) -> None:
    store, encode = mem.kernel.store, mem.kernel.codec.encode
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
                       mem.kernel.ttls)  # fmt: skip


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
        "steps": mem.kernel.codec.encode(r["steps"]),
        "tags": ",".join(r["tags"]),
        "memory_id": r["memory_id"] or "",
        "updated_at": r["updated_at"],
        "runs": r["runs"],
        "successes": r["successes"],
        "total_duration": float(r["total_duration"]),
    }
    ttl = mem.options.ttl.skills
    mem.kernel.store.longterm.skill_put(
        mem.namespace, r["name"], fields, None if ttl is None else int(ttl * 1000)
    )
