"""Which sessions a Redis store has recorded, so only its first write into one records it."""

from __future__ import annotations

from aether_memory.core.config import SessionTTLs
from aether_memory.core.keys import SessionKeys

MAX_OPENED = 10_000  # sessions remembered (a bounded memo: forgetting one costs a rewrite)


class OpenedSessions:
    """The sessions this store's writes have recorded (meta, the agent's session index and
    its entry among the namespace's agents).

    A write into a session passes `opening(s, ttls)`: the TTLs to record it with the first
    time, when the write also records it in the same round trip, None after that. The memo
    can be wrong: another client may have erased the session since. Every write also adds the
    session to its agent's index, and that `ZADD` adding it anew tells the store so (see
    `AsyncRedisStore._recorded`).
    """

    def __init__(self) -> None:
        self._seen: dict[str, None] = {}

    def opening(self, s: SessionKeys, ttls: SessionTTLs | None) -> SessionTTLs | None:
        return None if s.meta in self._seen else ttls

    def recorded(self, s: SessionKeys) -> None:
        """Note that session `s` is recorded."""
        if s.meta in self._seen:
            return
        if len(self._seen) >= MAX_OPENED:
            self._seen.clear()
        self._seen[s.meta] = None

    def forget(self, s: SessionKeys) -> None:
        """Session `s` was erased here: its next write records it in the same round trip."""
        self._seen.pop(s.meta, None)

    def clear(self) -> None:
        self._seen.clear()
