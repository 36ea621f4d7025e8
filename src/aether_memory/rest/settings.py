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
``AETHER_INSECURE_NO_AUTH``       ``false``           serve without keys beyond loopback (without
                                                      keys, only requests made on this machine
                                                      are answered otherwise)
``AETHER_MAX_BODY_BYTES``         ``2097152`` (2 MiB) larger request bodies get 413
``AETHER_BODY_TIMEOUT``           ``30``              seconds a request body may take to arrive
                                                      (408 after that)
``AETHER_MAX_NAMESPACES``         ``256``             namespaces whose state stays cached (all
                                                      share one client and connection pool)
``AETHER_EMBEDDER``               ``minilm``          long-term memory's embedder, by name
                                                      (`aether_memory.embedder_from_name`)
``AETHER_ACCESS_LOG``             ``false``           log one line per request (costs 10-25% of
                                                      throughput, so it is off unless asked)
``AETHER_UI_WRITABLE``            ``false``           the dashboard at ``/ui`` shows write
                                                      buttons (``aether ui --writable``)
================================  ==================  ===========================================

``AETHER_API_KEYS`` lists keys and the namespaces each may use (``KEY=NS1,NS2;KEY2=*``);
the format is described in `aether_memory.core.access`, which both the REST and the MCP server
use.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from aether_memory.core.access import ApiKey, parse_api_keys

__all__ = ["ApiKey", "RestSettings", "parse_api_keys"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
DEFAULT_BODY_TIMEOUT = 30.0
DEFAULT_MAX_NAMESPACES = 256
DEFAULT_EMBEDDER = "minilm"


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
    body_timeout: float = Field(
        default=DEFAULT_BODY_TIMEOUT, gt=0, le=3600, validation_alias="AETHER_BODY_TIMEOUT"
    )
    embedder: str = Field(default=DEFAULT_EMBEDDER, validation_alias="AETHER_EMBEDDER")
    # Off by default: uvicorn's access log cost 10-25% of throughput in bench/bench_rest.py.
    access_log: bool = Field(default=False, validation_alias="AETHER_ACCESS_LOG")
    ui_writable: bool = Field(default=False, validation_alias="AETHER_UI_WRITABLE")

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
