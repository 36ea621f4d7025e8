"""The claim_task and complete_task tools, as a model calls them (JSON text, nulls)."""

from __future__ import annotations

from aether_memory import Memory


def test_a_model_claims_and_completes_tasks(mem: Memory) -> None:
    mem.queue("inbox").put({"summarise": "doc-1"}, priority=1)
    mem.queue("inbox").put({"summarise": "doc-2"})
    tools = mem.agent("summariser").tools
    claimed = tools.call("claim_task", '{"queue": "inbox", "wait_seconds": null}')
    assert claimed["ok"], claimed
    task = claimed["result"]
    assert (task["task"], task["attempts"]) == ({"summarise": "doc-1"}, 1)
    lease = {"queue": "inbox", "task_id": task["task_id"], "lease": task["lease"]}
    done = tools.call("complete_task", {**lease, "success": None, "error": None})
    assert done == {"ok": True, "result": {"state": "done"}}
    again = tools.call("complete_task", lease)
    assert again["ok"] is False and again["error"]["code"] == "lease_lost"

    second = tools.call("claim_task", {"queue": "inbox"})["result"]
    lease = {"queue": "inbox", "task_id": second["task_id"], "lease": second["lease"]}
    failed = tools.call("complete_task", {**lease, "success": False, "error": "it is empty"})
    assert failed == {"ok": True, "result": {"state": "delayed"}}
    assert tools.call("claim_task", {"queue": "inbox", "wait_seconds": 0.1}) == {
        "ok": True,
        "result": None,
    }
    stats = mem.queue("inbox").stats()
    assert (stats.acked, stats.failed) == (1, 1)
    assert stats.workers["summariser"].acked == 1  # the agent is the worker


def test_queue_tools_refuse_bad_calls(mem: Memory) -> None:
    tools = mem.agent("a").tools
    for name, args in (
        ("claim_task", {}),
        ("claim_task", {"queue": "a:b"}),
        ("claim_task", {"queue": "q", "wait_seconds": 60}),
        ("complete_task", {"queue": "q", "task_id": "x}", "lease": "l"}),
        ("complete_task", {"queue": "q", "task_id": "t"}),
    ):
        result = tools.call(name, args)
        assert result["ok"] is False and result["error"]["code"] == "invalid_input", (name, args)
