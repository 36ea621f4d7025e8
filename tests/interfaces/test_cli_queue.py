"""`aether queue stats|peek|retry-dead` against every store, as a user runs them."""

from __future__ import annotations

from pathlib import Path

import orjson

from aether_memory import Memory
from tests.interfaces.test_cli_manage import aether


def test_queue_stats_peek_and_retry_dead(url: str, namespace: str, tmp_path: Path) -> None:
    with Memory.open(url, namespace=namespace) as mem:
        q = mem.queue("jobs", max_attempts=1)
        dead_id = q.put({"job": "poison"})
        q.put({"job": "fine"})
        task = q.claim("w1")
        assert task is not None and task.id == dead_id
        task.fail("it broke")
    where = ["--url", url, "-n", namespace]
    stats = orjson.loads(aether("queue", "stats", "jobs", *where, "--json", home=tmp_path).stdout)
    assert (stats["pending"], stats["dead"], stats["workers"]["w1"]["failed"]) == (1, 1, 1)
    table = aether("queue", "stats", "jobs", *where, home=tmp_path).stdout
    assert "1 pending" in table and "1 dead" in table and "w1" in table

    dead = orjson.loads(
        aether("queue", "peek", "jobs", "-s", "dead", *where, "--json", home=tmp_path).stdout
    )
    assert [(t["id"], t["error"], t["task"]) for t in dead] == [
        (dead_id, "it broke", {"job": "poison"})
    ]
    assert dead_id in aether("queue", "peek", "jobs", "-s", "dead", *where, home=tmp_path).stdout
    moved = aether("queue", "retry-dead", "jobs", dead_id, *where, home=tmp_path).stdout
    assert "1 dead task" in moved
    with Memory.open(url, namespace=namespace) as mem:
        assert mem.queue("jobs").stats().pending == 2

    refused = aether("queue", "peek", "a:b", *where, home=tmp_path, check=False)
    assert refused.returncode == 1 and "not valid" in refused.stderr
    refused = aether("queue", "peek", "jobs", "-s", "nowhere", *where, home=tmp_path, check=False)
    assert refused.returncode == 1 and "state must be" in refused.stderr
