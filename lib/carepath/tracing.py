"""Tracing with OpenTelemetry: one trace from the hospital's message to the receiver's delivery.

Off unless the standard OpenTelemetry settings ask for it: ``OTEL_TRACES_EXPORTER`` (``otlp`` or
``console``), or an OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``);
``OTEL_SDK_DISABLED=true`` turns it off whatever else is set. The exporter, the batch processor and the
sampler read their own ``OTEL_*`` settings (``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_BSP_SCHEDULE_DELAY``,
``OTEL_TRACES_SAMPLER``, ...); the service name is ``carepath-<service>`` unless ``OTEL_SERVICE_NAME``
says otherwise.

The trace context crosses Kafka inside the event, as the CloudEvents distributed-tracing extension
attribute ``traceparent`` (W3C Trace Context): intake starts the trace (or continues the caller's, from the
HTTP ``traceparent`` header), and each service's span is the parent of what it publishes. With tracing
off, a service passes an event's ``traceparent`` on to what it publishes unchanged, so one traced service
among untraced ones still joins the trace.

Span names and attributes are fixed words and configuration names (the service, the operation, the event
type, the topic, the endpoint, the outcome): never a patient id, an event id or a clinical value. An
exception is recorded by its type only; its message may quote the input.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
    set_span_in_context,
)

__all__ = [
    "CallerTraceMiddleware",
    "SpanKind",
    "caller",
    "configure",
    "enabled",
    "parent_of",
    "shutdown",
    "span",
    "valid",
]

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
Attributes = Mapping[str, str | int | float | bool]

_tracer: Tracer | None = None
_provider: Any = None


def wanted(environ: Mapping[str, str] = os.environ) -> str | None:
    """The exporter the ``OTEL_*`` settings ask for (``otlp`` or ``console``), or None: tracing off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        if exporter == "none":
            return None
        if exporter not in ("otlp", "console"):
            raise ValueError(f"OTEL_TRACES_EXPORTER={exporter!r}: carepath exports by otlp or console")
        return exporter
    if environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return "otlp"
    return None


def configure(service: str, environ: Mapping[str, str] = os.environ, exporter: Any = None) -> bool:
    """Start tracing for ``service`` when the settings ask for it (or ``exporter`` is given: a span
    exporter, e.g. the SDK's in-memory one in tests, used with a processor that exports each span as it
    ends). Returns whether tracing is on."""
    global _tracer, _provider
    kind = "given" if exporter is not None else wanted(environ)
    if kind is None:
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    name = environ.get("OTEL_SERVICE_NAME") or f"carepath-{service}"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if _provider is not None:
        _provider.shutdown()
    _provider = provider
    _tracer = provider.get_tracer("carepath")
    return True


def shutdown() -> None:
    """Export what is buffered and stop (also done at interpreter exit)."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


def enabled() -> bool:
    return _tracer is not None


def valid(traceparent: object) -> str | None:
    """``traceparent`` when it is a well-formed W3C trace context (version 00, ids not all zero)."""
    if not isinstance(traceparent, str):
        return None
    m = _TRACEPARENT.match(traceparent)
    if m is None or m.group(1) == "ff" or set(m.group(2)) == {"0"} or set(m.group(3)) == {"0"}:
        return None
    return traceparent


def parent_of(event: Mapping[str, Any]) -> str | None:
    """The trace context an event carries (its CloudEvents ``traceparent``), when well formed."""
    return valid(event.get("traceparent"))


def _context(traceparent: str | None) -> Context:
    """The context whose current span is the remote parent ``traceparent``; empty: a new trace."""
    parent = _span_context(traceparent) if traceparent is not None else None
    return set_span_in_context(NonRecordingSpan(parent)) if parent is not None else Context()


def _format(ctx: SpanContext) -> str:
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


class Span:
    """The span of one unit of work, as the code that does it sees it: the context to give what it
    publishes, and a place for fixed attributes and the outcome."""

    __slots__ = ("_span", "traceparent")

    def __init__(self, span: Any, traceparent: str | None) -> None:
        self._span = span
        self.traceparent = traceparent

    def set(self, name: str, value: str | int | float | bool) -> None:
        if self._span is not None:
            self._span.set_attribute(name, value)

    def failed(self, reason: str) -> None:
        """Mark the span as failed with a fixed reason (a label, never a message read from input)."""
        if self._span is not None:
            self._span.set_status(Status(StatusCode.ERROR, reason))


class _Untraced:
    """What :func:`span` gives with tracing off: no span, the parent's context passed on."""

    __slots__ = ("traceparent",)

    def __init__(self, traceparent: str | None) -> None:
        self.traceparent = traceparent

    def __enter__(self) -> Span:
        return Span(None, self.traceparent)

    def __exit__(self, *_: object) -> None:
        return None


def span(
    name: str,
    parent: str | None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Attributes | None = None,
    links: Sequence[str] = (),
) -> AbstractContextManager[Span]:
    """A span named ``name``, child of the trace context ``parent`` (a ``traceparent``; None: a new
    trace). With tracing off it is no span, and its ``traceparent`` is ``parent`` itself, passed on."""
    if _tracer is None:
        return _Untraced(parent)
    return _traced(_tracer, name, parent, kind, attributes, links)


@contextmanager
def _traced(
    tracer: Tracer,
    name: str,
    parent: str | None,
    kind: SpanKind,
    attributes: Attributes | None,
    links: Sequence[str],
) -> Iterator[Span]:
    linked = [Link(ctx) for tp in links if (ctx := _span_context(tp)) is not None]
    with tracer.start_as_current_span(
        name,
        context=_context(parent),
        kind=kind,
        attributes=dict(attributes or {}),
        links=linked,
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield Span(current, _format(current.get_span_context()))
        except BaseException as exc:
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def _span_context(traceparent: str) -> SpanContext | None:
    tp = valid(traceparent)
    if tp is None:
        return None
    _, trace_id, span_id, flags = tp.split("-")
    return SpanContext(
        int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(int(flags, 16))
    )


_caller: ContextVar[str | None] = ContextVar("carepath_caller_traceparent", default=None)


def caller() -> str | None:
    """The trace context of the HTTP request being served (its ``traceparent`` header), if any."""
    return _caller.get()


class CallerTraceMiddleware:
    """ASGI middleware: the request's W3C ``traceparent`` header, when well formed, becomes the parent
    of the spans the request's handling starts (:func:`caller`)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"traceparent":
                    token = _caller.set(valid(value.decode("latin-1")))
                    try:
                        await self.app(scope, receive, send)
                    finally:
                        _caller.reset(token)
                    return
        await self.app(scope, receive, send)
