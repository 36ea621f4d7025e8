"""A Redis that stops answering (SIGSTOP): how long each call takes to fail, or to be served
by the fallback, for a few configured timeouts.

For each socket timeout T (connect timeout T too, retries 3), a client writes to a local
plain Redis, the server is SIGSTOPped, and each call below is timed until it raises
`BackendUnavailable` (no fallback) or returns (with a SQLite fallback: the first call pays
the timeout, then the fallback serves); then SIGCONT. The bound documented in
docs/reliability.md is ``connect_timeout + socket_timeout`` plus the retry backoff (≤ 0.7 s,
paid only after fast connection errors), per round trip.

Run:
    python bench/bench_hang.py
    python bench/bench_hang.py --timeouts 0.5,2,5
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aether_memory import BackendUnavailable, Memory, Options
from aether_memory.server.local import RedisProcess


def timed(call: Callable[[], Any]) -> tuple[float, str]:
    started = time.monotonic()
    try:
        call()
        outcome = "returned"
    except BackendUnavailable:
        outcome = "BackendUnavailable"
    return time.monotonic() - started, outcome


def measure(server: RedisProcess, folder: Path, timeout: float, fallback: bool) -> list[str]:
    options = Options(socket_timeout=timeout, connect_timeout=timeout, retries=3)
    url = f"sqlite:///{folder}/fallback-{timeout}.db" if fallback else None
    rows = []
    with Memory.open(server.url, namespace="hang", options=options, fallback=url) as mem:
        session = mem.agent("a").session("s1")
        session.working.set("k", 1)
        session.checkpoint({"n": 1})
        assert server.pid is not None
        os.kill(server.pid, signal.SIGSTOP)
        try:
            for name, call in (
                ("working.get", lambda: session.working.get("k")),
                ("checkpoint", lambda: session.checkpoint({"n": 2})),
                ("record", lambda: session.record("tick", {"i": 1})),
                ("restore", lambda: session.restore()),
            ):
                seconds, outcome = timed(call)
                rows.append(
                    f"| {timeout:g} s | {'sqlite' if fallback else 'none'} | {name} | "
                    f"{seconds:.2f} s | {seconds / timeout:.2f}x | {outcome} |"
                )
        finally:
            os.kill(server.pid, signal.SIGCONT)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timeouts", default="0.5,2,5", help="comma-separated socket timeouts (s)")
    args = p.parse_args(argv)
    timeouts = [float(t) for t in args.timeouts.split(",")]
    print("| timeout | fallback | call (in order) | took | / timeout | outcome |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="aether-bench-hang-") as tmp:
        server = RedisProcess(Path(tmp) / "redis", modules=False)
        server.start()
        try:
            for timeout in timeouts:
                for fallback in (False, True):
                    for row in measure(server, Path(tmp), timeout, fallback):
                        print(row, flush=True)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
