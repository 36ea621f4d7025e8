"""`aether archive …`: the cold tier of long-term memory — what each tier holds, a sync pass,
bringing memories back, and searching what was archived."""

from __future__ import annotations

import dataclasses

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from aether_memory.cli.output import as_json, follow, reported
from aether_memory.client._sync.archive import ArchiveScheduler
from aether_memory.client._sync.memory import Memory
from aether_memory.core.errors import ConfigurationError
from aether_memory.core.lifecycle import DEFAULT_SYNC_BATCH
from aether_memory.storage.rows import text

console = Console()
archive_app = typer.Typer(
    help="The archive: where long-term memories go when they leave the hot store.",
    no_args_is_help=True,
)
UrlOption = typer.Option(None, "--url", help="Store URL (redis://… or sqlite:///…).")
ArchiveOption = typer.Option(
    None,
    "--archive",
    help="Archive URL (sqlite:///… or postgresql://…; default AETHER_ARCHIVE_URL).",
)
NamespaceOption = typer.Option(
    None, "--namespace", "-n", help="Namespace (default: AETHER_NAMESPACE, else 'default')."
)
JsonOption = typer.Option(False, "--json", help="Print JSON.")


def _open(url: str | None, archive: str | None, namespace: str | None) -> Memory:
    return Memory.open(url, namespace=namespace, archive=archive)


@archive_app.command("status")
def status(
    url: str | None = UrlOption, archive: str | None = ArchiveOption,
    namespace: str | None = NamespaceOption, json_out: bool = JsonOption,
) -> None:  # fmt: skip
    """How many memories each tier holds, and how many are due to move."""
    with reported(), _open(url, archive, namespace) as mem:
        found = mem.lifecycle.status()
        if json_out:
            as_json(found)
            return
        console.print(f"archive: {found.archive or 'none configured'}")
        console.print(f"hot: {found.hot}  archived: {found.archived}  due: {found.due}")


@archive_app.command("run")
def run(
    url: str | None = UrlOption, archive: str | None = ArchiveOption,
    namespace: str | None = NamespaceOption,
    batch: int = typer.Option(DEFAULT_SYNC_BATCH, "--batch", min=1, max=10_000),
    every: float | None = typer.Option(
        None, "--every", min=1.0, help="Keep running: a pass every this many seconds."
    ),
    json_out: bool = JsonOption,
) -> None:  # fmt: skip
    """One sync pass: move what is past its hot lifetime (or over the hot budget); with
    --every, a pass every so many seconds until Ctrl-C."""
    with reported(), _open(url, archive, namespace) as mem:
        if mem.lifecycle.archive is None and not mem.lifecycle.budget.active:
            raise ConfigurationError(
                "no archive is configured: pass --archive or set AETHER_ARCHIVE_URL"
            )
        if every is not None:
            _every(mem, every, batch)
            return
        report = mem.lifecycle.run(batch=batch)
        if json_out:
            as_json(report)
            return
        console.print(", ".join(f"{f.name} {getattr(report, f.name)}"
                                for f in dataclasses.fields(report)))  # fmt: skip


def _every(mem: Memory, every: float, batch: int) -> None:
    with ArchiveScheduler(mem, every, batch=batch) as scheduler:
        console.print(f"a sync pass every {every:g} s; Ctrl-C stops")
        follow(scheduler, "pass", lambda done: f"archived {done.archived}, evicted {done.evicted}")


@archive_app.command("rehydrate")
def rehydrate(
    ids: list[str] = typer.Argument(..., metavar="ID..."),
    url: str | None = UrlOption, archive: str | None = ArchiveOption,
    namespace: str | None = NamespaceOption, json_out: bool = JsonOption,
) -> None:  # fmt: skip
    """Bring archived memories back into the hot tier."""
    with reported(), _open(url, archive, namespace) as mem:
        back = mem.lifecycle.rehydrate(ids)
        if json_out:
            as_json({"rehydrated": back, "not_archived": [i for i in ids if i not in back]})
            return
        console.print(f"rehydrated {len(back)} of {len(ids)}")


@archive_app.command("search")
def search(
    query: str = typer.Argument(..., metavar="QUERY"),
    k: int = typer.Option(5, "-k", min=1, max=1000),
    url: str | None = UrlOption, archive: str | None = ArchiveOption,
    namespace: str | None = NamespaceOption, json_out: bool = JsonOption,
) -> None:  # fmt: skip
    """Search the archive only, by text and by vector (nothing is rehydrated)."""
    with reported(), _open(url, archive, namespace) as mem:
        vector = mem.longterm.query_vector(query)
        found = mem.lifecycle.search(vector, k, query)[:k]
        rows = mem.lifecycle.archived([m.id for m in found])
        items = [
            {"id": f.id, "score": round(f.score, 4), "similarity": round(f.similarity, 4),
             "text": None if f.relevance is None else round(f.relevance, 4),
             "content": text(m.row.get("content", b"")) if m else "",
             "kind": text(m.row.get("kind", b"")) if m else ""}
            for f, m in zip(found, rows, strict=True)
        ]  # fmt: skip
        if json_out:
            as_json({"items": items})
            return
        table = Table(title=f"archive of {mem.namespace!r}: {query}")
        columns = ("id", "score", "similarity", "text", "kind", "content")
        for name in columns:
            table.add_column(name, overflow="fold")
        for item in items:
            table.add_row(*(escape(str(item[c])) for c in columns))
        console.print(table)


def register(app: typer.Typer) -> None:
    """Add `archive` to the `aether` app."""
    app.add_typer(archive_app, name="archive")
