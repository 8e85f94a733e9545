"""Which spans Binôme records (shared.tracing.WorkOnly): none of its own making while no
exporter is set (recording them cost a tenth of a small request's CPU, for nothing), a caller's
sampled trace followed all the same, and everything the chosen sampler keeps once spans go
somewhere."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.sdk.trace import sampling
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from shared import tracing
from shared.tracing import WorkOnly, following

TRACE_ID = 0x1234


def _decide(sampler: WorkOnly, *, parent_sampled: bool | None, kind: SpanKind) -> bool:
    context = None
    if parent_sampled is not None:
        flags = TraceFlags(TraceFlags.SAMPLED if parent_sampled else TraceFlags.DEFAULT)
        parent = SpanContext(TRACE_ID, 0x99, is_remote=True, trace_flags=flags)
        context = trace.set_span_in_context(NonRecordingSpan(parent))
    result = sampler.should_sample(context, TRACE_ID, "GET /v1/programs", kind)
    return result.decision is sampling.Decision.RECORD_AND_SAMPLE


@pytest.mark.parametrize(
    ("exporting", "chosen", "parent", "kind", "recorded"),
    [
        (False, False, None, SpanKind.SERVER, False),  # nowhere to send it: not started
        (False, False, True, SpanKind.SERVER, True),  # a caller's sampled trace goes on
        (False, False, False, SpanKind.SERVER, False),
        (True, False, None, SpanKind.SERVER, True),  # an exporter: the default sampler
        (True, False, None, SpanKind.CLIENT, False),  # a statement outside any work
        (False, True, None, SpanKind.SERVER, True),  # OTEL_TRACES_SAMPLER chosen: obeyed
    ],
)
def test_what_is_recorded(
    monkeypatch: pytest.MonkeyPatch,
    exporting: bool,
    chosen: bool,
    parent: bool | None,
    kind: SpanKind,
    recorded: bool,
) -> None:
    monkeypatch.setattr(tracing, "_exporting", exporting)
    sampler = WorkOnly(sampling.ParentBased(sampling.ALWAYS_ON), chosen=chosen)
    assert _decide(sampler, parent_sampled=parent, kind=kind) is recorded


def test_untraced_work_follows_what_it_carries_with_instrumentations_standing_down() -> None:
    tid, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    for headers, carried in (
        ({"traceparent": f"00-{tid}-{parent}-01"}, True),
        ({"traceparent": ""}, False),  # an event without a trace context
        ({}, False),
    ):
        with following(headers):
            assert not is_instrumentation_enabled()
            current = trace.get_current_span().get_span_context()
            assert current.is_valid is carried
            if carried:
                assert (f"{current.trace_id:032x}", f"{current.span_id:016x}") == (tid, parent)
        assert is_instrumentation_enabled()
