"""The pure checks of `core.validate` and the exposure rule of `core.access` (no server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aether_memory.core.access import (
    KeyRing,
    exposure_problem,
    is_local_request,
    is_loopback,
    parse_api_keys,
    presented_key,
)
from aether_memory.core.errors import InvalidInput
from aether_memory.core.validate import (
    MAX_EPOCH_MS,
    check_epoch_ms,
    check_flag,
    check_int,
    check_number,
    check_seconds,
    check_strings,
    check_text,
    describe,
    seconds_to_ms,
)
from tests.hostile import nest

KEY = "unit-test-key-0123456789"


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), -float("inf"), True, "0.5", None, 10**400, b"1"]
)
def test_numbers_refuse_what_is_not_a_finite_number_in_range(value: object) -> None:
    with pytest.raises(InvalidInput, match="importance"):
        check_number(value, "importance", 0, 1)


def test_numbers_and_ints() -> None:
    assert check_number(1, "x", 0, 1) == 1.0 and isinstance(check_number(1, "x", 0, 1), float)
    assert check_int(3, "k", 1, 5) == 3
    for bad in (3.0, True, "3", 0, 6, 10**30):
        with pytest.raises(InvalidInput):
            check_int(bad, "k", 1, 5)


def test_text_refuses_lone_surrogates_bytes_and_blanks() -> None:
    assert check_text("héllo 🙂", "t") == "héllo 🙂"
    assert check_text(" ", "t", allow_empty=True) == " "
    for bad in ("a\ud800", "\udfff", b"bytes", ["a"], 3, " ", "x" * 11):
        with pytest.raises(InvalidInput):
            check_text(bad, "t", max_chars=10)


def test_durations_and_timestamps() -> None:
    assert check_seconds(0.5) == 0.5 and seconds_to_ms(0.0001) == 1
    for bad in (0, -1, float("nan"), float("inf"), 10**12, True):
        with pytest.raises(InvalidInput):
            check_seconds(bad)
    assert check_epoch_ms(datetime(2026, 1, 1), "t") == 1767225600000  # naive means UTC
    assert check_epoch_ms(datetime(2026, 1, 1, tzinfo=UTC), "t") == 1767225600000
    assert check_epoch_ms(MAX_EPOCH_MS, "t") == MAX_EPOCH_MS
    for bad in (float("nan"), float("inf"), MAX_EPOCH_MS + 1, 10**30, "2026", True):
        with pytest.raises(InvalidInput):
            check_epoch_ms(bad, "t")


def test_flags_and_lists() -> None:
    assert check_flag(False, "f") is False
    for bad in (1, 0, "yes", None):
        with pytest.raises(InvalidInput):
            check_flag(bad, "f")
    assert check_strings(["a", "b"], "tags") == ("a", "b")
    assert check_strings({"a"}, "tags") == ("a",)
    for bad in ("abc", b"abc", {"a": 1}, 3, None):
        with pytest.raises(InvalidInput):
            check_strings(bad, "tags")


def test_messages_stay_short_for_any_value() -> None:
    assert len(describe("x" * 10_000)) < 80
    assert len(describe(nest(5000))) < 80  # no RecursionError


def test_loopback_and_local_requests() -> None:
    assert is_loopback("::ffff:127.0.0.1") and not is_loopback("::ffff:10.0.0.1")
    local, lan = ("127.0.0.1", 8080), ("192.0.2.2", 8080)
    assert is_local_request(local, ("127.0.0.1", 5000), [])
    assert not is_local_request(lan, ("127.0.0.1", 5000), [])  # arrived on a public address
    assert not is_local_request(local, ("192.0.2.9", 5000), [])
    assert not is_local_request(local, ("127.0.0.1", 5000), [(b"x-forwarded-for", b"1.2.3.4")])
    assert not is_local_request(None, None, [])
    assert is_local_request(("/run/aether.sock", None), None, [])  # a Unix socket


def test_exposure_rule_and_presented_keys() -> None:
    keys = parse_api_keys(f"{KEY}=ns1")
    assert exposure_problem("0.0.0.0", (), False) is not None
    assert exposure_problem("0.0.0.0", (), True) is None
    assert exposure_problem("0.0.0.0", keys, False) is None
    assert exposure_problem("127.0.0.1", (), False) is None
    assert presented_key([(b"authorization", f"Bearer {KEY}".encode())]) == KEY
    assert presented_key([(b"authorization", b"Basic abc"), (b"x-api-key", KEY.encode())]) == KEY
    assert presented_key([(b"authorization", b"Bearer ")]) is None
    ring = KeyRing(keys)
    found = ring.find(KEY)
    assert found is not None and found.allows("ns1") and not found.allows("ns2")
    assert ring.find(KEY + "x") is None and not found.is_admin
