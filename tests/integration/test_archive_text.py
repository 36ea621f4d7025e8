"""Hybrid search of the archive on real archives (a SQLite file, PostgreSQL with pgvector):
full text beside vectors, stemmed like the hot stores, hostile words escaped, namespaces apart,
and recall with ``include_archive`` finding a memory only its words match."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from aether_memory import Memory
from aether_memory.backends.archive import open_archive
from aether_memory.core.config import Options, TTLs
from aether_memory.core.ids import new_id
from aether_memory.core.lifecycle import pack_row
from aether_memory.storage.archive import Archive, Archived

DIMS = 8
HOSTILE = [
    '"', "'", '"quoted" OR x', "NEAR(a b)", "a*", "-1", "x}", "@t:{x}", "a|b", "col:value",
    "^start", "(", ")", "&", "!", "<->", ":*", "\x00", "a\x00b", "AND", "OR", "NOT", " ",
    "ünïcödé", "日本語", "tab\there", "\\", "%", "_", "$$",
]  # fmt: skip


def _vector(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=DIMS).astype(np.float32)
    return (v / np.linalg.norm(v)).astype(np.float32).tobytes()


def _memory(memory_id: str, content: str, seed: int) -> Archived:
    row = {"content": content.encode(), "kind": b"fact", "embedding": _vector(seed)}
    return Archived(memory_id, row, 1)


@pytest.fixture
def archive(archive_url: str) -> Iterator[Archive]:
    found = open_archive(archive_url)
    found.setup(DIMS)
    try:
        yield found
    finally:
        found.close()


def _ns() -> str:
    return "t" + new_id().lower()


def test_the_text_channel_finds_what_the_vectors_miss(archive: Archive) -> None:
    ns = _ns()
    memories = [_memory(f"m{i:03d}", f"the weather on day {i} was mild", i) for i in range(40)]
    memories.append(_memory("target", "Every refund needs the manager's approval", 999))
    archive.put(ns, memories)
    query = _vector(0)  # m000's own vector: the nearest is m000, the target is far

    found = archive.search(ns, query, ["refunds", "approvals"], 3)

    by_id = {m.id: m for m in found}
    near = [m.id for m in found if m.relevance is None]
    assert near[0] == "m000" and len(near) == 3  # the vector channel, relevance None
    assert "target" in by_id and by_id["target"].relevance  # stemmed: refunds -> refund
    assert -1.0 <= by_id["target"].similarity <= 1.0  # its similarity is measured too
    assert abs(by_id["m000"].similarity - 1.0) < 1e-5


def test_a_memory_in_both_channels_carries_both_scores(archive: Archive) -> None:
    ns = _ns()
    archive.put(ns, [_memory("a", "the deploy key rotates on Tuesday", 1),
                     _memory("b", "lunch is at noon", 2)])  # fmt: skip
    found = {m.id: m for m in archive.search(ns, _vector(1), ["deploy"], 5)}
    assert found["a"].relevance and abs(found["a"].similarity - 1.0) < 1e-5
    assert found["b"].relevance is None


def test_hostile_words_are_escaped(archive: Archive) -> None:
    ns = _ns()
    archive.put(ns, [_memory("a", 'a "quoted" word and NEAR(a b) with a*', 1)])
    for word in HOSTILE:
        found = archive.search(ns, _vector(1), [word], 5)  # never a syntax error
        assert [m.id for m in found] == ["a"]
    assert archive.search(ns, _vector(1), HOSTILE, 5)[0].id == "a"


def test_text_stays_in_its_namespace(archive: Archive) -> None:
    mine, other = _ns(), _ns()
    archive.put(other, [_memory("secret", "the vault password is hunter2", 1)])
    archive.put(mine, [_memory("mine", "nothing to see", 2)])
    found = archive.search(mine, _vector(1), ["vault", "password", "hunter2"], 10)
    assert [m.id for m in found] == ["mine"]  # the vector channel only; no text from `other`


def test_replaced_deleted_and_erased_text_is_gone(archive: Archive) -> None:
    ns = _ns()
    archive.put(ns, [_memory("a", "the old office wifi code", 1), _memory("b", "lobby", 2)])
    archive.put(ns, [_memory("a", "the new office door code", 1)])  # replaced
    assert _text_hits(archive, ns, ["wifi"]) == []
    assert _text_hits(archive, ns, ["door"]) == ["a"]
    assert archive.delete(ns, ["a"]) == 1
    assert _text_hits(archive, ns, ["door"]) == []
    assert _text_hits(archive, ns, ["lobby"]) == ["b"]
    assert archive.erase(ns) == 1
    assert _text_hits(archive, ns, ["lobby"]) == []
    archive.put(ns, [_memory("b", "lobby", 2)])  # archived again after an erase
    assert _text_hits(archive, ns, ["lobby"]) == ["b"]


def _text_hits(archive: Archive, ns: str, words: Sequence[str]) -> list[str]:
    return [m.id for m in archive.search(ns, _vector(7), words, 10) if m.relevance is not None]


def test_a_sqlite_archive_from_before_the_text_index_is_indexed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # the schema of the version without full text
        db.executescript(
            "CREATE TABLE archive_meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID;"
            "CREATE TABLE archive (ns TEXT NOT NULL, id TEXT NOT NULL, doc BLOB NOT NULL,"
            " embedding BLOB, archived_at INTEGER NOT NULL, PRIMARY KEY (ns, id)) WITHOUT ROWID;"
        )
        doc = pack_row({"content": b"the canary deploy goes out at nine", "kind": b"fact"})
        db.execute("INSERT INTO archive VALUES ('ns1', 'old', ?, ?, 1)", (doc, _vector(3)))
    db.close()
    archive = open_archive(f"sqlite:///{path}")
    try:
        archive.setup(DIMS)
        assert _text_hits(archive, "ns1", ["canary"]) == ["old"]
    finally:
        archive.close()


class _TextBlind:
    """Vectors that say nothing about the text (a hash of the whole of it): only the text
    channel can tell which memory answers a query."""

    model = "test-text-blind"
    dims = 64

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest())
            v = np.random.default_rng(seed).normal(size=self.dims)
            out[i] = v / np.linalg.norm(v)
        return out

    def embed_query(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return self.embed(texts)


def test_recall_with_the_archive_finds_a_memory_by_its_words(
    url: str, archive_url: str, namespace: str
) -> None:
    opts = Options(namespace=namespace, ttl=TTLs(semantic=1.0))
    with Memory.open(url, options=opts, embedder=_TextBlind(), archive=archive_url) as mem:
        agent = mem.agent("a")
        agent.remember_many([f"chatter {i}: the weather on day {i} was mild" for i in range(60)])
        target = agent.remember("Every refund needs the manager's approval")
        time.sleep(1.2)
        assert mem.lifecycle.run().archived == 61

        hits = agent.recall("refunds approvals", k=1, include_archive=True)

        assert [h.record.id for h in hits] == [target.id]
        assert mem.lifecycle.status().hot == 1  # the rest went back
