"""The consumer side every service shares: decode, deduplicate, apply in batches, retry,
dead-letter.

The bus hands over a batch of messages (from one or more partitions, each partition's in order).
1. A type this service has no handler for is skipped (topics carry every event of a
   producer), read off the headers, the message left undecoded, if Binôme knows the type.
2. The rest are decoded and their contracts looked up. Undecodable, or of a type/version no
   contract declares, or data failing its contract: poison, dead-lettered.
3. The rest are applied in ONE unit of work: the inbox is read once for the whole batch, events
   already applied (redeliveries) are skipped, each handler runs in order (so per-key order is
   kept: a key lives on one partition), the inbox rows are written with the effects, one
   commit. Effects, inbox rows, the service's event archive if it keeps one, and any new
   events are one commit.
4. A transient failure (database or broker away, connection reset, deadlock, serialization
   failure: `shared.messaging.failures`) is retried without limit, with capped exponential
   backoff and jitter: nothing is dead-lettered and no offset committed past while the world
   is away, so a consumer catching up on a backlog loses nothing to an outage.
5. Any other failure of a batch isolates the culprit: the batch's events are applied one by
   one, each in its own transaction. An event that still fails after a bounded number of
   attempts, while the database answers a health check, is deterministic (a handler bug, data it
   cannot apply) and goes to the dead-letter topic with the error; the others are applied. If
   the database does not answer, the failure is treated as transient after all.
Only if dead-lettering itself fails does the batch go back to the bus for redelivery (the inbox
makes that harmless).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from opentelemetry import trace
from prometheus_client import Histogram
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from shared import logs
from shared.events import (
    Event,
    EventData,
    UndecodableEvent,
    UnknownEventType,
    contract_for,
    from_wire,
    type_on_wire,
)
from shared.messaging.bus import Bus, Message, Record
from shared.messaging.failures import backoff_delay, is_transient
from shared.tracing import consumer_attributes, tracer, working
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
    # Set while the batch in hand keeps failing: how long the consumer has been waiting.
    waiting_since: float | None = None
    # Each batch the bus handed over, from receipt to applied (retries included).
    batch_seconds: Histogram = field(
        default_factory=lambda: Histogram(
            "binome_consumer_batch_duration_seconds",
            "Time to apply a batch the bus handed over, retries and waits included.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0),
            registry=None,
        )
    )


@dataclass(frozen=True, slots=True)
class _Item:
    msg: Message
    event: Event
    data: EventData
    handler: Handler


class _Retry:
    """Consecutive failures of one batch or event: classifies them and paces the retries."""

    def __init__(self, consumer: EventConsumer) -> None:
        self._c = consumer
        self.waits = 0
        self.failures = 0  # deterministic-looking failures while the database answers

    async def transient(self, error: Exception) -> bool:
        """Count the failure; True if it is to be waited out (then also wait)."""
        self.waits += 1
        c = self._c
        if is_transient(error) or not await c._database_answers():
            stats = c.stats
            stats.transient_retries += 1
            stats.last_transient_error = f"{type(error).__name__}: {error}"[:300]
            if stats.waiting_since is None:
                stats.waiting_since = time.time()
            if self.waits == 1 or self.waits % 20 == 0:
                log.warning("%s: transient failure (%r); retrying until it passes", c.group, error)
            await self.pause()
            return True
        self.failures += 1
        return False

    async def pause(self) -> None:
        c = self._c
        await asyncio.sleep(backoff_delay(self.waits, base_s=c._backoff, cap_s=c._max_backoff))


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
        service: str = "",
        traced: bool = True,
        deduplicate: bool = True,
    ) -> None:
        self._dead_letter_topic = dead_letter
        self.group = group
        self.service = service or group
        self._handlers = handlers
        self._uow_factory = uow_factory
        self._bus = bus
        self._max_attempts = max_attempts
        self._backoff = backoff_s
        self._max_backoff = max_backoff_s
        self._health_check = health_check
        self._tracer = tracer("binome.consumer")
        self._traced = traced  # a span per event applied (not for a rebuild's replay)
        # The inbox consulted and written (not by a rebuild's tail, which knows already).
        self._deduplicate = deduplicate
        self.stats = ConsumerStats()

    async def deliver(self, messages: list[Message]) -> None:
        """Deal with a batch: returns once every message is applied, skipped or dead-lettered."""
        with self.stats.batch_seconds.time():
            await self._deliver(messages)

    async def deliver_decoded(self, received: list[tuple[Message, Event]]) -> None:
        """`deliver` for events already decoded from their wire form (a rebuild reading the
        archive): each is still checked against its contract."""
        with self.stats.batch_seconds.time():
            await self._deliver_events(received)

    async def _deliver(self, messages: list[Message]) -> None:
        await self._deliver_events([(msg, None) for msg in messages])

    async def _deliver_events(self, received: Sequence[tuple[Message, Event | None]]) -> None:
        """Decode what is not yet (`None`), check each against its contract, apply."""
        items: list[_Item] = []
        poison: list[tuple[Message, Exception]] = []
        for msg, decoded in received:
            if decoded is None and self._passed_over(type_on_wire(msg.headers)):
                continue
            try:
                event = decoded or from_wire(msg.headers, msg.value)
                handler = self._handlers.get(event.type)
                if handler is None:  # another service's business, if Binôme knows the type
                    if contract_for(event.type) is None:
                        raise UnknownEventType(event.type)
                    continue  # not checked against its contract here: its consumers do
                data = event.parse()
            except (UndecodableEvent, UnknownEventType, ValidationError) as bad:
                poison.append((msg, bad))
                continue
            items.append(_Item(msg, event, data, handler))
        for msg, why in poison:  # no retry can fix these
            await self._dead_letter(msg, why, attempts=0)
        if len(items) == 1:
            await self._deliver_one(items[0])
        elif items:
            await self._deliver_batch(items)

    def _passed_over(self, event_type: str | None) -> bool:
        """Another service's business: a type Binôme knows and this service does not handle.
        (Every service reads every record of the topics it follows: an enrolment's event was
        decoded by all five, three of them only to skip it.)"""
        return (
            event_type is not None
            and event_type not in self._handlers
            and contract_for(event_type) is not None
        )

    async def _deliver_batch(self, items: list[_Item]) -> None:
        retry = _Retry(self)
        while True:
            try:
                await self._apply(items)
            except Exception as error:  # classified below
                if await retry.transient(error):
                    continue
                # Deterministic: isolate the culprit, each event on its own.
                log.info("%s: a batch of %d failed (%r); one by one", self.group, len(items), error)
                for item in items:
                    await self._deliver_one(item)
                return
            self.stats.applied += len(items)
            self.stats.waiting_since = None
            return

    async def _deliver_one(self, item: _Item) -> None:
        with self._logging(item):
            await self._deliver_one_logged(item)

    def _logging(self, item: _Item) -> AbstractContextManager[None]:
        """The event's service, tenant and identity on every log record while it is handled."""
        e = item.event
        return logs.applying(service=self.service, org=e.org, event_id=e.id, event_type=e.type)

    async def _deliver_one_logged(self, item: _Item) -> None:
        retry = _Retry(self)
        while True:
            try:
                await self._apply([item])
            except Exception as error:  # classified below
                if await retry.transient(error):
                    continue
                if retry.failures >= self._max_attempts:
                    log.error(  # with the traceback: a deterministic failure is a bug to find
                        "%s gives up on %s after %d attempts: %r",
                        self.group,
                        item.event.id,
                        retry.failures,
                        error,
                        exc_info=error,
                    )
                    await self._dead_letter(item.msg, error, attempts=retry.failures)
                    self.stats.waiting_since = None
                    return
                await retry.pause()
                continue
            self.stats.applied += 1
            self.stats.waiting_since = None
            return

    async def _apply(self, items: list[_Item]) -> None:
        """One transaction: skip what the inbox knows, run the handlers in order, record."""
        ids = [item.event.id for item in items]
        try:
            async with self._uow_factory() as uow:
                dedupe = self._deduplicate
                seen = await uow.processed_ids(self.group, ids) if dedupe else set()
                for item in items:
                    if item.event.id in seen:
                        continue  # a redelivery, or the same event twice in the batch
                    seen.add(item.event.id)
                    uow.archive(item.msg, item.event)  # if the service keeps an archive
                    await self._run(uow, item)
                    if dedupe:
                        uow.mark_processed(self.group, item.event)
                await uow.commit()
        except IntegrityError:
            # A concurrent delivery (another replica after a rebalance, or a projection
            # rebuild's switch) committed first. Checked once this transaction is over: on
            # SQLite a second one would wait for its write lock.
            async with self._uow_factory() as check:
                if len(await check.processed_ids(self.group, ids)) == len(set(ids)):
                    return
            raise

    async def _run(self, uow: UnitOfWork, item: _Item) -> None:
        event = item.event
        if not self._traced:
            with self._logging(item):
                await item.handler(uow, event, item.data)
            return
        with (
            working(
                self._tracer,
                f"consume {event.type}",
                {"traceparent": event.traceparent or ""},
                kind=trace.SpanKind.CONSUMER,
                attributes=partial(
                    consumer_attributes,
                    self._bus.system,
                    group=self.group,
                    message=item.msg,
                    event_id=event.id,
                    org=event.org,
                ),
            ),
            self._logging(item),
        ):
            await item.handler(uow, event, item.data)

    async def _database_answers(self) -> bool:
        try:
            await self._health_check()
            return True
        except Exception:  # the answer to the question, not an error of ours
            return False

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
