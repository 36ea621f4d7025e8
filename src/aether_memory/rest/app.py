"""The app factory: settings in, a FastAPI app out, with its memory clients owned by the
lifespan (opened lazily per namespace, all closed at shutdown)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from aether_memory import __version__
from aether_memory.backends.embedders import embedder_from_name
from aether_memory.client.common import redacted
from aether_memory.core import telemetry
from aether_memory.core.config import Settings
from aether_memory.core.embeddings import CachedEmbedder
from aether_memory.core.errors import AetherError, BackendUnavailable
from aether_memory.rest import errors
from aether_memory.rest.auth import KeyRing, identify
from aether_memory.rest.deps import get_pool
from aether_memory.rest.limits import BodyLimit
from aether_memory.rest.pool import MemoryPool
from aether_memory.rest.routes import (
    agents,
    browse,
    consolidation,
    dashboard,
    feed,
    longterm,
    namespace,
    queues,
    sessions,
    tools,
    working,
)
from aether_memory.rest.settings import RestSettings
from aether_memory.rest.tracing import RouteAttributes, TraceRequests
from aether_memory.rest.ui import mount_ui

log = logging.getLogger("aether_memory.rest")

DESCRIPTION = """Persistent memory for AI agents, on Redis: identity, state, sessions with
working memory, events and checkpoints, tool caches, and long-term memory with hybrid recall.

Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`; a key reaches only the
namespaces it was configured for (`AETHER_API_KEYS`); without keys configured, only requests
made on this machine are answered. Errors are
`{"error": {"code": ..., "message": ...}}`."""


class LiveOut(BaseModel):
    """The process is up."""

    status: str


class ReadyOut(BaseModel):
    """The store answers. The details (which store, where, what it offers, its health) are
    shown only to an admin key (``KEY=*``), or on loopback when the server has no keys."""

    status: str
    store: str | None = None
    url: str | None = None  # password hidden
    capabilities: dict[str, Any] | None = None
    health: dict[str, Any] | None = None  # which store serves now (a fallback...), outbox


def _operation_id(route: APIRoute) -> str:
    return route.name


DOCS_ASSETS = "/docs/assets"


def _serve_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the ``swagger-ui-bundle-v2`` package (FastAPI's
    self-hosting recipe), so the page renders where the server has no internet."""
    import swagger_ui_bundle

    app.mount(
        DOCS_ASSETS,
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="docs_assets",
    )

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="aether-memory API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )


def create_app(settings: RestSettings | None = None, *, ui_at_root: bool = False) -> FastAPI:
    """Build the REST app.

    Args:
        settings: the server's settings (default: read from the environment). The store's
            URL and options are read from the environment by the library, as
            `Memory.open` does, when the first request needs them.
        ui_at_root: ``/`` leads to the dashboard (``aether ui``); it is at ``/ui`` either way.

    Raises:
        ConfigurationError: ``AETHER_API_KEYS`` or ``AETHER_EMBEDDER`` is malformed.

    Without API keys, the app answers only requests made on this machine (see
    `aether_memory.rest.auth`), wherever it is served, unless ``settings.insecure_no_auth``.
    """
    settings = settings or RestSettings()
    keyring = KeyRing(settings.keys(), settings.admin())
    if not keyring.enabled:
        log.warning(
            "aether-memory: no API keys (AETHER_API_KEYS): %s",
            "serving WITHOUT authentication (insecure_no_auth): anyone who can connect can use "
            "every namespace"
            if settings.insecure_no_auth
            else "answering only requests made on this machine (loopback), where anyone can use "
            "every namespace",
        )
    default_namespace = Settings().namespace
    # One embedder for every namespace: the model is loaded once, on the first need.
    embedder = CachedEmbedder(embedder_from_name(settings.embedder))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = MemoryPool(embedder, settings.max_namespaces)
        app.state.pool = pool
        telemetry.refresh()  # trace from the first request if an SDK is set up by now
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
        docs_url=None,  # served below from the package's own Swagger UI: no CDN, no internet
        redoc_url=None,
    )
    _serve_docs(app)
    app.state.keyring = keyring
    app.state.insecure_no_auth = settings.insecure_no_auth
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout)
    if "telemetry" not in inspect.signature(FastAPI).parameters:
        # FastAPI with native OpenTelemetry makes the server spans itself (a second
        # middleware would double them); older versions get ours.
        app.add_middleware(TraceRequests)
    else:
        app.add_middleware(RouteAttributes)
    # Hot routes first: FastAPI matches routes in order.
    routers = (
        working,
        sessions,
        agents,
        longterm,
        namespace,
        tools,
        browse,
        feed,
        dashboard,
        queues,
        consolidation,
    )
    for module in routers:
        app.include_router(module.router, responses=errors.ERROR_RESPONSES)
    mount_ui(app, writable=settings.ui_writable, at_root=ui_at_root)

    @app.get("/healthz", name="healthz", tags=["health"])
    async def healthz() -> LiveOut:
        """Liveness: answers without touching the store (no key needed)."""
        return LiveOut(status="ok")

    @app.get(
        "/readyz",
        name="readyz",
        tags=["health"],
        response_model_exclude_none=True,
        responses={503: errors.ERROR_RESPONSES[503], "default": errors.ERROR_RESPONSES["default"]},
    )
    async def readyz(request: Request) -> ReadyOut:
        """Readiness: pings the store (no key needed); 503 when it does not answer. Which
        store, where and how are shown only to an admin key."""
        pool = get_pool(request)
        caller = identify(request)
        detailed = caller is not None and caller.is_admin
        try:
            async with pool.lease(default_namespace) as mem:
                health = await mem.health()
                caps = mem.capabilities
        except AetherError:
            if detailed:
                raise
            # The library's message names the store's address: not for anonymous callers.
            raise BackendUnavailable("the store is not ready") from None
        if not health.ok:
            reason = f": {health.last_error}" if detailed else ""
            raise BackendUnavailable(f"the store does not answer{reason}")
        if not detailed:
            return ReadyOut(status="ready")
        return ReadyOut(
            status="ready",
            store=caps.backend,
            url=redacted(pool.url),
            capabilities=caps.as_dict(),
            health=health.as_dict(),
        )

    return app
