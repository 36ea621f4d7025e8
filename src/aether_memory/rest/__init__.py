"""The REST server: every operation of the Python API over HTTP, with API keys per namespace.

Run it with ``aether serve`` or ``python -m aether_memory.rest --host 127.0.0.1 --port 8080``;
build the app yourself with `create_app` (e.g. under another ASGI server). Settings and the
``AETHER_API_KEYS`` format are in `aether_memory.rest.settings`; the error → status table in
`aether_memory.rest.errors`.

Layout: ``app`` (factory + lifespan) · ``settings`` · ``auth`` · ``errors`` (the one table) ·
``pool`` (one memory client, a view per namespace) · ``deps`` · ``models`` (response bodies) ·
``routes/`` (by area) · ``server`` (``main``).
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the REST server needs its extra: pip install 'aether-memory[rest]'") from exc

from aether_memory.rest.app import create_app
from aether_memory.rest.server import main
from aether_memory.rest.settings import RestSettings

__all__ = ["RestSettings", "create_app", "main"]
