"""Rebuilding a service's projections from the event log while the old ones keep serving.

1. **Shadow.** The projection's tables (those its handlers write, and its inbox) are made anew
   beside the live ones: in a schema `rebuild` on PostgreSQL, in a file of their own next to
   the service's on SQLite.
2. **Replay.** Every event the service's consumer applied goes again through a consumer of
   the service (the same decoding, contracts, handlers and inbox) into the shadow, in batches:
   from the service's event archive (shared.messaging.tables), in the order the live consumer
   applied them, or (`source="log"`, for a service whose archive started after its history)
   every record of its subscriptions from the start of each topic, merged in event-time order
   (each partition's own order kept). Then again from where the last pass stopped, until a
   pass finds little new.
3. **Switch.** One transaction on the live database keeps the live consumer from writing
   (PostgreSQL: the archive and the inbox locked against writers, the projection's tables
   against everyone; SQLite: its write lock), puts the shadow in the live projection's place,
   and applies the events that arrived since the last pass. On PostgreSQL the shadow's tables
   themselves take the live ones' place (dropped, the shadow's moved into the live schema):
   no copy, no million dead rows left behind, and readers wait the switch's moment (the tail)
   before they read the new projection. On SQLite the shadow's rows are copied over, and
   readers read the old projection until the commit. A deadlock or an outage there rolls it
   back whole, and it is tried again.
   From the archive, the live inbox stays (not copied) and the tail is the archived events
   past the last pass's start that it did not apply, applied without the live inbox (the
   replay reads each archived event once, in sequence order, so the shadow keeps no inbox);
   a live delivery that waited on the lock had archived nothing yet and applies its events to
   the new tables. From the log,
   the shadow's inbox replaces the live one, and a live delivery that waited finds its event
   there, rolls back and skips it.
The shadow is dropped at the end (and at the start, if a previous rebuild was interrupted).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared import db
from shared.events import Event
from shared.messaging.bus import Bus, Message, Record
from shared.messaging.consumer import EventConsumer
from shared.messaging.failures import backoff_delay, is_transient
from shared.messaging.tables import ARCHIVE
from shared.service import ServiceDef
from shared.settings import Settings
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

SCHEMA = "rebuild"
# Events per transaction (from the archive, 200,000 events: 2,000 gave 15,300 events/s, 5,000
# gave 17,300).
BATCH = 5_000
# A replay pass that found fewer new records than this is the last before the switch.
SMALL = 1_000
PASSES = 5
SWITCH_ATTEMPTS = 10

Offsets = dict[str, dict[int, int]]  # topic -> partition -> next offset


@dataclass
class Rebuilt:
    """What a rebuild did: records replayed, those skipped as undecodable or off contract
    (the live consumer dead-lettered them already), rows per table, seconds taken (and how
    long the switch held the live consumer)."""

    replayed: int
    skipped: int
    rows: dict[str, int]
    seconds: float
    switch_seconds: float  # of `seconds`: the switch's transaction (writers kept waiting)


class _Skipped:
    """The bus the replaying consumer dead-letters to: it only counts (the live consumer has
    dead-lettered those records already; a rebuild must not do it twice)."""

    system = "rebuild"

    def __init__(self) -> None:
        self.count = 0

    async def publish(self, records: list[Record]) -> None:
        self.count += len(records)


def _time(message: Message) -> str:
    """The event's time (CloudEvents `ce_time`), for merging topics in the order things
    happened; undecodable records sort first and are skipped by the consumer."""
    for key, value in message.headers:
        if key == "ce_time":
            try:
                return datetime.fromisoformat(value.decode()).isoformat()
            except ValueError:
                return ""
    return ""


def _archived(row: Any) -> tuple[Message, Event]:
    """An archived event as the bus delivered it, and decoded (it was, to be archived)."""
    h = row.headers
    event = Event(  # validating the envelope costs less than pydantic's model_construct
        id=row.event_id,
        type=row.type,
        source=h.get("ce_source", ""),
        subject=h.get("ce_subject", ""),
        time=h["ce_time"],  # as sent (a SQLite column reads back without its zone)
        org=row.org,
        data=row.data,
        traceparent=h.get("ce_traceparent"),
        tracestate=h.get("ce_tracestate"),
    )
    message = Message(row.topic, row.partition, row.offset, row.key, headers=[], value=None)
    return message, event


def _batches(items: Iterable[Message], size: int) -> Iterator[list[Message]]:
    batch: list[Message] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class Rebuild:
    """`binome reporting rebuild`: see the module's docstring."""

    def __init__(
        self,
        definition: ServiceDef,
        settings: Settings,
        bus: Bus,
        *,
        kept: Sequence[str],
        source: str = "archive",
        before_switch: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.definition = definition
        self.settings = settings
        self.bus = bus
        metadata = definition.base.metadata
        # Everything the handlers derive from events; `kept`: tables that hold what callers
        # made (links, outbox, timers), not derived, left as they are.
        left = {"outbox", "timer", ARCHIVE, *kept}
        self.tables: list[Table] = [t for t in metadata.sorted_tables if t.name not in left]
        self.inbox = metadata.tables["inbox"]
        self.archive: Table | None = None
        if source == "archive":
            self.archive = metadata.tables.get(ARCHIVE)
            if self.archive is None:
                raise ValueError(f"{definition.name} keeps no event archive: rebuild from the log")
        elif source != "log":
            raise ValueError(f"unknown source {source!r}: archive or log")
        # Where the replay stands: the archive's last sequence number replayed, and where the
        # last pass began (the switch's tail starts there: an event committed out of sequence
        # order by a concurrent transaction is not missed; one applied already is skipped).
        self.seq = self.last_pass_from = 0
        # The archived events the last pass applied, by sequence number: the switch's tail
        # skips them. (From the archive, each event is read once, in sequence order: the
        # shadow keeps no inbox, whose million rows were a quarter of a rebuild.)
        self.last_pass_seqs: set[int] = set()
        # Run between the last pass and the switch (a drill: events arriving meanwhile are
        # the switch's tail).
        self.before_switch = before_switch
        self.outbox = metadata.tables["outbox"]
        self.url = settings.database_url_for(definition.name)
        self.sqlite = make_url(self.url).get_backend_name() == "sqlite"
        self.shadow_file = Path(f"{make_url(self.url).database}.rebuild") if self.sqlite else None
        self.skipped = _Skipped()

    # --- the shadow ---------------------------------------------------------------------

    def _shadow_engine(self) -> AsyncEngine:
        if self.shadow_file is not None:
            return db.create_engine(f"sqlite+aiosqlite:///{self.shadow_file}")
        return db.create_engine(self.url).execution_options(schema_translate_map={None: SCHEMA})

    def _live_engine(self) -> AsyncEngine:
        """The live database, with the shadow readable as schema `rebuild` (attached on
        SQLite)."""
        engine = db.create_engine(self.url)
        if self.shadow_file is not None:
            shadow = str(self.shadow_file)

            @event.listens_for(engine.sync_engine, "connect")
            def _attach(dbapi_connection: Any, _: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute(f"ATTACH DATABASE ? AS {SCHEMA}", (shadow,))
                cursor.close()

        return engine

    async def _drop_shadow(self) -> None:
        if self.shadow_file is not None:
            files = [Path(f"{self.shadow_file}{suffix}") for suffix in ("", "-wal", "-shm")]
            for file in files:
                await asyncio.to_thread(file.unlink, missing_ok=True)
            return
        engine = db.create_engine(self.url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        finally:
            await engine.dispose()

    async def _make_shadow(self, shadow: AsyncEngine) -> None:
        async with shadow.begin() as conn:
            if self.shadow_file is None:
                await conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
            await conn.run_sync(
                lambda c: self.definition.base.metadata.create_all(
                    c, tables=self.tables, checkfirst=False
                )
            )
            if self.shadow_file is None:
                # The rebuild vacuums its tables itself, once they are full (`_vacuum`):
                # autovacuum's passes meanwhile took the replay's CPU, then held up that
                # vacuum and the switch.
                for table in self.tables:
                    name = f'{SCHEMA}."{table.name}"'
                    await conn.execute(text(f"ALTER TABLE {name} SET (autovacuum_enabled = false)"))

    async def _vacuum(self, shadow: AsyncEngine) -> None:
        """The shadow's tables vacuumed and analysed before they take the live ones' place
        (while the live projection still serves): the planner's statistics, and the
        visibility map that lets a KPI read an index alone. Freshly written and unvacuumed,
        the KPIs took nearly twice as long."""
        listed = ", ".join(f'{SCHEMA}."{t.name}"' for t in self.tables)
        async with shadow.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            await conn.execute(text(f"VACUUM (ANALYZE) {listed}"))

    # --- replaying ----------------------------------------------------------------------

    def _consumer(
        self,
        uow: Callable[[], UnitOfWork],
        health: Callable[[], Any],
        *,
        live: bool = False,
        deduplicate: bool = True,
    ) -> EventConsumer:
        """The service's consumer replaying into the shadow: its projections only (a
        reaction, a webhook queued, happened when the event was first heard); `live`, the
        switch's tail on the live tables: its reactions too (events the live consumer may
        not have heard; a reaction is idempotent)."""
        d = self.definition
        return EventConsumer(
            group=d.group(self.settings.topic_prefix),
            handlers=d.handlers if live else d.projections,
            uow_factory=uow,
            bus=self.skipped,  # type: ignore[arg-type]  # publish and system are all it uses
            dead_letter="rebuild-skipped",
            health_check=health,
            max_attempts=1,
            service=self.definition.name,
            traced=False,  # a span per event replayed would tell an operator nothing
            deduplicate=deduplicate,
        )

    async def _replay(
        self, consumer: EventConsumer, since: Offsets, conn: AsyncConnection | None = None
    ) -> int:
        """Apply every event past where the replay stands (moved on to where this pass
        stopped); `conn`: read the archive there (the switch's transaction)."""
        if self.archive is not None:
            return await self._replay_archive(consumer, self.archive, conn)
        return await self._replay_log(consumer, since)

    async def _replay_archive(
        self, consumer: EventConsumer, archive: Table, conn: AsyncConnection | None
    ) -> int:
        if conn is None:
            self.last_pass_from, self.last_pass_seqs = self.seq, set()
        after = self.last_pass_from if conn is not None else self.seq
        count = 0
        engine = None if conn is not None else db.create_engine(self.url)

        async def page(after: int) -> Sequence[Any]:
            query = (
                select(archive).where(archive.c.seq > after).order_by(archive.c.seq).limit(BATCH)
            )
            if engine is None:
                assert conn is not None
                return (await conn.execute(query)).all()
            async with db.reading(engine) as reader:
                return (await reader.execute(query)).all()

        try:
            rows = await page(after)
            while rows:
                # The next page is read while this one is applied (not in the switch's own
                # transaction: one connection, one statement at a time).
                ahead = asyncio.create_task(page(rows[-1].seq)) if engine is not None else None
                # A pass reads each event once; the switch's tail, what the last pass has not.
                new = (
                    rows if conn is None else [r for r in rows if r.seq not in self.last_pass_seqs]
                )
                try:
                    await consumer.deliver_decoded([_archived(row) for row in new])
                except BaseException:
                    if ahead is not None:
                        ahead.cancel()
                    raise
                if conn is None:
                    self.last_pass_seqs.update(row.seq for row in new)
                count += sum(1 for row in new if row.seq > self.seq)
                self.seq = max(self.seq, rows[-1].seq)
                rows = await ahead if ahead is not None else await page(rows[-1].seq)
            return count
        finally:
            if engine is not None:
                await engine.dispose()

    async def _replay_log(self, consumer: EventConsumer, since: Offsets) -> int:
        """Apply every record past `since` (moved on to where this pass stopped)."""
        streams: list[list[Message]] = []
        for topic in self.definition.subscriptions(self.settings.topic_prefix):
            messages = await self.bus.read_topic(topic, since=since.get(topic, {}))
            by_partition: dict[int, list[Message]] = {}
            for m in messages:
                by_partition.setdefault(m.partition, []).append(m)
            for partition, stream in by_partition.items():
                streams.append(stream)
                since.setdefault(topic, {})[partition] = stream[-1].offset + 1
        count = 0
        for batch in _batches(heapq.merge(*streams, key=_time), BATCH):
            await consumer.deliver(batch)
            count += len(batch)
        return count

    def _uow(self, engine: AsyncEngine | AsyncConnection) -> UnitOfWork:
        return UnitOfWork(
            engine=engine,  # type: ignore[arg-type]  # a connection: joins its transaction
            outbox=self.outbox,
            inbox=self.inbox,
            topic_prefix=self.settings.topic_prefix,
            rollup=self.definition.rollup,
        )

    # --- the switch ---------------------------------------------------------------------

    async def _switch(self, conn: AsyncConnection, since: Offsets) -> int:
        names = [t.name for t in self.tables]
        # The archive and the inbox first (a deadlock with a live transaction that wrote a
        # projection table first is retried: `_switched`).
        first = [ARCHIVE] if self.archive is not None else []
        names = [*first, "inbox", *(n for n in names if n != "inbox")]
        # From the archive, the live inbox stays (every event the live consumer applied: its
        # memory against redeliveries, the biggest table, not copied); the tail applies the
        # archived events the last pass has not, without the live inbox.
        from_archive = self.archive is not None
        replaced = [t for t in self.tables if not (from_archive and t is self.inbox)]
        if self.sqlite:  # the shadow is another file: its rows are copied
            for table in reversed(replaced):
                await conn.execute(table.delete())
            for table in replaced:
                cols = ", ".join(f'"{c.name}"' for c in table.columns)
                source = f'{SCHEMA}."{table.name}"'
                await conn.execute(
                    text(f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM {source}')
                )
        else:  # the shadow's tables take the live ones' place, rows and indexes: no copy
            swapped = {t.name for t in replaced}
            for mode, which in (
                ("EXCLUSIVE", [n for n in names if n not in swapped]),
                # Readers wait from here to the commit (a moment: the tail), then read anew.
                ("ACCESS EXCLUSIVE", [n for n in names if n in swapped]),
            ):
                if which:
                    listed = ", ".join(f'"{n}"' for n in which)
                    await conn.execute(text(f"LOCK TABLE {listed} IN {mode} MODE"))
            live = await conn.scalar(text("SELECT current_schema()"))
            for table in replaced:
                await conn.execute(text(f'DROP TABLE "{table.name}"'))
                await conn.execute(text(f'ALTER TABLE {SCHEMA}."{table.name}" SET SCHEMA "{live}"'))
                await conn.execute(text(f'ALTER TABLE "{table.name}" RESET (autovacuum_enabled)'))

        async def healthy() -> None:
            return None

        tail = self._consumer(
            lambda: self._uow(conn), healthy, live=True, deduplicate=not from_archive
        )
        return await self._replay(tail, since, conn)

    async def _switched(self, live: AsyncEngine, since: Offsets) -> int:
        """The switch, tried again whole after a transient failure (a deadlock with the live
        consumer, the database away for a moment): it is one transaction."""
        seq, attempt = self.seq, 0
        while True:
            attempt += 1
            try:
                async with live.begin() as conn:
                    return await self._switch(conn, {t: dict(p) for t, p in since.items()})
            except Exception as error:
                if attempt >= SWITCH_ATTEMPTS or not is_transient(error):
                    raise
                log.warning("rebuild switch failed (%r); trying again", error)
                self.seq = seq
                await asyncio.sleep(backoff_delay(attempt, base_s=0.2, cap_s=5.0))

    async def run(self) -> Rebuilt:
        started = time.monotonic()
        live = db.create_engine(self.url)
        try:  # the live tables as the handlers know them
            await db.upgrade(live, self.definition.migrations_dir)
        finally:
            await live.dispose()
        await self._drop_shadow()
        shadow = self._shadow_engine()
        since: Offsets = {}
        replayed = 0
        try:
            await self._make_shadow(shadow)

            async def ping() -> None:
                await db.ping(shadow)

            consumer = self._consumer(
                lambda: self._uow(shadow), ping, deduplicate=self.archive is None
            )
            for n in range(PASSES):
                found = await self._replay(consumer, since)
                replayed += found
                log.info("rebuild pass %d: %d records", n + 1, found)
                if found < SMALL:
                    break
            if not self.sqlite:
                await self._vacuum(shadow)
        finally:
            await shadow.dispose()
        if self.before_switch is not None:
            await self.before_switch()
        live = self._live_engine()
        switching = time.monotonic()
        try:
            replayed += await self._switched(live, since)
            switched = time.monotonic() - switching
            async with db.reading(live) as conn:
                rows = {
                    t.name: (
                        await conn.execute(text(f'SELECT count(*) FROM "{t.name}"'))
                    ).scalar_one()
                    for t in self.tables
                }
        finally:
            await live.dispose()
        await self._drop_shadow()
        return Rebuilt(
            replayed,
            self.skipped.count,
            rows,
            round(time.monotonic() - started, 2),
            round(switched, 2),
        )
