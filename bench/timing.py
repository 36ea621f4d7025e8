"""Timing helpers shared by the benchmark scripts (run from this folder: `import timing`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Timing:
    """Per-call latencies of one side, in nanoseconds."""

    ns: list[int]

    def pct(self, q: float) -> float:
        """The q-quantile in µs (nearest rank)."""
        ordered = sorted(self.ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1_000

    @property
    def ops(self) -> float:
        """Calls per second, back to back."""
        return len(self.ns) * 1e9 / sum(self.ns)


@contextmanager
def no_gc() -> Iterator[None]:
    """Collect, then keep the garbage collector out of a timed section."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
