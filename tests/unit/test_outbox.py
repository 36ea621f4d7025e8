"""Outbox entries: every argument type of the storage protocol survives the round trip, and a
damaged entry is a typed error, never a crash or a wrong replay."""

from __future__ import annotations

import inspect
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aether_memory import SerializationError
from aether_memory.core.config import SessionTTLs
from aether_memory.core.keys import SessionKeys
from aether_memory.core.query import Filters
from aether_memory.storage._async.fallback import (
    AsyncFallbackFeed,
    AsyncFallbackLongTerm,
    AsyncFallbackStore,
)
from aether_memory.storage._async.feed import AsyncFeedStore
from aether_memory.storage._async.queue_fallback import AsyncFallbackQueues
from aether_memory.storage._async.queues import AsyncQueueStore
from aether_memory.storage._async.store import AsyncLongTermStore, AsyncStore
from aether_memory.storage.outbox import NOT_QUEUED, WRITES, decode, encode

SESSION = SessionKeys.build("ns", "agent", "s1")


@pytest.mark.parametrize(
    ("op", "args"),
    [
        ("hash_set", (SESSION, "working", {"k": b"j1", "\u00e9": b"\x00\xff"}, 5, None)),
        ("events_append", (SESSION, [["e1", "step", "ok", 1, 2.5, b"z..."]], 7,
                           SessionTTLs(1, 2, None, 4))),
        ("checkpoint_save", (SESSION, b"state", 9, SessionTTLs(None, None, None, None), 100)),
        ("identity_delete", ("ns", "agent", ["a", "b"])),
        ("longterm.put", ("ns", [["id1", {"content": "x", "embedding": b"\x01\x02",
                                          "importance": 0.5}, None]])),
        ("longterm.reinforce", ("ns", [["id1", 0.9]], 3)),
        ("longterm.update", ("ns", "id1", {"tags": "a,b"}, ["h1", "h2"])),
        ("tools_get_or_put", (SESSION, b"schema", 1000)),
    ],
)  # fmt: skip
def test_round_trip(op: str, args: tuple[object, ...]) -> None:
    assert decode(encode(op, args)) == (op, list(args))


def test_filters_and_frozensets_round_trip() -> None:
    scope = Filters(kinds=("fact",), tags=("a|b", "{x}"), since_ms=1, min_importance=0.5)
    _, args = decode(encode("longterm.setup", (scope, frozenset({"step", "tool_call"}))))
    assert args == [scope, frozenset({"step", "tool_call"})]


def test_reads_and_unknown_operations_are_refused() -> None:
    with pytest.raises(ValueError):
        encode("hash_get", (SESSION, "working", "k"))
    with pytest.raises(SerializationError):
        decode(b'["flushall", []]')
    with pytest.raises(SerializationError):
        encode("hash_set", (object(),))


@given(st.binary(max_size=200))
def test_random_bytes_give_a_typed_error_or_a_known_write(data: bytes) -> None:
    try:
        op, _ = decode(data)
    except SerializationError:
        return
    assert op in WRITES  # only a well-formed entry decodes


MALFORMED = [
    b'["hash_set", [{"q": 1}]]', b'["hash_set", [{"b": "!!"}]]', b'["hash_set", 5]',
    b"[1, 2, 3]", b'{"a": 1}', b'["hash_set"]', b'[["hash_set"], []]',
    b'["hash_set", [{"s": [1]}]]',
]  # fmt: skip


@pytest.mark.parametrize("data", MALFORMED)
def test_malformed_entries_are_typed_errors(data: bytes) -> None:
    with pytest.raises(SerializationError):
        decode(data)


# The roles of the storage protocols, by the prefix their operations are named with.
PROTOCOLS = {"": AsyncStore, "longterm.": AsyncLongTermStore, "feed.": AsyncFeedStore,
             "queues.": AsyncQueueStore}  # fmt: skip
FORWARDERS = {"": AsyncFallbackStore, "longterm.": AsyncFallbackLongTerm,
              "feed.": AsyncFallbackFeed, "queues.": AsyncFallbackQueues}  # fmt: skip
_FORWARD = re.compile(r"\._(call|primary|read)\(\s*\"([\w.]+)\"")


def _operations() -> set[str]:
    return {
        prefix + name
        for prefix, protocol in PROTOCOLS.items()
        for name in vars(protocol)
        if not name.startswith("_")
    }


def test_every_operation_of_the_protocols_is_queued_or_says_why_not() -> None:
    """A write left out of `WRITES` would be applied to the fallback during an outage and
    never replayed: every operation must be placed, once."""
    places = [WRITES, *NOT_QUEUED.values()]
    placed = [op for group in places for op in group]
    assert sorted(placed) == sorted(set(placed)), "an operation is in two places"
    assert set(placed) == _operations()


@pytest.mark.parametrize("prefix", list(FORWARDERS))
def test_the_fallback_forwards_each_operation_under_its_own_name(prefix: str) -> None:
    """The fallback queues what `_call` is told is a write: a forwarder that named another
    operation (a copied line) would queue a write as a read, or replay the wrong one."""
    forwarder = FORWARDERS[prefix]
    for name in vars(PROTOCOLS[prefix]):
        if name.startswith("_") or prefix + name in {*NOT_QUEUED["connection"], "feed.subscribe"}:
            continue  # the connection's own, and a stream read from the primary as it goes
        calls = _FORWARD.findall(inspect.getsource(getattr(forwarder, name)))
        assert calls, f"{prefix}{name} is not forwarded through the fallback"
        for how, op in calls:
            assert (prefix + op if how != "call" else op) == prefix + name, (how, op)
            if prefix + name in WRITES:
                assert how == "call", f"{prefix}{name} is a write the outbox never sees"
