"""A worker process for the multi-process queue tests.

    python -m tests.integration.queue_worker URL NAMESPACE NAME FOLDER [HOLD_AFTER]

Claims tasks from queue ``work`` until FOLDER/stop exists, completing each (a task marked
``poison`` is failed instead), appending ``id attempts`` to FOLDER/NAME.claimed for each
delivery and to FOLDER/NAME.acked after each ack the store accepted. With HOLD_AFTER, after
that many acks it claims one more task, writes its id to FOLDER/NAME.holding and stops
there, mid-task, to be killed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from aether_memory import LeaseLost, Memory

VISIBILITY = 1.0
MAX_ATTEMPTS = 3


def main(url: str, namespace: str, name: str, folder: Path, hold_after: int | None) -> None:
    log = os.open(folder / f"{name}.acked", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    claims = os.open(folder / f"{name}.claimed", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    done = 0
    with Memory.open(url, namespace=namespace) as mem:
        queue = mem.queue("work", visibility=VISIBILITY, max_attempts=MAX_ATTEMPTS, backoff=0)
        while not (folder / "stop").exists():
            task = queue.claim(name, block=0.2)
            if task is None:
                continue
            os.write(claims, f"{task.id} {task.attempts}\n".encode())
            if hold_after is not None and done >= hold_after:
                (folder / f"{name}.holding").write_text(task.id)
                while True:  # mid-task: the test kills this process here
                    time.sleep(1)
            if task.task.get("poison"):
                task.fail("poison task")
                continue
            try:
                task.ack()
            except LeaseLost:
                continue  # it lapsed and went to another worker: that one completes it
            os.write(log, f"{task.id} {task.attempts}\n".encode())
            done += 1
    os.close(log)
    os.close(claims)


if __name__ == "__main__":
    hold = int(sys.argv[5]) if len(sys.argv) > 5 else None
    main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]), hold)
