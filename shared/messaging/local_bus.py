"""The embedded mode's bus: a durable partitioned log in one SQLite file, in-process.

It keeps Kafka's semantics (see shared.messaging.bus) so that code and tests behave the same in
both modes: records are appended to per-(topic, partition) logs, each consumer group keeps a
committed offset per partition, and a group's offset only moves after its handler returned.
Because the log is a file, a crash or restart of the embedded process loses nothing: every group
resumes from its committed offsets. `purge` forgets what every group has read once it is older
than the retention, as the services' relays ask (shared.messaging.retention); where a partition
then starts is kept, so offsets never go back.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    Text,
    bindparam,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import create_engine, reading
from shared.messaging.bus import (
    Deliver,
    Message,
    Record,
    ended,
    partition_for,
    stop_gracefully,
)

log = logging.getLogger(__name__)

_md = MetaData()
_log = Table(
    "log",
    _md,
    Column("topic", String, primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("offset", Integer, primary_key=True),
    Column("key", String, nullable=False),
    Column("headers", Text, nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("at", Float, nullable=True),  # published (Unix time; a log from before: NULL)
)
# Where a partition starts once purged (the next record's offset when none is left).
_starts = Table(
    "log_start",
    _md,
    Column("topic", String, primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("start_offset", Integer, nullable=False),
)
_offsets = Table(
    "group_offsets",
    _md,
    Column("grp", String, primary_key=True),
    Column("topic", String, primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", Integer, nullable=False),
)


# The partitions one drain statement reads at most (SQLite takes 500 SELECTs in a compound one).
PARTITIONS_PER_DRAIN = 100


# A drain's statements, built once (per number of partitions) with their parameters bound at
# each call: a consumer drains on every publish it hears, and building a statement costs more
# than SQLite running it.
@functools.cache
def _pages(partitions: int) -> Any:
    """One statement reading, in `partitions` partitions (`topic<i>`, `partition<i>`), the
    next page of the group (`grp`) past its committed offset: a drain is one trip to SQLite's
    thread, not one for the offsets and one per partition (five groups draining what one
    publish appended took turns on the event loop for each)."""
    pages = []
    for i in range(partitions):
        topic = bindparam(f"topic{i}", type_=String())
        partition = bindparam(f"partition{i}", type_=Integer())
        committed = (
            select(_offsets.c.next_offset)
            .where(
                _offsets.c.grp == bindparam("grp"),
                _offsets.c.topic == topic,
                _offsets.c.partition == partition,
            )
            .scalar_subquery()
        )
        page = (
            select(_log)
            .where(
                _log.c.topic == topic,
                _log.c.partition == partition,
                _log.c.offset >= func.coalesce(committed, 0),
            )
            .order_by(_log.c.offset)
            .limit(bindparam("batch"))
        )
        pages.append(select(page.subquery()))
    return pages[0] if partitions == 1 else union_all(*pages)


# Messages built lately (every group of the process reads the same records, in a burst):
# each record's headers decoded once, not once per group; the oldest forgotten past this.
RECENT_MESSAGES = 20_000


def _encode_headers(headers: list[tuple[str, bytes]]) -> str:
    return json.dumps([[k, v.decode()] for k, v in headers])


def _decode_headers(raw: str) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in json.loads(raw)]


@dataclass
class _Subscription:
    group: str
    topics: list[str]
    deliver: Deliver
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None
    # Where to look on the next drain: the partitions this bus appended to since the last
    # one (and those a drain left records in); everywhere at start, after a failed delivery,
    # and once per poll interval, for records another process appended (a CLI's dead-letter
    # replay).
    touched: set[tuple[str, int]] = field(default_factory=set)
    everywhere: bool = True
    looked_everywhere_at: float = 0.0  # time.monotonic()


class LocalBus:
    system = "binome_embedded_log"  # not a system OpenTelemetry names: a custom value

    def __init__(
        self,
        path: Path,
        *,
        partitions: int = 6,
        poll_interval_s: float = 1.0,
        retry_pause_s: float = 0.5,
        batch: int = 200,
    ) -> None:
        self._engine = create_engine(f"sqlite+aiosqlite:///{path}")
        self._partitions = partitions
        self._poll = poll_interval_s
        self._retry_pause = retry_pause_s
        self._batch = batch
        self._subs: list[_Subscription] = []
        self._started = False
        self._stopping = asyncio.Event()
        self._writers = asyncio.Lock()
        self._recent: dict[tuple[str, int, int], Message] = {}

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction on the log. The process's writers (relays appending, consumers
        committing, purges) take turns on a lock, each woken the moment the one before commits:
        SQLite's busy handler, which sleeps 1, 2, 5, 10... up to 100 ms between looks at a
        locked file, made a relay wait up to 0.1 s behind five consumers' commits of a few
        milliseconds each. A writer of another process (a CLI's replay) still meets it."""
        async with self._writers, self._engine.begin() as conn:
            yield conn

    async def start(self) -> None:
        async with self._writing() as conn:
            await conn.run_sync(_md.create_all)
            columns = {r[1] for r in (await conn.exec_driver_sql("PRAGMA table_info(log)")).all()}
            if "at" not in columns:  # a log made before records were timed
                await conn.exec_driver_sql("ALTER TABLE log ADD COLUMN at FLOAT")
        self._started = True
        for sub in self._subs:
            sub.task = asyncio.create_task(self._consume(sub), name=f"local-bus:{sub.group}")

    async def stop(self) -> None:
        """Let each consumer finish the message in hand and commit, then stop."""
        self._stopping.set()
        for sub in self._subs:
            sub.wake.set()
        await stop_gracefully([sub.task for sub in self._subs if sub.task])
        self._started = False
        await self._engine.dispose()

    async def ensure_topics(self, topics: list[str]) -> list[str]:
        """Topics exist implicitly in the log; nothing to create."""
        return []

    async def missing_topics(self, topics: list[str]) -> list[str]:
        return []

    async def backlog(self, group: str, topics: list[str]) -> int:
        """Records in `topics` the group has not committed past (its lag)."""
        async with reading(self._engine) as conn:
            ends = (
                await conn.execute(
                    select(_log.c.topic, _log.c.partition, func.max(_log.c.offset) + 1)
                    .where(_log.c.topic.in_(topics))
                    .group_by(_log.c.topic, _log.c.partition)
                )
            ).all()
            committed = {
                (r.topic, r.partition): r.next_offset
                for r in (
                    await conn.execute(
                        select(_offsets).where(
                            _offsets.c.grp == group, _offsets.c.topic.in_(topics)
                        )
                    )
                ).all()
            }
        return sum(end - committed.get((t, p), 0) for t, p, end in ends)

    async def count(self, topic: str) -> int:
        async with reading(self._engine) as conn:
            return int(await conn.scalar(select(func.count()).where(_log.c.topic == topic)) or 0)

    def dead_loops(self) -> list[str]:
        if self._stopping.is_set():
            return []
        return ended(sub.task for sub in self._subs if sub.task)

    async def ping(self) -> None:
        async with reading(self._engine) as conn:
            await conn.execute(text("SELECT 1"))

    async def publish(self, records: list[Record]) -> None:
        if not records:
            return
        now = time.time()
        placed = [(r, (r.topic, partition_for(r.key, self._partitions))) for r in records]
        async with self._writing() as conn:
            next_offsets = await self._last_offsets(conn, list(dict.fromkeys(k for _, k in placed)))
            rows = []
            for r, key in placed:
                next_offsets[key] += 1
                rows.append(
                    {
                        "topic": r.topic,
                        "partition": key[1],
                        "offset": next_offsets[key],
                        "key": r.key,
                        "headers": _encode_headers(r.headers),
                        "value": r.value,
                        "at": now,
                    }
                )
            await conn.execute(insert(_log), rows)
        for sub in self._subs:
            sub.touched.update(key for key in next_offsets if key[0] in sub.topics)
            sub.wake.set()

    @staticmethod
    async def _last_offsets(
        conn: AsyncConnection, keys: list[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        """Each partition's last offset (before its start, if purged to its end or new), in
        one statement: a look-up per partition, each through the log's key (the write lock is
        held meanwhile, so one trip to SQLite's thread instead of one per partition)."""

        def last(topic: str, partition: int) -> Any:
            found = _log.c.topic == topic, _log.c.partition == partition
            started = _starts.c.topic == topic, _starts.c.partition == partition
            return func.coalesce(
                select(func.max(_log.c.offset)).where(*found).scalar_subquery(),
                select(_starts.c.start_offset - 1).where(*started).scalar_subquery(),
                literal(-1),
            )

        row = (await conn.execute(select(*(last(t, p) for t, p in keys)))).one()
        return dict(zip(keys, row, strict=True))

    async def purge(self, topic: str, *, before: datetime, consumed: bool = True) -> int:
        """See shared.messaging.bus.Bus.purge."""
        cut = before.timestamp()
        on_topic = _log.c.topic == topic
        async with self._writing() as conn:
            ends: dict[int, int] = {
                p: end
                for p, end in await conn.execute(
                    select(_log.c.partition, func.max(_log.c.offset) + 1)
                    .where(on_topic)
                    .group_by(_log.c.partition)
                )
            }
            recent: dict[int, int] = {  # the earliest record young enough to keep
                p: first
                for p, first in await conn.execute(
                    select(_log.c.partition, func.min(_log.c.offset))
                    .where(on_topic, _log.c.at >= cut)
                    .group_by(_log.c.partition)
                )
            }
            read: dict[str, dict[int, int]] = {}
            if consumed:
                for r in await conn.execute(select(_offsets).where(_offsets.c.topic == topic)):
                    read.setdefault(r.grp, {})[r.partition] = r.next_offset
            purged = 0
            for partition, end in ends.items():
                upto = min(
                    [recent.get(partition, end), *(o.get(partition, 0) for o in read.values())]
                )
                if upto <= 0:
                    continue
                done = await conn.execute(
                    _log.delete().where(
                        on_topic, _log.c.partition == partition, _log.c.offset < upto
                    )
                )
                purged += done.rowcount or 0
                start = sqlite_insert(_starts).values(
                    topic=topic, partition=partition, start_offset=upto
                )
                await conn.execute(
                    start.on_conflict_do_update(
                        index_elements=["topic", "partition"],
                        set_={"start_offset": func.max(_starts.c.start_offset, upto)},
                    )
                )
        return purged

    def subscribe(self, *, group: str, topics: list[str], deliver: Deliver) -> None:
        sub = _Subscription(group=group, topics=list(topics), deliver=deliver)
        self._subs.append(sub)
        if self._started:
            sub.task = asyncio.create_task(self._consume(sub), name=f"local-bus:{group}")

    async def read_topic(self, topic: str, since: Mapping[int, int] | None = None) -> list[Message]:
        """Every record `topic` holds now (from offset `since[partition]` on, if given), in
        partition then offset order (no consumer group: reading moves no offset)."""
        since = since or {}
        later = [(_log.c.partition == p) & (_log.c.offset < o) for p, o in since.items()]
        async with reading(self._engine) as conn:
            rows = (
                await conn.execute(
                    select(_log)
                    .where(_log.c.topic == topic, ~or_(false(), *later))
                    .order_by(_log.c.partition, _log.c.offset)
                )
            ).all()
        return [self._message(r) for r in rows]

    @staticmethod
    def _message(r) -> Message:  # type: ignore[no-untyped-def]
        return Message(
            topic=r.topic,
            partition=r.partition,
            offset=r.offset,
            key=r.key,
            headers=_decode_headers(r.headers),
            value=r.value,
        )

    def _shared_message(self, r) -> Message:  # type: ignore[no-untyped-def]
        """A drained record's message, built once for every group that reads it."""
        key = (r.topic, r.partition, r.offset)
        found = self._recent.get(key)
        if found is None:
            if len(self._recent) >= RECENT_MESSAGES:  # the oldest goes (insertion order)
                del self._recent[next(iter(self._recent))]
            found = self._recent[key] = self._message(r)
        return found

    async def _consume(self, sub: _Subscription) -> None:
        while not self._stopping.is_set():
            sub.wake.clear()
            try:
                progressed = await self._drain(sub)
            except asyncio.CancelledError:
                raise
            except Exception:  # the log itself failed; keep the consumer alive and retry
                log.exception("local bus consumer %s failed; retrying", sub.group)
                await asyncio.sleep(self._retry_pause)
                continue
            if not progressed:
                with suppress(TimeoutError):
                    await asyncio.wait_for(sub.wake.wait(), self._poll)

    async def _drain(self, sub: _Subscription) -> bool:
        """Deliver what the group has not dealt with yet, as one batch across partitions
        (at most `batch` records per partition), then commit each partition past it."""
        pending: dict[tuple[str, int], list[Row[Any]]] = {}
        everywhere = sub.everywhere or time.monotonic() - sub.looked_everywhere_at >= self._poll
        sub.everywhere = False
        touched, sub.touched = sub.touched, set()
        if everywhere:
            sub.looked_everywhere_at = time.monotonic()
            where = [(t, p) for t in sub.topics for p in range(self._partitions)]
        else:  # a partition query each costs a trip to SQLite's thread: 24 for 4 topics
            where = sorted(touched)
        if not where:
            return False
        async with reading(self._engine) as conn:
            for start in range(0, len(where), PARTITIONS_PER_DRAIN):
                these = where[start : start + PARTITIONS_PER_DRAIN]
                at: dict[str, Any] = {"grp": sub.group, "batch": self._batch}
                for i, (topic, p) in enumerate(these):
                    at[f"topic{i}"], at[f"partition{i}"] = topic, p
                for row in await conn.execute(_pages(len(these)), at):
                    pending.setdefault((row.topic, row.partition), []).append(row)
        for key, rows in pending.items():
            rows.sort(key=lambda row: row.offset)  # each page in order (a union keeps none)
            if len(rows) == self._batch:  # more behind: look there next time
                sub.touched.add(key)
        if not pending:
            return False
        messages = [self._shared_message(row) for rows in pending.values() for row in rows]
        try:
            await sub.deliver(messages)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Not dealt with: nothing is committed; redeliver after a pause.
            log.exception("delivery of a batch to %s failed; will redeliver", sub.group)
            sub.everywhere = True
            await asyncio.sleep(self._retry_pause)
            return False
        await self._commit(sub.group, {key: rows[-1].offset + 1 for key, rows in pending.items()})
        return True

    async def _commit(self, group: str, next_offsets: dict[tuple[str, int], int]) -> None:
        upsert = sqlite_insert(_offsets)
        upsert = upsert.on_conflict_do_update(
            index_elements=["grp", "topic", "partition"],
            set_={"next_offset": upsert.excluded.next_offset},
        )
        async with self._writing() as conn:
            await conn.execute(
                upsert,
                [
                    {"grp": group, "topic": t, "partition": p, "next_offset": n}
                    for (t, p), n in next_offsets.items()
                ],
            )
