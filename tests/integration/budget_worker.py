"""A writer for the shared hot budget test: remembers COUNT memories into one namespace with
a hot budget, beside other writers doing the same, then prints the ids it stored (one JSON
list on a line). It starts writing when the file GO exists, so the writers overlap.

    python -m tests.integration.budget_worker URL ARCHIVE NAMESPACE BUDGET COUNT NAME GO
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from aether_memory import Memory
from aether_memory.core.config import Options
from tests.word_embedder import WordHashEmbedder


def main(
    url: str, archive: str, namespace: str, budget: str, count: str, name: str, go: str
) -> None:
    options = Options(namespace=namespace, hot_budget=int(budget))
    with Memory.open(url, options=options, embedder=WordHashEmbedder(), archive=archive) as mem:
        agent = mem.agent(name)
        agent.recall("warm up")  # connections and indexes ready before the start
        print("ready", flush=True)
        deadline = time.monotonic() + 120
        while not Path(go).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        ids = [
            agent.remember(f"{name} note {i}: the queue depth on shard {i} was {i * 7}").id
            for i in range(int(count))
        ]
    print(json.dumps(ids), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:8])
