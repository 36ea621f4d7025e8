"""Retry backoff with its own random generator.

redis-py's jittered backoffs draw from the `random` module, so every retry after a
connection error would advance the application's global random stream: a program that
seeds `random` for reproducible runs would see different numbers whenever Redis hiccuped.
"""

from __future__ import annotations

import random

from redis.backoff import AbstractBackoff

# Between retries after a connection error: at most 0.1 + 0.2 + 0.4 s for 3 retries.
RETRY_BACKOFF_BASE = 0.05
RETRY_BACKOFF_CAP = 1.0


class JitterBackoff(AbstractBackoff):
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**failures)]."""

    def __init__(self, cap: float = RETRY_BACKOFF_CAP, base: float = RETRY_BACKOFF_BASE) -> None:
        self._cap = cap
        self._base = base
        self._rng = random.Random()

    def reset(self) -> None:
        pass

    def compute(self, failures: int) -> float:
        return self._rng.uniform(0, min(self._cap, self._base * 2**failures))
