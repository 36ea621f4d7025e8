"""A local PostgreSQL with pgvector for the archive tier, from the ``pgserver`` wheel
(PostgreSQL 16.2, pgvector 0.6.2; no Docker). It listens on a Unix socket in its data folder
only (no TCP port), so nothing off this machine can reach it.

Used by `aether up --archive` and by the tests. pgserver is imported when a server starts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

from aether_memory.core.errors import BackendUnavailable, ConfigurationError

ARCHIVE_FOLDER = "archive-pg"
URL_FILE = "archive-url"
START_ATTEMPTS = 3


def _pgserver() -> Any:
    try:
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset (it falls back to /tmp).
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError as exc:
        raise ConfigurationError(
            "a local PostgreSQL archive needs pgserver: install aether-memory[postgres]"
        ) from exc
    return pgserver


def start_postgres(pgdata: Path, *, keep_running: bool = False) -> tuple[str, Any]:
    """Start (or find running) PostgreSQL on `pgdata`; returns its URL and the server handle.

    With `keep_running`, the server outlives this process (until `stop_postgres`); without,
    it stops when the handle is cleaned up or the process exits.
    """
    pgserver = _pgserver()
    pgdata.mkdir(parents=True, exist_ok=True)
    for attempt in range(START_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server = pgserver.get_server(pgdata, cleanup_mode=None if keep_running else "stop")
            server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
            return str(server.get_uri()), server
        except (subprocess.SubprocessError, OSError) as exc:
            # pgserver gives pg_ctl 10 s to start; on a loaded machine the server is often
            # still coming up then, and the next attempt finds it running.
            if attempt == START_ATTEMPTS - 1:
                raise BackendUnavailable(f"PostgreSQL on {pgdata} did not start: {exc}") from exc
            time.sleep(1.0)
    raise AssertionError("unreachable")


def stop_postgres(pgdata: Path, timeout: float = 30.0) -> bool:
    """Stop the PostgreSQL running on `pgdata` (a fast shutdown: SIGINT to the postmaster
    its pid file names); False when none was running."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, signal.SIGINT)
    except (OSError, ValueError):  # no pid file, or its process is gone
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        time.sleep(0.05)
    return False


def archive_up(data_dir: Path) -> str:
    """Start the archive server of a local data folder and record its URL there."""
    url, _ = start_postgres(data_dir / ARCHIVE_FOLDER, keep_running=True)
    (data_dir / URL_FILE).write_text(url + "\n")
    return url


def archive_down(data_dir: Path) -> bool:
    """Stop the archive server of a local data folder (its data stays)."""
    stopped = stop_postgres(data_dir / ARCHIVE_FOLDER)
    (data_dir / URL_FILE).unlink(missing_ok=True)
    return stopped
