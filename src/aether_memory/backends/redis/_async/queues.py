"""Task queues on Redis: one Lua script per operation over a queue's zsets and hashes
(`backends.redis.queue_scripts`), all keys under the namespace's hash tag."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson
from redis.exceptions import NoScriptError, RedisError

from aether_memory.backends.redis import queue_scripts
from aether_memory.backends.redis.errors import TRANSLATE, translate
from aether_memory.core.keys import QueueKeys
from aether_memory.core.queues import (
    ClaimRow,
    QueueStats,
    TaskRow,
    TaskState,
    meta_field,
    stats_from,
)

_SCRIPTS = {
    name: getattr(queue_scripts, name)
    for name in ("PUT", "CLAIM", "ACK", "FAIL", "EXTEND", "STATS", "PEEK", "RETRY_DEAD")
}
_SHAS = {name: hashlib.sha1(text.encode()).hexdigest() for name, text in _SCRIPTS.items()}
# A blocked claim waits on the queue's wake list at most this long per BLPOP, well inside
# the socket timeout (a longer block would read as a dead server).
_BLOCK_SLICE = 1.0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class AsyncRedisQueues:
    """The queue role of the Redis store."""

    def __init__(self, client: Any, socket_timeout: float) -> None:
        self._r = client
        self._slice = max(0.01, min(_BLOCK_SLICE, socket_timeout / 2))
        self._keys: dict[tuple[str, str], QueueKeys] = {}

    def _k(self, ns: str, queue: str) -> QueueKeys:
        found = self._keys.get((ns, queue))
        if found is None:
            if len(self._keys) > 4096:  # a bounded cache of key sets
                self._keys.clear()
            found = self._keys[(ns, queue)] = QueueKeys.build(ns, queue)
        return found

    async def _run(self, name: str, keys_: Sequence[str], args: Sequence[Any]) -> Any:
        """EVALSHA, loading the script once if the server does not have it (first use, a
        restart, ``SCRIPT FLUSH``): a failed EVALSHA ran nothing, so the retry is safe."""
        try:
            return await self._r.evalsha(_SHAS[name], len(keys_), *keys_, *args)
        except NoScriptError:
            pass
        except RedisError as exc:
            raise translate(exc) from exc
        with TRANSLATE:
            await self._r.script_load(_SCRIPTS[name])
            return await self._r.evalsha(_SHAS[name], len(keys_), *keys_, *args)

    async def put(
        self,
        ns: str,
        queue: str,
        task_id: str,
        body: bytes,
        priority: int,
        delay_ms: int,
        dedupe_key: str | None,
        now_ms: int,
    ) -> str:
        k = self._k(ns, queue)
        keys_ = (k.ready, k.delayed, k.meta, k.body, k.dedupe, k.wake)
        args = (task_id, body, priority, delay_ms, dedupe_key or "", now_ms)
        return _text(await self._run("PUT", keys_, args))

    async def claim(
        self,
        ns: str,
        queue: str,
        worker: str,
        token: str,
        now_ms: int,
        visibility_ms: int,
        max_attempts: int,
    ) -> tuple[ClaimRow | None, int | None]:
        k = self._k(ns, queue)
        keys_ = (k.ready, k.delayed, k.inflight, k.meta, k.body, k.dead, k.stats)
        args = (now_ms, visibility_ms, worker, token, max_attempts)
        reply = await self._run("CLAIM", keys_, args)
        if not reply[0]:
            nxt = int(float(_text(reply[1])))
            return None, (nxt if nxt >= 0 else None)
        id_, body, attempts, priority, created, deadline = reply
        row = ClaimRow(
            _text(id_),
            bytes(body),
            int(_text(attempts)),
            int(float(_text(priority))),
            int(float(_text(created))),
            int(float(_text(deadline))),
        )
        return row, None

    async def ack(self, ns: str, queue: str, task_id: str, token: str) -> bool:
        k = self._k(ns, queue)
        keys_ = (k.inflight, k.meta, k.body, k.dedupe, k.stats)
        return bool(await self._run("ACK", keys_, (task_id, token)))

    async def fail(
        self,
        ns: str,
        queue: str,
        task_id: str,
        token: str,
        error: str,
        now_ms: int,
        max_attempts: int,
        backoff_ms: int,
        backoff_cap_ms: int,
    ) -> TaskState | None:
        k = self._k(ns, queue)
        keys_ = (k.inflight, k.meta, k.delayed, k.dead, k.stats)
        args = (task_id, token, error, now_ms, max_attempts, backoff_ms, backoff_cap_ms)
        out = int(await self._run("FAIL", keys_, args))
        return None if out == 0 else ("dead" if out == 2 else "delayed")

    async def extend(self, ns: str, queue: str, task_id: str, token: str, deadline_ms: int) -> bool:
        k = self._k(ns, queue)
        return bool(await self._run("EXTEND", (k.inflight, k.meta), (task_id, token, deadline_ms)))

    async def stats(self, ns: str, queue: str, now_ms: int) -> QueueStats:
        k = self._k(ns, queue)
        keys_ = (k.ready, k.delayed, k.inflight, k.dead, k.meta, k.stats)
        pending, delayed, in_flight, dead, counters, held = await self._run(
            "STATS", keys_, (now_ms,)
        )
        pairs = [_text(v) for v in counters]
        held_pairs = [_text(v) for v in held]
        return stats_from(
            (int(pending), int(delayed), int(in_flight), int(dead)),
            {pairs[i]: int(pairs[i + 1]) for i in range(0, len(pairs), 2)},
            {held_pairs[i]: int(held_pairs[i + 1]) for i in range(0, len(held_pairs), 2)},
        )

    async def peek(self, ns: str, queue: str, state: TaskState, limit: int) -> list[TaskRow]:
        if limit <= 0:
            return []
        k = self._k(ns, queue)
        zset = {"pending": k.ready, "delayed": k.delayed, "in_flight": k.inflight}.get(
            state, k.dead
        )
        flat = await self._run("PEEK", (zset, k.meta, k.body), (limit,))
        rows = []
        for i in range(0, len(flat), 4):
            meta: dict[str, Any] = orjson.loads(flat[i + 2]) if flat[i + 2] else {}
            score = int(float(_text(flat[i + 1])))
            rows.append(
                TaskRow(
                    id=_text(flat[i]),
                    body=bytes(flat[i + 3]),
                    state=state,
                    priority=int(meta.get("p", 0)),
                    attempts=int(meta.get("a", 0)),
                    created_at=int(meta.get("c", 0)),
                    at=int(meta.get("u", 0)) if state == "pending" else score,
                    worker=meta_field(meta, "w"),
                    error=meta_field(meta, "e"),
                    dedupe_key=meta_field(meta, "d"),
                )
            )
        return rows

    async def retry_dead(
        self, ns: str, queue: str, task_ids: Sequence[str], limit: int, now_ms: int
    ) -> int:
        k = self._k(ns, queue)
        keys_ = (k.dead, k.ready, k.meta, k.wake)
        return int(await self._run("RETRY_DEAD", keys_, (now_ms, limit, *task_ids)))

    async def wait(self, ns: str, queue: str, seconds: float) -> None:
        if seconds <= 0:
            return
        with TRANSLATE:
            await self._r.blpop([self._k(ns, queue).wake], timeout=min(seconds, self._slice))
