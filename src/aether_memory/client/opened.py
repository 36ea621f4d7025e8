"""Which sessions a client has recorded, so only its first write into one records it."""

from __future__ import annotations

from aether_memory.core.config import SessionTTLs
from aether_memory.core.keys import SessionKeys

MAX_OPENED = 10_000  # sessions remembered (a bounded memo: forgetting one costs a rewrite)


class OpenedSessions:
    """The sessions this client's writes have recorded (meta, the agent's session index).

    A write into a session passes `opening(s)`: the client's TTLs the first time, when the
    write also records the session in the same round trip (see `AsyncStore.session_open`),
    None after that. Forgetting a session only makes its next write record it again.
    """

    def __init__(self, ttls: SessionTTLs) -> None:
        self._ttls = ttls
        self._seen: dict[str, None] = {}

    def opening(self, s: SessionKeys) -> SessionTTLs | None:
        return None if s.meta in self._seen else self._ttls

    def recorded(self, s: SessionKeys) -> None:
        """Note that a write recorded session `s` (its `opening` went through)."""
        if s.meta in self._seen:
            return
        if len(self._seen) >= MAX_OPENED:
            self._seen.clear()
        self._seen[s.meta] = None

    def forget(self, s: SessionKeys) -> None:
        self._seen.pop(s.meta, None)

    def clear(self) -> None:
        self._seen.clear()
