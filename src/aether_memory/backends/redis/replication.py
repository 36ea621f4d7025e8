"""Decisions of ``durability="replicated"`` (pure): which commands write, which keys they
touch, the fence, and the error when no replica acknowledged a write in time.

``WAIT n timeout`` waits for the writes made *on the connection it is sent on*, so it has to
follow the writes on the same connection: it is appended to a plain pipeline (one per node
of a cluster, since each node's part of a cluster pipeline travels on one connection).
Inside ``MULTI`` it would not block, and a lone write command's connection goes back to the
pool, so after a transaction or a single command a *fence* follows on any connection of
that node: a script that writes and deletes a key of its own (atomically: nobody sees the
key), then ``WAIT``. A primary's replication stream is one ordered log, so once a replica
has the fence it has every write the node applied before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from aether_memory.backends.redis.cluster import hash_tag
from aether_memory.core.errors import NotReplicated

REPLICAS: Final = 1
"""How many replicas must acknowledge a write (``WAIT 1``)."""

READ_COMMANDS: Final = frozenset(
    {
        "GET", "MGET", "EXISTS", "TTL", "PTTL", "TYPE", "STRLEN",
        "HGET", "HGETALL", "HMGET", "HLEN", "HKEYS", "HVALS", "HEXISTS", "HSCAN",
        "SMEMBERS", "SISMEMBER", "SMISMEMBER", "SCARD",
        "ZRANGE", "ZREVRANGE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZSCORE", "ZMSCORE",
        "ZCARD", "ZCOUNT", "ZRANK", "ZREVRANK",
        "XRANGE", "XREVRANGE", "XLEN", "XINFO", "XREAD", "LRANGE", "LLEN",
        "PEXPIRETIME", "EXPIRETIME", "HPEXPIRETIME", "HTTL", "HPTTL",
        "FT.SEARCH", "FT.AGGREGATE", "FT.INFO", "FT._LIST", "FT.EXPLAIN",
        "VSIM", "VCARD", "VDIM", "VEMB", "VINFO", "VGETATTR", "VISMEMBER",
        "JSON.GET", "EVAL_RO", "EVALSHA_RO",
        "PING", "INFO", "CONFIG", "MODULE", "SCRIPT", "CLUSTER", "COMMAND", "TIME", "DBSIZE",
        "SCAN", "MEMORY", "WAIT",
    }
)  # fmt: skip
"""Commands that never write (the first word of the command). Anything else counts as a
write: an unknown command costs a WAIT it did not need, never a write left unwaited."""

_METHOD_COMMANDS: Final = {"delete": "DEL"}  # redis-py methods not named after their command
_SCRIPTS: Final = frozenset({"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"})
_MULTI_KEY: Final = frozenset({"DEL", "UNLINK", "EXISTS", "MGET", "TOUCH"})

FENCE_SCRIPT: Final = "redis.call('SET', KEYS[1], '1') return redis.call('DEL', KEYS[1])"
"""KEYS[1]: the fence key. Two writes that reach the replication stream and leave nothing."""


def command_of(method: str, args: Sequence[Any]) -> list[Any]:
    """The command a redis-py call sends (``execute_command`` args, or a method's name and
    its positional arguments), as ``[NAME, *args]`` with the name upper-cased."""
    if method == "execute_command":
        return [str(args[0]).upper(), *args[1:]]
    return [_METHOD_COMMANDS.get(method, method.upper()), *args]


def is_write(command: Sequence[Any]) -> bool:
    """Whether `command` (from `command_of`) may change data."""
    return str(command[0]).split(" ", 1)[0] not in READ_COMMANDS


def command_keys(command: Sequence[Any]) -> list[Any]:
    """The keys `command` (from `command_of`) touches: every key for a script or a multi-key
    command, else its first argument (an index name, for ``FT.*``)."""
    name = command[0]
    if name in _SCRIPTS:
        count = int(command[2])
        return list(command[3 : 3 + count])
    if name in _MULTI_KEY:
        return list(command[1:])
    return [command[1]] if len(command) > 1 else []


def fence_key(key: str | bytes) -> bytes:
    """A key of the fence in the same slot as `key` (its hash tag, wrapped as one). Every key
    of this project has a hash tag; a key without one keeps its slot too unless it holds
    braces that are not a tag (``a{}b``), which no key here does."""
    return b"aether:fence:{" + hash_tag(key) + b"}"


def check_acks(acks: Any, timeout: float, where: str) -> None:
    """Raise `NotReplicated` when a ``WAIT`` reply counts fewer replicas than `REPLICAS`.

    Raises:
        NotReplicated: The write is applied on the primary `where`, possibly not on a replica.
    """
    got = int(acks)
    if got >= REPLICAS:
        return
    raise NotReplicated(
        f"the write was applied on {where}, but {got} of the {REPLICAS} replica(s) asked "
        f"acknowledged it within {timeout:g} s (durability='replicated'): it is possibly "
        "unreplicated, and lost if that primary fails before its replica has it. Retrying is "
        "safe (writes carry their own ids); check that the primary has a replica in sync "
        "(INFO replication) or raise replica_timeout",
        replicas=got,
    )
