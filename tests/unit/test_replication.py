"""The pure decisions of durability="replicated": which calls write, which keys they touch,
and a fence key in the slot of the key it follows."""

from __future__ import annotations

import pytest

from aether_memory import NotReplicated
from aether_memory.backends.redis.cluster import key_slot
from aether_memory.backends.redis.replication import (
    check_acks,
    command_keys,
    command_of,
    fence_key,
    is_write,
)


def test_writes_and_reads_are_told_apart() -> None:
    assert is_write(command_of("hset", ("k",))) and is_write(command_of("delete", ("k",)))
    assert command_of("delete", ("a", "b")) == ["DEL", "a", "b"]
    assert is_write(command_of("execute_command", ("EVALSHA", "sha", 1, "k")))
    assert is_write(command_of("execute_command", ("some.unknown", "k")))  # unknown: a write
    for read in (("hgetall", ("k",)), ("execute_command", ("FT.SEARCH", "idx", "*")),
                 ("execute_command", ("CONFIG GET", "save")), ("xrevrange", ("k",))):  # fmt: skip
        assert not is_write(command_of(*read)), read


def test_the_keys_of_a_command() -> None:
    assert command_keys(["EVALSHA", "sha", 2, "k1", "k2", "arg"]) == ["k1", "k2"]
    assert command_keys(["EVAL", "script", 0, "arg"]) == []
    assert command_keys(["UNLINK", "a", "b"]) == ["a", "b"]
    assert command_keys(["HSET", "h", "f", "v"]) == ["h"]
    assert command_keys(["MULTI"]) == []


@pytest.mark.parametrize(
    "key", ["aether:{ns}:agents", "aether:{ns/a/s}:meta", "plain", "{x}}", "é{ü}"]
)
def test_a_fence_key_shares_the_slot_of_its_key(key: str) -> None:
    assert key_slot(fence_key(key)) == key_slot(key)


def test_too_few_acknowledgements_are_an_error() -> None:
    check_acks(1, 1.0, "here")
    check_acks(2, 1.0, "here")
    with pytest.raises(NotReplicated, match=r"applied on node x.*possibly unreplicated") as caught:
        check_acks(0, 0.5, "node x")
    assert caught.value.replicas == 0 and caught.value.retryable
