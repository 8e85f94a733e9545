"""The outbox relay: publishes committed outbox rows in order, then marks them sent.

It wakes as soon as a unit of work commits events (and polls as a safety net). A crash between
publishing and marking means the rows are published again: at-least-once, absorbed by the
consumers' inbox. While the broker or the database is away the rows simply stay unsent and the
relay retries with capped exponential backoff and jitter; a topic the broker does not know
(a broker re-created empty) is created again before the next try. Every minute it also purges
what the retentions let go: sent outbox rows and old inbox rows, and (every
`BINOME_EVENT_PURGE_INTERVAL`) the service's records in the event log
(shared.messaging.retention).

On PostgreSQL a transaction-scoped advisory lock lets only one replica relay
a batch at a time, which keeps each key's events in order when a service runs several replicas.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from sqlalchemy import Row, Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db import reading
from shared.messaging.bus import Bus, Record
from shared.messaging.failures import backoff_delay
from shared.messaging.loop import BackgroundLoop
from shared.messaging.retention import LogRetention
from shared.tracing import (
    context_from,
    current_trace_headers,
    producer_attributes,
    traced,
    tracer,
)

log = logging.getLogger(__name__)
_RELAY_LOCK = 7_777_001
_PURGE_EVERY_S = 60.0


class OutboxRelay(BackgroundLoop):
    """Stopping finishes the batch in hand, so no batch is left published but unmarked."""

    NAME = "outbox-relay"

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        outbox: Table,
        bus: Bus,
        inbox: Table | None = None,
        inbox_retention_s: float = 30 * 24 * 3600,
        poll_interval_s: float = 0.5,
        retention_s: float = 7 * 24 * 3600,
        batch: int = 200,
        topics: list[str] | None = None,
        base_backoff_s: float = 0.05,
        max_backoff_s: float = 5.0,
        log_retention: LogRetention | None = None,
        log_purge_every_s: float = _PURGE_EVERY_S,
    ) -> None:
        super().__init__()
        self._log_retention = log_retention
        self._log_purge_every = log_purge_every_s
        self._topics = list(topics or [])  # the service's own, re-created if the broker lost them
        self._base_backoff = base_backoff_s
        self._max_backoff = max_backoff_s
        self.failures = 0  # consecutive failed attempts (0: healthy)
        self.last_error: str | None = None
        self.published = 0
        self._retention = timedelta(seconds=retention_s)
        self._inbox = inbox
        self._inbox_retention = timedelta(seconds=inbox_retention_s)
        self._next_purge = 0.0
        self._next_log_purge = time.monotonic() + log_purge_every_s  # not at start
        self._engine = engine
        self._outbox = outbox
        self._bus = bus
        self._poll = poll_interval_s
        self._batch = batch
        self._tracer = tracer("binome.outbox")

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                while not self._stopping.is_set() and await self.relay_once():
                    pass
                if time.monotonic() >= self._next_purge:
                    await self.purge_sent()
                    self._next_purge = time.monotonic() + _PURGE_EVERY_S
                if time.monotonic() >= self._next_log_purge:
                    await self._forget_log()
                    self._next_log_purge = time.monotonic() + self._log_purge_every
                self.failures, self.last_error = 0, None
                pause = self._poll
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # bus or database unavailable: keep the rows, retry
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                if self.failures == 1 or self.failures % 20 == 0:
                    log.warning("outbox relay failed (%s); retrying", self.last_error)
                await self._recreate_topics()
                pause = backoff_delay(
                    self.failures, base_s=self._base_backoff, cap_s=self._max_backoff
                )
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

    async def _recreate_topics(self) -> None:
        """If the broker lost topics (e.g. re-created empty), create the unsent rows' topics:
        publishing to a missing topic fails until then, since brokers do not auto-create."""
        o = self._outbox
        try:
            async with reading(self._engine) as conn:
                topics = (
                    await conn.scalars(select(o.c.topic).where(o.c.sent_at.is_(None)).distinct())
                ).all()
            created = await self._bus.ensure_topics(sorted({*topics, *self._topics}))
            if created:
                log.warning("outbox relay: re-created missing topics %s", created)
        except Exception as exc:  # retried with the next attempt
            log.warning("outbox relay could not create topics: %r", exc)

    async def relay_once(self) -> int:
        """Publish one batch of unsent rows; returns how many were published.

        On PostgreSQL one transaction holds the relay's advisory lock while it reads, publishes
        and marks the batch: replicas take turns, and the service's writers are not held up.
        On SQLite a transaction that writes locks the whole file, so the batch is read without
        the lock and marked sent in a short transaction after the publish: holding the lock
        across the publish had every writer of the service wait for the bus (in the embedded
        mode another SQLite file, as busy), a bulk enrolment most of its time."""
        if self._engine.dialect.name != "postgresql":
            async with reading(self._engine) as conn:
                rows = await self._unsent(conn)
            if rows:
                await self._publish(rows)
                async with self._engine.begin() as conn:
                    await self._mark_sent(conn, rows)
            self.published += len(rows)
            return len(rows)
        async with self._engine.begin() as conn:
            if not await conn.scalar(select(func.pg_try_advisory_xact_lock(_RELAY_LOCK))):
                return 0
            rows = await self._unsent(conn)
            if rows:
                await self._publish(rows)
                await self._mark_sent(conn, rows)
        self.published += len(rows)
        return len(rows)

    async def _unsent(self, conn: AsyncConnection) -> list[Row[Any]]:
        o = self._outbox
        query = select(o).where(o.c.sent_at.is_(None)).order_by(o.c.seq).limit(self._batch)
        return list((await conn.execute(query)).all())

    async def _publish(self, rows: list[Row[Any]]) -> None:
        sending = [self._record(row) for row in rows]
        try:
            await self._bus.publish([record for record, _ in sending])
        except Exception as exc:
            for _, span in sending:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                span.end()
            raise
        for _, span in sending:  # each producer span covers the send, until acknowledged
            span.end()

    async def _mark_sent(self, conn: AsyncConnection, rows: list[Row[Any]]) -> None:
        o = self._outbox
        await conn.execute(
            update(o)
            .where(o.c.seq.in_([row.seq for row in rows]))
            .values(sent_at=datetime.now(UTC))
        )

    async def _forget_log(self) -> None:
        """The service's records the log's retention lets go (shared.messaging.retention). A
        failure is said and tried again next time: it says nothing of the relay's health."""
        if self._log_retention is None:
            return
        try:
            forgotten = await self._log_retention.purge()
        except Exception as exc:
            log.warning("could not purge the event log (%r); trying again later", exc)
            return
        if any(forgotten.values()):
            log.info("the event log forgot %s", forgotten)

    async def purge_sent(self) -> int:
        """Delete outbox rows sent longer ago than the retention; returns how many. The inbox
        is pruned the same way, of events applied longer ago than its own retention (longer
        than the broker keeps records, so no event it forgets can still be redelivered)."""
        o = self._outbox
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(o).where(o.c.sent_at.is_not(None), o.c.sent_at < now - self._retention)
            )
            if self._inbox is not None:
                i = self._inbox
                await conn.execute(delete(i).where(i.c.processed_at < now - self._inbox_retention))
        return result.rowcount or 0

    def _record(self, row) -> tuple[Record, Span]:  # type: ignore[no-untyped-def]
        """The row as a record, and its producer span (started, ended once sent)."""
        headers = {k: v for k, v in row.headers}
        if not traced():  # nothing receives spans: the event's trace context goes on as it is
            return self._as_record(row, headers), trace.INVALID_SPAN
        event_type = headers.get("ce_type", "")
        # A producer span continuing the trace the event was emitted in; the message carries
        # this span's context so the consumer's span hangs below it.
        span = self._tracer.start_span(
            f"publish {event_type}",
            context=context_from({"traceparent": headers.get("traceparent", "")}),
            kind=trace.SpanKind.PRODUCER,
            attributes=producer_attributes(
                self._bus.system,
                topic=row.topic,
                event_id=row.event_id,
                key=row.key,
                org=headers.get("ce_org"),
            ),
        )
        with trace.use_span(span, end_on_exit=False):
            propagated = current_trace_headers()
        if "traceparent" in propagated:
            headers["traceparent"] = propagated["traceparent"]
            headers["ce_traceparent"] = propagated["traceparent"]
        return self._as_record(row, headers), span

    @staticmethod
    def _as_record(row, headers: dict[str, str]) -> Record:  # type: ignore[no-untyped-def]
        return Record(
            topic=row.topic,
            key=row.key,
            headers=[(k, v.encode()) for k, v in headers.items()],
            value=row.payload.encode(),
        )
