"""``aether serve`` / ``python -m aether_memory.rest``: run the REST app under uvicorn.

Refuses to start without API keys on a host other than loopback, unless told
``--insecure-no-auth``: an unauthenticated memory server on a network is a data leak waiting
to happen. On loopback without keys it starts, with a warning.
"""

from __future__ import annotations

import argparse
import copy
import ipaddress
import logging
import logging.config
import sys
from collections.abc import Sequence
from typing import Any

from aether_memory.core.errors import ConfigurationError
from aether_memory.rest.settings import RestSettings

log = logging.getLogger("aether_memory.rest")

EXIT_CONFIG = 2


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def _parser(defaults: RestSettings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aether serve",
        description="Serve agent memory over HTTP (FastAPI; OpenAPI at /docs). The store is "
        "configured like the library: AETHER_URL, MEMORY_REDIS_URL, REDIS_URL, REDIS_HOST...; "
        "API keys in AETHER_API_KEYS='key=ns1,ns2;key2=*'.",
    )
    parser.add_argument("--host", default=defaults.host, help="interface (default %(default)s)")
    parser.add_argument("--port", type=int, default=defaults.port, help="port (%(default)s)")
    parser.add_argument(
        "--insecure-no-auth",
        action="store_true",
        default=defaults.insecure_no_auth,
        help="allow serving a non-loopback host without API keys",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="(default %(default)s)",
    )
    return parser


def check_exposure(settings: RestSettings) -> None:
    """Refuse an unauthenticated server on a non-loopback host (see the module docstring).

    Raises:
        ConfigurationError: no keys, a public host, and no ``insecure_no_auth``; or the keys
            are malformed.
    """
    if settings.keys():
        return
    if is_loopback(settings.host):
        log.warning(
            "aether-memory: no API keys (AETHER_API_KEYS): anyone on this machine can use "
            "every namespace at %s:%s",
            settings.host,
            settings.port,
        )
        return
    if not settings.insecure_no_auth:
        raise ConfigurationError(
            f"refusing to serve {settings.host} without API keys: set AETHER_API_KEYS "
            "(e.g. 'KEY=namespace1,namespace2;ADMIN_KEY=*'), listen on 127.0.0.1, or pass "
            "--insecure-no-auth"
        )
    log.warning(
        "aether-memory: serving %s WITHOUT authentication (--insecure-no-auth)", settings.host
    )


def _log_config() -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["aether_memory"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, check the settings, serve until SIGINT/SIGTERM.

    Returns:
        The exit code: 0 after a clean shutdown, 2 for a configuration error.
    """
    logging.config.dictConfig(_log_config())
    try:
        defaults = RestSettings()
        args = _parser(defaults).parse_args(argv)
        settings = defaults.model_copy(
            update={"host": args.host, "port": args.port, "insecure_no_auth": args.insecure_no_auth}
        )
        check_exposure(settings)
        from aether_memory.rest.app import create_app

        app = create_app(settings)
    except (ConfigurationError, ValueError) as exc:
        print(f"aether serve: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    import uvicorn

    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        log_config=_log_config(),
        access_log=settings.access_log,
        server_header=False,
    )
    return 0
