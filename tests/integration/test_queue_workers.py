"""Several worker processes on one queue, one of them SIGKILLed mid-task, on every store:
every task is completed, none is lost, none is acknowledged twice (counted from the workers'
own logs and from the store), and a task that always fails is dead-lettered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from aether_memory import Memory
from tests.integration.queue_worker import MAX_ATTEMPTS

ROOT = Path(__file__).resolve().parents[2]
TASKS = 1000
WORKERS = 4


def _wait(condition: Callable[[], bool], what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_four_workers_one_killed_mid_task_complete_every_task_once(
    url: str, namespace: str, tmp_path: Path
) -> None:
    with Memory.open(url, namespace=namespace) as mem:
        queue = mem.queue("work")
        ids = {queue.put({"n": i}) for i in range(TASKS)}
        poison = queue.put({"poison": True})
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
        command = [sys.executable, "-m", "tests.integration.queue_worker", url, namespace]
        # w0 holds its 11th task and is killed holding it. It starts first: a victim that
        # started late on a loaded machine found the others had taken every task.
        victim = [*command, "w0", str(tmp_path), "10"]
        procs = [subprocess.Popen(victim, cwd=ROOT, env=env)]
        try:
            claimed = tmp_path / "w0.claimed"  # created empty as the worker starts
            _wait(lambda: claimed.exists() and claimed.stat().st_size > 0, "a first claim")
            procs += [
                subprocess.Popen([*command, f"w{i}", str(tmp_path)], cwd=ROOT, env=env)
                for i in range(1, WORKERS)
            ]
            holding = tmp_path / "w0.holding"
            _wait(holding.exists, "the victim to hold a task")
            held = holding.read_text()
            procs[0].send_signal(signal.SIGKILL)  # mid-task: claimed, never acked
            procs[0].wait(timeout=30)
            _wait(lambda: queue.stats().acked >= TASKS, "every task to be acked")
            _wait(lambda: queue.stats().dead == 1, "the poison task to be dead-lettered")
        finally:
            (tmp_path / "stop").touch()
            if procs[0].poll() is None:  # the test failed before the kill: leave nothing
                procs[0].kill()
            for proc in procs:
                proc.wait(timeout=60)
        assert [p.returncode for p in procs[1:]] == [0, 0, 0]

        # Every delivery of a task is counted: no two workers got the same delivery of it.
        deliveries: Counter[str] = Counter()
        for i in range(WORKERS):
            deliveries.update((tmp_path / f"w{i}.claimed").read_text().splitlines())
        assert [d for d, n in deliveries.items() if n > 1] == []
        acks: Counter[str] = Counter()
        attempts: dict[str, int] = {}
        for i in range(WORKERS):
            for line in (tmp_path / f"w{i}.acked").read_text().splitlines():
                task_id, n = line.split()
                acks[task_id] += 1
                attempts[task_id] = int(n)
        assert set(acks) == ids  # none lost
        assert [t for t, n in acks.items() if n > 1] == []  # none acknowledged twice
        assert sum(acks.values()) == TASKS
        assert held in ids and attempts[held] >= 2  # the killed worker's task, redelivered
        stats = queue.stats()
        assert (stats.acked, stats.pending, stats.in_flight, stats.delayed) == (TASKS, 0, 0, 0)
        assert stats.expired >= 1
        assert sum(w.acked for w in stats.workers.values()) == TASKS
        [dead] = queue.peek("dead")
        assert (dead.id, dead.attempts, dead.error) == (poison, MAX_ATTEMPTS, "poison task")
