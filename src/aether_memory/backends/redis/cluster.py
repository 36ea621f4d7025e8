"""Redis Cluster addresses: the ``redis+cluster://`` URLs, and the hash slot of a key (pure).

``redis+cluster://[user:password@]host:port[,host:port...]`` (``rediss+cluster://`` for
TLS) names a cluster by one or more of its nodes; the client asks them for the rest. A plain
``redis://`` URL that turns out to name a cluster node is followed as the cluster it belongs
to (`cluster_url_of`).

Every command this project sends to a cluster is single-slot: a key's slot is that of its hash
tag (`aether_memory.core.keys`), so one session's keys share a slot, and so do a namespace's
shared keys. `key_slot` computes it as the server does, for checks and benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from aether_memory.core.errors import ConfigurationError

CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
"""The URL schemes of a Redis Cluster (the second with TLS)."""

SLOTS = 16384
DEFAULT_PORT = 6379


@dataclass(frozen=True)
class ClusterAddress:
    """What a ``redis+cluster://`` URL says.

    Attributes:
        nodes: ``(host, port)`` of each node named (the startup nodes).
        username: ACL user, or None.
        password: Password, or None.
        tls: Whether to connect with TLS (``rediss+cluster://``).
    """

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    tls: bool = False


def is_cluster_url(url: str) -> bool:
    """Whether `url` names a Redis Cluster explicitly."""
    return urlsplit(url).scheme in CLUSTER_SCHEMES


def parse_cluster_url(url: str) -> ClusterAddress:
    """Read a ``redis+cluster://`` URL.

    Raises:
        ConfigurationError: the URL names no node, a port is not a number, or it selects a
            database other than 0 (a cluster has only database 0).
    """
    parts = urlsplit(url)
    if parts.scheme not in CLUSTER_SCHEMES:
        raise ConfigurationError(f"not a redis+cluster:// URL: {parts.scheme}://...")
    credentials, _, hosts = parts.netloc.rpartition("@")
    username, _, password = credentials.partition(":")
    if parts.path.strip("/") not in ("", "0"):
        raise ConfigurationError("a Redis Cluster has only database 0: drop the /db of the URL")
    nodes = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":") if ":" in item else (item.strip(), "", "")
        if not host:
            raise ConfigurationError(f"a redis+cluster:// URL needs host:port items, not {item!r}")
        try:
            number = int(port) if port else DEFAULT_PORT
        except ValueError as exc:
            raise ConfigurationError(f"the port of {item!r} is not a number") from exc
        nodes.append((host.strip("[]"), number))
    return ClusterAddress(
        nodes=tuple(nodes),
        username=unquote(username) or None,
        password=unquote(password) if password else None,
        tls=parts.scheme == "rediss+cluster",
    )


def cluster_url_of(url: str) -> str:
    """The ``redis+cluster://`` URL of the cluster a plain ``redis://`` or ``rediss://`` URL's
    node belongs to (credentials kept, database and options dropped)."""
    parts = urlsplit(url)
    scheme = "rediss+cluster" if parts.scheme == "rediss" else "redis+cluster"
    return f"{scheme}://{parts.netloc or 'localhost'}"


def _crc16(data: bytes) -> int:
    """CRC16/XMODEM, the checksum of Redis Cluster's key slots."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def hash_tag(key: str | bytes) -> bytes:
    """What the slot of `key` is computed from: its hash tag (the text in the first
    ``{...}``, when not empty), else the whole key."""
    data = key.encode() if isinstance(key, str) else key
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            return data[start + 1 : end]
    return data


def key_slot(key: str | bytes) -> int:
    """The hash slot of `key`: that of its hash tag (`hash_tag`)."""
    return _crc16(hash_tag(key)) % SLOTS
