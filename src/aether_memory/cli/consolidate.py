"""`aether consolidate` (once, or every N seconds) and `aether form` (read recorded turns
into facts now): the memory-consolidation jobs of the command line."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from aether_memory.cli.output import as_json, follow, reported
from aether_memory.client._sync.consolidation import ConsolidationScheduler
from aether_memory.client._sync.memory import Memory
from aether_memory.core.errors import ConfigurationError

console = Console()

UrlOption = typer.Option(None, "--url", help="Store URL (redis://… or sqlite:///…).")
NamespaceOption = typer.Option(
    None, "--namespace", "-n", help="Namespace (default: AETHER_NAMESPACE, else 'default')."
)
JsonOption = typer.Option(False, "--json", help="Print JSON instead of a line of text.")


def consolidate(
    kind: list[str] = typer.Option(
        ["episodic", "fact"], "--kind", "-k", help="A kind to consolidate (repeatable)."
    ),
    threshold: float = typer.Option(0.6, help="Cosine to a group's centre to join it."),
    min_size: int = typer.Option(3, "--min-size", min=2, max=50, help="Smallest group."),
    max_sentences: int = typer.Option(3, "--sentences", min=1, max=50, help="Per summary."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count the groups; write nothing."),
    every: float | None = typer.Option(
        None, "--every", min=1, help="Run every this many seconds until interrupted."
    ),
    url: str | None = UrlOption,
    namespace: str | None = NamespaceOption,
    json_out: bool = JsonOption,
) -> None:
    """Merge groups of related memories into consolidated memories linked to their sources.

    Idempotent: a second run adds nothing; a run cut short is finished by the next one.
    """
    args: dict[str, Any] = {"kinds": kind, "threshold": threshold, "min_size": min_size,
            "max_sentences": max_sentences, "dry_run": dry_run}  # fmt: skip
    with reported(), Memory.open(url, namespace=namespace) as mem:
        if every is None:
            report = mem.consolidate(**args)
            if json_out:
                as_json(report.as_dict())
                return
            verb = "would merge" if dry_run else "merged"
            console.print(
                f"examined {report.examined} memories ({report.candidates} candidates): "
                f"{verb} {report.consolidated} into {report.clusters} consolidated memories"
            )
            return
        with ConsolidationScheduler(mem, every, **args) as scheduler:
            console.print(f"consolidating every {every:g} s; Ctrl-C stops")
            follow(
                scheduler, "run", lambda done: f"{done.consolidated} merged into {done.clusters}"
            )


def form(
    url: str | None = UrlOption,
    namespace: str | None = NamespaceOption,
    json_out: bool = JsonOption,
) -> None:
    """Read the recorded turns not yet read into facts and preferences, now (with the model
    that AETHER_LLM_URL, AETHER_LLM_MODEL and AETHER_EXTRACT_MEMORIES=1 configure)."""
    with reported(), Memory.open(url, namespace=namespace) as mem:
        formation = mem.formation
        if formation is None:
            raise ConfigurationError(
                "no extractor: set AETHER_LLM_URL, AETHER_LLM_MODEL and "
                "AETHER_EXTRACT_MEMORIES=1 (there is no offline extractor)"
            )
        status = formation.drain()
    if json_out:
        as_json(status)
        return
    console.print(
        f"read {status.formed} turns into {status.extracted} memories; {status.pending} "
        f"waiting, {status.failed} skipped"
        + (f"; last error: {status.last_error}" if status.last_error else "")
    )


def register(app: typer.Typer) -> None:
    """Add `consolidate` and `form` to the `aether` app."""
    app.command("consolidate")(consolidate)
    app.command("form")(form)
