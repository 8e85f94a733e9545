"""Traces worth reading: the core loop's span tree, messaging spans after OpenTelemetry's
conventions (producer spans covering the send), the tenant on every span of a request or an
event, and no span at all for a process that has nothing to do."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, Tracer
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import select

from shared import tracing
from shared.app import build_app
from shared.settings import Settings
from shared.tracing import ORG, export_to
from tests import testkit
from tests.helpers import Api, eventually
from tests.helpers.scenario import run_core_loop
from tests.testkit import OUTBOX


@pytest.fixture
def spans(app) -> Iterator[InMemorySpanExporter]:  # type: ignore[no-untyped-def]
    """Every span the process finishes from now on (the SDK's in-memory exporter, beside the
    process's own processors)."""
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    export_to(processor)
    yield exporter
    processor.shutdown()  # stops exporting; the provider keeps a no-op processor


def _by_id(finished: tuple[ReadableSpan, ...]) -> dict[int, ReadableSpan]:
    return {s.context.span_id: s for s in finished}


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


async def test_the_core_loop_is_one_tree_of_messaging_spans(
    api: Api, spans: InMemorySpanExporter
) -> None:
    result = await run_core_loop(api)
    await asyncio.sleep(0.5)  # the last consumers' spans end after the state the loop waited on
    tid = int(result.second_feedback_trace_id, 16)
    tree = tuple(s for s in spans.get_finished_spans() if s.context.trace_id == tid)
    by_id = _by_id(tree)
    roots = [s for s in tree if s.parent is None or s.parent.span_id not in by_id]
    # One root: the rating request (its parent is the caller's, outside the process).
    assert [(r.name, r.kind) for r in roots] == [("POST /v1/feedback", SpanKind.SERVER)]
    root = roots[0]
    assert root.attributes[ORG] == api.org
    producers = [s for s in tree if s.kind is SpanKind.PRODUCER]
    consumers = [s for s in tree if s.kind is SpanKind.CONSUMER]
    assert producers and consumers
    for span in producers + consumers:
        a = span.attributes
        assert a["messaging.system"] == "binome_embedded_log"  # true to the bus: not Kafka
        assert a["messaging.operation.type"] == ("send" if span in producers else "process")
        assert a["messaging.destination.name"].endswith(".events")
        assert a[ORG] == api.org
        assert root in _ancestors(span, by_id)
    # A producer span covers the send: it lasts, and ends after it started its consumers'
    # parent context, i.e. each consumer span hangs below a producer span.
    assert all(s.end_time > s.start_time for s in producers)
    for span in consumers:
        assert by_id[span.parent.span_id].kind is SpanKind.PRODUCER  # type: ignore[union-attr]
    assert not [s for s in tree if s.name.endswith((" http send", " http receive"))]
    names = {s.name for s in tree}
    assert "publish binome.feedback.feedback.submitted.v1" in names
    assert "consume binome.feedback.case.action_taken.v1" in names
    assert "publish binome.matching.match.proposed.v1" in names
    assert "consume binome.matching.match.ended.v1" in names
    # The database statements of that work belong to the trace.
    assert any(s.kind is SpanKind.CLIENT for s in tree)


async def test_an_idle_process_emits_no_span(tmp_path: Path) -> None:
    """Sixty polls of the outbox and of the timers each, nothing to do: nothing traced (a
    poll was a one-span trace of its SQL statement, 228 spans a second idle)."""
    settings = Settings(
        data_dir=tmp_path / "data", outbox_poll_interval_s=0.05, timer_poll_interval_s=0.05
    )
    app = build_app([testkit.definition("testkit")], settings, name="testkit")
    async with app.router.lifespan_context(app):
        exporter = InMemorySpanExporter()
        processor = SimpleSpanProcessor(exporter)
        await asyncio.sleep(0.5)  # start-up's own statements done
        export_to(processor)
        try:
            await asyncio.sleep(3.0)
        finally:
            processor.shutdown()
    assert exporter.get_finished_spans() == ()


async def test_a_process_exporting_nothing_follows_its_callers_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing receives spans: a request starts none (neither OpenTelemetry's server span nor
    FastAPI's own, nor one per database statement), and neither do the relay sending its event
    and the consumer applying it; yet the event carries the caller's trace context on, so a
    service that does export continues the caller's trace."""
    monkeypatch.setattr(tracing, "_exporting", False)  # earlier tests' exporters stay added
    monkeypatch.setattr(tracing, "_chosen", False)
    started: list[str] = []
    start_span = Tracer.start_span

    def counting(self, name, context=None, kind=SpanKind.INTERNAL, *args, **kwargs):  # type: ignore[no-untyped-def]
        # A statement outside any work (the relay's and the consumer's polls) starts a span
        # the sampler drops: WorkOnly.
        if (
            kind is not SpanKind.CLIENT
            or trace.get_current_span(context).get_span_context().is_valid
        ):
            started.append(name)
        return start_span(self, name, context, kind, *args, **kwargs)

    settings = Settings(data_dir=tmp_path / "data")
    app = testkit.app(settings)
    trace_id, caller = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    async with app.router.lifespan_context(app):
        monkeypatch.setattr(Tracer, "start_span", counting)
        assert not tracing.traced()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://kit"
        ) as client:
            answer = await client.post(
                "/v1/testkit/r1/emit",
                json={"count": 1},
                headers={"traceparent": f"00-{trace_id}-{caller}-01"},
            )
            assert answer.status_code == 201, answer.text

            async def applied() -> bool:
                return (await client.get("/v1/testkit/r1")).json()["rows"] == 1

            await eventually(applied, what="the event applied")
        runtime = next(iter(app.state.runtimes.values()))
        async with runtime.uow() as uow:
            conn = await uow.session.connection()
            rows = (await conn.execute(select(OUTBOX.c.headers))).scalars().all()
    assert started == []  # no span of that work's, not even a non-recording one
    assert [dict(h)["traceparent"] for h in rows] == [f"00-{trace_id}-{caller}-01"]
