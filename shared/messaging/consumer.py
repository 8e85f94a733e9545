"""The consumer side every service shares: decode, deduplicate, apply, retry, dead-letter.

For each message a bus delivers:
1. Decode the CloudEvent and look up its contract. Undecodable, or of a type/version no contract
   declares: poison, straight to the dead-letter topic.
2. A type this service has no handler for is skipped (topics carry every event of a producer).
3. In one unit of work: skip if the inbox already holds the event id (a redelivery), else run
   the handler and record the id; commit. Effects, inbox row and any new events are one commit.
4. A handler that keeps failing is retried a bounded number of times, then dead-lettered with
   the error so the consumer goes on with the messages behind it.
Only if dead-lettering itself fails does the message go back to the bus for redelivery.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from opentelemetry import trace
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
from shared.tracing import context_from, tracer
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, Event, EventData], Awaitable[None]]


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
        dead_letter: str,
    ) -> None:
        self._dead_letter_topic = dead_letter
        self.group = group
        self._handlers = handlers
        self._uow_factory = uow_factory
        self._bus = bus
        self._max_attempts = max_attempts
        self._backoff = backoff_s
        self._tracer = tracer("binome.consumer")

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
        last_error: Exception | None = None
        for attempt in range(1, self._max_attempts + 1):
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
                    return
                except Exception as exc:  # retried, then dead-lettered below
                    span.record_exception(exc)
                    span.set_status(trace.StatusCode.ERROR, str(exc))
                    last_error = exc
            if attempt < self._max_attempts:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        assert last_error is not None
        log.error(
            "%s gives up on %s after %d attempts: %r",
            self.group,
            event.id,
            self._max_attempts,
            last_error,
        )
        await self._dead_letter(msg, last_error, attempts=self._max_attempts)

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
        log.warning(
            "%s dead-lettered %s@%s/%s: %r", self.group, msg.topic, msg.partition, msg.offset, error
        )
