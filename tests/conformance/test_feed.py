"""The change feed, presence and messages on every store: what each write notifies, in
order, once; resuming; the typed signal of a truncated feed; presence expiry; inbox
acknowledgement; namespace isolation and hostile names."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from aether_memory import ClientClosed, InvalidInput, Memory, NotFound
from aether_memory.core.feed import FeedTruncated, Notification
from aether_memory.core.ids import new_id
from tests.word_embedder import CloseEmbedder, WordHashEmbedder


def take(mem: Memory, after: str, n: int, **filters: object) -> list[Notification]:
    """The first `n` notifications after `after` (they were written already)."""
    out: list[Notification] = []
    stream: Iterator[Notification] = mem.subscribe(after=after, **filters)  # type: ignore[arg-type]
    for note in stream:
        out.append(note)
        if len(out) == n:
            break
    return out


def until_marker(mem: Memory, after: str) -> list[Notification]:
    """Every notification after `after` up to a `marker` broadcast sent now."""
    mem.broadcast("marker", None)
    out = []
    for note in mem.subscribe(after=after):
        if note.kind == "broadcast" and note.id == "marker":
            return out
        out.append(note)
    raise AssertionError("unreachable")


@pytest.fixture
def feed_mem(url: str) -> Iterator[Memory]:
    with Memory.open(url, namespace="t" + new_id().lower(), embedder=WordHashEmbedder()) as m:
        yield m


def test_every_shared_write_is_notified_in_order(feed_mem: Memory) -> None:
    mem = feed_mem
    start = mem.feed.position()
    agent = mem.agent("writer")
    agent.identity.put("persona", "careful")
    agent.identity.delete("persona")
    agent.state.set(status="busy")
    fact = agent.remember("the build server is called atlas")
    agent.update(fact.id, content="the build server is called zeus")
    corrected = agent.remember("a second fact: the deploy window is friday")
    session = agent.session()
    session.add_step("deploy", {"to": "prod"})
    episode = session.save_episode("deploy", "done", success=True)
    agent.save_skill("deploy", "ship to prod", ["build", "push"])
    agent.record_skill_execution("deploy", success=True, duration=1.5)
    agent.forget(corrected.id)
    got = until_marker(mem, start)
    seen = [(n.kind, n.op, n.id) for n in got]
    assert seen[:4] == [
        ("identity", "put", "persona"), ("identity", "deleted", "persona"),
        ("state", "set", "writer"), ("memory", "remembered", fact.id),
    ]  # fmt: skip
    assert ("memory", "updated", fact.id) in seen
    assert ("memory", "remembered", corrected.id) in seen
    assert ("episode", "remembered", episode.id) in seen
    assert ("skill", "saved", "deploy") in seen
    assert ("skill_run", "ran", "deploy") in seen
    assert seen[-1] == ("memory", "forgotten", corrected.id)
    assert all(n.namespace == mem.namespace for n in got)
    assert {n.agent for n in got if n.kind in ("memory", "episode", "identity")} == {"writer"}
    positions = [n.position for n in got]
    assert len(set(positions)) == len(positions)


def test_a_correction_notifies_the_superseded_memory(url: str, namespace: str) -> None:
    with Memory.open(url, namespace=namespace, embedder=CloseEmbedder()) as mem:
        start = mem.feed.position()
        agent = mem.agent("a")
        first = agent.remember("The meeting is at 3pm")
        second = agent.remember("The meeting is at 4pm")
        assert second.supersedes == first.id
        seen = [(n.op, n.id) for n in until_marker(mem, start)]
        assert seen == [("remembered", first.id), ("remembered", second.id),
                        ("superseded", first.id)]  # fmt: skip


def test_a_write_that_fails_notifies_no_one(feed_mem: Memory) -> None:
    mem = feed_mem
    start = mem.feed.position()
    agent = mem.agent("a")
    with pytest.raises(NotFound):
        agent.record_skill_execution("missing", success=True, duration=1.0)
    with pytest.raises(InvalidInput):
        agent.state.set(**{"bad:field": 1})
    assert agent.forget("01" + "0" * 24) == 0
    assert until_marker(mem, start) == []


def test_resume_from_a_position_gets_the_rest_once_in_order(feed_mem: Memory) -> None:
    mem = feed_mem
    start = mem.feed.position()
    for i in range(20):
        mem.broadcast("tick", i)
    first = take(mem, start, 7)
    rest = take(mem, first[-1].position, 13)
    assert [n.body for n in first + rest] == list(range(20))


def test_filters_by_kind_and_agent(feed_mem: Memory) -> None:
    mem = feed_mem
    start = mem.feed.position()
    mem.agent("a").state.set(x=1)
    mem.agent("b").state.set(x=2)
    mem.broadcast("news", "hello", agent="a")
    mem.agent("b").send("a", "for a")
    assert [n.kind for n in take(mem, start, 2, agents=["a"])] == ["state", "broadcast"]
    got = take(mem, start, 1, kinds=["message"])
    assert (got[0].agent, got[0].to, got[0].body) == ("b", "a", "for a")


def test_a_position_the_feed_no_longer_holds_is_a_typed_signal(feed_mem: Memory) -> None:
    mem = feed_mem
    mem.broadcast("x", 1)
    stale = "1-0" if mem.capabilities.backend == "redis" else "1"
    with pytest.raises(FeedTruncated) as caught:
        take(mem, stale, 1)
    assert caught.value.code == "feed_truncated"
    assert take(mem, "0", 1)[0].body == 1  # "0": from the oldest held, never truncated


def test_presence_reads_offline_when_the_heartbeat_expires(feed_mem: Memory) -> None:
    mem = feed_mem
    start = mem.feed.position()
    mem.agent("idle").state.set(x=1)  # known to the namespace, never beat
    worker = mem.agent("worker")
    worker.heartbeat(status="busy", current_task="t1", ttl=60)
    worker.heartbeat(status="busy", current_task="t2", ttl=60)  # same status: no change
    short = mem.agent("short")
    short.heartbeat(status="idle", ttl=0.05)
    time.sleep(0.2)
    statuses = {s.agent: s for s in mem.agents_status()}
    assert statuses["worker"].online and statuses["worker"].status == "busy"
    assert statuses["worker"].current_task == "t2"
    assert not statuses["short"].online and statuses["short"].status == "offline"
    assert not statuses["idle"].online
    mem.agents_status()  # noticed once: reading again announces nothing more
    short.heartbeat(status="idle", ttl=60)  # back from offline: a change again
    worker.heartbeat(status="offline")  # signing off
    got = [n for n in until_marker(mem, start) if n.kind == "presence"]
    assert [(n.agent, n.op) for n in got] == [
        ("worker", "busy"), ("short", "idle"), ("short", "offline"), ("short", "idle"),
        ("worker", "offline"),
    ]  # fmt: skip
    expired = statuses["short"].expires_at
    assert got[2].at == expired  # when its heartbeat ran out, not when that was noticed


@pytest.mark.parametrize("noticed_by", ["heartbeat", "subscriber"])
def test_an_expired_heartbeat_is_announced_once_without_a_background_task(
    feed_mem: Memory, noticed_by: str
) -> None:
    mem = feed_mem
    start = mem.feed.position()
    mem.agent("gone").heartbeat(status="busy", ttl=0.05)
    time.sleep(0.2)
    if noticed_by == "heartbeat":  # any other agent's heartbeat notices it
        for _ in range(3):
            mem.agent("other").heartbeat(status="busy", ttl=60)
        got = until_marker(mem, start)
    else:  # a subscriber notices it when it next looks at the feed, with no write at all
        got = []
        for note in mem.subscribe(after=start):
            got.append(note)
            if note.op == "offline":
                break
    gone = [(n.agent, n.op) for n in got if n.agent == "gone"]
    assert gone == [("gone", "busy"), ("gone", "offline")]
    assert [(n.agent, n.op) for n in until_marker(mem, start) if n.agent == "gone"] == gone


def test_inbox_keeps_messages_until_acknowledged(feed_mem: Memory) -> None:
    mem = feed_mem
    alice, bob = mem.agent("alice"), mem.agent("bob")
    ids = [alice.send("bob", {"n": i}) for i in range(5)]
    first = bob.inbox(limit=3)
    assert [m.body for m in first] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert [m.id for m in bob.inbox(limit=3)] == ids[:3]  # not acknowledged: read again
    rest = bob.inbox(ack=first[-1].id)
    assert [m.body for m in rest] == [{"n": 3}, {"n": 4}]
    assert bob.inbox(ack=first[0].id) == rest  # an ack never moves back
    assert bob.inbox(ack=rest[-1].id) == []
    assert {m.sender for m in first} == {"alice"}
    assert alice.inbox() == []


def test_no_subscriber_or_inbox_sees_another_namespace(url: str) -> None:
    ns_a, ns_b = "t" + new_id().lower(), "t" + new_id().lower()
    with Memory.open(url, namespace=ns_a) as a, Memory.open(url, namespace=ns_b) as b:
        start = a.feed.position()
        b.agent("x").send("y", "secret")
        b.broadcast("all", "secret")
        b.agent("y").heartbeat()
        a.broadcast("mine", "ok")
        assert [n.body for n in take(a, start, 1)] == ["ok"]
        assert a.agent("y").inbox() == []
        assert [s.agent for s in a.agents_status()] == []
        assert [m.body for m in b.agent("y").inbox()] == ["secret"]


@pytest.mark.parametrize("name", ["a:b", "x}", "{ns}", "a b", "-1", "", "é" * 200, "a\nb"])
def test_hostile_names_are_refused_and_write_nothing(feed_mem: Memory, name: str) -> None:
    mem = feed_mem
    start = mem.feed.position()
    agent = mem.agent("ok")
    with pytest.raises(InvalidInput):
        agent.send(name, "x")
    with pytest.raises(InvalidInput):
        mem.broadcast(name, "x")
    with pytest.raises(InvalidInput):
        mem.agent(name).heartbeat()
    with pytest.raises(InvalidInput):
        mem.subscribe(agents=[name])
    assert until_marker(mem, start) == []


@pytest.mark.parametrize(
    "bad", [{"kinds": ["nope"]}, {"after": "1-0; DEL x"}, {"after": "$"}, {"kinds": 3}]
)
def test_bad_subscribe_arguments_are_refused(feed_mem: Memory, bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        feed_mem.subscribe(**bad)  # type: ignore[arg-type]


def test_bad_inbox_and_heartbeat_arguments_are_refused(feed_mem: Memory) -> None:
    agent = feed_mem.agent("a")
    for call in (
        lambda: agent.inbox(ack="') or 1=1 --"),
        lambda: agent.inbox(limit=0),
        lambda: agent.heartbeat(ttl=float("nan")),
        lambda: agent.heartbeat(status=""),
        lambda: agent.send("b", {1, 2}),
        lambda: agent.send("b", "x" * 70_000),
    ):
        with pytest.raises(InvalidInput):
            call()


def test_erasing_an_agent_erases_its_notifications_presence_and_inbox(feed_mem: Memory) -> None:
    mem = feed_mem
    gone, kept = mem.agent("gone"), mem.agent("kept")
    gone.heartbeat()
    gone.state.set(x=1)
    gone.save_skill("gone-skill", "a skill of gone's", ["x"])
    kept.send("gone", "to gone")
    gone.send("kept", "from gone")
    kept.state.set(y=1)
    gone.erase()
    left = until_marker(mem, "0")
    assert [(n.kind, n.agent, n.id) for n in left] == [("state", "kept", "kept")]
    assert [s.agent for s in mem.agents_status()] == ["kept"]
    assert gone.inbox() == []
    assert [m.body for m in kept.inbox()] == ["from gone"]  # delivered: the recipient's now


def test_a_subscription_ends_when_its_memory_is_closed(url: str) -> None:
    """A worker thread iterating a subscription finishes when the memory is closed (at a
    shutdown), instead of polling a closed client for ever; and a new one is refused."""
    mem = Memory.open(url, namespace="t" + new_id().lower())
    got: list[Notification] = []
    stream = mem.subscribe(after=mem.feed.position())
    worker = threading.Thread(target=lambda: got.extend(stream), daemon=True)
    worker.start()
    mem.broadcast("before", 1)
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    unstarted = mem.subscribe()  # made before the close, first iterated after it
    mem.close()
    worker.join(30)  # a bound for a hang, not a speed: it ends within one look (~1 s)
    assert list(unstarted) == []
    assert not worker.is_alive(), "the subscription outlived its memory"
    assert [n.body for n in got] == [1]
    with pytest.raises(ClientClosed):
        mem.subscribe()


def test_closing_a_view_ends_its_subscriptions_and_no_others(url: str) -> None:
    ns = "t" + new_id().lower()
    with Memory.open(url, namespace=ns) as root:
        view = root.in_namespace(ns)
        start = root.feed.position()
        on_root: list[Notification] = []
        on_view: list[Notification] = []
        mine, its = root.subscribe(after=start), view.subscribe(after=start)
        root_worker = threading.Thread(target=lambda: on_root.extend(mine), daemon=True)
        view_worker = threading.Thread(target=lambda: on_view.extend(its), daemon=True)
        root_worker.start()
        view_worker.start()
        view.close()
        view_worker.join(30)  # a bound for a hang: it ends within one look (~1 s)
        assert not view_worker.is_alive(), "the view's subscription outlived the view"
        root.broadcast("after", 2)
        deadline = time.monotonic() + 30
        while not on_root and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [n.body for n in on_root] == [2]
        assert root_worker.is_alive()
    root_worker.join(30)
    assert not root_worker.is_alive()
