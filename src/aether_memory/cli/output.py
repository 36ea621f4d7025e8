"""What every `aether` command prints with: errors as one red line, JSON for ``--json``,
times for tables, and a scheduler's runs as they finish."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from aether_memory.client._sync.loops import Scheduler
from aether_memory.core.errors import AetherError

err = Console(stderr=True)


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Print the library's errors (and file errors) as one red line and exit 1."""
    try:
        yield
    except (AetherError, OSError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(code=1) from exc


def when(ms: int | None) -> str:
    """Epoch milliseconds as a short UTC time for tables (``-`` for none)."""
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def as_json(value: Any) -> None:
    """Print `value` as JSON on stdout (dataclasses as objects), unwrapped."""
    typer.echo(orjson.dumps(value, default=_plain, option=orjson.OPT_INDENT_2).decode())


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | frozenset | set):
        return sorted(value) if isinstance(value, frozenset | set) else list(value)
    raise TypeError(f"cannot print a {type(value).__name__} as JSON")


def follow(scheduler: Scheduler[Any], name: str, describe: Callable[[Any], str]) -> None:
    """Print each finished run of a started scheduler (its error, or `describe` of its
    result) as ``{name} N: …`` until Ctrl-C."""
    out = Console()
    seen = 0
    try:
        while True:
            time.sleep(0.5)
            if scheduler.runs > seen:
                seen = scheduler.runs
                error, done = scheduler.last_error, scheduler.last
                out.print(f"{name} {seen}: " + (f"error {error}" if error else describe(done)))
    except KeyboardInterrupt:
        out.print("stopped")
