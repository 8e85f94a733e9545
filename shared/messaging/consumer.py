"""The consumer side every service shares: decode, deduplicate, apply, retry, dead-letter.

For each message a bus delivers:
1. Decode the CloudEvent and look up its contract. Undecodable, or of a type/version no contract
   declares: poison, straight to the dead-letter topic.
2. A type this service has no handler for is skipped (topics carry every event of a producer).
3. In one unit of work: skip if the inbox already holds the event id (a redelivery), else run
   the handler and record the id; commit. Effects, inbox row and any new events are one commit.
4. A transient failure (database or broker away, connection reset, deadlock, serialization
   failure: `shared.messaging.failures`) is retried without limit, with capped exponential
   backoff and jitter: the message is never dead-lettered and its offset never committed past
   while the world is away, so a consumer catching up on a backlog loses nothing to an outage.
5. Any other failure is retried a bounded number of times; if it still fails and the database
   answers a health check, it is deterministic (a handler bug, data it cannot apply) and goes to
   the dead-letter topic with the error, so the consumer goes on with the messages behind it.
   If the database does not answer, the failure is treated as transient after all.
Only if dead-lettering itself fails does the message go back to the bus for redelivery.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from opentelemetry import trace
from opentelemetry.context import Context
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from shared.events import (
    Event,
    EventData,
    UndecodableEvent,
    UnknownEventType,
    from_wire,
)
from shared.messaging.bus import Bus, Message, Record
from shared.messaging.failures import backoff_delay, is_transient
from shared.tracing import context_from, tracer
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, Event, EventData], Awaitable[None]]


@dataclass
class ConsumerStats:
    """What the consumer has done since the process started (reported by /status)."""

    applied: int = 0
    dead_lettered: int = 0
    transient_retries: int = 0
    last_transient_error: str | None = None
    # Set while the message in hand keeps failing: how long the consumer has been waiting.
    waiting_since: float | None = None


class EventConsumer:
    def __init__(
        self,
        *,
        group: str,
        handlers: Mapping[str, Handler],
        uow_factory: Callable[[], UnitOfWork],
        bus: Bus,
        max_attempts: int = 3,
        backoff_s: float = 0.05,
        max_backoff_s: float = 5.0,
        dead_letter: str,
        health_check: Callable[[], Awaitable[None]],
    ) -> None:
        self._dead_letter_topic = dead_letter
        self.group = group
        self._handlers = handlers
        self._uow_factory = uow_factory
        self._bus = bus
        self._max_attempts = max_attempts
        self._backoff = backoff_s
        self._max_backoff = max_backoff_s
        self._health_check = health_check
        self._tracer = tracer("binome.consumer")
        self.stats = ConsumerStats()

    async def deliver(self, msg: Message) -> None:
        try:
            event = from_wire(msg.headers, msg.value)
            data = event.parse()
        except (UndecodableEvent, UnknownEventType, ValidationError) as exc:
            await self._dead_letter(msg, exc, attempts=0)
            return
        handler = self._handlers.get(event.type)
        if handler is None:
            return
        parent = context_from({"traceparent": event.traceparent or ""})
        failures = 0  # deterministic-looking failures while the database answers
        waits = 0  # consecutive failures of any class, for the backoff
        attempt = 0
        while True:
            attempt += 1
            error = await self._attempt(handler, event, data, msg, parent, attempt)
            if error is None:
                self.stats.applied += 1
                self.stats.waiting_since = None
                return
            waits += 1
            if is_transient(error) or not await self._database_answers():
                self.stats.transient_retries += 1
                self.stats.last_transient_error = f"{type(error).__name__}: {error}"[:300]
                if self.stats.waiting_since is None:
                    self.stats.waiting_since = time.time()
                if waits == 1 or waits % 20 == 0:
                    log.warning(
                        "%s: transient failure on %s (%r); retrying until it passes",
                        self.group,
                        event.id,
                        error,
                    )
            else:
                failures += 1
                if failures >= self._max_attempts:
                    log.error(
                        "%s gives up on %s after %d attempts: %r",
                        self.group,
                        event.id,
                        failures,
                        error,
                    )
                    await self._dead_letter(msg, error, attempts=failures)
                    self.stats.waiting_since = None
                    return
            await asyncio.sleep(backoff_delay(waits, base_s=self._backoff, cap_s=self._max_backoff))

    async def _attempt(
        self,
        handler: Handler,
        event: Event,
        data: EventData,
        msg: Message,
        parent: Context,
        attempt: int,
    ) -> Exception | None:
        with self._tracer.start_as_current_span(
            f"consume {event.type}",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.consumer.group.name": self.group,
                "messaging.destination.name": msg.topic,
                "messaging.message.id": event.id,
                "binome.attempt": attempt,
            },
        ) as span:
            try:
                await self._apply(handler, event, data)
                return None
            except Exception as exc:  # classified by the caller
                span.record_exception(exc)
                span.set_status(trace.StatusCode.ERROR, str(exc))
                return exc

    async def _database_answers(self) -> bool:
        try:
            await self._health_check()
            return True
        except Exception:  # the answer to the question, not an error of ours
            return False

    async def _apply(self, handler: Handler, event: Event, data: EventData) -> None:
        async with self._uow_factory() as uow:
            if await uow.already_processed(self.group, event.id):
                return
            await handler(uow, event, data)
            uow.mark_processed(self.group, event)
            try:
                await uow.commit()
            except IntegrityError:
                # A concurrent delivery of the same event committed first: nothing to do.
                async with self._uow_factory() as check:
                    if await check.already_processed(self.group, event.id):
                        return
                raise

    async def _dead_letter(self, msg: Message, error: BaseException, *, attempts: int) -> None:
        headers = list(msg.headers) + [
            ("dlq_group", self.group.encode()),
            ("dlq_topic", msg.topic.encode()),
            ("dlq_partition", str(msg.partition).encode()),
            ("dlq_offset", str(msg.offset).encode()),
            ("dlq_attempts", str(attempts).encode()),
            ("dlq_at", datetime.now(UTC).isoformat().encode()),
            ("dlq_error", f"{type(error).__name__}: {error}"[:2000].encode()),
        ]
        await self._bus.publish(
            [
                Record(
                    topic=self._dead_letter_topic,
                    key=msg.key or "",
                    headers=headers,
                    value=msg.value or b"",
                )
            ]
        )
        self.stats.dead_lettered += 1
        log.warning(
            "%s dead-lettered %s@%s/%s: %r", self.group, msg.topic, msg.partition, msg.offset, error
        )
