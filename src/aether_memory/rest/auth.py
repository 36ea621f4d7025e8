"""API keys: who is calling, and whether that key may use the namespace in the path.

A key arrives as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. It is compared with
every configured key in constant time (`hmac.compare_digest` on SHA-256 digests, so neither
the content nor the length of a key leaks through timing, and the loop never stops early).
With no keys configured, authentication is off: `main` allows that only on a loopback host
unless told ``--insecure-no-auth``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from aether_memory.rest.errors import ApiError
from aether_memory.rest.settings import ApiKey

_bearer = HTTPBearer(auto_error=False, description="An API key from AETHER_API_KEYS.")
_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key from AETHER_API_KEYS."
)


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: the matched key's scope (`None` when authentication is off), and the
    namespaces it administers when it is an admin key."""

    key: ApiKey | None
    admin: ApiKey | None = None
    auth: bool = True

    def may_use(self, namespace: str) -> bool:
        """True when the caller may read and write `namespace`."""
        if not self.auth:
            return True
        return any(k is not None and k.allows(namespace) for k in (self.key, self.admin))

    def may_administer(self, namespace: str | None) -> bool:
        """True when the caller may erase `namespace` (None: list every namespace)."""
        if not self.auth:
            return True
        if self.admin is None:
            return False
        return self.admin.namespaces is None if namespace is None else self.admin.allows(namespace)


class KeyRing:
    """The configured keys, held as digests for constant-time comparison."""

    def __init__(self, keys: tuple[ApiKey, ...], admin: tuple[ApiKey, ...] = ()) -> None:
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
    for candidate, key in ring:
        if hmac.compare_digest(candidate, digest):
            found = key
    return found


def _ring(request: Request) -> KeyRing:
    ring: KeyRing = request.app.state.keyring
    return ring


async def authenticate(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_header)],
) -> Principal:
    """The caller's identity, or 401 when the key is missing or unknown."""
    ring = _ring(request)
    if not ring.enabled:
        return Principal(None, auth=False)
    presented = bearer.credentials if bearer is not None else api_key
    if not presented:
        raise ApiError(
            401,
            "unauthorized",
            "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            _CHALLENGE,
        )
    key, admin = ring.find(presented), ring.find_admin(presented)
    if key is None and admin is None:
        raise ApiError(401, "unauthorized", "unknown API key", _CHALLENGE)
    return Principal(key, admin)


Caller = Annotated[Principal, Depends(authenticate)]
"""A route parameter that requires a valid key (when keys are configured)."""


def check_namespace(principal: Principal, namespace: str) -> None:
    """403 when the caller's key does not cover `namespace`."""
    if not principal.may_use(namespace):
        raise ApiError(403, "forbidden", f"this API key may not use namespace {namespace!r}")


def check_admin(principal: Principal, namespace: str | None) -> None:
    """403 unless the caller holds an admin key for `namespace` (None: for every one)."""
    if not principal.may_administer(namespace):
        what = "every namespace" if namespace is None else f"namespace {namespace!r}"
        raise ApiError(403, "forbidden", f"this needs an admin key (AETHER_ADMIN_KEYS) for {what}")
