"""`aether list …` and `aether delete …`: browse what is stored a page at a time, and erase a
session, an agent or a whole namespace (with a confirmation, ``--yes`` and ``--dry-run``).

Tables fit the terminal: ids are never cut (they paste into other commands) and long text
wraps. ``--json`` prints one JSON document instead, for scripts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from aether_memory.cli.output import as_json, reported, when
from aether_memory.client._sync.memory import Memory
from aether_memory.core.pages import DEFAULT_LIMIT, MAX_LIMIT, Erasure, Page

console = Console()

list_app = typer.Typer(help="List what is stored, a page at a time.", no_args_is_help=True)
delete_app = typer.Typer(
    help="Erase a session, an agent or a whole namespace.", no_args_is_help=True
)

UrlOption = typer.Option(None, "--url", help="Store URL (redis://… or sqlite:///…).")
NamespaceOption = typer.Option(
    None, "--namespace", "-n", help="Namespace (default: AETHER_NAMESPACE, else 'default')."
)
LimitOption = typer.Option(DEFAULT_LIMIT, "--limit", "-l", min=1, max=MAX_LIMIT, help="Per page.")
CursorOption = typer.Option(None, "--cursor", help="The cursor printed under the last page.")
JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")


def _show(
    page: Page[Any],
    title: str,
    columns: Sequence[tuple[str, Callable[[Any], str], bool]],
    json_out: bool,
    again: str,
) -> None:
    """A page as a table (columns: name, cell, wraps) or JSON, and how to read the next."""
    if json_out:
        as_json({"items": list(page.items), "next_cursor": page.next})
        return
    if not page.items:
        console.print(f"{title}: none")
        return
    table = Table(title=title)
    for name, _, wraps in columns:
        table.add_column(name, no_wrap=not wraps, overflow="fold" if wraps else "ellipsis")
    for item in page:
        table.add_row(*(escape(cell(item)) for _, cell, _ in columns))
    console.print(table)
    if page.next is not None:
        # The token stays on one line, whole, so that it pastes.
        console.print(f"more: `{again}` with")
        console.print(f"--cursor {page.next}", soft_wrap=True)


def _text(value: Any, width: int = 200) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@list_app.command("agents")
def list_agents(
    url: str | None = UrlOption, namespace: str | None = NamespaceOption,
    limit: int = LimitOption, cursor: str | None = CursorOption, json_out: bool = JsonOption,
) -> None:  # fmt: skip
    """The namespace's agents."""
    with reported(), Memory.open(url, namespace=namespace) as mem:
        page = mem.list_agents(cursor, limit)
        _show(page, f"agents in {mem.namespace!r}", [("agent", str, False)], json_out,
              "aether list agents")  # fmt: skip


@list_app.command("namespaces")
def list_namespaces(
    url: str | None = UrlOption, limit: int = LimitOption, cursor: str | None = CursorOption,
    json_out: bool = JsonOption,
) -> None:  # fmt: skip
    """Every namespace the store holds anything of (walks the whole store)."""
    with reported(), Memory.open(url) as mem:
        page = mem.list_namespaces(cursor, limit)
        _show(page, "namespaces", [("namespace", str, False)], json_out,
              "aether list namespaces")  # fmt: skip


@list_app.command("sessions")
def list_sessions(
    agent: str = typer.Argument(..., metavar="AGENT"),
    url: str | None = UrlOption, namespace: str | None = NamespaceOption,
    limit: int = LimitOption, cursor: str | None = CursorOption, json_out: bool = JsonOption,
) -> None:  # fmt: skip
    """An agent's sessions, most recently active first."""
    with reported(), Memory.open(url, namespace=namespace) as mem:
        page = mem.agent(agent).list_sessions(cursor, limit)
        _show(
            page, f"sessions of {agent!r}",
            [("session", lambda s: s.id, False),
             ("last active (UTC)", lambda s: when(s.last_active), False)],
            json_out, f"aether list sessions {agent}",
        )  # fmt: skip


@list_app.command("events")
def list_events(
    agent: str = typer.Argument(..., metavar="AGENT"),
    session: str = typer.Argument(..., metavar="SESSION"),
    url: str | None = UrlOption, namespace: str | None = NamespaceOption,
    limit: int = LimitOption, cursor: str | None = CursorOption, json_out: bool = JsonOption,
) -> None:  # fmt: skip
    """A session's events, oldest first."""
    with reported(), Memory.open(url, namespace=namespace) as mem:
        page = mem.agent(agent).session(session).list_events(cursor, limit)
        _show(
            page, f"events of {agent}/{session}",
            [("time (UTC)", lambda e: when(e.ts), False), ("type", lambda e: e.type, False),
             ("outcome", lambda e: e.outcome, False), ("data", lambda e: _text(e.data), True)],
            json_out, f"aether list events {agent} {session}",
        )  # fmt: skip


@list_app.command("checkpoints")
def list_checkpoints(
    agent: str = typer.Argument(..., metavar="AGENT"),
    session: str = typer.Argument(..., metavar="SESSION"),
    url: str | None = UrlOption, namespace: str | None = NamespaceOption,
    limit: int = LimitOption, cursor: str | None = CursorOption, json_out: bool = JsonOption,
) -> None:  # fmt: skip
    """A session's checkpoints by number."""
    with reported(), Memory.open(url, namespace=namespace) as mem:
        page = mem.agent(agent).session(session).list_checkpoints(cursor, limit)
        _show(
            page, f"checkpoints of {agent}/{session}",
            [("n", lambda c: str(c.n), False),
             ("created (UTC)", lambda c: when(c.created_at), False)],
            json_out, f"aether list checkpoints {agent} {session}",
        )  # fmt: skip


@list_app.command("memories")
def list_memories(
    agent: list[str] = typer.Option([], "--agent", "-a", help="Only this agent (repeatable)."),
    kind: list[str] = typer.Option([], "--kind", help="Only this kind (repeatable)."),
    tag: list[str] = typer.Option([], "--tag", help="Any of these tags (repeatable)."),
    session: str | None = typer.Option(None, "--session", help="Only this session."),
    include_superseded: bool = typer.Option(
        False, "--include-superseded", help="Also memories a correction replaced."
    ),
    superseded_only: bool = typer.Option(
        False, "--superseded-only", help="Only memories a correction replaced."
    ),
    url: str | None = UrlOption, namespace: str | None = NamespaceOption,
    limit: int = LimitOption, cursor: str | None = CursorOption, json_out: bool = JsonOption,
) -> None:  # fmt: skip
    """Long-term memories, oldest first, current ones unless asked (ids paste into
    `aether inspect memory`)."""
    with reported(), Memory.open(url, namespace=namespace) as mem:
        page = mem.list_memories(
            kinds=kind, agent=agent, tags=tag, session=session,
            include_superseded=include_superseded, superseded_only=superseded_only,
            cursor=cursor, limit=limit,
        )  # fmt: skip
        _show(
            page, f"memories in {mem.namespace!r}",
            [("id", lambda r: r.id, False), ("kind", lambda r: r.kind, False),
             ("content", lambda r: _text(r.content), True)],
            json_out, "aether list memories",
        )  # fmt: skip


@list_app.command("episodes")
def list_episodes(
    agent: list[str] = typer.Option([], "--agent", "-a", help="Only this agent (repeatable)."),
    url: str | None = UrlOption, namespace: str | None = NamespaceOption,
    limit: int = LimitOption, cursor: str | None = CursorOption, json_out: bool = JsonOption,
) -> None:  # fmt: skip
    """Saved episodes, oldest first."""
    with reported(), Memory.open(url, namespace=namespace) as mem:
        page = mem.list_episodes(agent=agent, cursor=cursor, limit=limit)
        _show(
            page, f"episodes in {mem.namespace!r}",
            [("id", lambda e: e.id, False), ("ok", lambda e: "yes" if e.success else "no", False),
             ("task", lambda e: _text(e.task_prompt), True)],
            json_out, "aether list episodes",
        )  # fmt: skip


@list_app.command("skills")
def list_skills(
    url: str | None = UrlOption, namespace: str | None = NamespaceOption,
    limit: int = LimitOption, cursor: str | None = CursorOption, json_out: bool = JsonOption,
) -> None:  # fmt: skip
    """The namespace's skills by name."""
    with reported(), Memory.open(url, namespace=namespace) as mem:
        page = mem.list_skills(cursor, limit)
        _show(
            page, f"skills in {mem.namespace!r}",
            [("skill", lambda s: s.name, False), ("runs", lambda s: str(s.runs), False),
             ("description", lambda s: _text(s.description), True)],
            json_out, "aether list skills",
        )  # fmt: skip


# ===================================================================================== delete

YesOption = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
DryRunOption = typer.Option(False, "--dry-run", help="Say what would be erased; erase nothing.")


def _erase(
    what: str, erase: Callable[[bool], Erasure], yes: bool, dry_run: bool, json_out: bool
) -> None:
    preview = erase(True)
    if dry_run or not preview.total:
        _report(preview, json_out)
        return
    if not yes:
        _report(preview, False)
        if not typer.confirm(f"Erase {what}? This cannot be undone", default=False):
            raise typer.Exit(code=1)
    _report(erase(False), json_out)


def _report(erasure: Erasure, json_out: bool) -> None:
    if json_out:
        as_json(erasure.as_dict())
        return
    verb = "would erase" if erasure.dry_run else "erased"
    found = ", ".join(f"{n} {kind}" for kind, n in erasure.counts.items() if n) or "nothing"
    console.print(f"{verb} {erasure.scope} {escape(erasure.target)}: {escape(found)}")


@delete_app.command("session")
def delete_session(
    agent: str = typer.Argument(..., metavar="AGENT"),
    session: str = typer.Argument(..., metavar="SESSION"),
    memories: bool = typer.Option(False, "--memories", help="Also its long-term memories."),
    url: str | None = UrlOption, namespace: str | None = NamespaceOption,
    yes: bool = YesOption, dry_run: bool = DryRunOption, json_out: bool = JsonOption,
) -> None:  # fmt: skip
    """Erase a session: working memory, events, checkpoints, tool schema, index entry."""
    with reported(), Memory.open(url, namespace=namespace) as mem:
        handle = mem.agent(agent).session(session)
        _erase(f"session {agent}/{session}", lambda dry: handle.erase(dry, memories), yes,
               dry_run, json_out)  # fmt: skip


@delete_app.command("agent")
def delete_agent(
    agent: str = typer.Argument(..., metavar="AGENT"),
    url: str | None = UrlOption, namespace: str | None = NamespaceOption,
    yes: bool = YesOption, dry_run: bool = DryRunOption, json_out: bool = JsonOption,
) -> None:  # fmt: skip
    """Erase an agent: its sessions, memories, skills, identity and state."""
    with reported(), Memory.open(url, namespace=namespace) as mem:
        handle = mem.agent(agent)
        _erase(f"agent {agent!r}", handle.erase, yes, dry_run, json_out)


@delete_app.command("namespace")
def delete_namespace(
    name: str = typer.Argument(..., metavar="NAMESPACE", help="Named in full, to be sure."),
    url: str | None = UrlOption,
    yes: bool = YesOption, dry_run: bool = DryRunOption, json_out: bool = JsonOption,
) -> None:  # fmt: skip
    """Erase a whole namespace: every agent, session, memory, skill, cache and index."""
    with reported(), Memory.open(url, namespace=name) as mem:
        _erase(f"namespace {name!r} and everything in it", mem.erase_namespace, yes, dry_run,
               json_out)  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add `list` and `delete` to the `aether` app."""
    app.add_typer(list_app, name="list")
    app.add_typer(delete_app, name="delete")
