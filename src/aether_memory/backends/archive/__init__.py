"""Archive (cold tier) implementations: a SQLite file (the embedded default) and PostgreSQL
with pgvector. `open_archive` picks one by URL; nothing connects until it is called."""

from __future__ import annotations

from aether_memory.core.errors import ConfigurationError
from aether_memory.storage.archive import Archive


def open_archive(url: str) -> Archive:
    """The archive at `url`: ``sqlite:///path/archive.db`` or ``postgresql://…``.

    Raises:
        ConfigurationError: an unknown scheme, or the PostgreSQL driver is not installed.
        BackendUnavailable: the server did not answer.
    """
    if url.startswith("sqlite:///"):
        from aether_memory.backends.archive.sqlite import SQLiteArchive

        return SQLiteArchive(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        from aether_memory.backends.archive.postgres import PostgresArchive

        return PostgresArchive(url)
    raise ConfigurationError(
        f"{url.split(':', 1)[0]!r} is not an archive URL: use sqlite:///path or postgresql://…"
    )
