"""Unit of work: one database transaction holding a state change and the events it causes.

Use cases receive a UnitOfWork, change rows through `uow.session`, declare events with
`uow.emit(...)`, and call `await uow.commit()`. The events are written to the outbox in that same
transaction (never published directly), so either both the change and its events exist or
neither does; the outbox relay publishes them afterwards.

`uow.schedule(key, kind=..., due_at=...)` arms a durable timer in the same transaction (and
`uow.cancel_timer(key)` drops one): see shared.timers. `uow.now()` is the runtime's clock.

`uow.insert(Model, **values)` appends a row the same way (history, signals).

`uow.archive(message, event)`: the consumer keeps an event it applies in the service's event
archive, if the service has one (shared.messaging.tables), written behind with the inbox rows.

`uow.upsert(Model, **values)` is the projection's write: insert or update one row by primary
key, written behind. A row loaded in the session is updated in place; otherwise the values are
merged per key (later values win, as if applied in order) and written as one multi-row
`INSERT ... ON CONFLICT DO UPDATE` per table just before the session's next ORM query or at
commit. A consumer applying a batch of hundreds of events thus writes each projection table once
instead of reading and writing a row per event, and any query in between still reads its
writes. Do not also `session.add` a new object of the same key in the same unit of work.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ARRAY, Table, bindparam, delete, event, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import ORMExecuteState, Session
from sqlmodel import Session as SyncSession
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import bulk
from shared.clock import Clock, SystemClock
from shared.db import one_of
from shared.events import Event, EventData, topic_for, wire_of
from shared.messaging.bus import Message
from shared.table_model import TableModel
from shared.tracing import TRACE_KEY, current_trace_headers

_UOW_KEY = "binome.uow"
# A service's hook at each commit, in its transaction, told what was written behind: (the
# transaction's connection, the rows by table name).
Rollup = Callable[[Connection, Mapping[str, list[dict[str, Any]]]], None]


def unit_of(session: Any) -> UnitOfWork | None:
    """The unit of work whose session this is (None for another session): for a mapper event,
    which is given the object and finds its session."""
    return None if session is None else session.info.get(_UOW_KEY)


class _UowSession(SyncSession):
    """A unit of work's session: its queries first write what the unit holds back (upserts,
    appended rows). One listener for the class, not one registered per session (SQLAlchemy's
    event registration cost a few percent of a small request)."""


@event.listens_for(_UowSession, "do_orm_execute")
def _before_orm_query(state: ORMExecuteState) -> None:
    uow = state.session.info.get(_UOW_KEY)
    if uow is not None:
        uow._before_orm_query(state)


class UnitOfWork:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        outbox: Table,
        inbox: Table,
        on_commit: Callable[[], None] = lambda: None,
        topic_prefix: str = "",
        timers: Table | None = None,
        on_timers: Callable[[], None] = lambda: None,
        clock: Clock | None = None,
        archive: Table | None = None,
        read_only: bool = False,
        rollup: Rollup | None = None,
    ) -> None:
        self.read_only = read_only  # a GET's: it reads, and never commits
        # Told at commit what the transaction wrote behind (upserts and inserts, by table), in
        # the transaction: reporting marks there what its KPI tallies must count again.
        self._rollup = rollup
        self._written: dict[str, list[dict[str, Any]]] = {}
        self._topic_prefix = topic_prefix
        self._archive = archive
        self._archived: list[dict[str, Any]] = []
        self._timer_table = timers
        self._on_timers = on_timers
        self._timers: dict[str, dict[str, Any] | None] = {}  # key -> row to arm, or None: cancel
        self.clock: Clock = clock or SystemClock()
        self._engine = engine
        self._outbox = outbox
        self._inbox = inbox
        self._on_commit = on_commit
        self._events: list[dict[str, Any]] = []
        self._wrote_events = self._wrote_timers = False  # since the last commit
        self._processed: list[dict[str, Any]] = []
        self._upserts: dict[type[SQLModel], dict[tuple[Any, ...], dict[str, Any]]] = {}
        # Upserts written at commit, after everything else (`upsert_last`).
        self._last: dict[type[SQLModel], dict[tuple[Any, ...], dict[str, Any]]] = {}
        self._inserts: dict[type[TableModel], list[dict[str, Any]]] = {}
        self.session: AsyncSession
        # What the handlers of one batch of events look up once and share (within this
        # transaction only), by a name of their own.
        self.memo: dict[str, Any] = {}

    async def __aenter__(self) -> UnitOfWork:
        self.session = AsyncSession(
            self._engine,
            expire_on_commit=False,
            sync_session_class=_UowSession,
            info={_UOW_KEY: self},
        )
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

    def upsert(self, model: type[SQLModel], **values: Any) -> None:
        """Insert or update the row of `model` whose primary key `values` hold (write-behind;
        see the module's docstring)."""
        pk = tuple(values[name] for name in _key_of(model))
        session = self.session.sync_session
        # (Nothing loaded, the usual case for a projection: no key to build and look up.)
        loaded = (
            session.identity_map.get(session.identity_key(model, pk))  # type: ignore[arg-type]
            if len(session.identity_map)
            else None
        )
        if loaded is not None:
            for name, value in values.items():
                setattr(loaded, name, value)
            return
        rows = self._upserts.setdefault(model, {})
        rows[pk] = {**rows.get(pk, {}), **values}

    def upsert_last(self, model: type[SQLModel], **values: Any) -> None:
        """`upsert`, written at commit after every other write: for a version row that each
        writer of something shared updates, locked on PostgreSQL only for the commit's last
        statement, never while the transaction goes on (two writers holding other rows never
        wait on each other for it)."""
        rows = self._last.setdefault(model, {})
        pk = tuple(values[name] for name in _key_of(model))
        rows[pk] = {**rows.get(pk, {}), **values}

    def project(self, view: type[SQLModel], data: BaseModel, **values: Any) -> None:
        """Upsert a read model from an event: the view's columns the event carries, under the
        same names (never copied field by field), plus `values` (its key, the organisation...,
        which win over a field of the same name)."""
        self.upsert(view, **{**data.model_dump(include=set(view.model_fields)), **values})

    def insert(self, model: type[TableModel], **values: Any) -> None:
        """Append a row of `model` (history, signals: rows never updated), written behind like
        upserts: one multi-row INSERT per table, with no ORM object built per row. The fields
        not given take the model's defaults (`TableModel.filled`)."""
        self._inserts.setdefault(model, []).append(model.filled(**values))

    def _before_orm_query(self, state: ORMExecuteState) -> None:
        if (self._upserts or self._inserts) and state.is_select:
            self._write_upserts(state.session)

    def _write_upserts(self, session: Session) -> None:
        pending, self._upserts = self._upserts, {}
        appended, self._inserts = self._inserts, {}
        self._write(session, appended, pending)

    def _write_last(self, session: Session) -> None:
        pending, self._last = self._last, {}
        self._write(session, {}, pending)

    def _write(
        self,
        session: Session,
        appended: dict[type[TableModel], list[dict[str, Any]]],
        pending: dict[type[SQLModel], dict[tuple[Any, ...], dict[str, Any]]],
    ) -> None:
        conn = session.connection()
        for model, new_rows in appended.items():
            table: Table = model.__table__  # type: ignore[attr-defined]
            if self._rollup is not None:
                self._written.setdefault(table.name, []).extend(new_rows)
            for same in _by_shape(new_rows):
                conn.execute(*bulk.write(conn, table, same))
        for upserted, rows in pending.items():
            table = upserted.__table__  # type: ignore[attr-defined]
            if self._rollup is not None:
                self._written.setdefault(table.name, []).extend(rows.values())
            keys = [c.name for c in table.primary_key.columns]
            for same in _by_shape(rows.values()):
                # One statement per table and shape, for all its rows (shared.bulk).
                update = [c for c in same[0] if c not in keys]
                conn.execute(*bulk.write(conn, table, same, conflict=keys, update=update))

    def now(self) -> datetime:
        """The runtime's clock (injectable: tests move it instead of sleeping)."""
        return self.clock.now()

    def schedule(
        self,
        key: str,
        *,
        kind: str,
        due_at: datetime,
        org: str,
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        """Arm (or re-arm) the timer `key` to fire `kind`'s handler at `due_at`, if and only if
        this unit of work commits."""
        if self._timer_table is None:
            raise RuntimeError("this service declares no timer table")
        if due_at.tzinfo is None:
            raise ValueError("timers are due at timezone-aware times")
        self._timers[key] = {
            "key": key,
            "kind": kind,
            "org": org,
            "due_at": due_at,
            # The trace that armed it: the firing continues it (shared.timers).
            "payload": {**(payload or {}), TRACE_KEY: current_trace_headers()},
            "attempts": 0,
            "last_error": None,
            "parked_at": None,
            "created_at": self.now(),
        }

    @property
    def timer_table(self) -> Table:
        """The service's timer table (to read its deadlines in bulk)."""
        if self._timer_table is None:
            raise RuntimeError("this service declares no timer table")
        return self._timer_table

    def cancel_timer(self, key: str) -> None:
        """Drop the timer `key` (nothing if there is none), if this unit of work commits."""
        if self._timer_table is None:
            raise RuntimeError("this service declares no timer table")
        self._timers[key] = None

    async def _write_timers(self, timers: dict[str, dict[str, Any] | None]) -> None:
        table = self._timer_table
        assert table is not None
        conn = await self.session.connection()
        cancelled = [k for k, row in timers.items() if row is None]
        armed = [row for row in timers.values() if row is not None]
        if cancelled:
            await conn.execute(delete(table).where(one_of(table.c.key, cancelled)))
        if armed:
            keep = {"key", "created_at"}
            update = [c.name for c in table.columns if c.name not in keep]
            await conn.execute(*bulk.write(conn, table, armed, conflict=["key"], update=update))

    def emit(self, data: EventData, *, org: str) -> str:
        """Declare an event (written to the outbox if this unit of work commits); its id."""
        trace_headers = current_trace_headers()
        event_id, headers, value = wire_of(
            data,
            org=org,
            time=self.clock.now(),  # the domain's time (tests move it), which reports count by
            traceparent=trace_headers.get("traceparent"),
            tracestate=trace_headers.get("tracestate"),
        )
        self._events.append(
            {
                "event_id": event_id,
                "topic": topic_for(data.TYPE, self._topic_prefix),
                "key": data.key(),
                "headers": headers,
                "payload": value,
                "created_at": datetime.now(UTC),
            }
        )
        return event_id

    async def processed_ids(self, consumer: str, event_ids: list[str]) -> set[str]:
        """Which of these events the consumer group has applied already (one query)."""
        conn = await self.session.connection()
        inbox, ids = self._inbox, sorted(set(event_ids))
        if conn.dialect.name == "postgresql":
            # One primary-key lookup per id, whatever the planner's statistics say: with
            # `consumer = x AND event_id IN (...)` a young, fast-growing inbox was read whole
            # for its consumer and filtered (100+ ms per batch at 20,000 rows).
            # The ids travel as one array parameter (an ARRAY literal would build a bound
            # parameter per id: a second per 60,000 ids in Python).
            ids_param = bindparam("ids", ids, type_=ARRAY(inbox.c.event_id.type))
            wanted = func.unnest(ids_param).table_valued("id").render_derived()
            query = (
                select(inbox.c.event_id)
                .select_from(wanted)
                .join(inbox, (inbox.c.consumer == consumer) & (inbox.c.event_id == wanted.c.id))
            )
        else:
            query = select(inbox.c.event_id).where(
                inbox.c.consumer == consumer, inbox.c.event_id.in_(ids)
            )
        rows = await conn.execute(query)
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

    def archive(self, message: Message, event: Event) -> None:
        if self._archive is None:
            return
        self._archived.append(
            {
                "event_id": event.id,
                "org": event.org,
                "type": event.type,
                "time": event.time,
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
                "key": message.key,
                "headers": {k: v.decode() for k, v in message.headers},
                "data": event.data,
                "archived_at": datetime.now(UTC),
            }
        )

    async def write_pending(self) -> None:
        """Write now, in the transaction, what is written behind: upserts, inserts, events,
        inbox records and timers (not the session's ORM objects: `commit` flushes those). A
        bulk use case runs it as a task for one chunk of its work while it computes the next,
        so that the database writes the one while Python computes the other."""
        if self._upserts or self._inserts:
            await self.session.run_sync(self._write_upserts)
        # Core inserts on the session's own connection: the same transaction as the changes.
        conn = await self.session.connection()
        archived, self._archived = self._archived, []
        if archived:
            await conn.execute(*bulk.write(conn, self._archive, archived))  # type: ignore[arg-type]
        events, self._events = self._events, []
        processed, self._processed = self._processed, []
        timers, self._timers = self._timers, {}
        if events:
            await conn.execute(*bulk.write(conn, self._outbox, events))
            self._wrote_events = True
        if processed:
            await conn.execute(*bulk.write(conn, self._inbox, processed))
        if timers:
            await self._write_timers(timers)
            self._wrote_timers = True

    async def commit(self) -> None:
        if self.read_only:  # (on PostgreSQL its statements autocommit: nothing to hold back)
            raise RuntimeError("a read-only unit of work (a GET's) writes nothing")
        await self.session.flush()
        await self.write_pending()
        if self._last:
            await self.session.run_sync(self._write_last)
        if self._written:
            written, self._written = self._written, {}
            rollup = self._rollup
            assert rollup is not None
            await self.session.run_sync(lambda session: rollup(session.connection(), written))
        await self.session.commit()
        had_events, had_timers = self._wrote_events, self._wrote_timers
        self._wrote_events = self._wrote_timers = False
        if had_events:
            self._on_commit()
        if had_timers:
            self._on_timers()


@functools.cache
def _key_of(model: type[SQLModel]) -> tuple[str, ...]:
    """The names of a table's primary key columns (iterating the key's columns for each of
    a batch's upserts cost more than the rest of the upsert)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return tuple(c.name for c in table.primary_key.columns)


def _by_shape(rows: Iterable[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped by the columns they set (one statement per group)."""
    shapes: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in rows:
        shapes.setdefault(frozenset(row), []).append(row)
    return list(shapes.values())
