"""Unit of work: one database transaction holding a state change and the events it causes.

Use cases receive a UnitOfWork, change rows through `uow.session`, declare events with
`uow.emit(...)`, and call `await uow.commit()`. The events are written to the outbox in that same
transaction (never published directly), so either both the change and its events exist or
neither does; the outbox relay publishes them afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.events import Event, EventData, to_wire, topic_for
from shared.tracing import current_trace_headers


class UnitOfWork:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        outbox: Table,
        inbox: Table,
        on_commit: Callable[[], None] = lambda: None,
        topic_prefix: str = "",
    ) -> None:
        self._topic_prefix = topic_prefix
        self._engine = engine
        self._outbox = outbox
        self._inbox = inbox
        self._on_commit = on_commit
        self._events: list[dict[str, Any]] = []
        self._processed: list[dict[str, Any]] = []
        self.session: AsyncSession

    async def __aenter__(self) -> UnitOfWork:
        self.session = AsyncSession(self._engine, expire_on_commit=False)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Anything not committed explicitly is rolled back: no half-written state.
        await self.session.rollback()
        await self.session.close()

    def emit(self, data: EventData, *, org: str) -> Event:
        trace_headers = current_trace_headers()
        event = Event.of(
            data,
            org=org,
            traceparent=trace_headers.get("traceparent"),
            tracestate=trace_headers.get("tracestate"),
        )
        headers, value = to_wire(event)
        self._events.append(
            {
                "event_id": event.id,
                "topic": topic_for(event.type, self._topic_prefix),
                "key": event.subject,
                "headers": [[k, v.decode()] for k, v in headers],
                "payload": value.decode(),
                "created_at": datetime.now(UTC),
            }
        )
        return event

    async def processed_ids(self, consumer: str, event_ids: list[str]) -> set[str]:
        """Which of these events the consumer group has applied already (one query)."""
        conn = await self.session.connection()
        rows = await conn.execute(
            select(self._inbox.c.event_id).where(
                self._inbox.c.consumer == consumer, self._inbox.c.event_id.in_(set(event_ids))
            )
        )
        return set(rows.scalars())

    def mark_processed(self, consumer: str, event: Event) -> None:
        self._processed.append(
            {
                "consumer": consumer,
                "event_id": event.id,
                "event_type": event.type,
                "processed_at": datetime.now(UTC),
            }
        )

    async def commit(self) -> None:
        await self.session.flush()
        # Core inserts on the session's own connection: the same transaction as the changes.
        conn = await self.session.connection()
        if self._events:
            await conn.execute(insert(self._outbox), self._events)
        if self._processed:
            await conn.execute(insert(self._inbox), self._processed)
        await self.session.commit()
        had_events = bool(self._events)
        self._events, self._processed = [], []
        if had_events:
            self._on_commit()
