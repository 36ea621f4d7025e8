"""`aether`: run a local Redis, try the demo, look at memory.

Every command is a thin shell over the library; errors are printed, not thrown.
"""

from __future__ import annotations

from pathlib import Path

import typer
from opentelemetry.trace import SpanKind
from rich.console import Console

from aether_memory import __version__
from aether_memory.cli import admin, archive, consolidate, manage, queue, tail
from aether_memory.core import telemetry
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
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """aether-memory: persistent memory for AI agents, on Redis."""
    telemetry.refresh()
    command = ctx.invoked_subcommand
    if command is not None and telemetry.enabled():
        # Ended when the command's context closes, after it ran.
        attributes = {"aether.command": command}
        ctx.with_resource(telemetry.span(f"aether {command}", SpanKind.INTERNAL, attributes))


def _fail(exc: Exception) -> typer.Exit:
    telemetry.fail(exc)
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
    cluster: int = typer.Option(
        0, "--cluster", help="Start a Redis Cluster of this many primaries instead (on free ports)."
    ),
    replicas: int = typer.Option(0, "--replicas", help="Replicas per primary (with --cluster)."),
    with_archive: bool = typer.Option(
        False, "--archive", help="Also start a local PostgreSQL + pgvector archive (pgserver)."
    ),
) -> None:
    """Start a local Redis (with the Query Engine, JSON and Bloom modules) and print its URL."""
    if with_archive:
        _archive_up(data)
    if cluster or replicas:
        _cluster_up(data, cluster, replicas, fsync, not plain)
        return
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


def _archive_up(data: Path | None) -> None:
    from aether_memory.server import local
    from aether_memory.server.archive import archive_up

    folder = (data or local.default_data_dir()).expanduser().resolve()
    try:
        url = archive_up(folder)
    except AetherError as exc:
        raise _fail(exc) from exc
    console.print(f"archive: PostgreSQL + pgvector, data in {folder / 'archive-pg'}")
    typer.echo(f"export AETHER_ARCHIVE_URL={url}")


def _cluster_up(
    data: Path | None, primaries: int, replicas: int, fsync: str, modules: bool
) -> None:
    from aether_memory.server import cluster

    try:
        info, started = cluster.cluster_up(
            data, primaries=primaries, replicas=replicas, fsync=fsync, modules=modules
        )
    except AetherError as exc:
        raise _fail(exc) from exc
    verb = "started" if started else "already running"
    console.print(
        f"Redis Cluster {verb}: {info.primaries} primaries, {info.replicas} replicas each, "
        f"ports {', '.join(map(str, info.ports))}; data in {info.data_dir}"
    )
    typer.echo(f"export AETHER_URL={info.url}")  # one line, however wide


@app.command()
def down(data: Path | None = DataOption) -> None:
    """Stop the local Redis (and the local cluster) started by `aether up`; the data stays."""
    from aether_memory.server import cluster, local
    from aether_memory.server.archive import archive_down

    try:
        stopped = local.down(data)
        cluster_stopped = cluster.cluster_down(data)
        if archive_down((data or local.default_data_dir()).expanduser().resolve()):
            console.print("archive stopped")
    except AetherError as exc:
        raise _fail(exc) from exc
    if cluster_stopped:
        console.print("cluster stopped")
    if stopped or not cluster_stopped:
        console.print("stopped" if stopped else "no local server was running")


@app.command()
def status(data: Path | None = DataOption) -> None:
    """Say whether the local Redis (or cluster) runs, where, and with what."""
    from aether_memory.server import cluster, local

    info = local.running(data)
    found = cluster.cluster_running(data)
    if info is None and found is None:
        console.print("no local server is running (start one with `aether up`)")
        raise typer.Exit(code=1)
    if info is not None:
        console.print(f"running: {info.url} (pid {info.pid})")
        console.print(f"data: {info.data_dir}; modules: {info.modules}; appendfsync: {info.fsync}")
    if found is not None:
        console.print(
            f"cluster running: {found.url} ({found.primaries} primaries, {found.replicas} "
            f"replicas each, ports {', '.join(map(str, found.ports))})"
        )
        console.print(f"data: {found.data_dir}; modules: {found.modules}")


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


HostOption = typer.Option("127.0.0.1", help="Address to listen on.")
InsecureOption = typer.Option(
    False, "--insecure-no-auth", help="Serve a non-loopback address without API keys."
)


def _http_server(ui: bool, host: str, port: int, *flags: str) -> typer.Exit:
    """Run the REST server (or, with `ui`, the dashboard) and exit with its code."""
    try:
        from aether_memory.rest.server import main
    except ImportError as exc:
        raise _fail(exc) from exc
    return typer.Exit(main(["--host", host, "--port", str(port), *flags], ui=ui))


@app.command()
def serve(
    host: str = HostOption,
    port: int = typer.Option(8080, help="Port to listen on."),
    insecure_no_auth: bool = InsecureOption,
) -> None:
    """Serve the memory API over HTTP (FastAPI); keys from AETHER_API_KEYS=KEY=ns1,ns2;..."""
    raise _http_server(False, host, port, *(["--insecure-no-auth"] if insecure_no_auth else []))


@app.command()
def ui(
    host: str = HostOption,
    port: int = typer.Option(8081, help="Port to listen on."),
    writable: bool = typer.Option(False, "--writable", help="Show write buttons (forget)."),
    insecure_no_auth: bool = InsecureOption,
) -> None:
    """Serve the web dashboard at http://127.0.0.1:8081/ (read-only unless --writable)."""
    flags = ["--writable"] * writable + ["--insecure-no-auth"] * insecure_no_auth
    raise _http_server(True, host, port, *flags)


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
archive.register(app)
tail.register(app)
queue.register(app)  # queue stats, peek, retry-dead
consolidate.register(app)  # consolidate, form

if __name__ == "__main__":
    app()
