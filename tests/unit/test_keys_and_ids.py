from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aether_memory.core import keys
from aether_memory.core.errors import InvalidInput
from aether_memory.core.ids import check_name, new_id
from aether_memory.core.keys import SessionKeys


def test_session_keys_share_one_hash_tag() -> None:
    s = SessionKeys.build("team", "planner", "s1")
    tagged = [s.meta, s.working, s.scratch, s.events, s.checkpoints, s.checkpoint_data, s.tools]
    assert {k.split("}")[0] for k in tagged} == {"aether:{team/planner/s1"}
    assert s.sessions == "aether:{team}:agent:planner:sessions"


def test_namespace_keys_share_the_namespace_tag() -> None:
    for key in (keys.identity("n", "a"), keys.state("n", "a"), keys.cache("n", "t", "h")):
        assert key.startswith("aether:{n}:")


@given(st.text(max_size=300))
def test_valid_names_cannot_break_out_of_a_key(name: str) -> None:
    try:
        check_name(name, "id")
    except InvalidInput:
        return
    assert not set(name) & set(":{}/ *?[]\\\"'|@\n")
    assert 1 <= len(name) <= 128


@pytest.mark.parametrize("bad", ["a|b", "x}", "-1", "@t:{x}", "a b", "ü", ".hidden", "", 3, None])
def test_hostile_names_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInput):
        check_name(bad, "id")


def test_ids_are_sortable_and_unique() -> None:
    ids = [new_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert ids == sorted(ids)
    assert all(check_name(i, "id") for i in ids)
