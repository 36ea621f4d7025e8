"""How LangGraph checkpoints and pending writes become the JSON records the checkpoint store
keeps, and back (pure: no I/O), shared by both savers (`_async/saver.py` and its sync twin).

Values go through LangGraph's own serializer (its ``serde``) and are kept as its typed bytes,
base64 in the JSON record.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from aether_memory.core.errors import InvalidInput

DEFAULT_AGENT = "langgraph"  # the aether agent whose sessions hold the threads
PRUNE_STRATEGIES = ("keep_latest", "delete")


def typed(serde: SerializerProtocol, value: Any) -> list[str]:
    kind, data = serde.dumps_typed(value)
    return [kind, binascii.b2a_base64(data, newline=False).decode("ascii")]


def untyped(serde: SerializerProtocol, stored: Sequence[str]) -> Any:
    return serde.loads_typed((stored[0], binascii.a2b_base64(stored[1])))


def config_of(thread_id: str, ns: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint_id,
        }
    }


def checkpoint_tuple(
    serde: SerializerProtocol,
    record: dict[str, Any],
    writes: Sequence[dict[str, Any]],
) -> CheckpointTuple:
    thread_id, ns, cid, parent = record["t"], record["ns"], record["id"], record["parent"]
    ordered = sorted(writes, key=lambda w: writes_sort_key(w["path"], w["task"], w["idx"]))
    return CheckpointTuple(
        config=config_of(thread_id, ns, cid),
        checkpoint=untyped(serde, record["cp"]),
        metadata=untyped(serde, record["md"]),
        parent_config=config_of(thread_id, ns, parent) if parent else None,
        pending_writes=[(w["task"], w["ch"], untyped(serde, w["v"])) for w in ordered],
    )


def metadata_filter(
    serde: SerializerProtocol, filter: Mapping[str, Any] | None
) -> Callable[[dict[str, Any]], bool] | None:
    """The test a checkpoint record's metadata must pass for `list` (None: no filter)."""
    if not filter:
        return None
    wanted = dict(filter)

    def keep(record: dict[str, Any]) -> bool:
        metadata = untyped(serde, record["md"])
        return all(metadata.get(k) == v for k, v in wanted.items())

    return keep


def run_matcher(serde: SerializerProtocol, run_ids: Sequence[str]) -> Callable[[Any], bool]:
    """The test of a checkpoint record made by one of `run_ids` (its metadata's ``run_id``)."""
    runs = {str(r) for r in run_ids}

    def match(record: dict[str, Any]) -> bool:
        return str(untyped(serde, record["md"]).get("run_id")) in runs

    return match


def keeps_latest(strategy: str) -> bool:
    if strategy not in PRUNE_STRATEGIES:
        raise InvalidInput(
            f"prune strategy must be one of {', '.join(PRUNE_STRATEGIES)}, not {strategy!r}"
        )
    return strategy == "keep_latest"


def listing_args(
    config: RunnableConfig | None, before: RunnableConfig | None
) -> tuple[str | None, str | None, str | None, str | None]:
    """(thread, ns, checkpoint id, before id) of a `list` call."""
    return (
        thread_id_of(config),
        ns_of(config),
        get_checkpoint_id(config) if config else None,
        get_checkpoint_id(before) if before else None,
    )


def checkpoint_record(
    serde: SerializerProtocol,
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
) -> tuple[str, dict[str, Any]]:
    conf = config["configurable"]
    thread_id = str(conf["thread_id"])
    return thread_id, {
        "k": "c",
        "t": thread_id,
        "ns": str(conf.get("checkpoint_ns", "")),
        "id": checkpoint["id"],
        "parent": conf.get("checkpoint_id"),
        "cp": typed(serde, checkpoint),
        "md": typed(serde, get_checkpoint_metadata(config, metadata)),
    }


def write_records(
    serde: SerializerProtocol,
    config: RunnableConfig,
    writes: Sequence[tuple[str, Any]],
    task_id: str,
    task_path: str,
) -> tuple[str, str, str, dict[str, Any]]:
    conf = config["configurable"]
    ns, cid = str(conf.get("checkpoint_ns", "")), str(conf["checkpoint_id"])
    records: dict[str, Any] = {}
    for idx, (channel, value) in enumerate(writes):
        # Special channels (errors, interrupts...) have fixed negative slots, replaced on
        # each write; ordinary writes are numbered by position, so a retry rewrites the same
        # keys instead of adding copies.
        slot = WRITES_IDX_MAP.get(channel, idx)
        records[orjson.dumps([task_id, slot]).decode()] = {
            "k": "w",
            "task": task_id,
            "path": task_path,
            "idx": slot,
            "ch": channel,
            "v": typed(serde, value),
        }
    return str(conf["thread_id"]), ns, cid, records


def thread_id_of(config: RunnableConfig | None) -> str | None:
    if not config:
        return None
    value = config.get("configurable", {}).get("thread_id")
    return None if value is None else str(value)


def ns_of(config: RunnableConfig | None) -> str | None:
    return None if not config else config.get("configurable", {}).get("checkpoint_ns")


def wanted(config: RunnableConfig) -> tuple[str, str | None]:
    return str(config["configurable"].get("checkpoint_ns", "")), get_checkpoint_id(config)
