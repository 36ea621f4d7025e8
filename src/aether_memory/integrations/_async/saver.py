"""A LangGraph checkpointer's storage methods, written once: this module is the source of
`_sync/saver.py` (LangGraph's async method names here, its sync names in the generated twin).

The public savers of `aether_memory.integrations.langgraph` are these classes plus the other
half of LangGraph's API (a sync saver's async methods run it in a worker thread; an async
saver's sync methods run on its event loop). Records are built and read by the pure functions
of `_checkpoint_records` and kept by the store of `_async/checkpoints.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from aether_memory.client._async.memory import AsyncMemory
from aether_memory.integrations._async.checkpoints import AsyncCheckpointStore
from aether_memory.integrations._checkpoint_records import (
    DEFAULT_AGENT,
    checkpoint_record,
    checkpoint_tuple,
    config_of,
    keeps_latest,
    listing_args,
    metadata_filter,
    run_matcher,
    thread_id_of,
    wanted,
    write_records,
)


class AsyncSaverCore(BaseCheckpointSaver[int]):
    """A LangGraph checkpointer's storage methods on an `AsyncMemory`.

    Args:
        memory: an open `AsyncMemory`; the saver uses its connection and never closes it.
        agent: the aether agent whose sessions hold the threads.
        ttl: seconds a thread is kept after its last write (default: forever).
        serde: LangGraph's serializer (default: its JSON + msgpack serializer).
    """

    def __init__(
        self,
        memory: AsyncMemory,
        *,
        agent: str = DEFAULT_AGENT,
        ttl: float | None = None,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(serde=serde)
        self.store = AsyncCheckpointStore(memory, agent, ttl)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint `config` names (its ``checkpoint_id``, else the thread's latest)."""
        thread_id = thread_id_of(config)
        if thread_id is None:
            return None
        found = await self.store.get(thread_id, *wanted(config))
        return None if found is None else checkpoint_tuple(self.serde, *found)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Checkpoints newest first: of one thread (or all), filtered by metadata values."""
        keep = metadata_filter(self.serde, filter)
        found = await self.store.listing(*listing_args(config, before), limit, keep)
        for record, pending in found:
            yield checkpoint_tuple(self.serde, record, pending)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint; returns the config that names it."""
        thread_id, record = checkpoint_record(self.serde, config, checkpoint, metadata)
        await self.store.put(thread_id, record)
        return config_of(thread_id, record["ns"], checkpoint["id"])

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes for the checkpoint `config` names (one write)."""
        thread_id, ns, cid, records = write_records(self.serde, config, writes, task_id, task_path)
        if records:
            await self.store.put_writes(thread_id, ns, cid, records)

    async def adelete_thread(self, thread_id: str) -> None:
        """Remove every checkpoint and write of the thread."""
        await self.store.delete(str(thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Remove the checkpoints (and their writes) whose metadata names one of `run_ids`,
        in every thread. It reads every thread of the saver: an administrative sweep."""
        if run_ids:
            await self.store.delete_matching(run_matcher(self.serde, run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint of one thread, with its writes, to another (whole parent
        chains, every namespace); a missing source copies nothing."""
        await self.store.copy(str(source_thread_id), str(target_thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Keep only each namespace's newest checkpoint of the threads (``keep_latest``), or
        remove the threads (``delete``). ``keep_latest`` drops the parent chain: a graph
        that uses ``DeltaChannel`` needs it and should not be pruned this way."""
        keep_latest = keeps_latest(strategy)
        for thread_id in thread_ids:
            if keep_latest:
                await self.store.keep_newest(str(thread_id))
            else:
                await self.store.delete(str(thread_id))
