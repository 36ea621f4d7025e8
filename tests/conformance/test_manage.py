"""Browsing and erasing on every backend: cursor pages of every collection, and erasure of a
session, an agent or a namespace — checked by walking the store itself afterwards (SCAN on
Redis, SELECT on SQLite): nothing of what was erased may remain."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

from aether_memory import InvalidInput, Memory
from aether_memory.core import keys
from aether_memory.core.pages import MAX_LIMIT, Page
from tests.raw import index_list, modules_of, raw_client

_TABLES = ("hash", "zset", "string", "stream", "expiry")


def _all(read: Callable[[str | None], Page[Any]]) -> list[Any]:
    """Every item of a listing, page by page (and no page repeats a cursor)."""
    out: list[Any] = []
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        page = read(cursor)
        out += page.items
        if page.next is None:
            return out
        assert page.next not in seen
        seen.add(page.next)
        cursor = page.next


def stored_keys(url: str, prefix: str) -> list[str]:
    """Every key (Redis) or kernel key (SQLite) starting with `prefix`, read from the store."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            found = {
                k
                for table in _TABLES
                for (k,) in db.execute(
                    f"SELECT key FROM {table} WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
                )
            }
        return sorted(found)
    r = raw_client(url)
    try:
        return sorted(k.decode() for k in r.scan_iter(match=prefix.replace("{", "[{]") + "*"))
    finally:
        r.close()


def leftovers(url: str, ns: str) -> dict[str, int]:
    """What the store still holds of namespace `ns`: keys, rows, index entries, indexes."""
    shared, sessions = keys.namespace_prefixes(ns)
    out = {"keys": len(stored_keys(url, shared)) + len(stored_keys(url, sessions))}
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            for table in ("lt_memory", "lt_hash", "lt_namespace"):
                query = f"SELECT count(*) FROM {table} WHERE ns = ?"
                out[table] = db.execute(query, (ns,)).fetchone()[0]
            out["lt_fts"] = db.execute(
                "SELECT count(*) FROM lt_text_docsize d LEFT JOIN lt_memory m ON m.rid = d.id"
                " WHERE m.rid IS NULL"
            ).fetchone()[0]  # full-text rows whose record is gone
    else:
        r = raw_client(url)
        try:
            if b"search" in modules_of(r):
                listed = index_list(r, ns)
                out["indexes"] = sum(i.startswith(shared) for i in listed)
        finally:
            r.close()
    return out


def populate(mem: Memory, agent_id: str = "planner", sessions: int = 3) -> dict[str, Any]:
    agent = mem.agent(agent_id)
    agent.identity.put_many({"mission": "Ship it.", "persona": "Terse."})
    agent.state.set(status="busy")
    ids = []
    for i in range(sessions):
        s = agent.session(f"s{i}")
        s.working.update({"goal": i, "draft": "x" * 50})
        s.scratch.set("tmp", [i])
        s.record_many([("step", {"n": n}) for n in range(4)])
        s.checkpoint({"i": i})
        s.tool_schema(lambda: [{"name": "sql"}])
        # Distinct texts per agent: plain Redis finds near-duplicates across agents.
        topic = ("billing totals", "weather in Porto", "the deploy calendar")[i]
        ids.append(agent.remember(f"{agent_id} noted {topic} " + agent_id * 3, session=s).id)
    s0 = agent.session("s0")
    s0.save_episode(f"task of {agent_id} for {agent_id}", "done", success=True)
    agent.save_skill(f"{agent_id}-skill", f"{agent_id} rolls {agent_id} back", ["find", "deploy"])
    mem.cache.put("web", {"q": agent_id}, ["r"], ttl=3600)
    return {"memories": ids}


# ================================================================================== browse


def test_every_memory_is_listed_once_in_id_order_across_pages(lt: Memory) -> None:
    agent = lt.agent("a")
    made = [
        r.id
        for r in agent.remember_many(
            [{"content": f"note {i} on subject {i}", "tags": [f"t{i % 3}"],
              "kind": "fact" if i % 2 else "semantic", "occurred_at": 1_000_000 + i}
             for i in range(23)]
        )
    ]  # fmt: skip
    other = lt.agent("b").remember("a note of another agent").id
    listed = _all(lambda c: lt.list_memories(cursor=c, limit=5))
    assert [r.id for r in listed] == sorted([*made, other])
    assert all(r.status == "stored" for r in listed)

    assert {r.id for r in _all(lambda c: lt.list_memories(agent="b", cursor=c, limit=2))} == {other}
    assert len(_all(lambda c: lt.list_memories(tags=["t1"], cursor=c, limit=3))) == 8
    assert len(_all(lambda c: lt.list_memories(kinds=["semantic"], cursor=c, limit=4))) == 12
    window = lt.list_memories(agent="a", since=1_000_005, until=1_000_009, limit=100)
    assert [r.occurred_at for r in window] == list(range(1_000_005, 1_000_010))


def test_a_cursor_is_stable_under_writes(lt: Memory) -> None:
    agent = lt.agent("a")
    first = [r.id for r in agent.remember_many([f"early note number {i}" for i in range(10)])]
    page = lt.list_memories(limit=4)
    # Writes and deletes before the cursor move nothing after it (an offset would shift).
    agent.forget(first[0])
    agent.forget(first[1])
    late = agent.remember("a late note added while paging").id
    rest = _all(lambda c: lt.list_memories(cursor=c or page.next, limit=4))
    assert [r.id for r in page] + [r.id for r in rest] == [*first[:4], *first[4:], late]


def test_episodes_and_skills_are_listed(lt: Memory) -> None:
    agent = lt.agent("a")
    for i in range(3):
        s = agent.session(f"s{i}")
        s.add_step("work", f"result {i}")
        s.save_episode(f"task {i}", "done", success=bool(i % 2))
    for name in ("deploy", "rollback", "audit"):
        agent.save_skill(name, f"how to {name}", [name])
    episodes = _all(lambda c: lt.list_episodes(cursor=c, limit=2))
    assert [e.task_prompt for e in episodes] == ["task 0", "task 1", "task 2"]
    assert [e.session for e in lt.list_episodes(session="s1")] == ["s1"]
    assert [s.name for s in _all(lambda c: lt.list_skills(cursor=c, limit=2))] == [
        "audit", "deploy", "rollback",
    ]  # fmt: skip


def test_sessions_events_checkpoints_agents_and_namespaces_page(mem: Memory) -> None:
    agent = mem.agent("a")
    for i in range(7):
        agent.session(f"s{i}").working.set("k", i)
    listed = _all(lambda c: agent.list_sessions(cursor=c, limit=3))
    assert [s.id for s in listed] == [s.id for s in agent.sessions()]
    assert len({s.id for s in listed}) == 7
    assert [s.last_active for s in listed] == sorted((s.last_active for s in listed), reverse=True)

    s = agent.session("s0")
    made = s.record_many([("step", {"n": n}) for n in range(11)])
    assert [e.id for e in _all(lambda c: s.list_events(cursor=c, limit=4))] == [e.id for e in made]
    for n in range(5):
        s.checkpoint({"n": n})
    assert [c.n for c in _all(lambda c: s.list_checkpoints(cursor=c, limit=2))] == [1, 2, 3, 4, 5]

    for name in ("b", "c"):
        mem.agent(name).state.set(status="idle")
    assert _all(lambda c: mem.list_agents(cursor=c, limit=2)) == ["a", "b", "c"]
    assert mem.namespace in _all(lambda c: mem.list_namespaces(cursor=c, limit=MAX_LIMIT))


def test_cursors_and_limits_are_checked(mem: Memory) -> None:
    agent = mem.agent("a")
    for i in range(3):
        agent.session(f"s{i}").working.set("k", i)
    page = agent.list_sessions(limit=1)
    assert page.next is not None
    with pytest.raises(InvalidInput, match="another listing"):
        mem.list_agents(cursor=page.next)
    for bad in ("%%%", "bm90IGpzb24", "x" * 5000):
        with pytest.raises(InvalidInput):
            agent.list_sessions(cursor=bad)
    for limit in (0, MAX_LIMIT + 1, -1, True):
        with pytest.raises(InvalidInput, match="limit"):
            mem.list_agents(limit=limit)


# ================================================================================== erase


def test_erasing_a_session_leaves_nothing_of_it(mem: Memory, url: str) -> None:
    populate(mem)
    agent = mem.agent("planner")
    s = agent.session("s1")
    prefix = session_prefix(mem.namespace, "planner", "s1")
    assert stored_keys(url, prefix) != []
    preview = s.erase(dry_run=True)
    assert preview.dry_run and stored_keys(url, prefix) != []
    done = s.erase()
    assert done.counts == preview.counts
    assert done.counts["events"] == 4 and done.counts["checkpoints"] == 1
    assert done.counts["working_keys"] == 2 and done.counts["tool_schemas"] == 1
    assert stored_keys(url, prefix) == []
    assert "s1" not in [x.id for x in agent.sessions()]
    assert s.erase().total == 0  # idempotent
    # The rest of the agent is untouched, and the session can start again.
    assert {x.id for x in agent.sessions()} == {"s0", "s2"}
    assert agent.session("s2").working.get("goal") == 2
    s.working.set("again", 1)
    assert s.meta()["agent"] == "planner" and "s1" in [x.id for x in agent.sessions()]


def test_erasing_a_session_with_its_memories(lt: Memory) -> None:
    populate(lt)
    agent = lt.agent("planner")
    before = {r.id for r in lt.list_memories(limit=MAX_LIMIT)}
    done = agent.session("s1").erase(memories=True)
    assert done.counts["memories"] == 1
    gone = before - {r.id for r in lt.list_memories(limit=MAX_LIMIT)}
    assert len(gone) == 1
    assert all(h.record.id not in gone for h in agent.recall("weather in Porto", k=5))


def test_erasing_an_agent_leaves_nothing_of_it(lt: Memory, url: str) -> None:
    populate(lt, "planner")
    populate(lt, "critic", sessions=2)
    agent = lt.agent("planner")
    preview = agent.erase(dry_run=True)
    assert (
        preview.counts["sessions"] == 3 and preview.counts["memories"] == 5
    )  # 3 + episode + skill
    assert preview.counts["identity_documents"] == 2 and preview.counts["skills"] == 1
    assert agent.identity.get("mission") == "Ship it."  # a dry run removes nothing
    done = agent.erase()
    assert done.counts == preview.counts
    ns = lt.namespace
    assert stored_keys(url, f"aether:{{{ns}}}:agent:planner:") == []
    assert stored_keys(url, f"aether:{{{ns}/planner/") == []
    assert lt.list_memories(agent="planner").items == ()
    assert lt.agents() == ["critic"]
    with pytest.raises(Exception, match="no skill"):
        agent.skill("planner-skill")
    # The other agent is whole.
    critic = lt.agent("critic")
    assert critic.identity.get("mission") == "Ship it." and len(critic.sessions()) == 2
    assert len(lt.list_memories(agent="critic", limit=MAX_LIMIT)) == 4
    assert critic.skill("critic-skill").name == "critic-skill"
    assert agent.erase().total == 0


def test_an_interrupted_agent_erasure_is_finished_by_the_next_call(
    lt: Memory, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(lt, "planner")
    agent = lt.agent("planner")
    store = lt.kernel.store
    real = store.erase_session
    calls = []

    def dies_on_the_second_session(s: Any, dry_run: bool) -> dict[str, int]:
        calls.append(s.sid)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process stops here
        return real(s, dry_run)

    monkeypatch.setattr(store, "erase_session", dies_on_the_second_session)
    with pytest.raises(KeyboardInterrupt):
        agent.erase()
    monkeypatch.setattr(store, "erase_session", real)
    assert len(agent.sessions()) == 2  # what is left is still reachable
    agent.erase()
    ns = lt.namespace
    assert stored_keys(url, f"aether:{{{ns}/planner/") == []
    assert stored_keys(url, f"aether:{{{ns}}}:agent:planner:") == []
    assert lt.list_memories(agent="planner").items == ()


def test_erasing_a_namespace_leaves_nothing_and_it_starts_afresh(lt: Memory, url: str) -> None:
    populate(lt, "planner")
    populate(lt, "critic", sessions=1)
    ns = lt.namespace
    with Memory.open(url, namespace=ns + "x", embedder=lt.longterm.embedder) as neighbour:
        kept = neighbour.agent("n").remember("a neighbour's memory").id
        preview = lt.erase_namespace(dry_run=True)
        assert preview.counts["memories"] == 8 and preview.counts["sessions"] == 4
        assert preview.counts["agents"] == 2 and preview.counts["skills"] == 2
        assert leftovers(url, ns)["keys"] > 0
        done = lt.erase_namespace()
        assert done.counts == preview.counts
        assert set(leftovers(url, ns).values()) == {0}
        assert lt.erase_namespace().total == 0
        # A namespace whose name starts the same is untouched.
        assert neighbour.agent("n").memory_record(kept).content == "a neighbour's memory"
        # The erased namespace works again, with nothing of its past.
        agent = lt.agent("planner")
        assert agent.identity.all() == {} and lt.agents() == []
        fresh = agent.remember("planner noted billing totals, after the erasure")
        hits = agent.recall("billing totals", k=10)
        assert [h.record.id for h in hits] == [fresh.id]
        assert lt.list_memories().items[0].id == fresh.id and len(lt.list_memories()) == 1


def session_prefix(ns: str, agent: str, sid: str) -> str:
    return keys.SessionKeys.build(ns, agent, sid).meta.rsplit(":", 1)[0]


@pytest.mark.parametrize("erased", ["session", "agent", "namespace"])
def test_writes_after_another_client_erased_record_the_session_again(
    mem: Memory, url: str, erased: str
) -> None:
    # This client has written into s1 and s2 before; another erases them behind its back.
    agent = mem.agent("planner")
    s1, s2, s3 = agent.session("s1"), agent.session("s2"), agent.session("s3")
    s1.working.set("goal", 1)
    s2.record("step", {"n": 1})
    s3.checkpoint({"i": 0})
    with Memory.open(url, namespace=mem.namespace) as other:
        if erased == "session":
            for sid in ("s1", "s2", "s3"):
                other.agent("planner").session(sid).erase()
        elif erased == "agent":
            other.agent("planner").erase()
        else:
            other.erase_namespace()
    if erased != "session":
        assert mem.agents() == []
    # Each kind of write records its session again: it is listed, with its meta and agent.
    s1.working.set("goal", 2)
    s2.record("step", {"n": 2})
    s3.checkpoint({"i": 1})
    assert mem.agents() == ["planner"]
    assert {x.id for x in agent.sessions()} == {"s1", "s2", "s3"}
    for s in (s1, s2, s3):
        meta = s.meta()
        assert meta.get("agent") == "planner" and "created_at" in meta, (s, meta)
