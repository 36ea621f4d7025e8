"""A small compiled LangGraph graph, run as its own process by the kill-and-resume test.

    python -m tests.integrations.langgraph_graph URL NAMESPACE THREAD start|resume

``start`` runs until the human-approval interrupt, resumes it with an approval, and hangs
inside the next node (printing ``acting``) until it is killed; ``resume`` continues the thread
from its last checkpoint in a fresh process and prints the final state as JSON.
"""

from __future__ import annotations

import json
import operator
import sys
import time
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from aether_memory import Memory
from aether_memory.integrations.langgraph import AetherSaver


class State(TypedDict):
    steps: Annotated[list[str], operator.add]


def build(saver: AetherSaver, hang: bool) -> Any:
    def plan(state: State) -> dict[str, Any]:
        return {"steps": ["plan"]}

    def approve(state: State) -> dict[str, Any]:
        answer = interrupt("approve the plan?")
        return {"steps": [f"approved:{answer}"]}

    def act(state: State) -> dict[str, Any]:
        if hang:
            print("acting", flush=True)
            time.sleep(600)
        return {"steps": ["act"]}

    builder = StateGraph(State)
    builder.add_node("plan", plan)
    builder.add_node("approve", approve)
    builder.add_node("act", act)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "approve")
    builder.add_edge("approve", "act")
    builder.add_edge("act", END)
    return builder.compile(checkpointer=saver)


def main(url: str, namespace: str, thread: str, phase: str) -> None:
    config: Any = {"configurable": {"thread_id": thread}}
    with Memory.open(url, namespace=namespace) as mem:
        graph = build(AetherSaver(mem), hang=phase == "start")
        if phase == "start":
            # "sync" durability: each checkpoint is stored before the next step starts (the
            # default writes it in the background, so a kill may catch it unwritten).
            first = graph.invoke({"steps": []}, config, durability="sync")
            print(
                json.dumps({"interrupted": [i.value for i in first["__interrupt__"]]}), flush=True
            )
            graph.invoke(Command(resume="yes"), config, durability="sync")
        else:
            before = graph.get_state(config)
            final = graph.invoke(None, config)
            print(json.dumps({"next": list(before.next), "steps": final["steps"]}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
