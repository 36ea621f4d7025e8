"""Every Lua script names the keys it touches in KEYS, so a cluster routes it to the one
shard that holds them (a script reaching a key it was not given could touch another slot)."""

from __future__ import annotations

import re

import pytest

from aether_memory.backends.redis import scripts
from aether_memory.backends.redis._async import longterm

SCRIPTS = {
    name: getattr(module, name)
    for module in (scripts, longterm)
    for name in dir(module)
    if name.isupper()
    and isinstance(getattr(module, name), str)
    and "redis.call" in getattr(module, name)
}
# The key argument of each call: `KEYS[...]`, or `key`, the parameter of the shared `mark`
# helper, which every caller passes a KEYS entry.
_CALL = re.compile(r"redis\.call\('(?P<cmd>[A-Z]+)',\s*(?P<key>[^,)]+)")
_MARK_CALL = re.compile(r"\bmark\((?P<key>[^,]+),")


def test_scripts_are_found() -> None:
    assert {"CHECKPOINT_SAVE", "EVENTS_APPEND", "DROP_DEAD_HASHES", "REINFORCE"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_key_a_script_touches_comes_from_keys(name: str) -> None:
    body = SCRIPTS[name]
    calls = list(_CALL.finditer(body))
    assert calls
    for call in calls:
        key = call["key"].strip()
        assert key.startswith("KEYS[") or key == "key", f"{name}: {call.group(0)}"
    callers = body.split("end\n", 1)[-1] if "local function" in body else body
    for call in _MARK_CALL.finditer(callers):
        assert call["key"].strip().startswith("KEYS["), f"{name}: {call.group(0)}"
