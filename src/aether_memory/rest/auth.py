"""API keys: who is calling, and whether that key may use the namespace in the path.

A key arrives as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` and is checked by the
`KeyRing` of `aether_memory.core.access` (constant time). With no keys configured,
authentication is off, and then only requests made on this machine are answered (loopback on
both ends, no proxy headers) unless the settings say ``insecure_no_auth``: the app cannot know
which address its server was bound to, so it checks every request instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer

from aether_memory.core.access import ApiKey, KeyRing, is_local_request, presented_key
from aether_memory.rest.errors import ApiError

__all__ = ["Caller", "KeyRing", "Principal", "authenticate", "check_admin", "check_namespace"]

# Only for the OpenAPI schema: `authenticate` reads the headers itself.
_bearer = HTTPBearer(auto_error=False, description="An API key from AETHER_API_KEYS.")
_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key from AETHER_API_KEYS."
)

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
LOCAL_ONLY = (
    "this server has no API keys (AETHER_API_KEYS), so it answers only requests made on this "
    "machine; configure keys, or set AETHER_INSECURE_NO_AUTH=1 to serve everyone"
)


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

    @property
    def is_admin(self) -> bool:
        """True when the caller may see the server's own configuration (an ``*`` key, or
        authentication off)."""
        if not self.auth:
            return True
        return any(k is not None and k.is_admin for k in (self.key, self.admin))


def identify(request: Request) -> Principal | None:
    """The caller, or None when the request may not be served (no key, an unknown key, or
    a request from elsewhere to a server without keys)."""
    ring: KeyRing = request.app.state.keyring
    scope = request.scope
    if not ring.enabled:
        if request.app.state.insecure_no_auth or is_local_request(
            scope.get("server"), scope.get("client"), scope["headers"]
        ):
            return Principal(None, auth=False)
        return None
    presented = presented_key(scope["headers"])
    if presented is None:
        return None
    key, admin = ring.find(presented), ring.find_admin(presented)
    return None if key is None and admin is None else Principal(key, admin)


async def authenticate(
    request: Request,
    _b: Annotated[object, Depends(_bearer)],
    _h: Annotated[object, Depends(_header)],
) -> Principal:
    """The caller's identity; 401 when the key is missing or unknown, 403 for a request from
    another machine to a server without keys."""
    principal = identify(request)
    if principal is not None:
        return principal
    ring: KeyRing = request.app.state.keyring
    if not ring.enabled:
        raise ApiError(403, "forbidden", LOCAL_ONLY)
    if presented_key(request.scope["headers"]) is None:
        raise ApiError(
            401,
            "unauthorized",
            "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            _CHALLENGE,
        )
    raise ApiError(401, "unauthorized", "unknown API key", _CHALLENGE)


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
