"""Task queues on every store (Redis with modules, plain Redis 8, Redis 7.0, SQLite): leases,
redelivery, refusals of late acks, retries, dead letters, dedupe, delay, priority, names."""

from __future__ import annotations

import time

import pytest

from aether_memory import AsyncMemory, InvalidInput, LeaseLost, Memory
from aether_memory.core.ids import new_id

# Names that would reach another key or query if they were not refused.
HOSTILE_NAMES = ["a:b", "x}", "{ns}", "a|b", "-1", "@t:{x}", "with space", "ü", "", "a/b", "*", "."]


def _wait_past(deadline_ms: int) -> None:
    while time.time_ns() // 1_000_000 <= deadline_ms:
        time.sleep(0.01)


def test_put_claim_ack_round_trip(mem: Memory) -> None:
    q = mem.queue("jobs")
    task_id = q.put({"url": "https://example.org", "n": [1, 2]})
    task = q.claim("w1")
    assert task is not None
    assert (task.id, task.task, task.attempts, task.worker) == (
        task_id,
        {"url": "https://example.org", "n": [1, 2]},
        1,
        "w1",
    )
    assert not task.redelivered
    assert q.stats().in_flight == 1
    task.ack()
    assert q.claim("w1") is None
    stats = q.stats()
    assert (stats.pending, stats.in_flight, stats.acked) == (0, 0, 1)
    assert stats.workers["w1"].acked == 1
    with pytest.raises(LeaseLost):
        task.ack()  # twice: refused, not counted
    assert q.stats().acked == 1


def test_priority_then_fifo_order(mem: Memory) -> None:
    q = mem.queue("ordered")
    for i in range(5):
        q.put({"i": i})
    q.put("urgent", priority=10)
    q.put("later", priority=-3)
    q.put("also urgent", priority=10)
    got = []
    while (task := q.claim("w")) is not None:
        got.append(task.task)
        task.ack()
    assert got == ["urgent", "also urgent", *({"i": i} for i in range(5)), "later"]


def test_delay_holds_a_task_back_until_due(mem: Memory) -> None:
    q = mem.queue("delayed")
    q.put("soon", delay=0.3)
    assert q.claim("w") is None
    stats = q.stats()
    assert (stats.pending, stats.delayed) == (0, 1)
    assert [t.task for t in q.peek("delayed")] == ["soon"]
    task = q.claim("w", block=5)  # woken by the due time, not by a put
    assert task is not None and task.task == "soon"
    task.ack()


def test_a_blocked_claim_is_woken_by_a_put_from_another_client(url: str, namespace: str) -> None:
    import threading

    with Memory.open(url, namespace=namespace) as a, Memory.open(url, namespace=namespace) as b:
        timer = threading.Timer(0.2, lambda: b.queue("wake").put("hello"))
        timer.start()
        try:
            task = a.queue("wake").claim("w", block=10)
        finally:
            timer.join()
        assert task is not None and task.task == "hello"
        assert a.queue("wake").claim("w", block=0.05) is None  # and gives up in time


def test_dedupe_key_makes_puts_idempotent_while_the_task_is_held(mem: Memory) -> None:
    q = mem.queue("dedupe")
    first = q.put({"v": 1}, dedupe_key="order-42")
    assert q.put({"v": 2}, dedupe_key="order-42") == first
    assert q.stats().pending == 1
    task = q.claim("w")
    assert task is not None and task.task == {"v": 1}
    assert q.put({"v": 3}, dedupe_key="order-42") == first  # in flight: still held
    task.ack()
    again = q.put({"v": 4}, dedupe_key="order-42")  # completed: the key is free
    assert again != first
    assert q.peek()[0].dedupe_key == "order-42"


def test_visibility_timeout_redelivers_and_refuses_the_late_ack(mem: Memory) -> None:
    q = mem.queue("lease", visibility=0.2)
    q.put("work")
    slow = q.claim("slow")
    assert slow is not None
    _wait_past(slow.deadline)
    fast = q.claim("fast")  # the lapsed lease goes back and is handed out again
    assert fast is not None and fast.id == slow.id
    assert (fast.attempts, fast.redelivered) == (2, True)
    with pytest.raises(LeaseLost):
        slow.ack()
    with pytest.raises(LeaseLost):
        slow.extend()
    with pytest.raises(LeaseLost):
        slow.fail("late")
    fast.ack()
    stats = q.stats()
    assert (stats.acked, stats.expired, stats.in_flight, stats.pending) == (1, 1, 0, 0)
    assert stats.workers["fast"].acked == 1
    assert "slow" not in stats.workers or stats.workers["slow"].acked == 0


def test_extend_keeps_the_lease(mem: Memory) -> None:
    q = mem.queue("extend", visibility=0.3)
    q.put("long job")
    task = q.claim("w")
    assert task is not None
    old = task.deadline
    assert task.extend(30) > old
    _wait_past(old)
    assert q.claim("other") is None  # still leased
    task.ack()


def test_failures_back_off_then_dead_letter_after_max_attempts(mem: Memory) -> None:
    q = mem.queue("poison", max_attempts=3, backoff=0.05, backoff_cap=0.1)
    task_id = q.put({"always": "fails"})
    states = []
    for attempt in range(1, 4):
        task = q.claim("w", block=5)
        assert task is not None and (task.id, task.attempts) == (task_id, attempt)
        states.append(task.fail(RuntimeError(f"boom {attempt}")))
    assert states == ["delayed", "delayed", "dead"]
    assert q.claim("w", block=0.3) is None
    stats = q.stats()
    assert (stats.dead, stats.failed, stats.pending, stats.delayed) == (1, 3, 0, 0)
    assert stats.workers["w"].failed == 3
    [dead] = q.peek("dead")
    assert (dead.id, dead.attempts, dead.error) == (task_id, 3, "RuntimeError: boom 3")
    assert q.retry_dead() == 1
    again = q.claim("w")
    assert again is not None and (again.id, again.attempts) == (task_id, 1)
    again.ack()
    assert q.stats().dead == 0


def test_a_lapsed_lease_at_the_last_attempt_is_dead_lettered(mem: Memory) -> None:
    q = mem.queue("lapse", visibility=0.1, max_attempts=1)
    q.put("x")
    task = q.claim("w")
    assert task is not None
    _wait_past(task.deadline)
    assert q.claim("w") is None
    [dead] = q.peek("dead")
    assert dead.id == task.id and "visibility timeout" in (dead.error or "")
    assert q.retry_dead([task.id]) == 1
    assert q.retry_dead([task.id]) == 0


def test_peek_changes_nothing_and_lists_every_state(mem: Memory) -> None:
    q = mem.queue("peek")
    q.put("a", priority=1)
    q.put("b")
    q.put("c", delay=60)
    assert [t.task for t in q.peek("pending")] == ["a", "b"]
    assert [t.task for t in q.peek("pending", limit=1)] == ["a"]
    assert [t.task for t in q.peek("delayed")] == ["c"]
    held = q.claim("w")
    assert held is not None
    [flying] = q.peek("in_flight")
    assert (flying.id, flying.worker, flying.at) == (held.id, "w", held.deadline)
    assert q.peek("dead") == []
    assert q.stats().pending == 1


def test_queues_are_isolated_by_name_and_namespace(url: str, namespace: str) -> None:
    other = namespace + "x"
    with Memory.open(url, namespace=namespace) as a, Memory.open(url, namespace=other) as b:
        a.queue("shared").put("mine")
        a.queue("shared2").put("other queue")
        assert b.queue("shared").claim("w") is None
        assert b.queue("shared").peek() == []
        assert b.queue("shared").stats().pending == 0
        task = a.queue("shared").claim("w")
        assert task is not None and task.task == "mine"


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_queue_and_worker_names_are_refused(mem: Memory, name: str) -> None:
    with pytest.raises(InvalidInput):
        mem.queue(name)
    q = mem.queue("safe")
    with pytest.raises(InvalidInput):
        q.claim(name)
    with pytest.raises(InvalidInput):
        q.retry_dead([name])
    assert q.stats().pending == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"priority": 101},
        {"priority": 1.5},
        {"priority": True},
        {"delay": -1},
        {"delay": float("nan")},
        {"dedupe_key": ""},
        {"dedupe_key": 7},
        {"dedupe_key": "x" * 300},
    ],
)
def test_bad_puts_are_refused_and_write_nothing(mem: Memory, kwargs: dict[str, object]) -> None:
    q = mem.queue("bad")
    with pytest.raises(InvalidInput):
        q.put("t", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        q.put({"x": float("inf")})
    assert q.stats().pending == 0 and q.peek() == []


def test_bad_queue_options_are_refused(mem: Memory) -> None:
    for kwargs in ({"visibility": 0}, {"max_attempts": 0}, {"backoff": -1}):
        with pytest.raises(InvalidInput):
            mem.queue("q", **kwargs)  # type: ignore[arg-type]
    q = mem.queue("q")
    with pytest.raises(InvalidInput):
        q.peek("nowhere")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        q.claim("w", block=-1)


async def test_the_async_queue(amem: AsyncMemory) -> None:
    q = amem.queue("async-" + new_id().lower())
    await q.put({"a": 1}, priority=2)
    await q.put({"b": 2})
    task = await q.claim("w", block=1)
    assert task is not None and task.task == {"a": 1}
    await task.ack()
    task = await q.claim("w")
    assert task is not None
    assert await task.fail("nope") == "delayed"
    stats = await q.stats()
    assert (stats.acked, stats.failed, stats.delayed) == (1, 1, 1)
