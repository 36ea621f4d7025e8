"""The web dashboard: static pages (vanilla JS modules and CSS shipped in ``static/``, no
build step, nothing fetched from elsewhere) that read the REST API of the same server with
the key the user enters. Mounted at ``/ui`` by `aether serve`; `aether ui` serves the same app
with ``/`` leading to it.

The pages never write unless the server was started writable (``--writable`` or
``AETHER_UI_WRITABLE``): ``/ui/config.json`` tells them. Every response of ``/ui`` carries a
Content-Security-Policy that allows only this origin's own scripts and styles, as a second
wall behind the pages' rule of rendering every stored value as text.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["CSP", "PREFIX", "mount_ui"]

PREFIX = "/ui"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def static_dir() -> Path:
    """The folder of the dashboard's files inside the installed package."""
    return Path(str(files(__package__) / "static"))


class _Headers:
    """Adds the CSP and no-sniff headers to every response under ``/ui``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))  # type: ignore[call-overload]
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-cache"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, sending)  # type: ignore[arg-type]


def mount_ui(app: FastAPI, *, writable: bool, at_root: bool = False) -> None:
    """Serve the dashboard at ``/ui`` (and redirect ``/`` to it when `at_root`)."""
    from fastapi.staticfiles import StaticFiles

    @app.get(PREFIX, include_in_schema=False)
    async def ui_slash() -> RedirectResponse:
        return RedirectResponse(PREFIX + "/")

    @app.get(PREFIX + "/config.json", include_in_schema=False)
    async def ui_config() -> JSONResponse:
        return JSONResponse({"writable": writable}, headers={"content-security-policy": CSP})

    if at_root:

        @app.get("/", include_in_schema=False)
        async def root() -> RedirectResponse:
            return RedirectResponse(PREFIX + "/")

    app.mount(PREFIX, _Headers(StaticFiles(directory=static_dir(), html=True)), name="ui")
