"""Traces and metrics of every public operation, through the OpenTelemetry API.

Nothing here configures OpenTelemetry: the application does (an SDK ``TracerProvider`` and
``MeterProvider`` set globally, or given to `configure`). Until then instrumentation is off:
each instrumented call makes one check (`enabled`: are the API's two global provider slots as
last seen?) and calls the plain method — no span, no attribute dict, no clock read. A provider
the application sets later, even after its clients opened, is seen by that check at the next
call, which then turns instrumentation on. `disable` takes the instrumentation out entirely
(the classes get their plain methods back), for a process that wants none of it.

Spans are named after the operation (``working.set``, ``recall``, ``POST /v1/...`` for REST,
``tools/call <name>`` for MCP, ``aether <command>`` for the CLI), CLIENT kind for store
operations, with the database semantic conventions (``db.system``/``db.system.name``: redis
or sqlite, ``db.operation``/``db.operation.name``, ``server.address``/``server.port``) and
the project's own (``aether.namespace``, ``aether.agent``, ``aether.session``,
``aether.kind``, ``aether.hits``, ``aether.bytes``, ``aether.cache.hit``). A failed call sets
the span's status to ERROR, records the exception as an event, and sets ``error.type``.

Metrics (instrument names are stable; attributes in brackets):

- ``aether.operation.duration`` histogram, s [aether.operation, db.system, error.type]
- ``aether.operations`` counter [aether.operation, db.system]
- ``aether.operation.errors`` counter [aether.operation, db.system, error.type]
- ``aether.cache.lookups`` counter [aether.cache.hit] — the tool cache's hit ratio is
  lookups with ``aether.cache.hit=true`` over all lookups
- ``aether.recall.duration`` histogram, s [aether.recall.phase: embedding, search, ranking]
- ``aether.outbox.depth`` gauge, writes queued for replay [db.system of the primary]
- ``aether.fallback.active`` gauge, 1 while the fallback serves [db.system of the primary]
- ``aether.store.switches`` counter [to] — each switch between primary and fallback
- ``aether.queue.depth`` gauge, tasks [aether.namespace, aether.queue, aether.queue.state:
  pending, delayed, in_flight, dead; db.system] — each queue opened while metering, read with
  one `stats` round trip per queue when the reader collects
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Protocol, TypeVar

from opentelemetry import metrics, trace
from opentelemetry.metrics import _internal as _metrics_api
from opentelemetry.trace import Span, SpanKind, StatusCode

from aether_memory.core.ids import now_ms

INSTRUMENTATION = "aether_memory"
F = TypeVar("F", bound=Callable[..., Any])

# Read on every instrumented call; everything below is built only when one is True.
_tracing = False
_metering = False
_explicit = False  # providers given to `configure`: the global ones are not followed
_disabled = False  # `disable`: plain methods in the classes, no provider followed
_tracer: trace.Tracer = trace.NoOpTracer()
# The API's global provider slots as `refresh` last saw them (None: none set). The public
# getters also look in the environment on every call (~0.6 µs); the slots are read directly
# (~40 ns) and only change once each, from None to the application's provider.
_UNSEEN = object()
_seen_tracer_provider: object = _UNSEEN
_seen_meter_provider: object = _UNSEEN
_instruments: _Instruments | None = None
_watched: weakref.WeakSet[Any] = weakref.WeakSet()


class Watched(Protocol):
    """A store with a fallback, as the gauges see it (no I/O: read from memory or a file)."""

    @property
    def primary_name(self) -> str: ...

    def serving_fallback(self) -> bool: ...

    def outbox_depth_now(self) -> int: ...


class _Instruments:
    def __init__(self, meter: metrics.Meter) -> None:
        self.duration = meter.create_histogram(
            "aether.operation.duration", unit="s", description="Duration of aether operations"
        )
        self.calls = meter.create_counter(
            "aether.operations", description="aether operations, by operation and backend"
        )
        self.errors = meter.create_counter(
            "aether.operation.errors", description="aether operations that raised"
        )
        self.cache = meter.create_counter(
            "aether.cache.lookups", description="Tool-result cache lookups, hit or miss"
        )
        self.recall = meter.create_histogram(
            "aether.recall.duration", unit="s", description="Recall time by phase"
        )
        self.switches = meter.create_counter(
            "aether.store.switches", description="Switches between the primary and the fallback"
        )
        meter.create_observable_gauge(
            "aether.outbox.depth", [_outbox_depth], description="Writes queued for replay"
        )
        meter.create_observable_gauge(
            "aether.fallback.active", [_fallback_active], description="1 while the fallback serves"
        )
        meter.create_observable_gauge(
            "aether.queue.depth", [_queue_depth], unit="{task}",
            description="Tasks in a queue, by state",
        )  # fmt: skip


def _real_tracer_provider(provider: object) -> bool:
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def _real_meter_provider(provider: object) -> bool:
    # The API's proxy stands in until an SDK provider is set; its class is private.
    return not isinstance(provider, metrics.NoOpMeterProvider) and type(provider).__name__ not in {
        "_ProxyMeterProvider",
        "ProxyMeterProvider",
    }


def configure(
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> None:
    """Instrument with these providers (the global ones where None), from now on; providers
    set globally later do not replace them. `reset` returns to following the global ones."""
    global _explicit, _disabled
    _explicit, _disabled = True, False
    _patch()
    _install(
        tracer_provider or trace.get_tracer_provider(),
        meter_provider or metrics.get_meter_provider(),
    )


def reset() -> None:
    """Turn instrumentation off, and follow the global providers again from the next call."""
    global _explicit, _disabled, _seen_tracer_provider, _seen_meter_provider
    _explicit = _disabled = False
    _patch()
    _install(trace.NoOpTracerProvider(), metrics.NoOpMeterProvider())
    _seen_tracer_provider = _seen_meter_provider = _UNSEEN  # look again at the next call


def disable() -> None:
    """Take the instrumentation out: the classes get their plain methods back, and providers
    (global or not) are ignored until `configure` or `reset`."""
    global _disabled
    _disabled = True
    _install(trace.NoOpTracerProvider(), metrics.NoOpMeterProvider())
    _patch()


def refresh() -> None:
    """Follow the global providers: turn instrumentation on if an SDK provider is now set
    globally, off if none is. Called when a client opens, and by `enabled` when a global
    slot has changed."""
    global _seen_tracer_provider, _seen_meter_provider
    with _refreshing:  # threads that all see the change install the instruments once
        # The getters first: they load a provider named in OTEL_PYTHON_*_PROVIDER into its slot.
        tracer_provider = trace.get_tracer_provider()
        meter_provider = metrics.get_meter_provider()
        if not (_explicit or _disabled) and (
            _real_tracer_provider(tracer_provider) != _tracing
            or _real_meter_provider(meter_provider) != _metering
        ):
            _install(tracer_provider, meter_provider)
        _seen_tracer_provider = trace._TRACER_PROVIDER
        _seen_meter_provider = _metrics_api._METER_PROVIDER


_refreshing = threading.Lock()


def _install(tracer_provider: trace.TracerProvider, meter_provider: metrics.MeterProvider) -> None:
    global _tracing, _metering, _tracer, _instruments
    _tracing = _real_tracer_provider(tracer_provider)
    _tracer = tracer_provider.get_tracer(INSTRUMENTATION) if _tracing else trace.NoOpTracer()
    _metering = _real_meter_provider(meter_provider)
    _instruments = _Instruments(meter_provider.get_meter(INSTRUMENTATION)) if _metering else None


def enabled() -> bool:
    """Whether traces or metrics are being recorded: the one check an instrumented call makes.
    Two reads of the API's global provider slots; if one changed since the last look (the
    application set a provider), `refresh` follows it first."""
    if (
        trace._TRACER_PROVIDER is not _seen_tracer_provider
        or _metrics_api._METER_PROVIDER is not _seen_meter_provider
    ):
        refresh()
    return _tracing or _metering


def tracer() -> trace.Tracer:
    """The tracer in use (a no-op one while tracing is off)."""
    return _tracer


def watch(store: Watched) -> None:
    """Report a fallback store's outbox depth and state in the gauges (held weakly)."""
    _watched.add(store)


def unwatch(store: Watched) -> None:
    """Stop reporting `store` (it closed)."""
    _watched.discard(store)


def _outbox_depth(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
    return _observe(lambda store: store.outbox_depth_now())


def _fallback_active(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
    return _observe(lambda store: int(store.serving_fallback()))


def _observe(read: Callable[[Watched], int]) -> list[metrics.Observation]:
    out = []
    for store in list(_watched):
        try:
            value = read(store)
        except Exception:  # a store closed since (its file shut): nothing to report
            continue
        out.append(metrics.Observation(value, {"db.system": store.primary_name}))
    return out


# The queues whose depth the gauge reports: (store, namespace, queue) -> the memory client
# (held weakly) and the event loop an async client runs on (None for a sync one).
_queues: dict[tuple[int, str, str], tuple[weakref.ref[Any], asyncio.AbstractEventLoop | None]] = {}
QUEUE_STATES = ("pending", "delayed", "in_flight", "dead")
_QUEUE_READ_TIMEOUT = 5.0  # seconds a collection waits for one queue's counts


def watch_queue(memory: Any, name: str) -> None:
    """Report the queue `name` of `memory` in ``aether.queue.depth`` (while metering)."""
    if not (enabled() and _metering):
        return
    # Opened with no event loop running: a sync client.
    _queues[(id(memory.kernel.store), memory.namespace, name)] = (
        weakref.ref(memory),
        _running_loop(),
    )


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _queue_stats(memory: Any, name: str, loop: asyncio.AbstractEventLoop | None) -> Any:
    """The queue's `QueueStats`, or None where they cannot be read from this thread."""
    # The store, not `memory.queue(name)`: a new handle would register again from this thread.
    result = memory.kernel.store.queues.stats(memory.namespace, name, now_ms())
    if not inspect.iscoroutine(result):
        return result
    if loop is None or loop.is_closed() or _running_loop() is loop:
        result.close()  # collected on the client's own loop: blocking it would deadlock
        return None
    return asyncio.run_coroutine_threadsafe(result, loop).result(_QUEUE_READ_TIMEOUT)


def _queue_depth(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
    out = []
    for key, (ref, loop) in list(_queues.items()):
        memory = ref()
        if memory is None:
            _queues.pop(key, None)
            continue
        try:
            stats = _queue_stats(memory, key[2], loop)
        except Exception:  # the store is down or closed: no figure rather than a wrong one
            continue
        if stats is None:
            continue
        base = {"aether.namespace": key[1], "aether.queue": key[2]}
        base.update(
            {k: v for k, v in store_attributes(memory.kernel.store).items() if k == "db.system"}
        )
        for state in QUEUE_STATES:
            out.append(
                metrics.Observation(getattr(stats, state), {**base, "aether.queue.state": state})
            )
    return out


def store_switched(to: str) -> None:
    """Count a switch between the primary store and the fallback."""
    if _instruments is not None:
        _instruments.switches.add(1, {"to": to})


def cache_lookup(hit: bool) -> None:
    """Count a tool-cache lookup, and mark the current span."""
    if _instruments is not None:
        _instruments.cache.add(1, {"aether.cache.hit": hit})
    if _tracing:
        trace.get_current_span().set_attribute("aether.cache.hit", hit)


def annotate(name: str, value: Any) -> None:
    """Set the attribute ``aether.<name>`` on the current span (nothing while tracing is off,
    or for None). `value` may be a function of no arguments, called only while tracing: for
    a value that takes work to compute."""
    if _tracing:
        if callable(value):
            value = value()
        if value is not None:
            trace.get_current_span().set_attribute("aether." + name, value)


_NOTHING = nullcontext()  # stateless: one for every phase while metering is off


def recall_phase(phase: str) -> AbstractContextManager[None]:
    """Time one phase of a recall (embedding, search, ranking) into its histogram."""
    return _NOTHING if _instruments is None else _timed_phase(phase)


@contextmanager
def _timed_phase(phase: str) -> Iterator[None]:
    assert _instruments is not None
    instruments, start = _instruments, time.perf_counter()
    try:
        yield
    finally:
        instruments.recall.record(time.perf_counter() - start, {"aether.recall.phase": phase})


def trace_id() -> str | None:
    """The current trace's id (32 hex digits) while a recording span is current, else None."""
    if not _tracing:
        return None
    current = trace.get_current_span()
    if not current.is_recording():  # sampled out: the trace is never exported
        return None
    return format(current.get_span_context().trace_id, "032x")


def error_type(exc: BaseException) -> str:
    """``error.type``: the error's stable code for our errors, else its class name."""
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else type(exc).__qualname__


def record_error(span: Span, exc: BaseException) -> None:
    """Mark `span` failed by `exc` (status, exception event, ``error.type``)."""
    span.record_exception(exc)
    span.set_status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}")
    span.set_attribute("error.type", error_type(exc))


# -- the decorator on the client's handles ------------------------------------------------------
def _context(obj: Any) -> tuple[Any, dict[str, Any]]:
    """The kernel behind a handle (what it shares with its memory: the store, the namespace),
    and the handle's namespace/agent/session/kind (or queue, for a queue and the tasks claimed
    from it)."""
    queue = getattr(obj, "_queue", obj)
    queue_of, queue_name = getattr(queue, "_memory", None), getattr(queue, "name", None)
    if queue_of is not None and isinstance(queue_name, str):
        return queue_of.kernel, {"aether.namespace": queue_of.namespace, "aether.queue": queue_name}
    kernel = getattr(obj, "_k", None) or getattr(obj, "kernel", None)
    attrs: dict[str, Any] = {}
    keys = getattr(obj, "_keys", None)
    if keys is not None:
        attrs["aether.namespace"] = keys.ns
        attrs["aether.agent"] = keys.agent
        attrs["aether.session"] = keys.sid
    kind = getattr(obj, "_kind", None)
    if isinstance(kind, str):
        attrs["aether.kind"] = kind
    if keys is None:
        owner = getattr(obj, "_agent", None) or obj
        agent = getattr(owner, "id", None)
        if agent is not None and getattr(owner, "memory", None) is not None:  # an agent's
            attrs["aether.agent"] = agent
        namespace = getattr(kernel, "namespace", None)
        if namespace is not None:
            attrs["aether.namespace"] = namespace
    return kernel, attrs


def store_attributes(store: Any) -> dict[str, Any]:
    """``db.system`` and, for a network server, ``server.address``/``server.port``."""
    attrs: dict[str, Any] = {}
    try:
        backend = store.capabilities.backend
    except Exception:  # a closed client, or a store not probed yet: the call will say
        return attrs
    attrs["db.system"] = attrs["db.system.name"] = backend
    client = getattr(getattr(store, "_primary", None) or store, "_r", None)
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", None)
    if isinstance(kwargs, dict):
        if "host" in kwargs:
            attrs["server.address"] = kwargs["host"]
            attrs["server.port"] = kwargs.get("port", 6379)
        elif "path" in kwargs:
            attrs["server.address"] = kwargs["path"]
    elif client is not None and hasattr(client, "get_default_node"):
        # A cluster client has no single pool: name the node it sends keyless commands to.
        node = client.get_default_node()
        if node is not None:
            attrs["server.address"], attrs["server.port"] = node.host, node.port
    return attrs


def _start(op: str, obj: Any) -> dict[str, Any]:
    kernel, attrs = _context(obj)
    attrs.update(store_attributes(getattr(kernel, "store", None)))
    attrs["db.operation"] = attrs["db.operation.name"] = op
    return attrs


def _finish(op: str, attrs: dict[str, Any], start: float, exc: BaseException | None) -> None:
    if _instruments is None:
        return
    labels = {"aether.operation": op, "db.system": attrs.get("db.system", "")}
    _instruments.calls.add(1, labels)
    if exc is not None:
        labels["error.type"] = error_type(exc)
        _instruments.errors.add(1, labels)
    _instruments.duration.record(time.perf_counter() - start, labels)


def _note_result(span: Span, result: Any, hits: bool) -> None:
    if hits and isinstance(result, list | tuple):
        span.set_attribute("aether.hits", len(result))


@contextmanager
def _operation(op: str, obj: Any, hits: bool) -> Iterator[Callable[[Any], None]]:
    """The span and timing of one call; yields what to call with its result."""
    attrs = _start(op, obj)
    start = time.perf_counter()
    with _tracer.start_as_current_span(
        op, kind=SpanKind.CLIENT, attributes=attrs,
        record_exception=False, set_status_on_exception=False,
    ) as current:  # fmt: skip
        try:
            yield lambda result: _note_result(current, result, hits)
        except BaseException as exc:
            record_error(current, exc)
            _finish(op, attrs, start, exc)
            raise
        _finish(op, attrs, start, None)


class _Traced:
    """What `traced` leaves in a class body: on `__set_name__` it puts the traced twin in the
    class (or the plain function, after `disable`) and registers both, so that `_patch` can
    swap them."""

    def __init__(self, fn: Callable[..., Any], wrapped: Callable[..., Any]) -> None:
        self.fn, self.wrapped = fn, wrapped

    def __set_name__(self, owner: type, name: str) -> None:
        _registry.append((owner, name, self.fn, self.wrapped))
        setattr(owner, name, self.fn if _disabled else self.wrapped)


_registry: list[tuple[type, str, Callable[..., Any], Callable[..., Any]]] = []


def _patch() -> None:
    for owner, name, fn, wrapped in _registry:
        setattr(owner, name, fn if _disabled else wrapped)


def traced(op: str, *, hits: bool = False) -> Callable[[F], F]:
    """Trace and time a public method of a client handle as the operation `op`; with
    `hits`, the length of its result is recorded as ``aether.hits``. Off (`enabled` is
    False), the call goes straight to the method. Only for methods defined in a class body
    (see `_Traced`)."""

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def traced_async(self: Any, /, *args: Any, **kwargs: Any) -> Any:
                if not enabled():
                    return await fn(self, *args, **kwargs)
                with _operation(op, self, hits) as note:
                    result = await fn(self, *args, **kwargs)
                    note(result)
                    return result

            return _Traced(fn, traced_async)  # type: ignore[return-value]

        @functools.wraps(fn)
        def traced_sync(self: Any, /, *args: Any, **kwargs: Any) -> Any:
            if not enabled():
                return fn(self, *args, **kwargs)
            with _operation(op, self, hits) as note:
                result = fn(self, *args, **kwargs)
                note(result)
                return result

        return _Traced(fn, traced_sync)  # type: ignore[return-value]

    return decorate


def span(
    name: str, kind: SpanKind, attributes: dict[str, Any]
) -> AbstractContextManager[Span | None]:
    """A span for an interface call (an MCP tool call, a CLI command): yields None while
    tracing is off; an exception leaving it is recorded as the span's error."""
    return _interface_span(name, kind, attributes) if enabled() and _tracing else nullcontext()


@contextmanager
def _interface_span(name: str, kind: SpanKind, attributes: dict[str, Any]) -> Iterator[Span]:
    with _tracer.start_as_current_span(
        name, kind=kind, attributes=attributes, record_exception=False,
        set_status_on_exception=False,
    ) as current:  # fmt: skip
        try:
            yield current
        except BaseException as exc:
            record_error(current, exc)
            raise


def fail(exc: BaseException) -> None:
    """Record `exc` on the current span (an error reported rather than raised)."""
    if _tracing:
        record_error(trace.get_current_span(), exc)
