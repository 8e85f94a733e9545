"""Logs: one JSON object per line for machines, or plain lines for a person at a terminal.

Every record carries, when known: `time` (ISO 8601, UTC), `level`, `logger`, `service` (the
service whose request or event is being handled, else the process's name), `trace_id` and
`span_id` (the OpenTelemetry span in progress, so a log line leads to its trace), `org` (the
caller's or the event's tenant) and `event_id` / `event_type` (the event being applied).
uvicorn's own records (start-up, access lines) go through the same handler.

`BINOME_LOG_FORMAT`: `json`, `text`, or `auto` (the default): text for the embedded mode,
which a person runs in a terminal, JSON for a service of a deployment.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

_service: ContextVar[str | None] = ContextVar("binome_log_service", default=None)
_org: ContextVar[str | None] = ContextVar("binome_log_org", default=None)
_event: ContextVar[tuple[str, str] | None] = ContextVar("binome_log_event", default=None)

_process = "binome"
FIELDS = ("service", "trace_id", "span_id", "org", "event_id", "event_type")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(service)s %(name)s: %(message)s%(where)s"


def serving(service: str) -> None:
    """From here on in this task (a request, a consumer's batch): `service`'s work."""
    _service.set(service)


def for_org(org: str) -> None:
    """From here on in this task: the tenant `org`'s (the authenticated caller's)."""
    _org.set(org)


@contextmanager
def applying(*, service: str, org: str, event_id: str, event_type: str) -> Iterator[None]:
    """While an event is being applied: its service, tenant and identity on every record."""
    tokens = (_service.set(service), _org.set(org), _event.set((event_id, event_type)))
    try:
        yield
    finally:
        _event.reset(tokens[2])
        _org.reset(tokens[1])
        _service.reset(tokens[0])


class ContextFilter(logging.Filter):
    """Adds the fields above to every record (None when unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = _service.get() or _process
        record.org = _org.get()
        event = _event.get()
        record.event_id, record.event_type = event if event else (None, None)
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            record.trace_id = format(ctx.trace_id, "032x")
            record.span_id = format(ctx.span_id, "016x")
        else:
            record.trace_id = record.span_id = None
        return True


class _Json(JsonFormatter):
    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.pop("color_message", None)  # uvicorn's terminal colours, for the text form
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        for name in FIELDS:
            v = getattr(record, name, None)
            if v is not None:
                log_data[name] = v
            else:
                log_data.pop(name, None)


class _Text(logging.Formatter):
    """`time LEVEL service logger: message [org=... event=... trace=...]`."""

    def format(self, record: logging.LogRecord) -> str:
        bits = [
            f"{label}={value}"
            for label, value in (
                ("org", getattr(record, "org", None)),
                ("event", getattr(record, "event_id", None)),
                ("trace", getattr(record, "trace_id", None)),
            )
            if value
        ]
        record.where = f"  [{' '.join(bits)}]" if bits else ""
        return super().format(record)


def formatter(kind: str) -> logging.Formatter:
    if kind == "json":
        return _Json("%(message)s", json_ensure_ascii=False)
    return _Text(TEXT_FORMAT)


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Binôme's handler (told apart from others, e.g. a test runner's, when reconfiguring)."""


def configure(
    process: str, kind: str, *, level: str = "info", stream: IO[str] | None = None
) -> None:
    """Route every record of the process (the root logger's, uvicorn's included) through one
    handler in the `kind` format ("json" or "text"), with the context fields."""
    global _process
    _process = process
    handler = _Handler(stream or sys.stderr)
    handler.setFormatter(formatter(kind))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
