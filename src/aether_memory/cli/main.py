"""`aether`: run a local Redis, try the demo, look at memory.

Every command is a thin shell over the library; errors are printed, not thrown.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from aether_memory import __version__
from aether_memory.cli import admin, manage
from aether_memory.core.errors import AetherError

app = typer.Typer(
    help="aether-memory: persistent memory for AI agents, on Redis.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)

DataOption = typer.Option(
    None, "--data", help="Data folder of the local server (default: ~/.local/share/aether-memory)."
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aether-memory {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """aether-memory: persistent memory for AI agents, on Redis."""


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}")
    return typer.Exit(code=1)


@app.command()
def up(
    port: int | None = typer.Option(None, help="Port (default 6390, or a free one)."),
    data: Path | None = DataOption,
    fsync: str = typer.Option(
        "everysec", help="AOF fsync policy: everysec (lose ≤ 1 s on power loss) or always."
    ),
    plain: bool = typer.Option(False, "--plain", help="Start without the Redis modules."),
) -> None:
    """Start a local Redis (with the Query Engine, JSON and Bloom modules) and print its URL."""
    from aether_memory.server import local

    try:
        info, started = local.up(data, port=port, fsync=fsync, modules=not plain)
    except AetherError as exc:
        raise _fail(exc) from exc
    verb = "started" if started else "already running"
    console.print(f"Redis {verb}: pid {info.pid}, data in {info.data_dir}")
    console.print(
        f"modules: {'search, json, bloom' if info.modules else 'none (plain)'}; "
        f"AOF appendfsync {info.fsync}"
    )
    console.print(f"export AETHER_URL={info.url}")


@app.command()
def down(data: Path | None = DataOption) -> None:
    """Stop the local Redis started by `aether up` (its data stays in the data folder)."""
    from aether_memory.server import local

    try:
        stopped = local.down(data)
    except AetherError as exc:
        raise _fail(exc) from exc
    console.print("stopped" if stopped else "no local server was running")


@app.command()
def status(data: Path | None = DataOption) -> None:
    """Say whether the local Redis runs, where, and with what."""
    from aether_memory.server import local

    info = local.running(data)
    if info is None:
        console.print("no local server is running (start one with `aether up`)")
        raise typer.Exit(code=1)
    console.print(f"running: {info.url} (pid {info.pid})")
    console.print(f"data: {info.data_dir}; modules: {info.modules}; appendfsync: {info.fsync}")


@app.command()
def demo(
    url: str | None = typer.Option(
        None, help="Use this Redis instead of the local one (it is started if needed)."
    ),
    data: Path | None = DataOption,
) -> None:
    """Run a short agent, kill nothing, then resume it from a second process."""
    from aether_memory.cli import demo as demo_module

    try:
        demo_module.run(url, data)
    except AetherError as exc:
        raise _fail(exc) from exc


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, help="Port to listen on."),
    insecure_no_auth: bool = typer.Option(
        False, "--insecure-no-auth", help="Serve a non-loopback address without API keys."
    ),
) -> None:
    """Serve the memory API over HTTP (FastAPI); keys from AETHER_API_KEYS=KEY=ns1,ns2;..."""
    try:
        from aether_memory.rest import main
    except ImportError as exc:
        raise _fail(exc) from exc
    args = ["--host", host, "--port", str(port)]
    raise typer.Exit(main([*args, "--insecure-no-auth"] if insecure_no_auth else args))


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def mcp(ctx: typer.Context) -> None:
    """Serve an agent's memory over MCP (stdio, or --transport http). `aether mcp --help`."""
    try:
        from aether_memory.mcp.__main__ import main
    except ImportError as exc:
        raise _fail(exc) from exc
    raise typer.Exit(main(ctx.args))


# search, inspect, export, import, identity, doctor; list, delete
admin.register(app)
manage.register(app)

if __name__ == "__main__":
    app()
