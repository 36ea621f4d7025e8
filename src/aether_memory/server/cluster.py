"""Start and stop a local Redis Cluster on loopback, from the same binaries as `local`.

A cluster of ``N`` primaries with ``R`` replicas each is ``N * (1 + R)`` redis-server
processes (`local.RedisProcess`, so each has the modules, the AOF and ``noeviction``), one
data folder each under the cluster's folder::

    node-0/ ... node-{k}/   one server's folder (AOF, log, nodes.conf, server.json)
    cluster.json            the nodes' ports and folders, the URL, the shape of the cluster

The 16384 slots are split evenly over the primaries (``CLUSTER ADDSLOTSRANGE``), the nodes
meet (``CLUSTER MEET``) and each replica follows its primary (``CLUSTER REPLICATE``); a start
returns once every node reports ``cluster_state:ok`` and every replica is in sync. Started
again on the same folder, the nodes read their ``nodes.conf`` and form the same cluster.

Nothing here runs at import time.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import redis
from redis.retry import Retry

from aether_memory.backends.redis.backoff import JitterBackoff
from aether_memory.server import host, local
from aether_memory.server.local import HOST, LocalServerError, RedisProcess
from aether_memory.server.state import data_folder

__all__ = [
    "CLUSTER_FOLDER",
    "ClusterInfo",
    "LocalCluster",
    "cluster_down",
    "cluster_running",
    "cluster_up",
]

SLOTS: Final = 16384
CLUSTER_FOLDER: Final = "cluster"
"""The sub-folder of the data folder that `cluster_up` uses."""

CLUSTER_STATE: Final = "cluster.json"
NODE_TIMEOUT_MS: Final = 2000
"""How long a primary may be silent before its replica takes over (``cluster-node-timeout``)."""

FORM_TIMEOUT: Final = 30.0
"""Seconds a new cluster has to reach ``cluster_state:ok``."""

_POLL: Final = 0.1
BUS_OFFSET: Final = 10000  # a node's cluster bus listens on its port + 10000


@dataclass(frozen=True)
class ClusterInfo:
    """A running local cluster.

    Attributes:
        url: ``redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...`` (the primaries).
        ports: Every node's port, primaries first.
        primaries: How many primaries hold the slots.
        replicas: Replicas per primary.
        data_dir: The cluster's folder.
        modules: Whether the nodes load the Query Engine, JSON and Bloom modules.
    """

    url: str
    ports: tuple[int, ...]
    primaries: int
    replicas: int
    data_dir: Path
    modules: bool


def cluster_url(ports: tuple[int, ...] | list[int]) -> str:
    """The URL naming the nodes on `ports` (any one of them is enough to find the rest)."""
    return "redis+cluster://" + ",".join(f"{HOST}:{p}" for p in ports)


def slot_ranges(primaries: int) -> list[tuple[int, int]]:
    """The inclusive slot range each of `primaries` primaries holds (an even split)."""
    bounds = [SLOTS * i // primaries for i in range(primaries + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(primaries)]


def _node_port() -> int:
    """A free port whose cluster bus port (10000 higher) is free too."""
    for _ in range(100):
        port = host.free_port()
        if port + BUS_OFFSET < 65536 and host.port_is_free(port + BUS_OFFSET):
            return port
    raise LocalServerError("found no free port pair (port, port + 10000) on 127.0.0.1")


def _client(port: int) -> Any:
    # Any: redis-py leaves execute_command untyped.
    return redis.Redis(
        host=HOST,
        port=port,
        socket_timeout=5,
        socket_connect_timeout=2,
        retry=Retry(JitterBackoff(), 3),
    )


class LocalCluster:
    """A Redis Cluster of local redis-server processes on 127.0.0.1.

    As a context manager it starts the cluster on entry and stops it on exit.

    Attributes:
        data_dir: The cluster's folder.
        primaries: How many primaries share the slots.
        replicas: Replicas per primary.
        nodes: One `RedisProcess` per node, the primaries first; replica ``j`` of primary
            ``i`` is ``nodes[primaries + i * replicas + j]``.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        primaries: int = 3,
        replicas: int = 0,
        modules: bool = True,
        fsync: str = "everysec",
        node_timeout_ms: int = NODE_TIMEOUT_MS,
        ports: tuple[int, ...] | None = None,
    ) -> None:
        """Describe a cluster; nothing is started yet.

        Args:
            data_dir: The cluster's folder (one sub-folder per node is created in it).
            primaries: Number of primaries (at least 1).
            replicas: Replicas per primary (0 or more).
            modules: Load the Query Engine, JSON and Bloom modules on every node.
            fsync: The nodes' ``appendfsync`` policy.
            node_timeout_ms: ``cluster-node-timeout``: a primary silent this long is failed
                over to a replica.
            ports: The nodes' ports (primaries first), as recorded by an earlier start;
                None picks free ones.

        Raises:
            LocalServerError: The shape or the ports are not valid.
        """
        if primaries < 1 or replicas < 0:
            raise LocalServerError(
                f"a cluster needs at least 1 primary and 0 or more replicas, not "
                f"{primaries} and {replicas}"
            )
        count = primaries * (1 + replicas)
        if ports is not None and len(ports) != count:
            raise LocalServerError(f"{count} ports needed, {len(ports)} given")
        self.data_dir = Path(data_dir).expanduser().absolute()
        self.primaries = primaries
        self.replicas = replicas
        self.modules = modules
        args = (
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(node_timeout_ms),
        )  # fmt: skip
        self.nodes = [
            RedisProcess(
                self.data_dir / f"node-{i}",
                port=_node_port() if ports is None else ports[i],
                fsync=fsync,
                modules=modules,
                extra_args=args,
            )
            for i in range(count)
        ]

    def __repr__(self) -> str:
        return f"LocalCluster({str(self.data_dir)!r}, {self.primaries}x{1 + self.replicas})"

    @property
    def url(self) -> str:
        """``redis+cluster://`` with the primaries' addresses."""
        return cluster_url([n.port for n in self.nodes[: self.primaries]])

    @property
    def info(self) -> ClusterInfo:
        """What `start` started."""
        return ClusterInfo(
            url=self.url,
            ports=tuple(n.port for n in self.nodes),
            primaries=self.primaries,
            replicas=self.replicas,
            data_dir=self.data_dir,
            modules=self.modules,
        )

    def start(self) -> ClusterInfo:
        """Start every node, form the cluster if it is new, and wait until it serves.

        Raises:
            LocalServerError: A node did not start, or the cluster did not reach
                ``cluster_state:ok`` within `FORM_TIMEOUT` (the nodes started are stopped).
        """
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        formed = all((n.data_dir / "nodes.conf").is_file() for n in self.nodes)
        try:
            for node in self.nodes:
                node.start()
            if not formed:
                self._form()
            self.wait_ok()
        except BaseException:
            self.stop()
            raise
        info = self.info
        host.atomic_write(
            self.data_dir / CLUSTER_STATE,
            json.dumps(
                {
                    "url": info.url,
                    "ports": list(info.ports),
                    "primaries": info.primaries,
                    "replicas": info.replicas,
                    "modules": info.modules,
                    "nodes": [str(n.data_dir) for n in self.nodes],
                },
                indent=2,
            )
            + "\n",
        )
        return info

    def _form(self) -> None:
        ids = []
        for node in self.nodes:
            with contextlib.closing(_client(node.port)) as c:
                ids.append(c.execute_command("CLUSTER", "MYID").decode())
        for node, (first, last) in zip(self.nodes, slot_ranges(self.primaries), strict=False):
            with contextlib.closing(_client(node.port)) as c:
                c.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        with contextlib.closing(_client(self.nodes[0].port)) as c:
            for node in self.nodes[1:]:
                c.execute_command("CLUSTER", "MEET", HOST, node.port)
        self._until("every node knows every other", self._all_known)
        for i in range(self.primaries):
            for j in range(self.replicas):
                replica = self.nodes[self.primaries + i * self.replicas + j]
                with contextlib.closing(_client(replica.port)) as c:
                    c.execute_command("CLUSTER", "REPLICATE", ids[i])

    def _all_known(self) -> bool:
        for node in self.nodes:
            with contextlib.closing(_client(node.port)) as c:
                reply = c.execute_command("CLUSTER", "NODES")
            text = reply.decode() if isinstance(reply, bytes) else str(reply)
            if len([line for line in text.splitlines() if "handshake" not in line]) < len(
                self.nodes
            ):
                return False
        return True

    def _serving(self) -> bool:
        replicas = 0
        for node in self.nodes:
            with contextlib.closing(_client(node.port)) as c:
                info: Any = c.execute_command("CLUSTER", "INFO")
                text = info.decode() if isinstance(info, bytes) else str(info)
                if "cluster_state:ok" not in text:
                    return False
                replication = c.info("replication")
            if replication.get("role") == "slave":
                if replication.get("master_link_status") != "up":
                    return False
                replicas += 1
        # Every running replica has joined its primary (a node not yet told to replicate is
        # still an empty primary, and the cluster already says ok).
        running = sum(1 for n in self.nodes[self.primaries :] if n.pid is not None)
        return replicas >= running

    def wait_ok(self, timeout: float = FORM_TIMEOUT) -> None:
        """Wait until every running node serves every slot and every replica is in sync.

        Raises:
            LocalServerError: Not within `timeout` seconds.
        """
        self._until("cluster_state:ok on every node", self._serving, timeout)

    def _until(self, what: str, check: Any, timeout: float = FORM_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(redis.RedisError):
                if check():
                    return
            if time.monotonic() >= deadline:
                raise LocalServerError(f"the cluster in {self.data_dir} did not reach {what}")
            time.sleep(_POLL)

    def primary_of(self, key: str) -> RedisProcess:
        """The node that serves `key` now, as a running node sees it (it moves on a
        failover)."""
        for node in self.nodes:
            if node.pid is None:
                continue
            with contextlib.closing(_client(node.port)) as c:
                slot = int(c.execute_command("CLUSTER", "KEYSLOT", key))
                for first, last, primary, *_ in c.execute_command("CLUSTER", "SLOTS"):
                    if first <= slot <= last:
                        port = int(primary[1])
                        return next(n for n in self.nodes if n.port == port)
        raise LocalServerError(f"no running node of {self.data_dir} serves {key!r}")

    def stop(self) -> None:
        """Stop every node gracefully; the data and ``nodes.conf`` stay."""
        for node in self.nodes:
            node.stop()
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / CLUSTER_STATE).unlink()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _recorded(folder: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((folder / CLUSTER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def cluster_running(data_dir: Path | None = None) -> ClusterInfo | None:
    """The cluster recorded under ``data_dir/cluster`` if every node of it runs, else None.

    Args:
        data_dir: The data folder; None means `local.default_data_dir`.
    """
    folder = data_folder(data_dir) / CLUSTER_FOLDER
    state = _recorded(folder)
    if state is None:
        return None
    if any(local.running(Path(node)) is None for node in state["nodes"]):
        return None
    return ClusterInfo(
        url=state["url"],
        ports=tuple(state["ports"]),
        primaries=state["primaries"],
        replicas=state["replicas"],
        data_dir=folder,
        modules=state["modules"],
    )


def cluster_up(
    data_dir: Path | None = None,
    *,
    primaries: int = 3,
    replicas: int = 0,
    fsync: str = "everysec",
    modules: bool = True,
) -> tuple[ClusterInfo, bool]:
    """Make sure a local cluster runs under ``data_dir/cluster``, starting one if needed.

    The nodes keep running after this process exits; stop them with `cluster_down`. A cluster
    already running there is reused as it is.

    Returns:
        The cluster, and True if this call started it.

    Raises:
        LocalServerError: Invalid options, missing binaries, or the cluster did not form.
    """
    current = cluster_running(data_dir)
    if current is not None:
        return current, False
    folder = data_folder(data_dir) / CLUSTER_FOLDER
    return LocalCluster(
        folder, primaries=primaries, replicas=replicas, modules=modules, fsync=fsync
    ).start(), True


def cluster_down(data_dir: Path | None = None) -> bool:
    """Stop every node of the cluster recorded under ``data_dir/cluster``.

    Returns:
        True if at least one live node was stopped.
    """
    folder = data_folder(data_dir) / CLUSTER_FOLDER
    state = _recorded(folder)
    if state is None:
        return False
    stopped = False
    for node in state["nodes"]:
        stopped = local.down(Path(node)) or stopped
    with contextlib.suppress(FileNotFoundError):
        (folder / CLUSTER_STATE).unlink()
    return stopped
