"""The admin commands of `aether`: search, inspect, export / import, identity load, doctor.

Thin: they resolve settings, call the functions of `target`, `export`, `importer`,
`export_format`, `doctor` and `reports`, and print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aether_memory.cli.doctor import doctor_checks
from aether_memory.cli.export import export_namespace
from aether_memory.cli.export_format import read_header
from aether_memory.cli.importer import import_namespace
from aether_memory.cli.output import as_json, reported, when
from aether_memory.cli.reports import agent_report, search_memories, session_report
from aether_memory.cli.target import mem_url, resolve_target
from aether_memory.client._sync.memory import Memory
from aether_memory.client.common import redacted
from aether_memory.core.errors import (
    InvalidInput,
)

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


_reported = reported
_when = when


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


JsonOption = typer.Option(False, "--json", help="Print JSON instead of tables.")
WIDE = 120  # below this many columns, tables keep the essential columns only


def search(
    query: str = typer.Argument(..., metavar="QUERY", help="What to look for, in plain words."),
    agent: str | None = typer.Option(None, "--agent", "-a", help="Only this agent's memories."),
    k: int = typer.Option(5, "--k", "-k", help="How many memories to show (1-1000)."),
    kind: list[str] = typer.Option(
        [], "--kind", help="Only memories of this kind (fact, episodic, ...); repeatable."
    ),
    url: str | None = UrlOption,
    namespace: str | None = NamespaceOption,
    json_out: bool = JsonOption,
) -> None:
    """Recall long-term memories the way an agent would, with each score's components."""
    with _reported(), Memory.open(url, namespace=namespace) as mem:
        hits = search_memories(mem, query, k, agent, kind)
        if json_out:
            as_json(hits)
            return
        if not hits:
            console.print(f"no memory in namespace {mem.namespace!r} matches {query!r}")
            return
        wide = console.width >= WIDE
        table = Table(title=f"recall {query!r} in namespace {mem.namespace!r}")
        parts = ("score", "vector", "text", "exact", "recency", "importance")
        for name in ("#", *(parts if wide else parts[:1])):
            table.add_column(name, justify="right", no_wrap=True)
        for name in ("kind", "agent", "id") if wide else ("kind", "id"):
            table.add_column(name, no_wrap=True)  # an id is never cut: it pastes into inspect
        table.add_column("content", overflow="fold", ratio=1)
        for i, hit in enumerate(hits, start=1):
            r = hit.record
            scores = [f"{v:.3f}" for v in (hit.score, hit.vector, hit.text)] + [
                f"{v:.2f}" for v in (hit.exact, hit.recency, hit.importance)
            ]
            who = [r.kind, escape(r.agent), r.id] if wide else [r.kind, r.id]
            table.add_row(str(i), *(scores if wide else scores[:1]), *who, _short(r.content, 120))
        console.print(table)


@inspect_app.command("agent")
def inspect_agent(
    agent_id: str = typer.Argument(..., metavar="AGENT", help="The agent's id."),
    sessions: int = typer.Option(20, help="How many sessions to list, most recent first."),
    url: str | None = UrlOption,
    namespace: str | None = NamespaceOption,
    json_out: bool = JsonOption,
) -> None:
    """An agent's identity documents, its state and its sessions by last activity."""
    with _reported(), Memory.open(url, namespace=namespace) as mem:
        report = agent_report(mem, agent_id, sessions)
    if json_out:
        as_json(report)
        return
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
    json_out: bool = JsonOption,
) -> None:
    """A session's working memory, scratchpad, last events and checkpoints."""
    with _reported(), Memory.open(url, namespace=namespace) as mem:
        report = session_report(mem, agent_id, session_id, events)
    if json_out:
        as_json(report)
        return
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
    json_out: bool = JsonOption,
) -> None:
    """One long-term memory with all its fields."""
    with _reported(), Memory.open(url, namespace=namespace) as mem:
        record = mem.longterm.get(memory_id)
    if json_out:
        as_json(record)
        return
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
    """Export a namespace (agents, sessions, events, checkpoints, memories, skills) to a
    JSON Lines file that any store can import."""
    with _reported(), Memory.open(url, namespace=namespace) as mem:
        partial = file.with_name(file.name + ".partial")
        try:
            with _progress() as bar, partial.open("wb") as fp:
                task = bar.add_task(f"export {mem.namespace}", total=None)
                n = export_namespace(
                    mem,
                    fp,
                    progress=lambda done, total: bar.update(
                        task, completed=done, total=total or None
                    ),
                )
            partial.replace(file)  # never leave half an export under the real name
        finally:
            partial.unlink(missing_ok=True)
        where = redacted(mem_url(url))
    console.print(f"exported {n} records of namespace {mem.namespace!r} from {where} to {file}")


def import_command(
    file: Path = typer.Argument(
        ..., metavar="FILE.jsonl", exists=True, dir_okay=False, help="An `aether export` file."
    ),
    replace: bool = typer.Option(
        False,
        "--replace",
        help="Import into a namespace that holds data, overwriting the items the file names.",
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue an import that stopped (from its journal)."
    ),
    url: str | None = UrlOption,
    namespace: str | None = typer.Option(
        None,
        "--namespace",
        "-n",
        help="The namespace to import into (default: the one the file was exported from).",
    ),
) -> None:
    """Import an export file: every record is checked, then written with ordinary writes."""
    with _reported():
        with file.open("rb") as fp:
            header = read_header(fp.readline())
        target_ns = namespace or header.namespace
        with Memory.open(url, namespace=target_ns) as mem, _progress() as bar:
            task = bar.add_task(f"import {target_ns}", total=header.records)
            report = import_namespace(
                mem,
                file,
                replace=replace,
                resume=resume,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
            where = redacted(mem_url(url))
    console.print(
        f"imported {report.records_done - report.resumed_from} records ({report.summary()}) "
        f"into namespace {target_ns!r} on {where} (exported {header.exported_at} from "
        f"{header.source or 'unknown'})"
    )


def doctor(
    url: str | None = UrlOption,
    namespace: str | None = NamespaceOption,
    json_out: bool = JsonOption,
) -> None:
    """Check the server: connection, version, modules, persistence, eviction, memory (or a
    SQLite store: the file, its integrity and journal).

    Exits with 1 when any check FAILs.
    """
    with _reported():
        target, ns = resolve_target(url, namespace, redis_only=False)
        checks = doctor_checks(target, ns)
    if json_out:
        as_json(checks)
        raise typer.Exit(code=1 if any(c.status == "FAIL" for c in checks) else 0)
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
