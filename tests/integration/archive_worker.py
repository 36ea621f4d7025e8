"""A sync process for the archive crash test: runs one pass in batches of 10 and stops for
good inside the third batch — after its archive write, before the hot copies are deleted —
printing ``stuck`` so the test can SIGKILL it exactly there.

    python -m tests.integration.archive_worker URL ARCHIVE NAMESPACE
"""

from __future__ import annotations

import sys
import time
from typing import Any

from aether_memory import Memory
from aether_memory.core.config import Options, TTLs
from tests.word_embedder import WordHashEmbedder


def main(url: str, archive: str, namespace: str) -> None:
    options = Options(namespace=namespace, ttl=TTLs(semantic=1.0))
    with Memory.open(url, options=options, embedder=WordHashEmbedder(), archive=archive) as mem:
        store: Any = mem.kernel.store.longterm
        real, batches = store.delete, []

        def delete(ns: str, ids: Any, hashes: Any) -> int:
            batches.append(len(ids))
            if len(batches) == 3:
                print("stuck", flush=True)
                time.sleep(3600)  # killed here
            return int(real(ns, ids, hashes))

        store.delete = delete
        mem.lifecycle.claim_ms = 2000  # the test's rerun waits this long for the dead claim
        mem.lifecycle.run(batch=10)
        print("finished", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
