"""The Query Engine's text channel scores a memory with the engine's own BM25 for the query's
words: leaving superseded memories out of the query itself (a negation intersected with the
union) changed those scores, and with them the ranking of real conversations."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from aether_memory import Memory
from aether_memory.backends.redis._async.longterm import INDEX_VERSION
from aether_memory.core import keys
from aether_memory.core.query import Filters, text_terms
from aether_memory.server.local import RedisProcess
from tests.word_embedder import WordHashEmbedder

TURNS = [
    "Nebraas: I like food a lot",
    "Nebraas: hello there friend, how are you doing today",
    "Fahim: the food was great",
    "Nebraas: ok",
    "Fahim: I like it",
]


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[str]:
    """A server of its own: the comparison needs collection statistics nothing else moves."""
    server = RedisProcess(tmp_path / "redis", modules=True)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def test_text_relevance_is_the_engines_bm25(own_server: str, namespace: str) -> None:
    url = own_server
    embedder = WordHashEmbedder()
    with Memory.open(url, namespace=namespace, embedder=embedder) as mem:
        agent = mem.agent("a")
        assert all(r.status == "created" for r in agent.remember_many(TURNS))
        index = keys.memory_index(namespace, INDEX_VERSION)
        with redis.Redis.from_url(url) as r:
            # The engine's collection statistics change when its garbage collector reclaims
            # the entries of re-indexed documents, which it does on its own schedule: settle
            # them now, so both queries below score against the same statistics.
            r.execute_command("FT.DEBUG", "GC_FORCEINVOKE", index)
        terms = text_terms("What food does Nebraas like?")
        vector = embedder.embed(["food"])[0].astype("float32").tobytes()
        found = mem.longterm.port.search(namespace, Filters(), vector, terms, 20)
    words = " | ".join(terms)
    with redis.Redis.from_url(url, protocol=3) as r:
        reply = r.execute_command(
            "FT.SEARCH", index,
            f"@content|when:({words})", "SCORER", "BM25STD", "WITHSCORES", "NOCONTENT",
            "DIALECT", 2,
        )  # fmt: skip
    engine = {
        result[b"id"].decode().rsplit(":", 1)[1]: float(result[b"score"])
        for result in reply[b"results"]
    }
    assert len(engine) == len(TURNS)
    relevance = {i: c.relevance for i, c in found.items() if c.relevance is not None}
    # The order, not the values (the library rescales them). Memories ranked by the library's
    # relevance have non-increasing engine scores (ties, equal to float noise, may come in
    # either order).
    ranked = sorted(relevance, key=lambda i: -relevance[i])
    assert sorted(ranked) == sorted(engine)
    for better, worse in itertools.pairwise(ranked):
        assert engine[better] >= engine[worse] * (1 - 1e-3), (ranked, engine)


def _text_queries(r: redis.Redis) -> list[str]:
    """The full-text queries the server ran since the slow log was reset (it logs all)."""
    return [
        str(entry["command"])
        for entry in r.slowlog_get(128)
        if b"FT.SEARCH" in entry["command"] and b"@content|when:" in entry["command"]
    ]


def test_a_large_namespace_leaves_its_commonest_words_out_of_the_text_query(
    own_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each word of the text query costs the engine a scan of every memory holding it (6 ms
    for four common words at 100k): past the budget, the commonest words are dropped first,
    and the rare word still finds its memory."""
    from aether_memory.backends.redis._sync import longterm

    monkeypatch.setattr(longterm, "TEXT_BUDGET", 60)
    common = [f"Ticket {i}: the customer asked about the invoice" for i in range(100)]
    with (
        Memory.open(own_server, namespace="large", embedder=WordHashEmbedder()) as large,
        Memory.open(own_server, namespace="small", embedder=WordHashEmbedder()) as small,
        redis.Redis.from_url(own_server) as r,
    ):
        large.agent("a").remember_many([*common, "The zebra report is due on Friday"])
        small.agent("a").remember_many([*common[:50], "The zebra report is due on Friday"])
        r.config_set("slowlog-log-slower-than", 0)
        for mem in (large, small):
            r.slowlog_reset()
            query_text = "when is the zebra report due for the customer invoice"
            hits = mem.agent("a").recall(query_text, k=3)
            # Seen failing once in a loaded CI run and never since: say what ranked first.
            assert hits[0].record.content == "The zebra report is due on Friday", (
                mem.namespace, [(h.record.content, h.score, h.vector, h.text) for h in hits],
                _text_queries(r), mem.agent("a").recall("zebra report", k=1),
            )  # fmt: skip
            (query,) = _text_queries(r)
            assert "zebra" in query
            # 101 memories are more than the budget: only the rare word is sent; 51 are not.
            assert ("customer" in query) == (mem is small), query


def test_a_namespace_shrunk_by_forgetting_sends_its_common_words_again(
    own_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A namespace that grew past the budget and then lost most of its memories (forgotten,
    archived) is small again, and sends every word."""
    from aether_memory.backends.redis._sync import longterm

    monkeypatch.setattr(longterm, "TEXT_BUDGET", 60)
    common = [f"Ticket {i}: the customer asked about the invoice" for i in range(100)]
    with (
        Memory.open(own_server, namespace="shrunk", embedder=WordHashEmbedder()) as mem,
        redis.Redis.from_url(own_server) as r,
    ):
        agent = mem.agent("a")
        written = agent.remember_many([*common, "The zebra report is due on Friday"])
        for record in written[:90]:
            agent.forget(record.id)
        r.config_set("slowlog-log-slower-than", 0)
        for _ in range(2):  # the first recall learns the size, the second goes by it
            r.slowlog_reset()
            agent.recall("when is the zebra report due for the customer invoice", k=3)
            (query,) = _text_queries(r)
            # 11 memories left, within the budget: the common words are sent again.
            assert "zebra" in query and "customer" in query, query


def test_words_a_memory_gains_by_an_update_are_counted(
    own_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A word that came into most of a large namespace through updates of its memories'
    content costs what a word written with them would: it is left out like one."""
    from aether_memory.backends.redis._sync import longterm

    monkeypatch.setattr(longterm, "TEXT_BUDGET", 60)
    first = [f"Ticket {i}: asked about the order" for i in range(100)]
    with (
        Memory.open(own_server, namespace="updated", embedder=WordHashEmbedder()) as mem,
        redis.Redis.from_url(own_server) as r,
    ):
        agent = mem.agent("a")
        written = agent.remember_many([*first, "The zebra report is due on Friday"])
        for i, record in enumerate(written[:100]):
            agent.update(record.id, content=f"Ticket {i}: the customer asked about the invoice")
        r.config_set("slowlog-log-slower-than", 0)
        for _ in range(2):
            r.slowlog_reset()
            hits = agent.recall("when is the zebra report due for the customer invoice", k=3)
            assert hits[0].record.content == "The zebra report is due on Friday"
            (query,) = _text_queries(r)
            assert "zebra" in query and "customer" not in query, query


def test_the_budget_needs_no_round_trip_of_its_own_for_words_counted_before(
    own_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each search reads back the counts of its words, so the next recall with those words
    chooses its budget without asking first; a word that became common since is left out
    from the recall after the one that saw it grow."""
    from aether_memory.backends.redis._sync import longterm

    monkeypatch.setattr(longterm, "TEXT_BUDGET", 60)
    query_text = "when is the zebra report due for the customer invoice"
    with (
        Memory.open(own_server, namespace="learned", embedder=WordHashEmbedder()) as mem,
        redis.Redis.from_url(own_server) as r,
    ):
        agent = mem.agent("a")
        agent.remember_many(
            [*(f"Ticket {i}: asked about the order" for i in range(100)), "The zebra report"]
        )
        r.config_set("slowlog-log-slower-than", 0)
        counts_key = keys.term_counts("learned").encode()

        def recall() -> tuple[int, str]:
            r.slowlog_reset()
            agent.recall(query_text, k=3)
            reads = [
                e for e in r.slowlog_get(128)
                if e["command"].startswith(b"HMGET " + counts_key)
            ]  # fmt: skip
            (query,) = _text_queries(r)
            return len(reads), query

        assert recall()[0] == 2  # words never counted: asked for before the search
        reads, query = recall()
        assert reads == 1 and "customer" in query  # one read, inside the search's round trip
        agent.remember_many([f"Ticket {i}: the customer invoice" for i in range(100, 200)])
        recall()  # sees "customer" grow
        reads, query = recall()
        assert reads == 1 and "zebra" in query and "customer" not in query, query
