"""Durable timers: "do this at that time", written with the state change that wants it.

A use case schedules a timer in its unit of work (`uow.schedule(key, kind=..., due_at=...)`),
so the timer exists if and only if the change committed, exactly like the outbox. The key is
the use case's own name for the deadline (`inactivity:<match id>`): scheduling the same key
again re-arms it (a new session pushes an inactivity deadline back), `uow.cancel_timer(key)`
drops it.

Each service's scheduler loop fires due timers into the handlers its ServiceDef declares by
kind. A batch of due timers is taken, deleted and handled in one transaction with the
handlers' own effects, so a timer fires exactly once in effect: a crash before the commit
leaves it due (it fires again after the restart, nothing of the first try having been
written), a commit removes it with its effects. A timer that came due while the service was
down fires when it is back. On PostgreSQL the batch is taken `FOR UPDATE SKIP LOCKED`, so
replicas share the due timers and never fire one twice; SQLite (the embedded mode, one process)
serialises writers already.

Failures are told apart like the consumer's (shared.messaging.failures): a transient one (the
database away) is retried with backoff, the timer untouched; a handler failing otherwise is
isolated from its batch, retried with backoff up to `max_attempts`, then parked (kept, with
its error, out of the firing; /status counts them). Time comes from the runtime's clock
(shared.clock), so tests move time instead of sleeping.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.clock import Clock
from shared.db import reading
from shared.messaging.failures import backoff_delay, is_transient
from shared.messaging.loop import PollingLoop
from shared.tracing import TRACE_KEY, tracer, working

if TYPE_CHECKING:
    from shared.uow import UnitOfWork

log = logging.getLogger(__name__)


def timer_table(metadata: MetaData) -> Table:
    """The service's timer table, declared once on its own metadata."""
    if "timer" in metadata.tables:
        return metadata.tables["timer"]
    return Table(
        "timer",
        metadata,
        Column("key", String(200), primary_key=True),
        Column("kind", String(100), nullable=False),
        Column("org", String(100), nullable=False),
        Column("due_at", DateTime(timezone=True), nullable=False, index=True),
        Column("payload", JSON, nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
        # Set when a handler kept failing: the timer is kept for ops, out of the firing.
        Column("parked_at", DateTime(timezone=True), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )


@dataclass(frozen=True)
class Timer:
    key: str
    kind: str
    org: str
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0


TimerHandler = Callable[["UnitOfWork", Timer], Awaitable[None]]


@dataclass
class TimerStats:
    fired: int = 0  # timers this process fired (committed)
    failed: int = 0  # handler failures (deterministic), each retried or parked
    parked: int = 0  # timers this process parked


class TimerScheduler(PollingLoop):
    NAME = "timer-scheduler"

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        table: Table,
        handlers: Mapping[str, TimerHandler],
        uow_factory: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
        clock: Clock,
        poll_interval_s: float = 0.5,
        batch: int = 1000,
        max_attempts: int = 3,
        base_backoff_s: float = 0.05,
        max_backoff_s: float = 5.0,
        health_check: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(
            clock=clock,
            poll_interval_s=poll_interval_s,
            base_backoff_s=base_backoff_s,
            max_backoff_s=max_backoff_s,
        )
        self._engine = engine
        self._table = table
        self._handlers = dict(handlers)
        self._uow_factory = uow_factory
        self._batch = batch
        self._max_attempts = max_attempts
        self._health_check = health_check
        self.stats = TimerStats()
        self._tracer = tracer("binome.timers")

    # --- the loop (shared.messaging.loop.PollingLoop; woken when this process arms a timer:
    # it may be due sooner) -------------------------------------------------------------------

    async def _round(self) -> int:
        return await self.fire_due()

    async def _next_due(self) -> datetime | None:
        t = self._table
        async with reading(self._engine) as conn:
            due: datetime | None = await conn.scalar(
                select(func.min(t.c.due_at)).where(t.c.parked_at.is_(None))
            )
        return due

    # --- firing ----------------------------------------------------------------------------

    def _take(self, now: datetime, limit: int, postgres: bool, key: str | None = None) -> Any:
        """Delete up to `limit` due timers and return them, in one statement (the deletion
        commits or rolls back with the handlers' effects). On PostgreSQL the due rows are
        locked SKIP LOCKED: another replica's batch is skipped, never fired twice."""
        t = self._table
        due = select(t.c.key).where(t.c.due_at <= now, t.c.parked_at.is_(None))
        if key is not None:
            due = due.where(t.c.key == key)
        due = due.order_by(t.c.due_at, t.c.key).limit(limit)
        if postgres:
            due = due.with_for_update(skip_locked=True)
        return delete(t).where(t.c.key.in_(due.scalar_subquery())).returning(*t.columns)

    async def fire_due(self) -> int:
        """Fire one batch of due timers in one transaction; returns how many fired.

        A handler failing for a reason other than a transient one sends the batch through
        one by one, so the others still fire and the failing one is retried or parked alone.
        """
        now = self._clock.now()
        keys: list[str] = []
        try:
            async with self._uow_factory() as uow:
                conn = await uow.session.connection()
                postgres = conn.dialect.name == "postgresql"
                # Deleted first: a handler that re-arms its own key writes the new timer after.
                taken = (await conn.execute(self._take(now, self._batch, postgres))).all()
                if not taken:
                    return 0
                rows = sorted(taken, key=lambda r: (r.due_at, r.key))  # fired in due order
                keys = [r.key for r in rows]
                for row in rows:
                    await self._handle(uow, row)
                await uow.commit()
        except Exception as exc:
            if is_transient(exc) or not keys:
                raise
            fired = 0
            for key in keys:
                fired += await self._fire_one(key, now)
            return max(fired, 1)  # the batch moved on: look for the next one
        self.stats.fired += len(keys)
        return len(keys)

    async def _handle(self, uow: UnitOfWork, row: Any) -> None:
        handler = self._handlers.get(row.kind)
        if handler is None:
            raise LookupError(f"no handler for timers of kind {row.kind!r}")
        # The firing belongs to the trace of the request (or event) that armed the timer.
        armed_by = (row.payload or {}).get(TRACE_KEY) or {}
        with working(
            self._tracer,
            f"timer {row.kind}",
            armed_by,
            attributes=lambda: {"binome.timer.key": row.key, "binome.timer.attempts": row.attempts},
        ):
            await handler(uow, _timer(row))

    async def _fire_one(self, key: str, now: datetime) -> int:
        try:
            async with self._uow_factory() as uow:
                conn = await uow.session.connection()
                postgres = conn.dialect.name == "postgresql"
                row = (await conn.execute(self._take(now, 1, postgres, key))).first()
                if row is None:  # another replica took it meanwhile
                    return 0
                await self._handle(uow, row)
                await uow.commit()
        except Exception as exc:
            if is_transient(exc):
                raise
            await self._failed(key, exc, now)
            return 0
        self.stats.fired += 1
        return 1

    async def _failed(self, key: str, exc: Exception, now: datetime) -> None:
        """Record a handler failure: retry later with backoff, or park after max_attempts
        (only while the database answers: a failure it caused is not the handler's)."""
        self.stats.failed += 1
        error = f"{type(exc).__name__}: {exc}"[:2000]
        t = self._table
        async with self._uow_factory() as uow:
            conn = await uow.session.connection()
            attempts = await conn.scalar(select(t.c.attempts).where(t.c.key == key))
        if attempts is None:
            return
        attempts += 1
        healthy = True
        if attempts >= self._max_attempts and self._health_check is not None:
            try:  # outside any transaction: SQLite's single writer would wait on ourselves
                await self._health_check()
            except Exception:
                healthy = False
        async with self._uow_factory() as uow:
            conn = await uow.session.connection()
            values: dict[str, Any] = {"attempts": attempts, "last_error": error}
            if attempts >= self._max_attempts and healthy:
                values["parked_at"] = now
                self.stats.parked += 1
                log.error("timer %s parked after %d attempts: %s", key, attempts, error)
            else:
                delay = backoff_delay(attempts, base_s=self._base_backoff, cap_s=self._max_backoff)
                values["due_at"] = now + timedelta(seconds=delay)
                log.warning("timer %s failed (attempt %d): %s", key, attempts, error)
            await conn.execute(update(t).where(t.c.key == key).values(**values))
            await uow.commit()

    # --- what ops see ----------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        t = self._table
        now = self._clock.now()
        async with reading(self._engine) as conn:
            due, oldest = (
                await conn.execute(
                    select(func.count(), func.min(t.c.due_at)).where(
                        t.c.due_at <= now, t.c.parked_at.is_(None)
                    )
                )
            ).one()
            pending = await conn.scalar(
                select(func.count()).select_from(t).where(t.c.parked_at.is_(None))
            )
            parked = await conn.scalar(
                select(func.count()).select_from(t).where(t.c.parked_at.is_not(None))
            )
        return {
            "alive": self.alive,
            "pending": pending,
            "due": due,
            "oldest_due_age_s": None
            if oldest is None
            else round((now - _aware(oldest)).total_seconds(), 3),
            "parked": parked,
            "fired": self.stats.fired,
            "failed": self.stats.failed,
            "failures": self.failures,
            "last_error": self.last_error,
        }


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _timer(row: Any) -> Timer:
    return Timer(
        key=row.key,
        kind=row.kind,
        org=row.org,
        due_at=_aware(row.due_at),
        payload={k: v for k, v in (row.payload or {}).items() if k != TRACE_KEY},
        attempts=row.attempts,
    )
