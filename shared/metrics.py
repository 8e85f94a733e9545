"""Prometheus metrics: `GET /metrics` on every Binôme process, in the text exposition format.

Two kinds of series, one registry per app:
- Measured as things happen: HTTP requests by route template (`binome_http_requests_total`,
  `binome_http_request_duration_seconds`, by the middleware below), each consumer group's
  batch processing time (`binome_consumer_batch_duration_seconds`), and what a service declares
  of its own (`ServiceDef.metrics`: matching's run durations and sizes).
- Read at scrape time from the same probes as `/status` (shared.health), so the two never
  disagree: databases and bus up or down, outbox backlog and its oldest row's age, relay
  publications, consumer applied / dead-lettered / retried and lag, dead letters, timers due.

Labels: `service` (enrollment, matching...), `group` for a consumer group. A broker outage shows
as `binome_bus_up 0` with the databases still up: degraded, not down (see /readyz).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.health import snapshot

if TYPE_CHECKING:
    from fastapi import FastAPI

    from shared.companion import Companion

# Request latencies, seconds: from a cached read to a matching run.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNMATCHED = "<unmatched>"  # a path no route serves: one series, not one per path tried

router = APIRouter(tags=["ops"])


def relabelled(collector: Collector, **labels: str) -> Iterator[Metric]:
    """The families of `collector` (a metric kept out of any registry), each sample carrying
    `labels` too: one service's or one group's own series in the app's families."""
    for family in collector.collect():
        out = Metric(family.name, family.documentation, family.type, family.unit)
        out.samples = [s._replace(labels={**labels, **s.labels}) for s in family.samples]
        yield out


def merged(families: Iterable[Metric]) -> Iterator[Metric]:
    """Families of the same name (one per service or group) as one family each."""
    by_name: dict[str, Metric] = {}
    for family in families:
        into = by_name.get(family.name)
        if into is None:
            by_name[family.name] = family
        else:
            into.samples.extend(family.samples)
    yield from by_name.values()


class AppMetrics:
    """The registry of one app (one process's services) and what it measures: `requests`
    (the HTTP middleware's), `own` (each service's declared series), `loops` (what its
    background loops did and the /status probes). The embedded server's API process measures
    requests and its own; its loops process the loops (shared.companion)."""

    def __init__(self, *, requests: bool = True, own: bool = True, loops: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.own, self.loops = own, loops
        if requests:
            self.requests = Counter(
                "binome_http_requests",
                "HTTP requests answered, by method, route template and status code.",
                ["method", "route", "status"],
                registry=self.registry,
            )
            self.duration = Histogram(
                "binome_http_request_duration_seconds",
                "Time to answer an HTTP request (until its last byte), by method and route "
                "template.",
                ["method", "route"],
                buckets=HTTP_BUCKETS,
                registry=self.registry,
            )
        self.snapshot: dict[str, Any] = {}
        self.registry.register(_Snapshot(self))
        self.runtimes: Mapping[str, Any] = {}


class _Snapshot(Collector):
    """The families read at scrape time: the last `/status`-like snapshot, plus the series
    each runtime keeps out of any registry (consumer batches, a service's own)."""

    def __init__(self, metrics: AppMetrics) -> None:
        self._m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self._m
        if m.snapshot:
            yield from _status_families(m.snapshot)
        own: list[Metric] = []
        for name, runtime in m.runtimes.items():
            if m.loops:
                own.extend(relabelled(runtime.consumer.stats.batch_seconds, group=runtime.group))
            if m.own:
                for collector in runtime.definition.metrics:
                    own.extend(relabelled(collector, service=name))
        yield from merged(own)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def _counter(name: str, doc: str, labels: list[str]) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=labels)


def _status_families(snap: dict[str, Any]) -> Iterator[Metric]:
    """`/status`'s figures as Prometheus families (a probe that failed: its series absent,
    and the `_up` gauge says why)."""
    bus_up = _gauge("binome_bus_up", "1 if the message bus answers; 0: degraded.", [])
    bus_up.add_metric([], 1.0 if snap["bus"] == "ok" else 0.0)
    yield bus_up
    db_up = _gauge("binome_database_up", "1 if the service's database answers.", ["service"])
    unsent = _gauge("binome_outbox_unsent", "Outbox rows not yet published.", ["service"])
    oldest = _gauge(
        "binome_outbox_oldest_unsent_age_seconds",
        "Age of the oldest unpublished outbox row (0: none).",
        ["service"],
    )
    published = _counter(
        "binome_relay_published", "Events the outbox relay published.", ["service"]
    )
    relay_failures = _gauge(
        "binome_relay_consecutive_failures",
        "Consecutive failed relay attempts (0: healthy).",
        ["service"],
    )
    applied = _counter("binome_consumer_applied", "Events applied by the group.", ["group"])
    dead = _counter(
        "binome_consumer_dead_lettered",
        "Events the group sent to its dead-letter topic.",
        ["group"],
    )
    retries = _counter(
        "binome_consumer_transient_retries",
        "Batches retried after a transient failure (database or broker away).",
        ["group"],
    )
    waiting = _gauge(
        "binome_consumer_waiting_seconds",
        "How long the group has been waiting out a failure (0: not waiting).",
        ["group"],
    )
    lag = _gauge("binome_consumer_lag", "Records the group has yet to consume.", ["group"])
    dlq = _gauge("binome_dead_letters", "Records in the group's dead-letter topic.", ["group"])
    missing = _gauge(
        "binome_missing_topics", "Topics the service needs that the bus lacks.", ["service"]
    )
    timers_due = _gauge("binome_timers_due", "Durable timers due and not yet fired.", ["service"])
    timers_pending = _gauge("binome_timers_pending", "Durable timers armed.", ["service"])
    timers_parked = _gauge(
        "binome_timers_parked", "Timers parked after failing repeatedly.", ["service"]
    )
    timers_late = _gauge(
        "binome_timers_oldest_due_age_seconds",
        "How late the oldest due timer is (0: none due).",
        ["service"],
    )
    fired = _counter("binome_timers_fired", "Durable timers fired.", ["service"])
    for service, s in snap["services"].items():
        outbox = s.get("outbox")
        db_up.add_metric([service], 1.0 if isinstance(outbox, dict) else 0.0)
        if isinstance(outbox, dict):
            unsent.add_metric([service], outbox["unsent"])
            oldest.add_metric([service], outbox["oldest_unsent_age_s"] or 0.0)
        relay = s["relay"]
        published.add_metric([service], relay["published"])
        relay_failures.add_metric([service], relay["consecutive_failures"])
        c = s["consumer"]
        group = [c["group"]]
        applied.add_metric(group, c["applied"])
        dead.add_metric(group, c["dead_lettered"])
        retries.add_metric(group, c["transient_retries"])
        waiting.add_metric(group, c["waiting_for_s"] or 0.0)
        if isinstance(c.get("lag"), int):
            lag.add_metric(group, c["lag"])
        if isinstance(s.get("dead_letters"), int):
            dlq.add_metric(group, s["dead_letters"])
        if isinstance(s.get("missing_topics"), list):
            missing.add_metric([service], len(s["missing_topics"]))
        t = s.get("timers")
        if isinstance(t, dict):
            timers_due.add_metric([service], t["due"])
            timers_pending.add_metric([service], t["pending"])
            timers_parked.add_metric([service], t["parked"])
            timers_late.add_metric([service], t["oldest_due_age_s"] or 0.0)
            fired.add_metric([service], t["fired"])
    yield from (db_up, unsent, oldest, published, relay_failures, applied, dead, retries)
    yield from (waiting, lag, dlq, missing, timers_due, timers_pending, timers_parked)
    yield from (timers_late, fired)


class RequestMetrics:
    """Counts and times every HTTP answer by its route template (`/v1/matches/{match_id}`,
    never the raw path: bounded series), outermost, so refusals (413, 429) count too."""

    def __init__(self, app: ASGIApp, metrics: AppMetrics) -> None:
        self.app = app
        self.m = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception escaping every handler is answered 500 by the server
        t0 = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            method = scope["method"]
            self.m.requests.labels(method, template, str(status)).inc()
            self.m.duration.labels(method, template).observe(time.perf_counter() - t0)


def install_metrics(
    app: FastAPI, *, requests: bool = True, own: bool = True, loops: bool = True
) -> AppMetrics:
    """`/metrics` and the request middleware (add it after every other: outermost); what it
    measures: `AppMetrics`."""
    metrics = AppMetrics(requests=requests, own=own, loops=loops)
    app.state.metrics = metrics
    app.include_router(router)
    if requests:
        app.add_middleware(RequestMetrics, metrics=metrics)
    return metrics


@router.get("/metrics", include_in_schema=False)
async def scrape(request: Request) -> Response:
    """Prometheus exposition (the text format, or OpenMetrics when the scraper asks for it):
    the probes read now, then every family of the app's registry; in the embedded server's API
    process, then the loops process's families (`binome_loops_process_up` 0: not answering)."""
    metrics: AppMetrics = request.app.state.metrics
    metrics.runtimes = request.app.state.runtimes
    if metrics.loops:
        metrics.snapshot = await snapshot(request.app.state.runtimes, request.app.state.bus)
    accept = request.headers.get("accept", "")
    encode, content_type = choose_encoder(accept)
    body = encode(metrics.registry)
    companion: Companion | None = request.app.state.companion
    if companion is not None:
        theirs = await companion.metrics(accept)
        up = GaugeMetricFamily(
            "binome_loops_process_up",
            "1 if the embedded server's loops process answers (its families follow).",
            value=0.0 if theirs is None else 1.0,
        )
        body = _joined(body, encode(_Families([up])), theirs or b"")
    return Response(body, headers={"content-type": content_type})


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def _joined(*expositions: bytes) -> bytes:
    """Expositions of distinct families as one: OpenMetrics ends once, with `# EOF`."""
    eof = b"# EOF\n"
    parts = [e.removesuffix(eof) for e in expositions]
    return b"".join(parts) + (eof if expositions[0].endswith(eof) else b"")
