"""The structural diff of two checkpoint states."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aether_memory.core.diff import Change, json_diff, pointer

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


def test_same_state_has_no_changes() -> None:
    state = {"a": [1, {"b": None}], "c": "x"}
    assert json_diff(state, state) == []


def test_changes_are_at_the_deepest_path_in_document_order() -> None:
    before = {"step": 1, "plan": ["a"], "gone": True, "deep": {"x": 1, "y": [1, 2]}}
    after = {"step": 2, "plan": ["a", "b"], "deep": {"x": 1, "y": [1]}, "new": {"k": 0}}
    assert json_diff(before, after) == [
        Change("/step", "changed", 1, 2),
        Change("/plan/1", "added", None, "b"),
        Change("/gone", "removed", True, None),
        Change("/deep/y/1", "removed", 2, None),
        Change("/new", "added", None, {"k": 0}),
    ]


def test_type_changes_and_json_booleans() -> None:
    assert json_diff({"a": 1}, {"a": True}) == [Change("/a", "changed", 1, True)]
    assert json_diff({"a": [1]}, {"a": {"0": 1}}) == [Change("/a", "changed", [1], {"0": 1})]
    assert json_diff(None, {"a": 1}) == [Change("", "changed", None, {"a": 1})]


def test_pointer_escapes_slash_and_tilde() -> None:
    assert pointer(("a/b", "~c", 0)) == "/a~1b/~0c/0"
    assert json_diff({"a/b": 1}, {"a/b": 2}) == [Change("/a~1b", "changed", 1, 2)]


def _parts(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _apply(doc: Any, changes: list[Change]) -> Any:
    """Apply the changes (removals last, from the end, so list indexes hold)."""
    root = {"": doc}
    ordered = [c for c in changes if c.op != "removed"]
    ordered += reversed([c for c in changes if c.op == "removed"])
    for change in ordered:
        parts = ["", *_parts(change.path)]
        parent: Any = root
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last: Any = int(parts[-1]) if isinstance(parent, list) else parts[-1]
        if change.op == "removed":
            del parent[last]
        elif isinstance(parent, list) and last == len(parent):
            parent.append(copy.deepcopy(change.after))
        else:
            parent[last] = copy.deepcopy(change.after)
    return root[""]


@given(JSON, JSON)
def test_applying_the_changes_gives_the_other_state(a: Any, b: Any) -> None:
    changes = json_diff(a, b)
    assert _apply(copy.deepcopy(a), changes) == b
    assert (changes == []) == (a == b and json_diff(b, a) == [])
