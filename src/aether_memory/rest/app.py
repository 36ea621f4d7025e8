"""The app factory: settings in, a FastAPI app out, with its memory clients owned by the
lifespan (opened lazily per namespace, all closed at shutdown)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel

from aether_memory import __version__
from aether_memory.backends.embedders import embedder_from_name
from aether_memory.client.common import redacted
from aether_memory.core.config import Settings
from aether_memory.core.embeddings import CachedEmbedder
from aether_memory.core.errors import BackendUnavailable
from aether_memory.rest import errors
from aether_memory.rest.auth import KeyRing
from aether_memory.rest.deps import get_pool
from aether_memory.rest.limits import BodyLimit
from aether_memory.rest.pool import MemoryPool
from aether_memory.rest.routes import agents, longterm, namespace, sessions, tools, working
from aether_memory.rest.settings import RestSettings

DESCRIPTION = """Persistent memory for AI agents, on Redis: identity, state, sessions with
working memory, events and checkpoints, tool caches, and long-term memory with hybrid recall.

Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`; a key reaches only the
namespaces it was configured for (`AETHER_API_KEYS`). Errors are
`{"error": {"code": ..., "message": ...}}`."""


class LiveOut(BaseModel):
    """The process is up."""

    status: str


class ReadyOut(BaseModel):
    """The store answers: which one, where (password hidden), and what it offers."""

    store: str
    url: str
    capabilities: dict[str, Any]
    health: dict[str, Any]  # which store serves now (a fallback while Redis is down), outbox


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: RestSettings | None = None) -> FastAPI:
    """Build the REST app.

    Args:
        settings: the server's settings (default: read from the environment). The store's
            URL and options are read from the environment by the library, as
            `Memory.open` does, when the first request needs them.

    Raises:
        ConfigurationError: ``AETHER_API_KEYS`` or ``AETHER_EMBEDDER`` is malformed.
    """
    settings = settings or RestSettings()
    keyring = KeyRing(settings.keys())
    default_namespace = Settings().namespace
    # One embedder for every namespace: the model is loaded once, on the first need.
    embedder = CachedEmbedder(embedder_from_name(settings.embedder))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = MemoryPool(embedder, settings.max_namespaces)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.aclose()

    app = FastAPI(
        title="aether-memory",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.keyring = keyring
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    # Hot routes first: FastAPI matches routes in order.
    for module in (working, sessions, agents, longterm, namespace, tools):
        app.include_router(module.router, responses=errors.ERROR_RESPONSES)

    @app.get("/healthz", name="healthz", tags=["health"])
    async def healthz() -> LiveOut:
        """Liveness: answers without touching the store (no key needed)."""
        return LiveOut(status="ok")

    @app.get(
        "/readyz",
        name="readyz",
        tags=["health"],
        responses={503: errors.ERROR_RESPONSES[503], "default": errors.ERROR_RESPONSES["default"]},
    )
    async def readyz(request: Request) -> ReadyOut:
        """Readiness: pings the store (no key needed); 503 when it does not answer."""
        pool = get_pool(request)
        async with pool.lease(default_namespace) as mem:
            health = await mem.health()
            if not health.ok:
                raise BackendUnavailable(f"the store does not answer: {health.last_error}")
            caps = mem.capabilities
        return ReadyOut(
            store=caps.backend,
            url=redacted(pool.url),
            capabilities=caps.as_dict(),
            health=health.as_dict(),
        )

    return app
