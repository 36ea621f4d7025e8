"""`aether queue stats|peek|retry-dead`: look into a task queue and send dead tasks back."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from aether_memory.cli.output import as_json, reported, when
from aether_memory.client._sync.memory import Memory
from aether_memory.core.queues import MAX_PEEK, STATES

console = Console()

queue_app = typer.Typer(help="Inspect task queues and retry dead tasks.", no_args_is_help=True)

UrlOption = typer.Option(None, "--url", help="Store URL (redis://… or sqlite:///…).")
NamespaceOption = typer.Option(
    None, "--namespace", "-n", help="Namespace (default: AETHER_NAMESPACE, else 'default')."
)
JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")


@queue_app.command("stats")
def stats(
    name: str = typer.Argument(help="The queue's name."),
    url: str | None = UrlOption,
    namespace: str | None = NamespaceOption,
    json_out: bool = JsonOption,
) -> None:
    """Pending, delayed, in-flight and dead tasks, totals, and per-worker figures."""
    with reported(), Memory.open(url, namespace=namespace) as mem:
        found = mem.queue(name).stats()
    if json_out:
        as_json(found)
        return
    console.print(
        f"queue {escape(name)!r}: {found.pending} pending, {found.delayed} delayed, "
        f"{found.in_flight} in flight, {found.dead} dead; {found.acked} acked, "
        f"{found.failed} failed, {found.expired} leases expired"
    )
    if found.workers:
        table = Table(title="workers")
        for column in ("worker", "in flight", "acked", "failed"):
            table.add_column(column, no_wrap=True)
        for worker, w in found.workers.items():
            table.add_row(escape(worker), str(w.in_flight), str(w.acked), str(w.failed))
        console.print(table)


@queue_app.command("peek")
def peek(
    name: str = typer.Argument(help="The queue's name."),
    state: str = typer.Option("pending", "--state", "-s", help=f"One of {', '.join(STATES)}."),
    limit: int = typer.Option(20, "--limit", "-l", min=0, max=MAX_PEEK),
    url: str | None = UrlOption,
    namespace: str | None = NamespaceOption,
    json_out: bool = JsonOption,
) -> None:
    """The first tasks in a state, in the order they leave it (changes nothing)."""
    with reported(), Memory.open(url, namespace=namespace) as mem:
        tasks = mem.queue(name).peek(state, limit)  # type: ignore[arg-type]  # checked there
    if json_out:
        as_json(tasks)
        return
    if not tasks:
        console.print(f"{state} tasks in {name!r}: none")
        return
    table = Table(title=f"{state} tasks in {name!r}")
    for column in ("id", "priority", "attempts", "at", "worker", "error", "task"):
        table.add_column(column, no_wrap=column == "id", overflow="fold")
    for t in tasks:
        table.add_row(t.id, str(t.priority), str(t.attempts), when(t.at), escape(t.worker or "-"),
                      escape(t.error or "-"), escape(str(t.task)[:200]))  # fmt: skip
    console.print(table)


@queue_app.command("retry-dead")
def retry_dead(
    name: str = typer.Argument(help="The queue's name."),
    ids: list[str] | None = typer.Argument(None, help="Task ids (default: the oldest --limit)."),
    limit: int = typer.Option(100, "--limit", "-l", min=1, max=MAX_PEEK),
    url: str | None = UrlOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Send dead tasks back to pending, their delivery count reset."""
    with reported(), Memory.open(url, namespace=namespace) as mem:
        moved = mem.queue(name).retry_dead(ids or None, limit)
    console.print(f"{moved} dead task{'s' if moved != 1 else ''} of {name!r} back to pending")


def register(app: typer.Typer) -> None:
    """Add `queue` to the `aether` app."""
    app.add_typer(queue_app, name="queue")
