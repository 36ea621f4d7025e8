"""LangGraph's long-term store (`BaseStore`) on aether memory, through LangGraph's own API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, TypedDict

import pytest
from langgraph.graph import START, StateGraph
from langgraph.store.base import BaseStore

from aether_memory import Memory
from aether_memory.integrations.langgraph import AetherSaver, AetherStore
from tests.word_embedder import WordHashEmbedder


@pytest.fixture
def store(url: str, namespace: str) -> Iterator[AetherStore]:
    with Memory.open(url, namespace=namespace, embedder=WordHashEmbedder()) as mem:
        yield AetherStore(mem, index={"fields": ["text"]})


def test_put_get_delete_and_namespaces(store: AetherStore) -> None:
    store.put(("users", "ada", "prefs"), "food", {"text": "likes spicy food", "level": 3})
    store.put(("users", "ada", "prefs"), "drink", {"text": "drinks green tea", "level": 1})
    store.put(("users", "bob"), "food", {"text": "vegetarian", "level": 2})
    item = store.get(("users", "ada", "prefs"), "food")
    assert item is not None and item.value == {"text": "likes spicy food", "level": 3}
    assert item.namespace == ("users", "ada", "prefs") and item.created_at <= item.updated_at
    store.put(("users", "ada", "prefs"), "food", {"text": "likes mild food", "level": 0})
    again = store.get(("users", "ada", "prefs"), "food")
    assert again is not None and again.value["text"] == "likes mild food"
    assert again.created_at == item.created_at
    assert store.list_namespaces() == [("users", "ada", "prefs"), ("users", "bob")]
    assert store.list_namespaces(prefix=("users", "*", "prefs")) == [("users", "ada", "prefs")]
    assert store.list_namespaces(suffix=("bob",)) == [("users", "bob")]
    assert store.list_namespaces(max_depth=1) == [("users",)]
    store.delete(("users", "bob"), "food")
    assert store.get(("users", "bob"), "food") is None


def test_search_filters_and_ranks(store: AetherStore) -> None:
    ns = ("notes",)
    store.put(ns, "1", {"text": "the user flies to Lyon on Monday", "n": 1, "tag": "travel"})
    store.put(ns, "2", {"text": "the user likes green tea", "n": 5, "tag": "food"})
    store.put(ns, "3", {"text": "meeting about the budget", "n": 9, "tag": "work"})
    store.put(("other",), "4", {"text": "the user flies to Lyon", "n": 1})
    assert [i.key for i in store.search(ns, filter={"tag": "food"})] == ["2"]
    assert [i.key for i in store.search(ns, filter={"n": {"$gte": 5}})] == ["2", "3"]
    assert [i.key for i in store.search(ns, filter={"n": {"$ne": 5, "$lt": 9}})] == ["1"]
    ranked = store.search(ns, query="flight to Lyon", limit=2)
    assert ranked[0].key == "1" and ranked[0].score is not None
    assert ranked[0].score >= (ranked[1].score or 0)
    assert {i.key for i in store.search((), query="Lyon", limit=10)} == {"1", "2", "3", "4"}
    assert len(store.search(ns, limit=1, offset=1)) == 1


def test_items_expire(store: AetherStore) -> None:
    store.put(("tmp",), "k", {"text": "short lived"}, ttl=0.5 / 60)  # half a second
    assert store.get(("tmp",), "k") is not None
    time.sleep(0.6)
    assert store.get(("tmp",), "k") is None
    assert store.search(("tmp",)) == []


async def test_async_api(store: AetherStore) -> None:
    await store.aput(("a",), "k", {"text": "async"})
    item = await store.aget(("a",), "k")
    assert item is not None and item.value == {"text": "async"}
    assert [i.key for i in await store.asearch(("a",), query="async")] == ["k"]


class State(TypedDict):
    user: str
    answer: str


def test_a_graph_node_reads_and_writes_the_store(url: str, namespace: str) -> None:
    with Memory.open(url, namespace=namespace, embedder=WordHashEmbedder()) as mem:

        def remember(state: State, *, store: BaseStore) -> dict[str, Any]:
            seen = store.get(("visits",), state["user"])
            count = 1 if seen is None else seen.value["count"] + 1
            store.put(("visits",), state["user"], {"count": count})
            return {"answer": f"visit {count}"}

        builder = StateGraph(State)
        builder.add_node("remember", remember)
        builder.add_edge(START, "remember")
        graph = builder.compile(checkpointer=AetherSaver(mem), store=AetherStore(mem))
        config: Any = {"configurable": {"thread_id": "t"}}
        assert graph.invoke({"user": "ada", "answer": ""}, config)["answer"] == "visit 1"
        assert graph.invoke({"user": "ada", "answer": ""}, config)["answer"] == "visit 2"
