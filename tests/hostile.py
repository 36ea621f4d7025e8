"""Values that public calls must refuse cleanly (or store and read back exactly), for the
property tests of the library, the REST server and the MCP server.

The classes: NaN and infinities, numbers too big for a timestamp, a TTL or a 64-bit integer,
wrong types (bytes, lists, mappings, sets, bools, arbitrary objects), text with lone surrogates,
and nested junk mixing those. `json_fragments` gives the same classes as JSON text, the way an
HTTP client can send them (``NaN``, ``1e400``, ``"\\ud800"``, invalid UTF-8, deep nesting).
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import strategies as st

NAN = float("nan")
INF = float("inf")

surrogate = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
with_surrogate = st.builds(
    lambda head, mid, tail: head + mid + tail,
    st.text(max_size=5),
    surrogate,
    st.text(max_size=5),
)
bad_numbers = st.one_of(
    st.sampled_from([NAN, INF, -INF, -NAN, 1e308 * 10]),
    st.integers(min_value=2**63, max_value=2**1100),
    st.integers(max_value=-(2**63) - 1, min_value=-(2**1100)),
    st.floats(min_value=1e19, allow_infinity=True),
)
wrong_types = st.one_of(
    st.binary(max_size=10),
    st.builds(bytearray, st.binary(max_size=5)),
    st.booleans(),
    st.sets(st.integers(), max_size=3),
    st.just(object()),
    st.just(()),
    st.dictionaries(st.integers(), st.text(max_size=3), min_size=1, max_size=2),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.integers(-5, 5),
)
junk_leaf = st.one_of(bad_numbers, with_surrogate, st.binary(max_size=4), st.just(object()))
nested_junk = st.recursive(
    junk_leaf,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3)
        | st.dictionaries(st.text(max_size=3), inner, min_size=1, max_size=3)
    ),
    max_leaves=6,
)
hostile = st.one_of(bad_numbers, wrong_types, with_surrogate, nested_junk)
"""Every hostile value class, as Python values (deep nesting apart: see `nest`, since
hypothesis cannot print a value nested thousands deep)."""


def nest(depth: int) -> Any:
    """A list nested `depth` deep: deeper than JSON encoders (and Python's repr) will go."""
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def is_json_safe(value: Any) -> bool:
    """True when `value` survives a JSON round trip (as `as_json` of itself), so storing it is
    right."""
    if value is None or isinstance(value, bool | str):
        return not isinstance(value, str) or _encodable(value)
    if isinstance(value, int):
        return -(2**63) <= value < 2**64
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(is_json_safe(v) for v in value)
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and _encodable(k) and is_json_safe(v) for k, v in value.items()
        )
    return False


def as_json(value: Any) -> Any:
    """`value` as it reads back from JSON: tuples are arrays, so they come back as lists."""
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _fragment(value: Any) -> str:
    # json.dumps escapes lone surrogates (\ud800) and writes NaN / Infinity literals, both of
    # which Python's own JSON parser (and so a server built on it) accepts.
    return json.dumps(value)


json_fragments = st.one_of(
    st.sampled_from(
        [
            "NaN",
            "-NaN",
            "Infinity",
            "-Infinity",
            "1e400",
            "-1e400",
            "1" + "0" * 40,
            '"\\ud800"',
            '"a\\udfffb"',
            '["\\udbff"]',
            '{"\\ud800": 1}',
            '{"a": NaN}',
            "[1e999]",
            "true",
            "[]",
            "{}",
            '"\\u0000"',
            "[" * 5000 + "]" * 5000,
            '{"a":' * 3000 + "1" + "}" * 3000,
        ]
    ),
    with_surrogate.map(_fragment),
    st.one_of(
        st.floats(),
        st.integers(min_value=2**63, max_value=2**400),
        st.lists(st.integers(), max_size=3),
        st.booleans(),
    ).map(_fragment),
)
"""Hostile values as JSON text (to put inside a request body)."""

invalid_utf8 = st.sampled_from([b'"\xff"', b'"\xed\xa0\x80"', b'"\xc3"', b'"\xf4\x90\x80\x80"'])
"""Bytes that are not UTF-8 (a lone surrogate encoded as if it were a character, among them)."""
