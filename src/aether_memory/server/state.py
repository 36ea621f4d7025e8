"""The state a local server leaves in its data folder: where that folder is, and the files
that say which server runs there (``server.json``, ``server.pid``) and what it printed
(``redis.log``). Pure file handling: nothing here talks to a server.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from aether_memory.server.host import HOST, atomic_write

STATE_FILE: Final = "server.json"
PID_FILE: Final = "server.pid"
LOG_FILE: Final = "redis.log"
LOG_TAIL_CHARS: Final = 4000


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


def url_of(port: int) -> str:
    return f"redis://{HOST}:{port}/0"


# --------------------------------------------------------------------------- state files


def write_state(info: ServerInfo, module_paths: tuple[Path, ...]) -> None:
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


def read_pid_file(folder: Path) -> int | None:
    try:
        return int((folder / PID_FILE).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def read_state(folder: Path) -> tuple[ServerInfo | None, int | None]:
    """Read the state files of ``folder``.

    Returns:
        The recorded server (None if ``server.json`` is missing or malformed) and the recorded
        pid (from ``server.json``, else from ``server.pid``; None if neither has one).
    """
    try:
        raw: Any = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        info = ServerInfo(
            url=url_of(int(raw["port"])),
            pid=int(raw["pid"]),
            port=int(raw["port"]),
            data_dir=folder,
            modules=bool(raw["modules"]),
            fsync=str(raw["fsync"]),
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None, read_pid_file(folder)
    return info, info.pid


def has_state(folder: Path) -> bool:
    return (folder / STATE_FILE).exists() or (folder / PID_FILE).exists()


def remove_state(folder: Path, *, only_pid: int | None = None) -> None:
    """Delete the state files; with ``only_pid``, only if they record that pid (or none)."""
    if only_pid is not None:
        _, recorded = read_state(folder)
        if recorded is not None and recorded != only_pid:
            return
    for name in (STATE_FILE, PID_FILE):
        (folder / name).unlink(missing_ok=True)


def log_tail(path: Path, offset: int = 0) -> str:
    """Return the end of the log written since ``offset``."""
    try:
        with path.open("rb") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(max(offset, size - LOG_TAIL_CHARS))
            data = log.read()
    except OSError:
        return "(no log)"
    return data.decode("utf-8", errors="replace").strip() or "(the log is empty)"
