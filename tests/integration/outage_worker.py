"""A writer process for the multi-process outage tests and the fault benchmark.

    python -m tests.integration.outage_worker URL FALLBACK NAME FOLDER

Writes, until FOLDER/stop exists, one event and one working-memory value per step to the
shared session ``shared`` (and a checkpoint every tenth step), recording for each write when
it was issued and acknowledged (CLOCK_MONOTONIC, shared by every process on the machine).
FOLDER/NAME.progress says how far it got and whether it is degraded; FOLDER/NAME.json holds
the record when it stops.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from aether_memory import Memory, Options

# The writers go as fast as the machine lets them, for as long as the outage and the replay
# take: no event of theirs may be trimmed by the session's cap (10,000 by default).
OPTIONS = Options(
    namespace="mp", socket_timeout=0.5, connect_timeout=0.5, retries=1, events_maxlen=10**7
)


def main(url: str, fallback: str, name: str, folder: Path) -> None:
    writes: list[dict[str, object]] = []
    checkpoints: dict[int, int] = {}
    errors: list[str] = []
    with Memory.open(url, options=OPTIONS, fallback=fallback) as mem:
        session = mem.agent("writer").session("shared")
        i = 0
        while not (folder / "stop").exists():
            try:
                issued = time.monotonic_ns()
                event = session.record("tick", {"w": name, "i": i})
                value = f"{name}:{i}"
                session.working.set("latest", value)
                acked = time.monotonic_ns()
                writes.append({"id": event.id, "value": value, "issued": issued, "acked": acked})
                if i % 10 == 0:
                    checkpoints[session.checkpoint({"w": name, "i": i})] = i
            except Exception as exc:  # any error is a lost write: the test fails on it
                errors.append(repr(exc))
                break
            i += 1
            if i % 20 == 0:
                health = mem.health()
                progress = {"n": i, "degraded": health.degraded, "outbox": health.outbox}
                (folder / f"{name}.progress.tmp").write_text(json.dumps(progress))
                (folder / f"{name}.progress.tmp").replace(folder / f"{name}.progress")
        health = mem.health()
    record = {
        "writes": writes,
        "checkpoints": {str(k): v for k, v in checkpoints.items()},
        "errors": errors,
        "degraded_at_end": health.degraded,
    }
    (folder / f"{name}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]))
