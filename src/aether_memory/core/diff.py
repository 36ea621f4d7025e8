"""A structural diff of two JSON values (checkpoint states), as a list of changes.

Objects are compared key by key and arrays index by index, recursively; a change is reported
at the deepest path where the two values differ. Paths are JSON Pointers (RFC 6901), so a key
holding ``/`` or ``~`` stays unambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Change", "json_diff", "pointer"]

Op = Literal["added", "removed", "changed"]
_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: where (a JSON Pointer), what happened, and the values on each side
    (``None`` for the side where the value is absent)."""

    path: str
    op: Op
    before: Any = None
    after: Any = None


def pointer(parts: tuple[str | int, ...]) -> str:
    """The JSON Pointer of a path: ``("a", 0, "b/c")`` → ``/a/0/b~1c``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def json_diff(before: Any, after: Any) -> list[Change]:
    """The changes that turn `before` into `after`, in document order."""
    changes: list[Change] = []
    _walk(before, after, (), changes)
    return changes


def _walk(a: Any, b: Any, path: tuple[str | int, ...], out: list[Change]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            _walk(a.get(key, _MISSING), b.get(key, _MISSING), (*path, key), out)
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            _walk(a[i] if i < len(a) else _MISSING, b[i] if i < len(b) else _MISSING,
                  (*path, i), out)  # fmt: skip
    elif a is _MISSING:
        out.append(Change(pointer(path), "added", None, b))
    elif b is _MISSING:
        out.append(Change(pointer(path), "removed", a, None))
    elif a != b or isinstance(a, bool) is not isinstance(b, bool):  # JSON: true is not 1
        out.append(Change(pointer(path), "changed", a, b))
