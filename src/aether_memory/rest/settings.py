"""The REST server's own settings, and the format of ``AETHER_API_KEYS``.

Everything about the store (its URL, backend, namespace default, TTLs) is read by the
library's `aether_memory.core.config.Settings`, exactly as `Memory.open` reads it; this module
holds only what the HTTP server adds:

================================  ==================  ===========================================
variable                          default             meaning
================================  ==================  ===========================================
``AETHER_HOST``                   ``127.0.0.1``       interface to listen on (``--host``)
``AETHER_PORT``                   ``8080``            port (``--port``)
``AETHER_API_KEYS``               none                who may call, see below
``AETHER_ADMIN_KEYS``             none                keys that may also erase whole namespaces
                                                      and list every namespace (same format)
``AETHER_INSECURE_NO_AUTH``       ``false``           allow no keys on a non-loopback host
``AETHER_MAX_BODY_BYTES``         ``2097152`` (2 MiB) larger request bodies get 413
``AETHER_MAX_NAMESPACES``         ``256``             memory clients kept open (least recently
                                                      used idle ones are closed beyond it)
``AETHER_EMBEDDER``               ``minilm``          long-term memory's embedder, by name
                                                      (`aether_memory.embedder_from_name`)
``AETHER_ACCESS_LOG``             ``false``           log one line per request (costs 10-25% of
                                                      throughput, so it is off unless asked)
================================  ==================  ===========================================

``AETHER_API_KEYS`` lists keys and the namespaces each may use: entries separated by ``;``,
each ``KEY=NS1,NS2`` or ``KEY=*`` for every namespace::

    AETHER_API_KEYS='k3y-for-billing=billing,billing-staging;admin-k3y=*'

Keys are 16-256 printable ASCII characters without spaces, ``;`` or ``=`` (generate one with
``python -c "import secrets; print(secrets.token_urlsafe(32))"``). Clients send a key as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from aether_memory.core.errors import ConfigurationError
from aether_memory.core.ids import NAME_RULE, check_name

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
DEFAULT_MAX_NAMESPACES = 256
DEFAULT_EMBEDDER = "minilm"
ALL_NAMESPACES = "*"
MIN_KEY_CHARS = 16
_KEY = re.compile(rf"[!-~]{{{MIN_KEY_CHARS},256}}")  # printable ASCII, no space


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One configured key and what it may reach (`namespaces` is None for ``*``)."""

    key: str
    namespaces: frozenset[str] | None

    def allows(self, namespace: str) -> bool:
        """True when this key may use `namespace`."""
        return self.namespaces is None or namespace in self.namespaces


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
            except ValueError:
                raise ConfigurationError(
                    f"AETHER_API_KEYS entry {position}: namespace {name!r} is not valid; "
                    f"use {NAME_RULE}"
                ) from None
        keys.append(ApiKey(key, frozenset(names)))
    return tuple(keys)


class RestSettings(BaseSettings):
    """Settings of the HTTP server, from ``AETHER_*`` variables (names in the aliases)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    host: str = Field(default=DEFAULT_HOST, validation_alias="AETHER_HOST")
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535, validation_alias="AETHER_PORT")
    api_keys: SecretStr | None = Field(default=None, validation_alias="AETHER_API_KEYS")
    admin_keys: SecretStr | None = Field(default=None, validation_alias="AETHER_ADMIN_KEYS")
    insecure_no_auth: bool = Field(default=False, validation_alias="AETHER_INSECURE_NO_AUTH")
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES, ge=1024, validation_alias="AETHER_MAX_BODY_BYTES"
    )
    max_namespaces: int = Field(
        default=DEFAULT_MAX_NAMESPACES, ge=1, validation_alias="AETHER_MAX_NAMESPACES"
    )
    embedder: str = Field(default=DEFAULT_EMBEDDER, validation_alias="AETHER_EMBEDDER")
    # Off by default: uvicorn's access log cost 10-25% of throughput in bench/bench_rest.py.
    access_log: bool = Field(default=False, validation_alias="AETHER_ACCESS_LOG")

    def keys(self) -> tuple[ApiKey, ...]:
        """The parsed API keys (empty: authentication is off)."""
        if self.api_keys is None:
            return ()
        return parse_api_keys(self.api_keys.get_secret_value())

    def admin(self) -> tuple[ApiKey, ...]:
        """The parsed admin keys: each may erase, and list, the namespaces it names."""
        if self.admin_keys is None:
            return ()
        return parse_api_keys(self.admin_keys.get_secret_value())
