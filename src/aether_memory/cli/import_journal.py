"""The journal of a resumable import: a small file beside the export file that says how many
of its records are written into which namespace.

It names the file by the digest of its header line, so a journal never resumes another file,
and it is replaced atomically (written beside, then renamed), so a crash leaves the old one
or the new one, never half of either.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from aether_memory.cli.export_format import is_count
from aether_memory.core.errors import InvalidInput


def journal_path(path: Path) -> Path:
    """Where an import of `path` records its progress."""
    return path.with_name(path.name + ".import-state")


def read_journal(journal: Path, digest: str, ns: str) -> int:
    """How many records an earlier import of the file with header digest `digest` into
    namespace `ns` wrote (0 when there is no journal: it never started, or it finished).

    Raises:
        InvalidInput: The journal cannot be read, is damaged, or belongs to another file or
            namespace.
    """
    try:
        state = orjson.loads(journal.read_bytes())
    except FileNotFoundError:
        return 0  # it never started, or it finished
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read the import journal {journal}: {exc}") from exc
    if state.get("header") != digest or state.get("namespace") != ns:
        raise InvalidInput(
            f"the import journal {journal} belongs to another file or namespace; remove it to "
            "start over"
        )
    done = state.get("records_done")
    if not is_count(done):
        raise InvalidInput(f"the import journal {journal} is damaged; remove it to start over")
    return int(done)


def save_journal(
    journal: Path, digest: str, ns: str, records_done: int, written: dict[str, int]
) -> None:
    """Record that `records_done` records (`written`, by kind) are written into `ns`."""
    partial = journal.with_name(journal.name + ".partial")
    partial.write_bytes(
        orjson.dumps(
            {"header": digest, "namespace": ns, "records_done": records_done, "written": written}
        )
    )
    os.replace(partial, journal)
