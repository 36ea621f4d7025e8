"""A subscriber process for the feed tests: prints each broadcast it receives as
``position body`` to a file (one line each, flushed), starting after a given position.

    python -m tests.integration.feed_worker URL NAMESPACE OUT AFTER
"""

from __future__ import annotations

import sys

from aether_memory import Memory


def main(url: str, namespace: str, out: str, after: str) -> None:
    with Memory.open(url, namespace=namespace) as mem, open(out, "a") as f:
        for note in mem.subscribe(kinds=["broadcast"], after=after):
            f.write(f"{note.position} {note.body}\n")
            f.flush()


if __name__ == "__main__":
    main(*sys.argv[1:5])
