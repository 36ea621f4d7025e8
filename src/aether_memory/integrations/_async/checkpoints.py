"""Where a LangGraph checkpointer's records live (the source of `_sync/checkpoints.py`).

A thread is one session of the saver's agent: each checkpoint is a key ``["c", ns, id]`` of its
working memory, and the key ``["latest", ns]`` holds a copy of the newest one. The pending
writes of one checkpoint are a session of their own (of the agent ``<agent>-writes``), whose id
follows from the checkpoint's, so a checkpoint named by id and its writes are read together in
one round trip. The keys are the thread's index: `list` reads the keys alone (no values),
sorted, finds its page among them by bisection (`page_of`: each namespace's range, the
``before`` bound, only the page's keys parsed), then reads just those checkpoints and their
writes in one more round trip. Beyond moving the keys, its cost follows the page, not the
thread. Records are plain JSON dicts here; `_checkpoint_records` builds and reads them.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeGuard

import orjson

from aether_memory.client._async.memory import AsyncMemory
from aether_memory.client.common import MAX_BATCH
from aether_memory.integrations._async.threads import AsyncThreadStore

Record = dict[str, Any]
# A checkpoint's place in its thread: (checkpoint_ns, checkpoint_id).
Place = tuple[str, str]
_CHECKPOINT_PREFIX = '["c",'
_AFTER_CHECKPOINTS = '["c"-'  # the least string above every key that starts with the prefix
# What breaks "keys sort as (ns, id) pairs": in the stored JSON keys a backslash (an escape) or
# a character below the closing quote; in a namespace or id given as text, the quote too.
_OUT_OF_ORDER_KEYS = re.compile(r"[\x00-\x21\\]")
_OUT_OF_ORDER_TEXT = re.compile(r"[\x00-\x22\\]")
_NEWEST_KEPT = 10_000


def checkpoint_key(ns: str, checkpoint_id: str) -> str:
    """The key of a checkpoint in its thread (a JSON array: unambiguous for any ns and id)."""
    return orjson.dumps(["c", ns, checkpoint_id]).decode()


def latest_key(ns: str) -> str:
    """The key of the copy of a namespace's newest checkpoint."""
    return orjson.dumps(["latest", ns]).decode()


def writes_thread(thread_id: str, ns: str, checkpoint_id: str) -> str:
    """The thread that holds one checkpoint's pending writes."""
    return orjson.dumps([thread_id, ns, checkpoint_id]).decode()


def is_checkpoint(record: Any) -> TypeGuard[Record]:
    return isinstance(record, dict) and record.get("k") == "c"


def is_checkpoint_key(key: str) -> bool:
    return key.startswith(_CHECKPOINT_PREFIX)


def places_in(keys: Iterable[str]) -> list[Place]:
    """The (ns, id) each checkpoint key among `keys` names, in their order (other keys are
    left out). The keys are JSON arrays: they are parsed together, in one call."""
    chosen = [k for k in keys if is_checkpoint_key(k)]
    if not chosen:
        return []
    return [(str(p[1]), str(p[2])) for p in orjson.loads("[" + ",".join(chosen) + "]")]


def newest_first(
    places: Sequence[Place], ns: str | None, checkpoint_id: str | None, before_id: str | None
) -> list[Place]:
    """The places `list` may return, newest first within each namespace."""
    return sorted(
        (
            (n, c)
            for n, c in places
            if (ns is None or n == ns)
            and (not checkpoint_id or c == checkpoint_id)
            and (not before_id or c < before_id)
        ),
        reverse=True,
    )


def page_of(
    keys: Sequence[str],
    ns: str | None,
    checkpoint_id: str | None,
    before_id: str | None,
    limit: int | None,
) -> list[Place]:
    """``newest_first(places_in(keys), ...)[:limit]`` from a thread's keys sorted as strings:
    each namespace's range, its bound (`before_id`) and `checkpoint_id` are found by bisection,
    and only the keys of the page are parsed.

    Checkpoint keys sort as their (ns, id) pairs do unless a namespace or an id holds a
    character JSON escapes or one that sorts below the closing quote (a space, ``!``): then,
    and for a `limit` below 1, every key is parsed and sorted instead.
    """
    lo = bisect_left(keys, _CHECKPOINT_PREFIX)
    block = keys[lo : bisect_left(keys, _AFTER_CHECKPOINTS, lo)]
    given = (ns or "") + (checkpoint_id or "") + (before_id or "")
    if (
        (limit is not None and limit < 1)
        or _OUT_OF_ORDER_TEXT.search(given)
        or _OUT_OF_ORDER_KEYS.search("".join(block))
    ):
        return newest_first(places_in(block), ns, checkpoint_id, before_id)[:limit]
    if ns is not None:  # that namespace's range alone
        prefix = _ns_prefix(ns)
        start = bisect_left(block, prefix)
        block = block[start : bisect_left(block, prefix[:-1] + "-", start)]
    chosen: list[Place] = []
    end = len(block)
    while end > 0 and (limit is None or len(chosen) < limit):
        n = str(orjson.loads(block[end - 1])[1])  # the greatest namespace left
        start = bisect_left(block, _ns_prefix(n), 0, end)
        bound = bisect_left(block, checkpoint_key(n, before_id), start, end) if before_id else end
        if checkpoint_id:
            wanted = checkpoint_key(n, checkpoint_id)
            at = bisect_left(block, wanted, start, bound)
            page = [checkpoint_id] if at < bound and block[at] == wanted else []
        else:
            stop = start if limit is None else max(start, bound - (limit - len(chosen)))
            page = [str(orjson.loads(key)[2]) for key in reversed(block[stop:bound])]
        chosen += [(n, c) for c in page]
        end = start
    return chosen


def _ns_prefix(ns: str) -> str:
    """What every checkpoint key of namespace `ns` starts with."""
    return f"{_CHECKPOINT_PREFIX}{orjson.dumps(ns).decode()},"


def _first(
    records: Sequence[Record], keep: Callable[[Record], bool] | None, limit: int | None
) -> list[Record]:
    """The first `limit` records `keep` accepts (it is called no more than needed)."""
    chosen: list[Record] = []
    for record in records:
        if limit is not None and len(chosen) >= limit:
            break
        if keep is None or keep(record):
            chosen.append(record)
    return chosen


class AsyncCheckpointStore:
    """Checkpoints and pending writes of LangGraph threads, on an `AsyncMemory`."""

    def __init__(self, memory: AsyncMemory, agent: str, ttl: float | None = None) -> None:
        self.threads = AsyncThreadStore(memory, agent, ttl)
        self.writes = AsyncThreadStore(memory, f"{agent}-writes", ttl)
        self.memory = self.threads.memory
        # The newest checkpoint id this process last saw per (thread, ns): reading the newest
        # then also reads that one's writes in the same round trip, and is right whenever no
        # other process has put a newer one since (else a second round trip reads the writes).
        self._newest: dict[tuple[str, str], str] = {}

    # -- reading -----------------------------------------------------------------------------
    async def get(
        self, thread_id: str, ns: str, checkpoint_id: str | None
    ) -> tuple[Record, list[Record]] | None:
        """A checkpoint (the newest when `checkpoint_id` is None) and its writes: one round
        trip by id, two for the newest (its id is in the record)."""
        if checkpoint_id:
            found = await self.read(thread_id, [(ns, checkpoint_id)])
            return found[0] if found else None
        guess = self._newest.get((thread_id, ns))
        reads = [self.threads.read(thread_id, [latest_key(ns)])]
        if guess:
            reads.append(self.writes.read(writes_thread(thread_id, ns, guess)))
        answers = await self.memory.read_working(reads)
        record = answers[0].get(latest_key(ns))
        if not is_checkpoint(record):
            self._remember(thread_id, ns, "")  # none yet: the next put needs no read
            return None
        self._remember(thread_id, ns, record["id"])
        if record["id"] == guess:
            return record, list(answers[1].values())
        writes = await self.writes.load(writes_thread(thread_id, ns, record["id"]))
        return record, list(writes.values())

    def _remember(self, thread_id: str, ns: str, checkpoint_id: str) -> None:
        if len(self._newest) >= _NEWEST_KEPT:
            self._newest.clear()
        self._newest[(thread_id, ns)] = checkpoint_id

    async def places(self, thread_id: str) -> list[Place]:
        """Where the thread's checkpoints are (its keys alone: no record is read)."""
        return places_in(await self.threads.keys(thread_id))

    async def read(
        self, thread_id: str, places: Sequence[Place], writes: bool = True
    ) -> list[tuple[Record, list[Record]]]:
        """The checkpoints at `places` that exist, in that order, each with its writes (none
        read when `writes` is False): one round trip per `MAX_BATCH` checkpoints."""
        found: list[tuple[Record, list[Record]]] = []
        step = MAX_BATCH // 2
        for start in range(0, len(places), step):
            chunk = places[start : start + step]
            reads = [self.threads.read(thread_id, [checkpoint_key(n, c) for n, c in chunk])]
            if writes:
                reads += [self.writes.read(writes_thread(thread_id, n, c)) for n, c in chunk]
            answers = await self.memory.read_working(reads)
            records, pending = answers[0], answers[1:]
            for i, (n, c) in enumerate(chunk):
                record = records.get(checkpoint_key(n, c))
                if is_checkpoint(record):
                    found.append((record, list(pending[i].values()) if writes else []))
        return found

    async def listing(
        self,
        thread_id: str | None,
        ns: str | None,
        checkpoint_id: str | None,
        before_id: str | None,
        limit: int | None,
        keep: Callable[[Record], bool] | None = None,
    ) -> list[tuple[Record, list[Record]]]:
        """What `list` returns, newest first, with the writes of each: in one thread, the
        keys then the page (plus, with a filter `keep`, a read of the candidates first)."""
        if thread_id is None:
            records = await self.checkpoints(None)
            allowed = set(
                newest_first([(r["ns"], r["id"]) for r in records], ns, checkpoint_id, before_id)
            )
            ordered = sorted(
                (r for r in records if (r["ns"], r["id"]) in allowed),
                key=lambda r: (r["t"], r["ns"], r["id"]),
                reverse=True,
            )
            chosen = _first(ordered, keep, limit)
            return list(zip(chosen, await self.writes_of(chosen), strict=True))
        keys = await self.threads.keys(thread_id)
        if keep is None:
            return await self.read(thread_id, page_of(keys, ns, checkpoint_id, before_id, limit))
        places = newest_first(places_in(keys), ns, checkpoint_id, before_id)
        candidates = [r for r, _ in await self.read(thread_id, places, writes=False)]
        chosen = _first(candidates, keep, limit)
        return list(zip(chosen, await self.writes_of(chosen), strict=True))

    async def checkpoints(self, thread_id: str | None) -> list[Record]:
        """Every checkpoint of a thread (of every thread when `thread_id` is None)."""
        if thread_id is not None:
            loaded = [await self.threads.load(thread_id)]
        else:
            loaded = await self.threads.load_sessions(await self.threads.sessions())
        return [
            record
            for records in loaded
            for key, record in records.items()
            if is_checkpoint(record) and is_checkpoint_key(key)
        ]

    async def writes_of(self, records: Sequence[Record]) -> list[list[Record]]:
        """The pending writes of each checkpoint record, in their order, read together."""
        found = await self.writes.load_many(
            [writes_thread(r["t"], r["ns"], r["id"]) for r in records]
        )
        return [list(writes.values()) for writes in found]

    # -- writing -----------------------------------------------------------------------------
    async def put(self, thread_id: str, record: Record) -> None:
        """Store a checkpoint and, unless its namespace holds a greater id, make it the
        namespace's newest (as `list` orders them), in one write. Ids put out of order (a
        thread copied from another saver newest first) leave the greatest the newest; a
        read of the newest comes first unless this process saw a smaller one last."""
        ns, checkpoint_id = record["ns"], record["id"]
        newest = self._newest.get((thread_id, ns))
        if newest is None or checkpoint_id < newest:
            answers = await self.memory.read_working(
                [self.threads.read(thread_id, [latest_key(ns)])]
            )
            current = answers[0].get(latest_key(ns))
            newest = current["id"] if is_checkpoint(current) else ""
        items = {checkpoint_key(ns, checkpoint_id): record}
        if checkpoint_id >= newest:
            items[latest_key(ns)] = record
            newest = checkpoint_id
        await self.threads.save(thread_id, items)
        self._remember(thread_id, ns, newest)

    async def put_writes(
        self, thread_id: str, ns: str, checkpoint_id: str, records: Mapping[str, Record]
    ) -> None:
        """Store pending writes of one checkpoint (same key: replaced)."""
        await self.writes.save(writes_thread(thread_id, ns, checkpoint_id), records)

    async def delete(self, thread_id: str) -> None:
        """Remove a thread's checkpoints and their writes."""
        await self._drop_writes(thread_id, await self.places(thread_id))
        await self.threads.clear(thread_id)

    async def remove(self, thread_id: str, places: Sequence[Place]) -> None:
        """Remove some checkpoints of a thread and their writes; a namespace whose newest
        checkpoint goes gets the newest one left as its newest (or none)."""
        if not places:
            return
        gone = set(places)
        left = [p for p in await self.places(thread_id) if p not in gone]
        spaces = {n for n, _ in places}
        newest: dict[str, Place] = {}
        for n, c in left:
            if n in spaces and (n not in newest or c > newest[n][1]):
                newest[n] = (n, c)
        latest = await self.memory.read_working(
            [self.threads.read(thread_id, [latest_key(n) for n in spaces])]
        )
        replaced: dict[str, Record] = {}
        orphaned: list[str] = []
        for n in spaces:
            current = latest[0].get(latest_key(n))
            if not is_checkpoint(current) or (n, current["id"]) not in gone:
                continue
            if n in newest:
                records = await self.read(thread_id, [newest[n]], writes=False)
                if records:
                    replaced[latest_key(n)] = records[0][0]
                    continue
            orphaned.append(latest_key(n))
        if replaced:
            await self.threads.save(thread_id, replaced)
        keys = [checkpoint_key(n, c) for n, c in places] + orphaned
        for start in range(0, len(keys), MAX_BATCH):
            await self.threads.delete(thread_id, keys[start : start + MAX_BATCH])
        await self._drop_writes(thread_id, places)

    async def keep_newest(self, thread_id: str) -> None:
        """Remove every checkpoint of a thread but each namespace's newest, with their
        writes."""
        places = await self.places(thread_id)
        spaces = sorted({n for n, _ in places})
        if not spaces:
            return
        latest = await self.memory.read_working(
            [self.threads.read(thread_id, [latest_key(n) for n in spaces])]
        )
        kept = {(r["ns"], r["id"]) for r in latest[0].values() if is_checkpoint(r)}
        for n in spaces:  # a namespace without a newest copy keeps its greatest id
            if not any(k[0] == n for k in kept):
                kept.add(max(p for p in places if p[0] == n))
        await self.remove(thread_id, [p for p in places if p not in kept])

    async def copy(self, source: str, target: str) -> None:
        """Copy every checkpoint of `source` (every namespace, the newest marks too, but for
        a namespace where `target` holds a greater id) and their writes to `target`; the
        writes go first, so no copied checkpoint is seen without them."""
        records = await self.threads.load(source)
        copied = {k: {**r, "t": target} for k, r in records.items() if is_checkpoint(r)}
        if not copied:
            return
        # A namespace of the target that holds a greater id keeps its own latest.
        if marks := [k for k in copied if not is_checkpoint_key(k)]:
            present = (await self.memory.read_working([self.threads.read(target, marks)]))[0]
            for key, current in present.items():
                if is_checkpoint(current) and current["id"] > copied[key]["id"]:
                    del copied[key]
        places = places_in(copied)
        found = await self.writes.load_many([writes_thread(source, n, c) for n, c in places])
        for (n, c), writes in zip(places, found, strict=True):
            if writes:
                await self.writes.save(writes_thread(target, n, c), writes)
        items = list(copied.items())
        for start in range(0, len(items), MAX_BATCH):
            await self.threads.save(target, dict(items[start : start + MAX_BATCH]))

    async def delete_matching(self, match: Callable[[Record], bool]) -> None:
        """Remove, in every thread, the checkpoints `match` picks, with their writes (reads
        every thread: an administrative sweep)."""
        by_thread: dict[str, list[Place]] = {}
        for record in await self.checkpoints(None):
            if match(record):
                by_thread.setdefault(record["t"], []).append((record["ns"], record["id"]))
        for thread_id, places in by_thread.items():
            await self.remove(thread_id, places)

    async def _drop_writes(self, thread_id: str, places: Sequence[Place]) -> None:
        for n, c in places:
            await self.writes.clear(writes_thread(thread_id, n, c))
