"""``durability="replicated"``: a redis-py client whose writes are acknowledged only once a
replica has them (``WAIT``), on one server with replicas or on a cluster.

`AsyncReplicated` wraps the store's client and hands out the same commands and pipelines;
a call that writes comes back only after ``WAIT 1`` on the primary that took it, or raises
`NotReplicated`. How the ``WAIT`` follows the write (same connection) is in
`aether_memory.backends.redis.replication`. Reads pass straight through.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from redis.asyncio.cluster import RedisCluster

from aether_memory.backends.redis.replication import (
    FENCE_SCRIPT,
    REPLICAS,
    check_acks,
    command_keys,
    command_of,
    fence_key,
    is_write,
)

# The client methods the store calls that write (any other attribute is the client's own).
_WRITE_METHODS: Final = frozenset(
    {"set", "delete", "unlink", "hset", "hdel", "sadd", "srem", "zadd", "zrem", "xadd",
     "eval", "evalsha", "pexpire", "incr"}
)  # fmt: skip


def unwrapped(client: Any) -> Any:
    """The redis-py client itself, whether or not `AsyncReplicated` wraps it."""
    return client.client if isinstance(client, AsyncReplicated) else client


class AsyncReplicated:
    """A redis-py client (one server or a cluster) that waits for a replica after each write.

    Attributes:
        client: The wrapped client (the caller owns and closes it, through this wrapper).
        timeout: Seconds each ``WAIT`` may block.
        where: The server, for messages.
    """

    def __init__(self, client: Any, timeout: float, where: str = "the server") -> None:
        self.client = client
        self.timeout = timeout
        self.where = where
        self._wait = ("WAIT", REPLICAS, max(1, int(timeout * 1000)))
        self._cluster = isinstance(client, RedisCluster)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if name not in _WRITE_METHODS:
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self._command(name, args, kwargs)

        return call

    def pipeline(self, transaction: bool = True) -> AsyncReplicatedPipeline:
        """A pipeline (or ``MULTI`` transaction) that waits for a replica after its writes."""
        return AsyncReplicatedPipeline(
            self, self.client.pipeline(transaction=transaction), transaction
        )

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        return await self._command("execute_command", args, kwargs)

    async def _command(self, method: str, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        command = command_of(method, args)
        if not is_write(command):
            return await getattr(self.client, method)(*args, **kwargs)
        if self._cluster and len(command_keys(command)) > 1:
            # A multi-key command the cluster client splits per slot: no pipeline takes it.
            reply = await getattr(self.client, method)(*args, **kwargs)
            await self.fence([(command, kwargs.get("target_nodes"))])
            return reply
        pipe = self.pipeline(transaction=False)
        getattr(pipe, method)(*args, **kwargs)
        return (await pipe.execute())[0]

    async def nodes(self, writes: Sequence[tuple[list[Any], Any]]) -> list[tuple[Any, Any]]:
        """Each node that `writes` (commands and their ``target_nodes``) go to, once, with a
        key it holds; ``(None, key)`` for the one server."""
        keys_ = [k for command, _ in writes for k in command_keys(command)]
        if not self._cluster:
            return [(None, keys_[0] if keys_ else b"")]
        if not self.client.get_primaries():  # the async client reads the slot map on first use
            await self.client.initialize()
        found: dict[str, tuple[Any, Any]] = {}
        for command, targets in writes:
            for key in command_keys(command):
                node = self.client.get_node_from_key(key) if targets is None else targets
                if isinstance(node, list):
                    node = node[0]
                found.setdefault(node.name, (node, key))
        return list(found.values())

    def queue_wait(self, pipe: Any, node: Any) -> None:
        """Queue a ``WAIT`` for the writes queued before it (to `node` on a cluster)."""
        pipe.execute_command(*self._wait, **({} if node is None else {"target_nodes": node}))

    def check(self, acks: Sequence[Any], nodes: Sequence[tuple[Any, Any]]) -> None:
        """Raise the error of a failed ``WAIT``, or `NotReplicated` for one short of replicas."""
        for ack, (node, _) in zip(acks, nodes, strict=True):
            if isinstance(ack, BaseException):
                raise ack
            where = self.where if node is None else f"{self.where} (node {node.name})"
            check_acks(ack, self.timeout, where)

    async def fence(self, writes: Sequence[tuple[list[Any], Any]]) -> None:
        """Wait for a replica of each node `writes` went to, on any connection: a fence write
        on that node, then ``WAIT`` after it."""
        nodes = await self.nodes(writes)
        pipe = self.client.pipeline(transaction=False)
        for node, key in nodes:
            pipe.execute_command("EVAL", FENCE_SCRIPT, 1, fence_key(key))
            self.queue_wait(pipe, node)
        replies = await pipe.execute()
        self.check(replies[1::2], nodes)


class AsyncReplicatedPipeline:
    """A redis-py pipeline that remembers what it queued, and waits for a replica of each
    node written to when it runs: a ``WAIT`` at the end of a plain pipeline, a fence after a
    transaction."""

    def __init__(self, owner: AsyncReplicated, pipe: Any, transaction: bool) -> None:
        self._owner = owner
        self._pipe = pipe
        self._transaction = transaction
        self._writes: list[tuple[list[Any], Any]] = []

    def __len__(self) -> int:
        return len(self._pipe)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._pipe, name)

        def queue(*args: Any, **kwargs: Any) -> AsyncReplicatedPipeline:
            command = command_of(name, args)
            if is_write(command):
                self._writes.append((command, kwargs.get("target_nodes")))
            method(*args, **kwargs)
            return self

        return queue

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Run the pipeline; returns its replies (without those of the ``WAIT``s).

        Raises:
            NotReplicated: A node written to had no replica acknowledge within the timeout.
        """
        owner = self._owner
        if not self._writes:
            return list(await self._pipe.execute(raise_on_error=raise_on_error))
        if self._transaction:
            replies = list(await self._pipe.execute(raise_on_error=raise_on_error))
            await owner.fence(self._writes)
            return replies
        nodes = await owner.nodes(self._writes)
        for node, _ in nodes:
            owner.queue_wait(self._pipe, node)
        replies = list(await self._pipe.execute(raise_on_error=raise_on_error))
        owner.check(replies[len(replies) - len(nodes) :], nodes)
        return replies[: len(replies) - len(nodes)]
