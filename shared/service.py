"""What a service is (ServiceDef) and what runs it (ServiceRuntime).

A service declares its tables (on its own SQLModel base), its HTTP router, its migrations folder
and its event handlers; the runtime gives it a database engine, runs its migrations, relays its
outbox and consumes the topics its handlers need, through whichever bus the process uses.
The same definitions run one per process (distributed) or all five in one (embedded).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import APIRouter
from prometheus_client.registry import Collector
from sqlmodel import SQLModel

from shared import db, privacy, revocations
from shared.clock import Clock, SystemClock
from shared.events import Event, EventData, dead_letter_topic, topic_for, topic_of
from shared.messaging.bus import Bus
from shared.messaging.consumer import EventConsumer, Handler
from shared.messaging.loop import BackgroundLoop
from shared.messaging.outbox import OutboxRelay
from shared.messaging.retention import LogRetention
from shared.messaging.tables import ARCHIVE, messaging_tables
from shared.settings import Settings
from shared.statistics import PlannerStatistics
from shared.timers import TimerHandler, TimerScheduler
from shared.uow import Rollup, UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceDef:
    name: str
    base: type[SQLModel]
    router: APIRouter
    migrations_dir: Path
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    # Handlers with effects beyond the service's projections (a webhook delivery queued): run
    # by the live consumer after the projection's handler of the same event, in its
    # transaction; a projection rebuild replays the projections only (`projections`).
    reactions: Mapping[str, Handler] = field(default_factory=dict)
    # Durable timers' handlers by kind (shared.timers); a service with any runs a scheduler.
    timers: Mapping[str, TimerHandler] = field(default_factory=dict)
    # Slow one-off preparation (loading compiled code...), run in the background at start so
    # the first request does not pay for it; requests that need it meanwhile simply wait.
    warm_up: Callable[[], None] | None = None
    # The service's own Prometheus series (metrics kept out of any registry: the app's
    # /metrics exposes them with a `service` label, see shared.metrics).
    metrics: tuple[Collector, ...] = ()
    # The service's own background loops (a webhook dispatcher), each made from the running
    # service (its settings, database, clock), started after its migrations, stopped first.
    workers: tuple[Callable[[ServiceRuntime], BackgroundLoop], ...] = ()
    # Its reads are aggregates over many rows (reporting): see `db.create_engine`'s
    # custom_plans.
    analytical: bool = False
    # Told at each commit, in its transaction, what was written behind (shared.uow's
    # `rollup`: reporting marks there what its KPI tallies must count again).
    rollup: Rollup | None = None
    # The handlers deriving the service's own tables from events (`handlers` without the
    # reactions): what a rebuild replays.
    projections: Mapping[str, Handler] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        # Every service keeps the list of revoked employees its routes consult (shared.api);
        # a service that hears the same events for itself handles them after, in the same
        # transaction.
        handlers = _merged(revocations.HANDLERS, self.handlers)
        # Every service erases what it holds on an employee (GDPR), after its own handler.
        handlers = _merged(handlers, privacy.projections(self.name, self.base.metadata))
        object.__setattr__(self, "projections", handlers)
        object.__setattr__(
            self, "timers", {**self.timers, **privacy.timers(self.name, self.base.metadata)}
        )
        reactions = _merged(privacy.reactions(self.name, self.base.metadata), self.reactions)
        handlers = _merged(handlers, reactions)
        object.__setattr__(self, "handlers", handlers)

    def group(self, prefix: str = "") -> str:
        return f"{prefix}binome-{self.name}"

    def subscriptions(self, prefix: str = "") -> list[str]:
        return sorted({topic_for(t, prefix) for t in self.handlers})

    def topics(self, prefix: str = "") -> list[str]:
        """Every topic this service touches, so it can make sure they exist at start."""
        return sorted(
            {
                topic_of(self.name, prefix),
                *self.subscriptions(prefix),
                dead_letter_topic(self.group(prefix), prefix),
            }
        )


def log_retention(definition: ServiceDef, settings: Settings, bus: Bus) -> LogRetention:
    """What the service forgets of the event log: its own topic and its dead letters."""
    prefix = settings.topic_prefix
    return LogRetention(
        bus=bus,
        topic=topic_of(definition.name, prefix),
        dead_letters=dead_letter_topic(definition.group(prefix), prefix),
        events=settings.event_retention,
        dead_letter_events=settings.dead_letter_retention,
    )


def _merged(first: Mapping[str, Handler], then: Mapping[str, Handler]) -> dict[str, Handler]:
    """Both tables of handlers in one: a type in both runs `first`'s, then `then`'s."""
    merged = dict(first)
    for type_, handler in then.items():
        own = merged.get(type_)
        merged[type_] = handler if own is None else chain(own, handler)
    return merged


def chain(*handlers: Handler) -> Handler:
    """One handler running these in turn, in the same transaction."""

    async def handle(uow: UnitOfWork, event: Event, data: EventData) -> None:
        for handler in handlers:
            await handler(uow, event, data)

    return handle


class ServiceRuntime:
    """A service's database, outbox relay, consumer, timer scheduler and workers in one process.

    `wake_elsewhere`: the background loops run in another process (the embedded server's
    loops process, shared.companion): this one migrates the database and serves requests, and
    its commits wake the other's relay (`"relay <service>"`) and timer scheduler (`"timers
    <service>"`) through this callable instead of its own."""

    def __init__(
        self,
        definition: ServiceDef,
        settings: Settings,
        bus: Bus,
        clock: Clock | None = None,
        *,
        wake_elsewhere: Callable[[str], None] | None = None,
    ) -> None:
        self.definition = definition
        self.wake_elsewhere = wake_elsewhere
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.timer_table = definition.base.metadata.tables.get("timer")
        self.bus = bus
        self.engine = db.create_engine(
            settings.database_url_for(definition.name),
            pool=settings.db_pool_size,
            custom_plans=definition.analytical,
        )
        self.reader = db.request_reader(self.engine)
        self.outbox, self.inbox = messaging_tables(definition.base.metadata)
        self.archive = definition.base.metadata.tables.get(ARCHIVE)  # if it keeps one
        self.relay = OutboxRelay(
            engine=self.engine,
            outbox=self.outbox,
            inbox=self.inbox,
            inbox_retention_s=settings.inbox_retention_s,
            bus=bus,
            poll_interval_s=settings.outbox_poll_interval_s,
            retention_s=settings.outbox_retention_s,
            topics=definition.topics(settings.topic_prefix),
            base_backoff_s=settings.consumer_retry_backoff_s,
            max_backoff_s=settings.retry_max_backoff_s,
            log_retention=log_retention(definition, settings, bus),
            log_purge_every_s=settings.event_purge_interval.total_seconds(),
        )
        prefix = settings.topic_prefix
        self.group = definition.group(prefix)
        self.subscriptions = definition.subscriptions(prefix)
        self.consumer = EventConsumer(
            group=self.group,
            dead_letter=dead_letter_topic(self.group, prefix),
            handlers=definition.handlers,
            uow_factory=self.uow,
            bus=bus,
            max_attempts=settings.consumer_max_attempts,
            backoff_s=settings.consumer_retry_backoff_s,
            max_backoff_s=settings.retry_max_backoff_s,
            health_check=self.ping,
            service=definition.name,
        )
        self.workers = [make(self) for make in definition.workers]
        if self.engine.url.get_backend_name() == "sqlite":
            self.workers.append(
                PlannerStatistics(
                    engine=self.engine,
                    reader=self.reader,
                    tables=definition.base.metadata.tables.values(),
                    every_s=settings.sqlite_statistics_every.total_seconds(),
                )
            )
        self.scheduler: TimerScheduler | None = None
        if definition.timers:
            if self.timer_table is None:
                raise RuntimeError(f"{definition.name} has timer handlers but no timer table")
            self.scheduler = TimerScheduler(
                engine=self.engine,
                table=self.timer_table,
                handlers=definition.timers,
                uow_factory=self.uow,
                clock=self.clock,
                poll_interval_s=settings.timer_poll_interval_s,
                batch=settings.timer_batch,
                max_attempts=settings.consumer_max_attempts,
                base_backoff_s=settings.consumer_retry_backoff_s,
                max_backoff_s=settings.retry_max_backoff_s,
                health_check=self.ping,
            )

    def uow(self, *, read_only: bool = False) -> UnitOfWork:
        """A unit of work on the service's database. `read_only` (a GET): on SQLite its
        transaction takes no write lock (WAL lets it read beside a writer instead of queueing
        behind it, and a long report delays no event)."""
        return UnitOfWork(
            engine=self.reader if read_only else self.engine,
            read_only=read_only,
            outbox=self.outbox,
            inbox=self.inbox,
            on_commit=self._wake_relay,
            topic_prefix=self.settings.topic_prefix,
            timers=self.timer_table,
            on_timers=self._wake_timers,
            clock=self.clock,
            archive=self.archive,
            rollup=self.definition.rollup,
        )

    def _wake_up(self, loop: str) -> str:
        """The name another process wakes one of this service's loops by."""
        return f"{loop} {self.definition.name}"

    def _wake_relay(self) -> None:
        if self.wake_elsewhere is not None:
            self.wake_elsewhere(self._wake_up("relay"))
        else:
            self.relay.wake()

    def _wake_timers(self) -> None:
        if self.scheduler is None:
            return
        if self.wake_elsewhere is not None:
            self.wake_elsewhere(self._wake_up("timers"))
        else:
            self.scheduler.wake()

    def wake_ups(self) -> dict[str, Callable[[], None]]:
        """What another process's commits may wake here (see `wake_elsewhere`)."""
        wake = {self._wake_up("relay"): self.relay.wake}
        if self.scheduler is not None:
            wake[self._wake_up("timers")] = self.scheduler.wake
        return wake

    @property
    def loops_here(self) -> bool:
        return self.wake_elsewhere is None

    async def start(self) -> None:
        if self.definition.warm_up is not None:
            threading.Thread(
                target=self._warm_up, name=f"{self.definition.name}-warm-up", daemon=True
            ).start()
        await db.upgrade(self.engine, self.definition.migrations_dir)
        if not self.loops_here:
            return
        self.relay.start()
        if self.scheduler is not None:
            self.scheduler.start()
        for worker in self.workers:
            worker.start()
        if self.definition.handlers:
            self.bus.subscribe(
                group=self.group,
                topics=self.subscriptions,
                deliver=self.consumer.deliver,
            )

    def _warm_up(self) -> None:
        """The service's slow preparation, said (a first start compiles for up to a minute)."""
        assert self.definition.warm_up is not None
        name, started = self.definition.name, time.monotonic()
        log.info("%s: warming up in the background (first start: up to a minute)", name)
        self.definition.warm_up()
        log.info("%s: warmed up in %.1f s", name, time.monotonic() - started)

    async def stop_relay(self) -> None:
        """Stop the background loops (its own, the timer scheduler, then the relay)."""
        if not self.loops_here:
            return
        for worker in self.workers:
            await worker.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self.relay.stop()

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> None:
        await db.ping(self.engine)
