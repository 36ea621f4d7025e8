"""Server spans for REST requests, continuing the caller's W3C trace context.

A pure ASGI middleware on the OpenTelemetry API: while instrumentation is off (no SDK set up,
see `aether_memory.core.telemetry`) it passes requests straight through. On, each HTTP
request becomes a SERVER span named ``{method} {route}`` (the route template, e.g.
``GET /v1/namespaces/{ns}/agents/{agent}/metrics``) whose parent is the caller's
``traceparent`` header; the library's spans for the request are its children. Either way
(ours, or FastAPI's native spans with `RouteAttributes`) the span carries the route's
``aether.namespace``, ``aether.agent`` and ``aether.session``.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import Span, SpanKind, StatusCode

from aether_memory.core import telemetry

Scope = dict[str, Any]


class _Middleware:
    """A pure ASGI middleware around `app`."""

    def __init__(self, app: Any) -> None:
        self.app = app


def _traced_http(scope: Scope) -> bool:
    return scope["type"] == "http" and telemetry.enabled()


class TraceRequests(_Middleware):
    """Trace every HTTP request (see the module docstring)."""

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if not _traced_http(scope):
            await self.app(scope, receive, send)
            return
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        token = context.attach(propagate.extract(carrier))
        method = scope["method"]
        status: list[int] = []

        async def send_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        attributes: dict[str, Any] = {"http.request.method": method, "url.path": scope["path"]}
        server = scope.get("server")
        if server:
            attributes["server.address"], attributes["server.port"] = server[0], server[1]
        try:
            with telemetry.tracer().start_as_current_span(
                method, kind=SpanKind.SERVER, attributes=attributes,
                record_exception=False, set_status_on_exception=False,
            ) as span:  # fmt: skip
                try:
                    await self.app(scope, receive, send_status)
                except BaseException as exc:
                    telemetry.record_error(span, exc)
                    raise
                finally:
                    route = getattr(scope.get("route"), "path", None)
                    if route is not None:
                        span.set_attribute("http.route", route)
                        span.update_name(f"{method} {route}")
                    if status:
                        span.set_attribute("http.response.status_code", status[0])
                        if status[0] >= 500:
                            span.set_status(StatusCode.ERROR)
                    route_attributes(span, scope)
        finally:
            context.detach(token)


# Path parameters of the routes, and the span attribute each becomes.
_ROUTE_ATTRIBUTES = (("ns", "aether.namespace"), ("agent", "aether.agent"),
                     ("session", "aether.session"))  # fmt: skip


def route_attributes(span: Span, scope: Scope) -> None:
    """Set ``aether.namespace``/``aether.agent``/``aether.session`` on a request's span from
    the matched route's path parameters (nothing before a route matched)."""
    params = scope.get("path_params") or {}
    for name, attribute in _ROUTE_ATTRIBUTES:
        value = params.get(name)
        if isinstance(value, str):
            span.set_attribute(attribute, value)


class RouteAttributes(_Middleware):
    """Where FastAPI makes the server spans itself: add the route's namespace, agent and
    session to them. The server span is current when a request enters the app; the route's
    parameters are known once it matched, and are set before the response starts (FastAPI
    ends its span when the response is sent)."""

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        span = trace.get_current_span() if _traced_http(scope) else None
        if span is None or not span.is_recording():
            await self.app(scope, receive, send)
            return

        async def send_marked(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                route_attributes(span, scope)
            await send(message)

        await self.app(scope, receive, send_marked)
