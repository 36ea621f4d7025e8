"""Checking an export file's records, one by one, before an import writes any of them.

Pure but for reading the file: each record is validated (ids, names, tags, counts, the
embedding's size, the order of a session's events and checkpoints) and turned into what the
store writes; the totals must match the header's `counts` (`aether_memory.cli.export_format`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from aether_memory.cli.export_format import (
    KINDS,
    PLURAL,
    ExportHeader,
    is_count,
    load_json,
    read_header,
    read_lines,
)
from aether_memory.core.errors import InvalidInput
from aether_memory.core.ids import check_name, check_tag

_TRACE_ID: Final = re.compile("[0-9a-f]{32}")
_RECORD_TYPES: Final = frozenset(PLURAL)


class RecordChecker:
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
        if not all(is_count(d[name]) for name in ("last_active", "events", "checkpoints")):
            raise ValueError("last_active, events and checkpoints must be counts")
        self.session_left = (d["events"], d["checkpoints"])
        return {**d, "agent": agent, "session": sid}

    def _event(self, d: dict[str, Any]) -> dict[str, Any]:
        self._expect("events")
        check_name(d["id"], "event id")
        check_name(d["event_type"], "event type")
        check_name(d["outcome"], "outcome")
        latency = d["latency_ms"]
        if not is_count(d["ts"]) or not (latency is None or isinstance(latency, int | float)):
            raise ValueError("ts must be ms and latency_ms a number or null")
        trace = d.get("trace_id")
        if trace is not None and not (isinstance(trace, str) and _TRACE_ID.fullmatch(trace)):
            raise ValueError("trace_id must be 32 lowercase hex digits or absent")
        return d

    def _checkpoint(self, d: dict[str, Any]) -> dict[str, Any]:
        self._expect("checkpoints")
        if not (is_count(d["n"]) and d["n"] >= 1 and is_count(d["created_at"])) or "state" not in d:
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
            if not is_count(d[name]):
                raise ValueError(f"{name} must be a count")
        if d["expires_at"] is not None and not is_count(d["expires_at"]):
            raise ValueError("expires_at must be ms or null")
        for name in ("supersedes", "superseded_by"):
            if d.get(name) is not None:
                check_name(d[name], "memory id")
        if d.get("superseded_at") is not None and not is_count(d["superseded_at"]):
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
        if not (is_count(d["runs"]) and is_count(d["successes"]) and is_count(d["updated_at"])):
            raise ValueError("runs, successes and updated_at must be counts")
        if not isinstance(d["total_duration"], int | float) or d["total_duration"] < 0:
            raise ValueError("total_duration must be a non-negative number")
        if d["memory_id"] is not None:
            check_name(d["memory_id"], "memory id")
        return d


def checked_records(path: Path) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Every record of the file after the header, validated: ``(lineno, type, record)``.

    The counts are compared with the header's once the last record is read, so a truncated
    file fails only at the end: consume it all before writing anything.

    Raises:
        InvalidInput: A line is not a valid record, or the file's records are not those its
            header announces.
    """
    lines = read_lines(path)
    first = next(lines, None)
    header = read_header(b"" if first is None else first[1])
    checker = RecordChecker(header)
    for lineno, line in lines:
        kind, record = checker.check(load_json(line, lineno), lineno)
        yield lineno, kind, record
    checker.finish(header)
