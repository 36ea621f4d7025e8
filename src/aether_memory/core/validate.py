"""The checks every public call runs on its arguments before anything is written.

One place for the value classes that must be refused cleanly, with `InvalidInput` and a message
that names the argument: wrong types (a list, an int or bytes where text is expected, a bool
where a number is), NaN and infinities, numbers too big for a timestamp or a TTL, text with
lone surrogates (which no store can encode), a string where a list of strings is expected
(``tags="abc"`` would otherwise become three one-letter tags). Names and ids are checked by
`aether_memory.core.ids.check_name`; JSON values by `aether_memory.core.codec.dumps`.

Each function returns the value in the form the caller stores, so a call site reads
``importance = check_number(importance, "importance", 0, 1)``.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from aether_memory.core.errors import InvalidInput

# The timestamps a datetime can show (years 1-9999), in ms since the epoch.
MIN_EPOCH_MS = -62_135_596_800_000
MAX_EPOCH_MS = 253_402_300_799_999
MAX_TTL_SECONDS = 100 * 365 * 24 * 3600  # longer is a mistake, not a retention policy
MAX_LIMIT = 100_000


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60


def describe(value: object) -> str:
    """A short repr of `value` for a message: bounded in length and depth (a list nested
    thousands deep must not turn a refusal into a RecursionError)."""
    return _REPR.repr(value)


def check_text(
    value: object, what: str, *, max_chars: int | None = None, allow_empty: bool = False
) -> str:
    """`value` if it is text that every store can hold: a `str` (not bytes), encodable as
    UTF-8 (no lone surrogates), non-blank unless `allow_empty`, at most `max_chars` long."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text (str), not {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise InvalidInput(f"{what} must be non-empty text")
    if max_chars is not None and len(value) > max_chars:
        raise InvalidInput(f"{what} is limited to {max_chars} characters, not {len(value)}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInput(
                f"{what} contains a lone surrogate ({value[exc.start]!r} at {exc.start}), "
                "which is not valid Unicode text"
            ) from None
    return value


def check_number(value: object, what: str, lo: float, hi: float) -> float:
    """`value` as a float if it is a finite int or float (not a bool) in ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{what} must be a number, not {type(value).__name__}")
    # Compared before converting: an int too big for a float would raise OverflowError.
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{what} must be a finite number, not {value!r}")
    if not lo <= value <= hi:
        raise InvalidInput(f"{what} must be between {lo:g} and {hi:g}, not {describe(value)}")
    return float(value)


def check_int(value: object, what: str, lo: int, hi: int) -> int:
    """`value` if it is an int (not a bool) in ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an integer, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise InvalidInput(f"{what} must be between {lo} and {hi}, not {describe(value)}")
    return int(value)


def check_limit(value: object, what: str = "limit", hi: int = MAX_LIMIT) -> int:
    """A count of items to return: an int from 0 to `hi`."""
    return check_int(value, what, 0, hi)


def check_flag(value: object, what: str) -> bool:
    """`value` if it is a bool (``1`` or ``"yes"`` are refused: they are usually mistakes)."""
    if not isinstance(value, bool):
        raise InvalidInput(f"{what} must be True or False, not {describe(value)}")
    return value


def check_seconds(value: object, what: str = "ttl") -> float:
    """A positive, finite duration in seconds, at most `MAX_TTL_SECONDS`."""
    seconds = check_number(value, what, 0, MAX_TTL_SECONDS)
    if seconds <= 0:
        raise InvalidInput(f"{what} must be positive, not {describe(value)}")
    return seconds


def seconds_to_ms(seconds: float) -> int:
    """Milliseconds for a checked duration, never 0 (which a store would read as 'no TTL')."""
    return max(1, round(seconds * 1000))


def check_duration(value: object, what: str) -> float:
    """A non-negative, finite number of seconds (a run's duration)."""
    return check_number(value, what, 0, MAX_TTL_SECONDS)


def check_epoch_ms(value: object, what: str) -> int:
    """Milliseconds since the epoch for a `datetime` (naive means UTC) or a number of ms,
    within the years 1-9999."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        try:
            ms = math.floor(value.timestamp() * 1000)
        except (OverflowError, ValueError, OSError):
            raise InvalidInput(f"{what} {value!r} is outside the years 1-9999") from None
    else:
        ms = math.floor(check_number(value, what, MIN_EPOCH_MS, MAX_EPOCH_MS))
    if not MIN_EPOCH_MS <= ms <= MAX_EPOCH_MS:
        raise InvalidInput(f"{what} {describe(value)} is outside the years 1-9999")
    return ms


def check_strings(value: object, what: str) -> tuple[Any, ...]:
    """The items of a list, tuple or set (the caller checks each one); a lone string, bytes or
    a mapping is refused rather than iterated, and so is anything that is not iterable."""
    if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Iterable):
        raise InvalidInput(f"{what} must be a list of strings, not {type(value).__name__}")
    return tuple(value)


def check_mapping(value: object, what: str) -> Mapping[Any, Any]:
    """`value` if it is a mapping (a dict of keys to values)."""
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be a mapping (dict), not {type(value).__name__}")
    return value
