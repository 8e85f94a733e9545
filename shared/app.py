"""Builds the FastAPI application for one service or, in the embedded mode, for all five.

The lifespan wires the process: tracing, one bus (Kafka or the embedded log), the topics, each
service's runtime (migrations, outbox relay, consumer group). Routes reach their service's
runtime through `uow_dependency(name)`, so the same router works in either mode.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import types
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from shared import health, logs
from shared.api import no_nul_stated
from shared.asyncapi import document as asyncapi_document
from shared.clock import Clock
from shared.companion import Companion, end_with_parent, listen_for_wake_ups, socket_paths
from shared.edge import PROBES, install_edge
from shared.http_errors import install_error_handlers, routes_of
from shared.messaging.bus import Bus
from shared.messaging.kafka_bus import KafkaBus
from shared.messaging.local_bus import LocalBus
from shared.metrics import install_metrics
from shared.problems import only_problem_media_type
from shared.service import ServiceDef, ServiceRuntime
from shared.settings import BusKind, Settings
from shared.tokens import VerifiedTokens
from shared.tracing import following, setup_tracing, traced
from shared.uow import UnitOfWork
from shared.vocabulary import describe

log = logging.getLogger(__name__)


def make_bus(settings: Settings, *, client_id: str) -> Bus:
    if settings.bus is BusKind.kafka:
        return KafkaBus(
            settings.kafka_bootstrap,
            client_id=client_id,
            partitions=settings.topic_partitions,
            replication=settings.topic_replication,
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return LocalBus(settings.data_dir / "bus.db", partitions=settings.topic_partitions)


# The cyclic collector's thresholds: a young collection every 50,000 net allocations instead of
# 700, the older generations as before. A batch allocating a million objects (a programme's
# 100,000 relationships re-judged, a cohort matched) otherwise runs over a thousand collections,
# each walking everything it made so far: 1.5 to 3 s of a 12 s re-judging
# (scripts/bench-timers.sh). Memory held by cyclic garbage between collections stays small.
GC_THRESHOLDS = (50_000, 10, 10)

# How long a thread holding the GIL keeps it when another wants it (Python's default: 5 ms).
# The event loop shares the GIL with its worker threads (the matching engine's Python parts,
# SQLite's thread): each time it gives the GIL up (a syscall, a read) it waits up to this long
# to take it back, so a request served while a cohort is matched waited that many times 5 ms.
# At 1 ms, `/healthz` during a 10,000 x 2,000 run and publication: 72 ms at worst instead
# of 100 (scripts/bench-api-matching.sh, back to back).
SWITCH_INTERVAL = 0.001


def settle_heap() -> None:
    """Everything imported and wired so far lives as long as the process: out of the garbage
    collector's sight (gc.freeze), so that its full collections, which a batch creating many
    objects triggers (a programme re-judged, a matching run), do not rescan the hundreds of
    thousands of objects the libraries (numpy, scipy, OR-Tools, SQLAlchemy) hold; and the
    collector run less often (GC_THRESHOLDS); and the GIL handed to the event loop sooner
    (SWITCH_INTERVAL). Once per process (the first app started)."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        sys.setswitchinterval(SWITCH_INTERVAL)


@asynccontextmanager
async def wired(
    definitions: Sequence[ServiceDef],
    settings: Settings,
    *,
    name: str,
    clock: Clock | None = None,
    wake_elsewhere: Callable[[str], None] | None = None,
) -> AsyncIterator[tuple[Bus, dict[str, ServiceRuntime]]]:
    """The process's bus and its services' runtimes, started (migrations, then the background
    loops unless they run elsewhere: `ServiceRuntime`), stopped on the way out."""
    bus = make_bus(settings, client_id=name)
    runtimes = {
        d.name: ServiceRuntime(d, settings, bus, clock, wake_elsewhere=wake_elsewhere)
        for d in definitions
    }
    prefix = settings.topic_prefix
    await bus.ensure_topics(sorted({t for d in definitions for t in d.topics(prefix)}))
    for runtime in runtimes.values():
        await runtime.start()
    await bus.start()
    try:
        yield bus, runtimes
    finally:
        for runtime in runtimes.values():
            await runtime.stop_relay()
        await bus.stop()
        for runtime in runtimes.values():
            await runtime.dispose()


def build_app(
    definitions: Sequence[ServiceDef],
    settings: Settings | None = None,
    *,
    name: str,
    clock: Clock | None = None,
    companion: Companion | None = None,
) -> FastAPI:
    """`clock`: the time every service of the app sees (tests pass a ManualClock).
    `companion`: the background loops run in the loops process it starts (shared.companion);
    this process serves the API."""
    settings = settings or Settings()
    wake_elsewhere = companion.waker if companion is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with wired(
            definitions, settings, name=name, clock=clock, wake_elsewhere=wake_elsewhere
        ) as (bus, runtimes):
            app.state.runtimes = runtimes
            app.state.bus = bus
            if companion is not None:
                await companion.start()
            settle_heap()
            try:
                yield
            finally:
                if companion is not None:
                    await companion.stop()

    setup_tracing(name, settings)
    about: dict[str, Any] = {
        "title": f"Binôme {name}",
        "version": "1",
        "lifespan": lifespan,
        "description": "Binôme: internal mentoring programmes. All resources need a bearer JWT.",
        # FastAPI's own spans (dependencies, endpoint, serialisation) only when traced.
        "telemetry": {"exclude": _untraced},
    }
    if settings.docs:  # Swagger UI and ReDoc from the package's own assets, no CDN
        app = FastAPIOffline(static_url="/docs-assets", **about)
    else:
        app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, **about)
    app.state.settings = settings
    app.state.companion = companion
    app.state.verified_tokens = VerifiedTokens()
    install_error_handlers(app)
    for d in definitions:
        app.include_router(d.router)

    app.include_router(health.router)

    @app.get("/asyncapi.json", include_in_schema=False)
    def asyncapi() -> dict[str, Any]:
        """The events this process's services send and receive (AsyncAPI 3.0)."""
        return asyncapi_document(definitions, title=f"Binôme {name} events")

    app.state.routes = routes_of(*(d.router for d in definitions), health.router)
    _document(app, name)

    _trace_requests(app)
    install_edge(app, settings)
    if settings.cors_origins:  # before the edge: a preflight is answered, not limited
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            # Conditional requests (shared.conditional): the tags sent, and read.
            allow_headers=[
                "Authorization",
                "Content-Type",
                "traceparent",
                "If-Match",
                "If-None-Match",
            ],
            expose_headers=["Retry-After", "Location", "ETag"],
            max_age=600,
        )
    install_metrics(app, loops=companion is None)  # outermost: refusals at the edge counted
    return app


def build_loops_app(
    definitions: Sequence[ServiceDef], settings: Settings, *, name: str, parent: int
) -> FastAPI:
    """The embedded server's loops process (shared.companion): every service's background
    loops, woken by the API process `parent`'s commits; it answers that process's /livez,
    /status and /metrics on a Unix socket, and ends with it."""
    wake_path, _ = socket_paths(settings.data_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with wired(definitions, settings, name=name) as (bus, runtimes):
            app.state.runtimes = runtimes
            app.state.bus = bus
            wake_ups = {k: v for r in runtimes.values() for k, v in r.wake_ups().items()}
            stop_listening = listen_for_wake_ups(wake_path, wake_ups)
            watch = asyncio.create_task(end_with_parent(parent), name="end-with-parent")
            settle_heap()
            try:
                yield
            finally:
                watch.cancel()
                stop_listening()

    setup_tracing(name, settings)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.companion = None
    app.include_router(health.router)
    install_metrics(app, requests=False, own=False)
    return app


def _untraced(scope: Scope) -> bool:
    return not traced() or scope.get("path", "").startswith(PROBES)


_TRACE_HEADERS = (b"traceparent", b"tracestate", b"baggage")


class _TracedWhenExported:
    """A request is traced (OpenTelemetry's ASGI middleware: a server span named by its route)
    while spans go somewhere (`tracing.traced()`). Otherwise its caller's trace context is only
    followed (`tracing.following`). Tracing a request nobody receives cost a tenth of a small
    request's CPU."""

    def __init__(self, traced: ASGIApp) -> None:
        self.app = traced  # where FastAPI's own telemetry looks for OpenTelemetry's middleware
        self.plain: ASGIApp = traced.app  # type: ignore[attr-defined]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or traced():
            await self.app(scope, receive, send)
            return
        carrier = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in scope["headers"]
            if k in _TRACE_HEADERS
        }
        with following(carrier):
            await self.plain(scope, receive, send)


def _trace_requests(app: FastAPI) -> None:
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls=",".join(p.strip("/") for p in PROBES),  # probes and scrapes: no trace
        exclude_spans=["receive", "send"],  # a span per ASGI message says nothing to a reader
    )
    instrumented = app.build_middleware_stack

    def build_middleware_stack(self: FastAPI) -> ASGIApp:
        outer = instrumented()
        if not (
            isinstance(outer, ServerErrorMiddleware)
            and isinstance(outer.app, OpenTelemetryMiddleware)
        ):  # the instrumentation's stack changed shape: say so rather than trace nothing
            raise RuntimeError(f"unexpected middleware stack from the instrumentation: {outer}")
        outer.app = _TracedWhenExported(outer.app)
        return outer

    app.build_middleware_stack = types.MethodType(build_middleware_stack, app)  # type: ignore[method-assign]


def _document(app: FastAPI, name: str) -> None:
    """The OpenAPI document as clients need it: error answers as problems only, and a server
    (the process's own address: behind the gateway, the same paths)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = describe(no_nul_stated(only_problem_media_type(build())))
            schema["servers"] = [{"url": "/", "description": f"this {name} process"}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def uow_dependency(service: str):  # type: ignore[no-untyped-def]
    """`Annotated[UnitOfWork, uow_dependency("matching")]`: a unit of work on that service's DB."""

    async def provide(request: Request) -> AsyncIterator[UnitOfWork]:
        runtime: ServiceRuntime = request.app.state.runtimes[service]
        logs.serving(service)  # this request's log records are the service's
        async with runtime.uow(read_only=request.method in ("GET", "HEAD")) as uow:
            yield uow

    return Depends(provide)
