"""The SQLite long-term store on real files: isolation, expiry, filters, full text, and the
vector cache following writes made through another connection (another "process")."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aether_memory.backends.sqlite.db import KERNEL_SCHEMA, Database
from aether_memory.backends.sqlite.longterm import (
    FIELDS,
    LONGTERM_SCHEMA,
    LongTerm,
    match_expression,
    migrate,
)
from aether_memory.client.records import to_record
from aether_memory.core.codec import Codec
from aether_memory.core.errors import ConfigurationError
from aether_memory.core.query import Filters
from aether_memory.storage.rows import decode_row

DIMS = 16
HOSTILE = ["a' OR '1'='1", 'x"; DROP TABLE lt_memory; --', "%", "_", "*", "x}", "a|b", "", "ü 名"]


def vector(seed: int | str) -> bytes:
    """A unit vector, the same for the same seed (text seeds are hashed stably)."""
    if isinstance(seed, str):
        seed = int.from_bytes(hashlib.blake2b(seed.encode(), digest_size=8).digest())
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(DIMS).astype(np.float32)
    return (v / np.linalg.norm(v)).tobytes()


def cosine(a: int | str, b: int | str) -> float:
    return float(np.frombuffer(vector(a), np.float32) @ np.frombuffer(vector(b), np.float32))


def fields(content: str, seed: int | str | None = None, **extra: Any) -> dict[str, Any]:
    row = {
        "content": content, "when": "2026 March 03 Tuesday 2026-03-03", "kind": "fact",
        "agent": "a", "session": "", "tags": "", "source": "", "importance": 0.5,
        "occurred_at": 1_000, "created_at": 1_000, "last_accessed": 1_000, "access_count": 0,
        "related": "", "metadata": Codec().encode({"k": content}), "hash": "h-" + content,
        "embedding": vector(content if seed is None else seed), "v": 1,
    }  # fmt: skip
    row.update(extra)
    return row


def open_db(path: Path) -> Database:
    db = Database(path, KERNEL_SCHEMA + LONGTERM_SCHEMA)
    db.open()
    return db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    db = open_db(tmp_path / "memory.db")
    yield db
    db.close()


@pytest.fixture
def lt(db: Database) -> LongTerm:
    return LongTerm(db)


def ids(found: dict[str, Any]) -> set[str]:
    return set(found)


def test_fields_are_the_redis_stores() -> None:
    from aether_memory.backends.redis._async.longterm import FIELDS as REDIS_FIELDS

    assert FIELDS == REDIS_FIELDS


def test_schema_is_idempotent(tmp_path: Path) -> None:
    open_db(tmp_path / "m.db").close()
    db = open_db(tmp_path / "m.db")
    LongTerm(db).put("ns", [("m1", fields("kept"), None)])
    db.close()
    db = open_db(tmp_path / "m.db")
    assert LongTerm(db).get("ns", ["m1"])[0] is not None
    db.close()


def test_rows_decode_like_redis_rows(lt: LongTerm) -> None:
    lt.put("ns", [("m1", fields("hello", tags="x,y", session="s1", unknown="dropped"), None)])
    row = lt.get("ns", ["m1", "missing"])
    assert row[1] is None and row[0] is not None
    optional = {"supersedes", "superseded_by"}  # only a correction or its original has them
    assert set(row[0]) == {*FIELDS, "access_count", "last_accessed"} - optional
    record = to_record("m1", row[0], Codec(), "stored")
    assert (record.content, record.tags, record.session) == ("hello", ("x", "y"), "s1")
    assert record.metadata == {"k": "hello"}
    assert (record.access_count, record.last_accessed, record.importance) == (0, 1_000, 0.5)
    # bytes, as Redis hands them over, are stored as the same values
    raw = {k: v if isinstance(v, bytes) else str(v).encode() for k, v in fields("b").items()}
    lt.put("ns", [("m2", raw, None)])
    assert decode_row(lt.get("ns", ["m2"])[0] or {})["content"] == "b"


def test_fetch_counts_an_access_and_reinforce_only_raises(lt: LongTerm) -> None:
    lt.put("ns", [("m1", fields("x", importance=0.6), None)])
    lt.fetch("ns", ["m1"], 5_000)
    lt.reinforce("ns", [("m1", 0.3), ("missing", 1.0)], 6_000)
    data = decode_row(lt.fetch("ns", ["m1"])[0] or {})
    assert (data["access_count"], data["last_accessed"], data["importance"]) == (2, 6_000, 0.6)
    lt.reinforce("ns", [("m1", 0.9)], 7_000)
    assert decode_row(lt.get("ns", ["m1"])[0] or {})["importance"] == 0.9
    assert lt.search("ns", Filters(min_importance=0.8), vector("x"), (), 5).keys() == {"m1"}


@pytest.mark.parametrize("hostile", HOSTILE)
def test_namespaces_are_isolated_even_with_hostile_names(lt: LongTerm, hostile: str) -> None:
    lt.put("victim", [("m1", fields("secret 1234"), None)])
    lt.put(hostile, [("m1", fields("mine 1234"), None)])
    lt.put(hostile, [("m2", fields("other"), None)])
    assert decode_row(lt.get(hostile, ["m1"])[0] or {})["content"] == "mine 1234"
    found = lt.search(hostile, Filters(), vector("secret 1234"), ["1234", hostile or "x"], 10)
    assert ids(found) == {"m1", "m2"} and found["m1"].content == "mine 1234"
    exact, near = lt.find_existing(hostile, ["h-secret 1234"], [vector("secret 1234")], Filters())
    assert exact == [None] and near[0] is not None and near[0][0] in {"m1", "m2"}
    lt.update(hostile, "m1", {"content": "changed"})
    assert lt.delete(hostile, ["m1"], ["h-mine 1234"]) == 1
    assert decode_row(lt.get("victim", ["m1"])[0] or {})["content"] == "secret 1234"
    assert lt.find_existing("victim", ["h-secret 1234"], [], Filters())[0] == ["m1"]
    assert ids(lt.search("victim", Filters(), vector("x"), ["1234"], 10)) == {"m1"}


@pytest.mark.parametrize("hostile", [*HOSTILE, "x | y", "@tags:{x}", "x,y", "x\\"])
def test_hostile_filter_values_match_nothing(lt: LongTerm, hostile: str) -> None:
    lt.put("ns", [("m1", fields("plan 77", tags="x,y"), None)])
    for scope in (Filters(tags=(hostile,)), Filters(agents=(hostile,)), Filters(kinds=(hostile,))):
        assert lt.search("ns", scope, vector("plan 77"), ["77"], 10) == {}


def test_search_is_the_exact_filtered_top_n(lt: LongTerm) -> None:
    rng = np.random.default_rng(3)
    rows, decoded = [], {}
    for i in range(400):
        tags = rng.choice(["t1", "t2", "t3"], int(rng.integers(0, 3)), replace=False)
        row = fields(
            f"memory {i}",
            seed=i,
            kind=["fact", "episodic"][i % 2],
            agent="ab"[i % 3 % 2],
            session=["", "s1", "s2"][i % 3],
            tags=",".join(tags),
            occurred_at=int(rng.integers(0, 1000)),
            importance=float(rng.random()),
        )
        ttl = 1 if i % 17 == 0 else None  # a few expire at once
        rows.append((f"m{i:03d}", row, ttl))
        if ttl is None:
            decoded[f"m{i:03d}"] = (decode_row(row), np.frombuffer(row["embedding"], np.float32))
    lt.put("ns", rows)
    time.sleep(0.01)
    scopes = [
        Filters(), Filters(kinds=("episodic",)), Filters(agents=("b",), tags=("t1", "t3")),
        Filters(sessions=("s2",), since_ms=200, until_ms=800), Filters(min_importance=0.7),
        Filters(tags=("t2",), kinds=("fact",), min_importance=0.2, agents=("a", "b")),
        Filters(sessions=("",)), Filters(tags=("nope",)),
    ]  # fmt: skip
    for q in range(5):
        query = np.frombuffer(vector(1000 + q), np.float32)
        for scope in scopes:
            inside = {i: float(v @ query) for i, (d, v) in decoded.items() if scope.matches(d)}
            want = sorted(inside, key=lambda i: -inside[i])[:15]
            found = lt.search("ns", scope, query.tobytes(), (), 15)
            assert list(found) == want
            for i in want:
                assert found[i].similarity == pytest.approx(inside[i], abs=1e-5)


def test_expired_memories_are_invisible_then_purged(lt: LongTerm, db: Database) -> None:
    lt.put("ns", [("old", fields("short lived 99"), 100), ("keep", fields("stays 99"), None)])
    assert ids(lt.search("ns", Filters(), vector("short lived 99"), ["99"], 10)) == {"old", "keep"}
    time.sleep(0.15)
    assert lt.get("ns", ["old"]) == [None]
    assert ids(lt.search("ns", Filters(), vector("short lived 99"), ["99"], 10)) == {"keep"}
    exact, near = lt.find_existing(
        "ns", ["h-short lived 99"], [vector("short lived 99")], Filters()
    )
    sim = cosine("short lived 99", "stays 99")
    assert exact == [None] and near == [("keep", pytest.approx(sim, abs=1e-5), 0.5)]
    lt.reinforce("ns", [("old", 1.0)], 1)
    lt.put("ns", [("new", fields("next"), None)])  # a write purges what has expired
    with db.read() as c:
        assert c.execute("SELECT count(*) FROM lt_memory WHERE id = 'old'").fetchone() == (0,)
        assert c.execute("SELECT count(*) FROM lt_hash WHERE id = 'old'").fetchone() == (0,)
    assert ids(lt.search("ns", Filters(), vector("x"), ["99"], 10)) == {"keep", "new"}


# Each code is one literal phrase: its words must appear in order, whatever FTS5 means by it.
LITERAL = ["(secret)", "^secret", "secret", "err_42", "SECRET is"]
NOT_THERE = ['"', '""', "*", "x*", "secr*", "NEAR(secret is)", "secret AND is", "NOT x",
             "content:secret", "-1", "secret OR x", '" OR "secret', "{content}: secret", "\x00",
             "a\\", "secret NOT is"]  # fmt: skip


@pytest.mark.parametrize("code", LITERAL + NOT_THERE)
def test_codes_are_literal_text_never_fts_syntax(lt: LongTerm, code: str) -> None:
    lt.put("ns", [("m1", fields("the secret is err_42"), None)])
    lt.put("ns", [(f"f{i}", fields(f"filler {i}", seed=9), None) for i in range(3)])
    found = lt.search("ns", Filters(), vector(9), [code], 3)  # the fillers take the vector places
    assert ("m1" in found) == (code in LITERAL)
    assert lt.search("other", Filters(), vector(9), [code], 3) == {}


def test_codes_match_whole_words_in_content_and_date(lt: LongTerm) -> None:
    lt.put(
        "ns",
        [
            ("m1", fields("ticket SUP-4471 refund", seed=1), None),
            ("m2", fields("failed with err_42", seed=2, agent="b"), None),
            ("m3", fields('say "4471" quoted', seed=3, when="2025 May"), None),
        ],
    )
    far = vector(99)  # ten fillers take the vector places, leaving the text matches apart
    lt.put("ns", [(f"f{i}", fields(f"filler {i}", seed=99), None) for i in range(10)])

    def text_hits(codes: list[str], scope: Filters = Filters()) -> set[str]:
        return {
            i for i, c in lt.search("ns", scope, far, codes, 10).items() if c.relevance is not None
        }

    assert text_hits([]) == set() and lt.search("ns", Filters(), far, ["4471"], 0) == {}
    assert text_hits(["4471"]) == {"m1", "m3"}
    assert text_hits(["err_42"]) == {"m2"} and text_hits(["err"]) == set()
    assert text_hits(["2025"]) == {"m3"}  # the date words are searchable too
    assert ids(lt.search("ns", Filters(agents=("b",)), far, ["4471"], 10)) == {"m2"}
    assert match_expression(['a"b', "", "c"]) == '"a""b" OR "c"'


def test_update_reindexes_text_and_moves_the_dedup_entry(lt: LongTerm) -> None:
    lt.put("ns", [("m1", fields("meeting on tuesday 11"), None)])
    change = {"content": "wednesday 12", "hash": "h-new", "embedding": vector("w"), "tags": "work"}
    lt.update("ns", "m1", change, ("h-meeting on tuesday 11", "h-new"))
    far = vector(5)
    assert lt.search("ns", Filters(agents=("x",)), far, ["11"], 5) == {}
    assert ids(lt.search("ns", Filters(), far, ["12"], 5)) == {"m1"}
    exact, _ = lt.find_existing("ns", ["h-meeting on tuesday 11", "h-new"], [], Filters())
    assert exact == [None, "m1"]
    top = lt.search("ns", Filters(tags=("work",)), vector("w"), (), 1)["m1"]
    assert top.similarity == pytest.approx(1.0, abs=1e-5)
    lt.update("ns", "missing", {"importance": 0.1})
    assert lt.get("ns", ["missing"]) == [None]


def test_delete_counts_what_existed(lt: LongTerm) -> None:
    lt.put("ns", [("m1", fields("one"), None), ("m2", fields("two"), None)])
    assert lt.delete("ns", ["m1", "m2", "m3"], ["h-one", "h-two"]) == 2
    assert lt.delete("ns", ["m1"], []) == 0
    assert lt.find_existing("ns", ["h-one"], [vector("one")], Filters()) == ([None], [None])


def test_one_embedder_per_namespace(lt: LongTerm, db: Database) -> None:
    lt.setup("ns", 384, "model-a")
    lt.setup("ns", 384, "model-a")
    LongTerm(db).setup("other", 384, "model-b")
    with pytest.raises(ConfigurationError, match="embedded with 'model-a'; recalling them with"):
        LongTerm(db).setup("ns", 384, "model-b")


def test_skills_mirror_the_redis_script(lt: LongTerm) -> None:
    assert lt.skill_run("ns", "deploy", True, 1.0, None) is False
    lt.skill_put("ns", "deploy", {"name": "deploy", "steps": b"\x01[]", "updated_at": 5}, None)
    assert lt.skill_run("ns", "deploy", True, 1.5, None)
    assert lt.skill_run("ns", "deploy", False, 2, None)
    row = lt.skill_get("ns", ["deploy", "missing"])
    assert row[1] is None and row[0] is not None
    runs = (int(row[0]["runs"]), int(row[0]["successes"]), float(row[0]["total_duration"]))
    assert runs == (2, 1, 3.5)
    assert (row[0]["steps"], int(row[0]["updated_at"])) == (b"\x01[]", 5)
    assert lt.skill_get("other", ["deploy"]) == [None]
    lt.skill_run("ns", "deploy", True, 0, 50)  # a run restarts the skill's TTL
    time.sleep(0.1)
    assert lt.skill_get("ns", ["deploy"]) == [None]
    assert lt.skill_run("ns", "deploy", True, 1.0, None) is False


def test_the_cache_follows_another_processes_writes(tmp_path: Path) -> None:
    one, two = open_db(tmp_path / "m.db"), open_db(tmp_path / "m.db")
    writer, reader = LongTerm(one), LongTerm(two)
    writer.put("ns", [("m1", fields("first", seed=1), None)])
    assert ids(reader.search("ns", Filters(), vector(2), (), 5)) == {"m1"}
    writer.put("ns", [("m2", fields("second", seed=2), None)])  # an append: a delta
    assert next(iter(reader.search("ns", Filters(), vector(2), (), 5))) == "m2"
    writer.update("ns", "m1", {"embedding": vector(3), "tags": "t"})  # a change: a delta
    found = reader.search("ns", Filters(tags=("t",)), vector(3), (), 5)
    assert list(found) == ["m1"] and found["m1"].similarity == pytest.approx(1.0, abs=1e-5)
    writer.reinforce("ns", [("m2", 0.9)], 1)
    assert ids(reader.search("ns", Filters(min_importance=0.8), vector(2), (), 5)) == {"m2"}
    writer.delete("ns", ["m2"], [])  # a removal: a rebuild
    assert ids(reader.search("ns", Filters(), vector(2), (), 5)) == {"m1"}
    near = reader.find_existing("ns", [], [vector(2)], Filters())[1]
    assert near == [("m1", pytest.approx(cosine(2, 3), abs=1e-5), 0.5)]
    one.close()
    two.close()


def test_threads_share_the_cache(lt: LongTerm) -> None:
    errors: list[BaseException] = []

    def work(agent: str) -> None:
        try:
            for i in range(15):
                content = f"{agent} note {i}"
                lt.put("ns", [(f"{agent}{i}", fields(content, agent=agent), None)])
                found = lt.search("ns", Filters(agents=(agent,)), vector(content), (), 3)
                assert next(iter(found)) == f"{agent}{i}"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a,)) for a in ("p", "q", "r", "s")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(lt.search("ns", Filters(), vector(0), (), 100)) == 60


def test_a_file_from_before_corrections_gains_their_columns(tmp_path: Path) -> None:
    added = "supersedes TEXT, superseded_by TEXT, superseded_at INTEGER,"
    old_schema = "\n".join(line for line in LONGTERM_SCHEMA.split("\n") if added not in line)
    assert old_schema != LONGTERM_SCHEMA
    db = Database(tmp_path / "old.db", KERNEL_SCHEMA + old_schema)
    db.open()
    try:
        migrate(db)
        migrate(db)  # idempotent
        lt = LongTerm(db)
        lt.put("ns", [("m1", fields("old fact"), None), ("m2", fields("new fact"), None)])
        lt.update("ns", "m1", {"superseded_by": "m2", "superseded_at": 5})
        assert lt.get("ns", ["m1"])[0]["superseded_by"] == "m2"  # type: ignore[index]
        assert ids(lt.search("ns", Filters(), vector("old fact"), ["fact"], 10)) == {"m2"}
        everything = Filters(include_superseded=True)
        assert ids(lt.search("ns", everything, vector("old fact"), ["fact"], 10)) == {"m1", "m2"}
    finally:
        db.close()
