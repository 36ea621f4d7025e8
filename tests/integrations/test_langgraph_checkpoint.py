"""LangGraph's own checkpointer conformance suite (langgraph-checkpoint-conformance), run on
both savers and every backend, plus a real compiled graph on each."""

from __future__ import annotations

import json
import operator
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.graph import END, START, StateGraph

from aether_memory import AsyncMemory, InvalidInput, Memory, Options
from aether_memory.integrations.langgraph import AetherSaver, AsyncAetherSaver
from aether_memory.server.local import RedisProcess

pytestmark = pytest.mark.timeout(300)


def _assert_passed(report: Any) -> None:
    failures = {
        name: result.failures
        for name, result in report.results.items()
        if result.detected and not result.passed
    }
    assert not failures, failures
    # Every capability the suite knows, the optional ones included, is detected and run.
    every = {
        "put", "put_writes", "get_tuple", "list", "delete_thread",
        "delete_for_runs", "copy_thread", "prune",
    }  # fmt: skip
    assert every <= {name for name, result in report.results.items() if result.passed}
    assert all(report.results[name].tests_passed > 0 for name in every)


async def test_conformance_async_saver(url: str, namespace: str) -> None:
    @checkpointer_test(name=f"AsyncAetherSaver[{url}]")
    async def factory() -> AsyncIterator[AsyncAetherSaver]:
        memory = await AsyncMemory.open(url, namespace=namespace)
        async with memory:
            yield AsyncAetherSaver(memory)

    _assert_passed(await validate(factory))


async def test_conformance_sync_saver(url: str, namespace: str) -> None:
    @checkpointer_test(name=f"AetherSaver[{url}]")
    async def factory() -> AsyncIterator[AetherSaver]:
        with Memory.open(url, namespace=namespace) as memory:
            yield AetherSaver(memory)

    _assert_passed(await validate(factory))


class State(TypedDict):
    steps: Annotated[list[str], operator.add]


def _graph(saver: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node("plan", lambda s: {"steps": ["plan"]})
    builder.add_node("act", lambda s: {"steps": ["act"]})
    builder.add_node("report", lambda s: {"steps": ["report"]})
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "act")
    builder.add_edge("act", "report")
    builder.add_edge("report", END)
    return builder.compile(checkpointer=saver, interrupt_before=["report"])


@pytest.fixture
def saver(mem: Memory) -> Iterator[AetherSaver]:
    yield AetherSaver(mem)


def test_graph_interrupts_and_resumes_sync(saver: AetherSaver) -> None:
    config: Any = {"configurable": {"thread_id": "conversation/1 with spaces"}}
    graph = _graph(saver)
    graph.invoke({"steps": []}, config)
    assert graph.get_state(config).next == ("report",)
    assert graph.invoke(None, config)["steps"] == ["plan", "act", "report"]
    history = list(graph.get_state_history(config))
    assert len(history) >= 4
    saver.delete_thread("conversation/1 with spaces")
    assert saver.get_tuple(config) is None


async def test_graph_interrupts_and_resumes_async(amem: AsyncMemory) -> None:
    config: Any = {"configurable": {"thread_id": "t-async"}}
    graph = _graph(AsyncAetherSaver(amem))
    await graph.ainvoke({"steps": []}, config)
    assert (await graph.aget_state(config)).next == ("report",)
    assert (await graph.ainvoke(None, config))["steps"] == ["plan", "act", "report"]


def test_graph_killed_mid_node_resumes_in_another_process(url: str, namespace: str) -> None:
    """A graph interrupted for approval, approved, then SIGKILLed inside the next node: a
    second process picks the thread up at that node with the approval kept."""
    run = [sys.executable, "-m", "tests.integrations.langgraph_graph", url, namespace, "job-1"]
    first = subprocess.Popen([*run, "start"], stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None
        assert json.loads(first.stdout.readline()) == {"interrupted": ["approve the plan?"]}
        assert first.stdout.readline().strip() == "acting"
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        if first.stdout:
            first.stdout.close()
    assert first.returncode == -signal.SIGKILL

    second = subprocess.run([*run, "resume"], capture_output=True, text=True, check=True)
    assert json.loads(second.stdout) == {
        "next": ["act"],
        "steps": ["plan", "approved:yes", "act"],
    }


def test_copied_thread_resumes_on_its_own(saver: AetherSaver) -> None:
    """A thread interrupted before its last node, copied: the copy finishes, the source is
    still waiting at the interrupt."""
    graph = _graph(saver)
    source: Any = {"configurable": {"thread_id": "fork-source"}}
    target: Any = {"configurable": {"thread_id": "fork-target"}}
    graph.invoke({"steps": []}, source)
    saver.copy_thread("fork-source", "fork-target")
    assert graph.get_state(target).next == ("report",)
    assert graph.invoke(None, target)["steps"] == ["plan", "act", "report"]
    assert graph.get_state(source).next == ("report",)
    assert graph.get_state(source).values["steps"] == ["plan", "act"]


def test_deleting_the_newest_run_makes_the_previous_checkpoint_the_latest(
    saver: AetherSaver,
) -> None:
    config: Any = {"configurable": {"thread_id": "runs", "checkpoint_ns": ""}}
    graph = _graph(saver)
    graph.invoke({"steps": []}, {**config, "metadata": {"run_id": "r1"}})
    first = saver.get_tuple(config)
    assert first is not None
    graph.invoke(None, {**config, "metadata": {"run_id": "r2"}})
    finished = saver.get_tuple(config)
    assert finished is not None and finished.metadata["run_id"] == "r2"

    saver.delete_for_runs(["r2"])
    latest = saver.get_tuple(config)
    assert latest is not None
    assert latest.config == first.config
    assert {t.metadata["run_id"] for t in saver.list(config)} == {"r1"}
    saver.delete_for_runs(["r1"])
    assert saver.get_tuple(config) is None
    assert list(saver.list(config)) == []


def test_prune_refuses_an_unknown_strategy(saver: AetherSaver) -> None:
    with pytest.raises(InvalidInput):
        saver.prune(["t"], strategy="keep_some")


def test_the_newest_checkpoint_put_by_another_saver_is_read_with_its_writes(mem: Memory) -> None:
    """Each saver remembers the newest checkpoint it put; another one's newer put wins."""
    ours, theirs = AetherSaver(mem), AetherSaver(mem)
    config: Any = {"configurable": {"thread_id": "shared", "checkpoint_ns": ""}}
    first = ours.put(config, empty_checkpoint(), {"step": 1}, {})
    ours.put_writes(first, [("ch", "ours")], "task-1")
    second = theirs.put(first, empty_checkpoint(), {"step": 2}, {})
    theirs.put_writes(second, [("ch", "theirs")], "task-2")
    latest = ours.get_tuple(config)
    assert latest is not None
    assert latest.config == second
    assert latest.pending_writes == [("task-2", "ch", "theirs")]
    assert latest.parent_config == first


def test_a_graph_resumes_through_a_redis_outage_and_its_checkpoints_reach_redis(
    tmp_path: Path,
) -> None:
    """Redis dies between the interrupt and the resume: the thread is read from the SQLite
    fallback (keys and chosen records included), the resume's checkpoints are queued there,
    and after the replay Redis alone holds the whole history."""
    options = Options(namespace="lgfb", socket_timeout=0.5, connect_timeout=0.5, retries=1)
    config: Any = {"configurable": {"thread_id": "outage"}}
    with RedisProcess(tmp_path / "redis", fsync="always") as server:
        with Memory.open(
            server.url, options=options, fallback=f"sqlite:///{tmp_path}/fb.db"
        ) as mem:
            saver = AetherSaver(mem)
            graph = _graph(saver)
            graph.invoke({"steps": []}, config)
            before = [t.config for t in saver.list(config)]
            server.kill()
            assert graph.get_state(config).next == ("report",)
            assert [t.config for t in saver.list(config)] == before
            assert graph.invoke(None, config)["steps"] == ["plan", "act", "report"]
            assert mem.health().degraded
            server.restart()
            end = time.monotonic() + 60
            while mem.health().degraded or mem.health().outbox:
                assert time.monotonic() < end, "the outbox was not replayed"
                time.sleep(0.05)
            history = [t.config for t in saver.list(config)]
        with Memory.open(server.url, options=options) as direct:
            again = AetherSaver(direct)
            assert [t.config for t in again.list(config)] == history
            assert len(history) > len(before)
            assert _graph(again).get_state(config).values["steps"] == ["plan", "act", "report"]


def test_checkpoints_put_oldest_last_leave_the_greatest_id_the_latest(mem: Memory) -> None:
    """A thread moved from another saver in its `list` order (newest first): the latest is
    the greatest id, as `list` and LangGraph's own savers have it, for this saver and a
    fresh one; a delete then a smaller id makes that one the latest again."""
    ours = AetherSaver(mem)
    config: Any = {"configurable": {"thread_id": "moved", "checkpoint_ns": ""}}
    checkpoints = [empty_checkpoint() for _ in range(3)]  # ids ascending
    for step, checkpoint in reversed(list(enumerate(checkpoints))):
        ours.put(config, checkpoint, {"step": step}, {})
    newest = checkpoints[-1]["id"]
    for saver in (ours, AetherSaver(mem)):
        latest = saver.get_tuple(config)
        assert latest is not None and latest.checkpoint["id"] == newest
        assert latest.metadata["step"] == 2
        (first,) = saver.list(config, limit=1)
        assert first.checkpoint["id"] == newest
    ours.delete_thread("moved")
    ours.put(config, checkpoints[0], {"step": 0}, {})
    again = ours.get_tuple(config)
    assert again is not None and again.checkpoint["id"] == checkpoints[0]["id"]


def test_a_thread_copied_onto_newer_checkpoints_keeps_the_greatest_id_the_latest(
    mem: Memory,
) -> None:
    """Copied onto a thread that already holds a newer checkpoint, the target's latest stays
    its greatest id (what `list` gives first), not the source's newest."""
    saver = AetherSaver(mem)
    source: Any = {"configurable": {"thread_id": "copy-from", "checkpoint_ns": ""}}
    target: Any = {"configurable": {"thread_id": "copy-onto", "checkpoint_ns": ""}}
    saver.put(source, empty_checkpoint(), {"step": 1}, {})
    newer = empty_checkpoint()
    saver.put(target, newer, {"step": 9}, {})
    saver.copy_thread("copy-from", "copy-onto")
    for reader in (saver, AetherSaver(mem)):
        latest = reader.get_tuple(target)
        assert latest is not None and latest.checkpoint["id"] == newer["id"]
        assert [t.metadata["step"] for t in reader.list(target)] == [9, 1]
