"""``aether serve`` / ``python -m aether_memory.rest``: run the REST app under uvicorn.

Refuses to start without API keys on a host other than loopback, unless told
``--insecure-no-auth``: an unauthenticated memory server on a network is a data leak waiting
to happen. On loopback without keys it starts, with a warning (and the app itself answers only
requests made on this machine, see `aether_memory.rest.auth`). A request body that does not
arrive within ``AETHER_BODY_TIMEOUT`` seconds gets 408 (`aether_memory.rest.limits`).
"""

from __future__ import annotations

import argparse
import copy
import logging
import logging.config
import os
import sys
from collections.abc import Sequence
from typing import Any

from aether_memory.core.access import exposure_problem, is_loopback
from aether_memory.core.errors import ConfigurationError
from aether_memory.rest.settings import RestSettings

__all__ = ["check_exposure", "is_loopback", "main", "ui_main"]

log = logging.getLogger("aether_memory.rest")

EXIT_CONFIG = 2
DEFAULT_UI_PORT = 8081
SHUTDOWN_GRACE = 5  # seconds open requests get to finish after SIGTERM


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
    keys = settings.keys() + settings.admin()
    problem = exposure_problem(settings.host, keys, settings.insecure_no_auth)
    if problem is not None:
        raise ConfigurationError(problem)


def _log_config() -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["aether_memory"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return config


def main(argv: Sequence[str] | None = None, *, ui: bool = False) -> int:
    """Parse the arguments, check the settings, serve until SIGINT/SIGTERM.

    Args:
        argv: the command line (default: ``sys.argv``).
        ui: serve as ``aether ui``: the dashboard at ``/`` (and the API it reads), on port
            8081 unless told otherwise, with ``--writable``.

    Returns:
        The exit code: 0 after a clean shutdown, 2 for a configuration error.
    """
    logging.config.dictConfig(_log_config())
    try:
        defaults = RestSettings()
        if ui and "AETHER_PORT" not in os.environ:
            defaults = defaults.model_copy(update={"port": DEFAULT_UI_PORT})
        parser = _parser(defaults)
        if ui:
            parser.prog = "aether ui"
            parser.description = (
                "Serve the web dashboard (and the memory API it reads), loopback by default; "
                "the same settings and API keys as aether serve."
            )
            parser.add_argument(
                "--writable",
                action="store_true",
                default=defaults.ui_writable,
                help="show write buttons (forget a memory); read-only otherwise",
            )
        args = parser.parse_args(argv)
        update = {"host": args.host, "port": args.port, "insecure_no_auth": args.insecure_no_auth}
        if ui:
            update["ui_writable"] = args.writable
        settings = defaults.model_copy(update=update)
        check_exposure(settings)
        from aether_memory.rest.app import create_app

        app = create_app(settings, ui_at_root=ui)
    except (ConfigurationError, ValueError) as exc:
        print(f"aether {'ui' if ui else 'serve'}: {exc}", file=sys.stderr)
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
        # A feed's stream never ends by itself: without a bound, a shutdown would wait for
        # its client to leave, and the client for the next event.
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
    )
    return 0


def ui_main(argv: Sequence[str] | None = None) -> int:
    """``aether ui``: `main` serving the dashboard at ``/``."""
    return main(argv, ui=True)
