"""Reading what `aether doctor` assesses of a SQLite store's file, read-only.

The file is opened with ``mode=ro``: never created or migrated here (a path that names no
store must stay no store). What the facts mean is decided by the CLI's doctor
(`aether_memory.cli.doctor`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SqliteFacts:
    """What doctor reads of a SQLite file: whether it is there, SQLite's error if it could
    not be read, else its size, its number of tables, its integrity and its journal mode."""

    path: Path
    found: bool
    error: str | None = None
    """Why SQLite could not read the file (the driver's words), or None."""
    size: int = 0
    tables: int = 0
    integrity: str = ""
    """The first line of ``PRAGMA quick_check``: ``ok`` for a sound file."""
    journal_mode: str = ""
    """``PRAGMA journal_mode``, in lower case."""


def read_sqlite_facts(path: Path) -> SqliteFacts:
    """Read `path`'s integrity (``PRAGMA quick_check``), journal mode and tables, read-only."""
    if not path.is_file():
        return SqliteFacts(path, found=False)
    try:
        db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=2.0)
        try:
            integrity = str(db.execute("PRAGMA quick_check").fetchone()[0])
            journal = str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()
        finally:
            db.close()
    except sqlite3.Error as exc:
        return SqliteFacts(path, found=True, error=str(exc))
    return SqliteFacts(
        path,
        found=True,
        size=path.stat().st_size,
        tables=int(tables[0]),
        integrity=integrity,
        journal_mode=journal,
    )
