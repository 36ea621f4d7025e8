"""Outbox entries: every argument type of the storage protocol survives the round trip, and a
damaged entry is a typed error, never a crash or a wrong replay."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aether_memory import SerializationError
from aether_memory.core.config import SessionTTLs
from aether_memory.core.keys import SessionKeys
from aether_memory.core.query import Filters
from aether_memory.storage.outbox import WRITES, decode, encode

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
