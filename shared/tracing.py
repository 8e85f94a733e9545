"""OpenTelemetry: one tracer provider per process, W3C trace context across HTTP and events.

A trace runs HTTP -> DB -> outbox -> bus -> consumer -> DB -> outbox -> ...: the context active
when an event enters the outbox is stored with it (`current_trace_headers`), the relay's
producer span continues it, and the consumer's span is started from the message's headers.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

from shared.settings import Settings

_configured = False


class JsonLinesExporter(SpanExporter):
    """Appends each finished span to a file as one JSON object per line."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for s in spans:
            ctx = s.get_span_context()
            if ctx is None:
                continue
            lines.append(
                json.dumps(
                    {
                        "trace_id": format(ctx.trace_id, "032x"),
                        "span_id": format(ctx.span_id, "016x"),
                        "parent_id": format(s.parent.span_id, "016x") if s.parent else None,
                        "name": s.name,
                        "kind": s.kind.name,
                        "service": s.resource.attributes.get("service.name"),
                        "attributes": {k: _plain(v) for k, v in (s.attributes or {}).items()},
                        "start": s.start_time,
                        "end": s.end_time,
                    }
                )
            )
        # One append of the whole batch: the processes of `binome serve --workers N` share
        # the file, and a single write(2) to an O_APPEND file is never interleaved.
        data = ("\n".join(lines) + "\n").encode()
        with self._lock:
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        return SpanExportResult.SUCCESS


def _plain(v: object) -> object:
    return list(v) if isinstance(v, tuple) else v


class WorkOnly(Sampler):
    """Spans only where work happens: a database statement or connection that belongs to no
    request, event or timer (a poll of the outbox or the timers finding nothing, a probe) is
    not traced; one inside them is, with its trace. The rest is decided by the sampler the
    standard `OTEL_TRACES_SAMPLER` variables choose (parent-based always-on by default).

    The SQLAlchemy instrumentation starts its spans as CLIENT spans with no attribute yet, so a
    root CLIENT span is the mark of such a statement (Binôme makes no other outgoing call
    outside a span)."""

    def __init__(self, then: Sampler, *, chosen: bool) -> None:
        self._then = then
        self._chosen = chosen  # by OTEL_TRACES_SAMPLER: applied whether spans go anywhere

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if kind is SpanKind.CLIENT and not parent.is_valid:
            return SamplingResult(Decision.DROP)
        if not (_exporting or self._chosen):
            # Nowhere to send spans: no trace started here (recording them cost a tenth of a
            # small request's CPU), a caller's sampled trace followed (its traceparent goes
            # on, sampled, to services that may export).
            return _UNEXPORTED.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )
        return self._then.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"WorkOnly{{{self._then.get_description()}}}"


_UNEXPORTED = sampling.ParentBased(sampling.ALWAYS_OFF)
_exporting = False  # a span processor (an exporter) has been added
_chosen = False  # OTEL_TRACES_SAMPLER is set: its choice applies whether spans go anywhere


def traced() -> bool:
    """Whether this process records spans of its own: an exporter receives them, or a sampler
    was chosen. Otherwise a request is not traced at all, its caller's trace context only
    followed (made current, so the events it emits carry it on)."""
    return _exporting or _chosen


def export_to(processor: SpanProcessor) -> None:
    """Finished spans go to this processor too (an exporter's). Until one is added, the
    process starts no trace of its own (WorkOnly)."""
    global _exporting
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider), "setup_tracing first"
    provider.add_span_processor(processor)
    _exporting = True


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def setup_tracing(service_name: str, settings: Settings) -> None:
    """Install the process-wide tracer provider (once; later calls are no-ops).

    The standard variables are honoured: `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`
    (else `service.name` is the service, or `binome` for the embedded process),
    `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (and the exporter's
    other `OTEL_EXPORTER_OTLP_*`), `OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_SDK_DISABLED`.
    `BINOME_OTEL_EXPORTER_OTLP_ENDPOINT` remains for a collector given as a Binôme setting."""
    global _configured, _chosen
    if _configured:
        return
    attributes = {} if _env("OTEL_SERVICE_NAME") else {"service.name": service_name}
    _chosen = _env("OTEL_TRACES_SAMPLER") is not None
    sampler = WorkOnly(sampling._get_from_env_or_default(), chosen=_chosen)
    trace.set_tracer_provider(TracerProvider(resource=Resource.create(attributes), sampler=sampler))
    if settings.trace_file:
        export_to(SimpleSpanProcessor(JsonLinesExporter(settings.trace_file)))
    if _env("OTEL_EXPORTER_OTLP_ENDPOINT") or _env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        export_to(BatchSpanProcessor(OTLPSpanExporter()))  # from OTEL_*
    elif settings.otel_exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        export_to(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    # Every engine created from now on gets a span per statement.
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().instrument()
    _configured = True


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


# The tenant on a span (requests, and events produced and consumed).
ORG = "binome.org"


def tag_org(org: str) -> None:
    """The span in progress (a request's, once its caller is known) serves `org`."""
    trace.get_current_span().set_attribute(ORG, org)


def producer_attributes(
    system: str, *, topic: str, event_id: str, key: str | None, org: str | None
) -> dict[str, str]:
    """OpenTelemetry's messaging conventions for a send (semantic conventions 1.27+)."""
    attrs = {
        "messaging.system": system,
        "messaging.operation.type": "send",
        "messaging.operation.name": "publish",
        "messaging.destination.name": topic,
        "messaging.message.id": event_id,
    }
    if key is not None and system == "kafka":
        attrs["messaging.kafka.message.key"] = key
    if org:
        attrs[ORG] = org
    return attrs


def consumer_attributes(
    system: str, *, group: str, message: Any, event_id: str, org: str
) -> dict[str, str | int]:
    """OpenTelemetry's messaging conventions for processing a received message."""
    attrs: dict[str, str | int] = {
        "messaging.system": system,
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.consumer.group.name": group,
        "messaging.destination.name": message.topic,
        "messaging.destination.partition.id": str(message.partition),
        "messaging.message.id": event_id,
        ORG: org,
    }
    if system == "kafka":
        attrs["messaging.kafka.offset"] = message.offset
    return attrs


def current_trace_headers() -> dict[str, str]:
    """The current trace context as W3C headers (a copy), computed once per context: a bulk use
    case asks for them for each of the thousands of events and timers it writes."""
    current = otel_context.get_current()
    cached = _last_headers.get()
    if cached is None or cached[0] is not current:
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=current)
        cached = (current, carrier)
        _last_headers.set(cached)
    return dict(cached[1])


_last_headers: ContextVar[tuple[Context, dict[str, str]] | None] = ContextVar(
    "binome_trace_headers", default=None
)


# Where a durable timer keeps the trace context that armed it (in its payload).
TRACE_KEY = "_trace"


def context_from(headers: Mapping[str, str]) -> Context:
    return propagate.extract(dict(headers))


# No trace context carried; instrumentations standing down.
_UNTRACED = otel_context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True, Context())


@contextmanager
def working(
    tracer_: trace.Tracer,
    name: str,
    carried: Mapping[str, str],
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Callable[[], Attributes] = dict,
) -> Iterator[None]:
    """A piece of work (an event applied, a timer fired) continuing the trace context it
    carries: in a span of its own while spans go somewhere (`attributes` made only then),
    else only followed (`following`)."""
    if not traced():
        with following(carried):
            yield
        return
    with tracer_.start_as_current_span(
        name, context=context_from(carried), kind=kind, attributes=attributes()
    ):
        yield


@contextmanager
def following(headers: Mapping[str, str]) -> Iterator[None]:
    """Untraced work (a request, an event or a timer while nothing receives spans): the trace
    context it carries is made current, so what it emits carries it on, and instrumentations
    stand down (a database statement's span was built, then dropped, at some cost each)."""
    if any(headers.values()):
        ctx = otel_context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True, context_from(headers))
    else:
        ctx = _UNTRACED
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)
