"""A LangGraph `list` page picked from a thread's sorted keys (`page_of`) is the page that
parsing and sorting every key gives, whatever the namespaces and ids hold."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aether_memory.integrations._sync.checkpoints import (
    checkpoint_key,
    latest_key,
    newest_first,
    page_of,
    places_in,
)

# Ordinary ids beside every character that could break the sorted-keys shortcut: JSON escapes,
# characters below the quote, non-ASCII and astral ones.
_PLAIN = st.one_of(st.uuids().map(str), st.text(alphabet="ab0-f", max_size=4))
_TEXT = st.text(alphabet='ab0-f" !\\\n\x00é\U0001f600', max_size=4)
_NS = st.sampled_from(["", "child", "child:1", "é", "a b", 'q"'])
_PLACES = st.one_of(
    st.lists(st.tuples(st.sampled_from(["", "child", "é"]), _PLAIN), max_size=30),
    st.lists(st.tuples(_NS, st.one_of(_PLAIN, _TEXT)), max_size=30),
)


@given(
    places=_PLACES,
    ns=st.one_of(st.none(), _NS),
    limit=st.one_of(st.none(), st.integers(-2, 12)),
    data=st.data(),
)
def test_a_page_from_the_sorted_keys_is_the_sorted_page(
    places: list[tuple[str, str]], ns: str | None, limit: int | None, data: st.DataObject
) -> None:
    ids = st.sampled_from([c for _, c in places]) if places else _PLAIN
    # an id of the thread, another, or one of the thread's with a character after it
    some_id = st.one_of(st.none(), _PLAIN, _TEXT, ids, st.tuples(ids, _TEXT).map("".join))
    checkpoint_id, before_id = data.draw(some_id), data.draw(some_id)
    keys = sorted({checkpoint_key(n, c) for n, c in places} | {latest_key(n) for n, _ in places})
    expected = newest_first(places_in(keys), ns, checkpoint_id, before_id)[:limit]
    assert page_of(keys, ns, checkpoint_id, before_id, limit) == expected


def test_a_page_of_plain_ids_is_read_from_the_end() -> None:
    ids = [f"1f0{i:05d}-aaaa" for i in range(1000)]
    keys = sorted(checkpoint_key(ns, c) for ns in ("", "sub") for c in ids)
    assert page_of(keys, "", None, ids[500], 3) == [("", ids[499]), ("", ids[498]), ("", ids[497])]
    assert page_of(keys, None, None, None, 2) == [("sub", ids[999]), ("sub", ids[998])]
    across = page_of(keys, None, None, ids[2], 3)  # two of "sub", then one of ""
    assert across == [("sub", ids[1]), ("sub", ids[0]), ("", ids[1])]
    assert page_of(keys, None, ids[7], None, None) == [("sub", ids[7]), ("", ids[7])]


def test_ids_that_sort_apart_from_their_keys_are_still_in_order() -> None:
    """'a!' sorts after 'a' but its key before (``!`` is below the closing quote); a space,
    a quote and a backslash likewise, in an id or in the bound given."""
    for odd in ("!", " ", '"', "\\", "\n"):
        places = [("", "a"), ("", "a" + odd), ("", "ab")]
        keys = sorted(checkpoint_key(n, c) for n, c in places)
        assert page_of(keys, "", None, None, None) == newest_first(places, "", None, None)
        plain = sorted(checkpoint_key("", c) for c in ("a", "ab"))
        expected = newest_first([("", "a"), ("", "ab")], None, None, "a" + odd)
        assert page_of(plain, None, None, "a" + odd, None) == expected
        assert page_of(plain, "", None, "a" + odd, None) == expected
