"""Owned background work: a task in async code, a daemon thread in its generated sync twin
(`scripts/unasync.py` maps one onto the other)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

STOP_TIMEOUT = 10.0


def start_task(work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(work, name="aether-memory-background")


def start_thread(work: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=work, name="aether-memory-background", daemon=True)
    thread.start()
    return thread


async def finish_task(task: asyncio.Task[None] | None) -> None:
    """Wait for a task that was asked to stop (it must return soon)."""
    if task is not None:
        await asyncio.wait_for(task, STOP_TIMEOUT)


def finish_thread(thread: threading.Thread | None) -> None:
    if thread is not None and thread is not threading.current_thread():
        thread.join(STOP_TIMEOUT)
