"""Document 004's agent_001, as a process of its own, for the two-process pub/sub test.

    python -m tests.integrations.adapter_agent HOST PORT NAMESPACE

It opens the adapter as document 004 does (``backend="redis"``, ``agent_id="agent_001"``,
``enable_pubsub=True``), saves an episode and prints ``{"saved": <memory_id>}``, then waits
for another agent's episode and prints ``{"notified": {...}}`` with the notification it got
(kind, op, id, agent) before it closes the adapter and exits.
"""

from __future__ import annotations

import asyncio
import json
import sys

from aether_memory.compat.adapter import create_memory_adapter
from aether_memory.core.feed import Notification
from tests.word_embedder import WordHashEmbedder

WAIT_SECONDS = 60


async def main(host: str, port: int, namespace: str) -> None:
    memory = await create_memory_adapter(
        backend="redis",
        agent_id="agent_001",
        redis_host=host,
        redis_port=port,
        enable_pubsub=True,
        namespace=namespace,
        embedder=WordHashEmbedder(),
    )
    received: asyncio.Queue[Notification] = asyncio.Queue()
    memory.on_update(received.put)
    try:
        episode = await memory.save_episode(
            "summarise the quarterly report", "summary written", success=True
        )
        print(json.dumps({"saved": episode.memory_id}), flush=True)
        note = await asyncio.wait_for(received.get(), WAIT_SECONDS)
        fields = {"kind": note.kind, "op": note.op, "id": note.id, "agent": note.agent}
        print(json.dumps({"notified": fields}), flush=True)
    finally:
        await memory.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
