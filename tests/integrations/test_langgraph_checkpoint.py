"""LangGraph's own checkpointer conformance suite (langgraph-checkpoint-conformance), run on
both savers and every backend, plus a real compiled graph on each."""

from __future__ import annotations

import json
import operator
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.graph import END, START, StateGraph

from aether_memory import AsyncMemory, Memory
from aether_memory.integrations.langgraph import AetherSaver, AsyncAetherSaver

pytestmark = pytest.mark.timeout(300)


def _assert_passed(report: Any) -> None:
    failures = {
        name: result.failures
        for name, result in report.results.items()
        if result.detected and not result.passed
    }
    assert not failures, failures
    base = {"put", "put_writes", "get_tuple", "list", "delete_thread"}
    assert base <= {name for name, result in report.results.items() if result.passed}
    assert all(report.results[name].tests_passed > 0 for name in base)


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
