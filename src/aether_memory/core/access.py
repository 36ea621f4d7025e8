"""Who may reach a server: API keys scoped to namespaces, and the rule for serving without them.

Shared by the REST and MCP servers, so that both read ``AETHER_API_KEYS`` the same way and
apply the same exposure rule.

``AETHER_API_KEYS`` lists keys and the namespaces each may use: entries separated by ``;``,
each ``KEY=NS1,NS2`` or ``KEY=*`` for every namespace::

    AETHER_API_KEYS='k3y-for-billing=billing,billing-staging;admin-k3y=*'

Keys are 16-256 printable ASCII characters without spaces, ``;`` or ``=`` (generate one with
``python -c "import secrets; print(secrets.token_urlsafe(32))"``). Clients send a key as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.

A presented key is compared with every configured key in constant time (`hmac.compare_digest`
on SHA-256 digests, so neither the content nor the length of a key leaks through timing, and the
loop never stops early).

Without keys, a server may serve only this machine: its listening address must be loopback,
and — because an application cannot always know where it was bound (an ASGI app built with
``create_app`` may be run by any server on any address) — each request is also checked: it must
have arrived on a loopback address, from a loopback address, and not through a proxy
(`is_local_request`). ``insecure_no_auth`` lifts both rules, deliberately.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from aether_memory.core.errors import ConfigurationError, InvalidInput
from aether_memory.core.ids import NAME_RULE, check_name

ALL_NAMESPACES = "*"
MIN_KEY_CHARS = 16
_KEY = re.compile(rf"[!-~]{{{MIN_KEY_CHARS},256}}")  # printable ASCII, no space
# Headers a reverse proxy adds: a request that carries one came from somewhere else.
PROXY_HEADERS = (b"forwarded", b"x-forwarded-for", b"x-real-ip")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One configured key and what it may reach (`namespaces` is None for ``*``)."""

    key: str
    namespaces: frozenset[str] | None

    def allows(self, namespace: str) -> bool:
        """True when this key may use `namespace`."""
        return self.namespaces is None or namespace in self.namespaces

    @property
    def is_admin(self) -> bool:
        """True for a ``KEY=*`` key, which reaches every namespace."""
        return self.namespaces is None


def parse_api_keys(spec: str) -> tuple[ApiKey, ...]:
    """Parse ``KEY=NS1,NS2;KEY2=*`` (see the module docstring).

    Raises:
        ConfigurationError: an entry is malformed, a key is too short or repeated, or a
            namespace is not a valid name. The message never contains a key.
    """
    keys: list[ApiKey] = []
    seen: set[str] = set()
    for position, entry in enumerate(spec.split(";"), start=1):
        entry = entry.strip()
        if not entry:
            continue
        key, sep, scope = entry.partition("=")
        key, scope = key.strip(), scope.strip()
        if not sep or not key or not scope:
            raise ConfigurationError(
                f"AETHER_API_KEYS entry {position} is not KEY=NS1,NS2 or KEY=*"
            )
        if _KEY.fullmatch(key) is None or "=" in key or ";" in key:
            raise ConfigurationError(
                f"AETHER_API_KEYS entry {position}: a key is {MIN_KEY_CHARS}-256 printable "
                "ASCII characters without spaces, ';' or '='"
            )
        if key in seen:
            raise ConfigurationError(f"AETHER_API_KEYS entry {position} repeats a key")
        seen.add(key)
        if scope == ALL_NAMESPACES:
            keys.append(ApiKey(key, None))
            continue
        names = [n.strip() for n in scope.split(",") if n.strip()]
        for name in names:
            if name == ALL_NAMESPACES:
                raise ConfigurationError(
                    f"AETHER_API_KEYS entry {position}: '*' must stand alone (KEY=*)"
                )
            try:
                check_name(name, "namespace")
            except InvalidInput:
                raise ConfigurationError(
                    f"AETHER_API_KEYS entry {position}: namespace {name!r} is not valid; "
                    f"use {NAME_RULE}"
                ) from None
        keys.append(ApiKey(key, frozenset(names)))
    return tuple(keys)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


class KeyRing:
    """The configured keys, held as digests for constant-time comparison; `admin` keys
    (the REST server's ``AETHER_ADMIN_KEYS``) may also erase and list the namespaces they name."""

    def __init__(self, keys: Iterable[ApiKey], admin: Iterable[ApiKey] = ()) -> None:
        self._keys = [(_digest(k.key), k) for k in keys]
        self._admin = [(_digest(k.key), k) for k in admin]

    @property
    def enabled(self) -> bool:
        """False when no key is configured (authentication off)."""
        return bool(self._keys or self._admin)

    def find(self, presented: str) -> ApiKey | None:
        """The key equal to `presented`, compared against every key in constant time."""
        return _match(self._keys, _digest(presented))

    def find_admin(self, presented: str) -> ApiKey | None:
        """The admin key equal to `presented` (constant time, as `find`)."""
        return _match(self._admin, _digest(presented))


def _match(ring: list[tuple[bytes, ApiKey]], digest: bytes) -> ApiKey | None:
    found = None
    for candidate, key in ring:  # never stops early
        if hmac.compare_digest(candidate, digest):
            found = key
    return found


def presented_key(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The key a request carries (``Authorization: Bearer`` first, then ``X-API-Key``)."""
    bearer = api_key = None
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                bearer = credentials.strip()
        elif name == b"x-api-key" and value.strip():
            api_key = value.decode("latin-1").strip()
    return bearer or api_key


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False  # a host name: it may resolve to anything
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback  # ::ffff:127.0.0.1 from a dual-stack socket
    return address.is_loopback


def is_local_request(
    server: tuple[str, int | None] | None,
    client: tuple[str, int] | None,
    headers: Iterable[tuple[bytes, bytes]],
) -> bool:
    """True when a request (as ASGI describes it) was made on this machine, not forwarded.

    Args:
        server: the address the connection arrived on (``scope["server"]``); a Unix socket
            has no port, and only users of this machine can reach one.
        client: the peer's address (``scope["client"]``).
        headers: the request headers (``scope["headers"]``).
    """
    if any(name in PROXY_HEADERS for name, _ in headers):
        return False
    if server is not None and server[1] is None:
        return True  # a Unix domain socket
    if server is None or client is None:
        return False
    return is_loopback(server[0]) and is_loopback(client[0])


def exposure_problem(host: str, keys: tuple[ApiKey, ...], insecure_no_auth: bool) -> str | None:
    """Why serving `host` with these keys is refused, or None when it is allowed.

    Without keys, only a loopback host may be served, unless `insecure_no_auth` says
    otherwise.
    """
    if keys or insecure_no_auth or is_loopback(host):
        return None
    return (
        f"refusing to serve {host} without API keys: set AETHER_API_KEYS "
        "(e.g. 'KEY=namespace1,namespace2;ADMIN_KEY=*'), listen on 127.0.0.1, or pass "
        "--insecure-no-auth"
    )
