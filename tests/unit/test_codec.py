from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aether_memory.core.codec import JSON, ZSTD, Codec
from aether_memory.core.errors import InvalidInput, SerializationError, TooLarge

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@given(json_values)
def test_round_trip(value: object) -> None:
    codec = Codec(compress_threshold=64)
    assert codec.decode(codec.encode(value)) == value


def test_header_says_whether_compressed() -> None:
    codec = Codec(compress_threshold=100)
    assert codec.encode("short")[:1] == JSON
    big = codec.encode("x" * 1000)
    assert big[:1] == ZSTD
    assert len(big) < 100


def test_refuses_what_json_cannot_carry_back() -> None:
    import datetime

    codec = Codec()
    for bad in (float("nan"), [float("-inf")], {1: "a"}, {1, 2}, b"bytes", datetime.date.today()):
        with pytest.raises(InvalidInput):
            codec.encode(bad)


def test_size_limit() -> None:
    with pytest.raises(TooLarge):
        Codec(max_value_bytes=10).encode("x" * 20)


@given(st.binary(max_size=200))
def test_random_bytes_decode_to_a_typed_error_or_a_value(raw: bytes) -> None:
    with contextlib.suppress(SerializationError):
        Codec().decode(raw)


def test_zstd_bomb_is_refused() -> None:
    import zstandard

    bomb = ZSTD + zstandard.ZstdCompressor().compress(b"[" + b"0," * (40 * 1024 * 1024) + b"0]")
    with pytest.raises(SerializationError):
        Codec().decode(bomb)


def test_unknown_header() -> None:
    with pytest.raises(SerializationError, match="not written by aether-memory"):
        Codec().decode(b"\x80" + os.urandom(10))
