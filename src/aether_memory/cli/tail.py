"""`aether tail`: follow a namespace's change feed, one JSON line per notification."""

from __future__ import annotations

import contextlib
import sys

import orjson
import typer

from aether_memory.cli.output import reported
from aether_memory.client._sync.memory import Memory


def tail(
    url: str | None = typer.Option(None, "--url", help="Store URL (redis://… or sqlite:///…)."),
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", help="Namespace (default: AETHER_NAMESPACE, else 'default')."
    ),
    kind: list[str] = typer.Option(
        [], "--kind", help="Only this kind (memory, episode, presence, message, ...); repeatable."
    ),
    agent: list[str] = typer.Option([], "--agent", "-a", help="Only this agent; repeatable."),
    after: str | None = typer.Option(
        None, "--after", help="Start after this position ('0': the oldest held; default: now)."
    ),
) -> None:
    """Print the namespace's notifications as they happen (JSON Lines; Ctrl-C stops). Each
    line's ``position`` resumes the tail with ``--after``."""
    with reported(), Memory.open(url, namespace=namespace) as mem:
        notes = mem.subscribe(kinds=kind or None, agents=agent or None, after=after)
        with contextlib.suppress(KeyboardInterrupt):
            for note in notes:
                sys.stdout.write(orjson.dumps(note.as_dict()).decode() + "\n")
                sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add `tail` to the `aether` app."""
    app.command()(tail)
