"""A tiny service used to prove the delivery guarantees on real Kafka and PostgreSQL.

Its handler's effect is deliberately NOT idempotent (it appends a row per application), so a
duplicate application would show as two rows: only the shared inbox can keep the count right.
Runs in-process (through build_app) or as its own OS process (tests/infra/testkit_main.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func
from sqlalchemy.orm import registry
from sqlmodel import Field, select

from shared.events import Event, EventData, dead_letter_topic, to_wire, topic_for
from shared.messaging.bus import Record
from shared.messaging.kafka_bus import KafkaBus
from shared.messaging.tables import messaging_tables
from shared.service import ServiceDef
from shared.settings import Settings
from shared.table_model import TableModel
from shared.timers import Timer, timer_table
from shared.uow import UnitOfWork


class Base(TableModel, registry=registry()):
    """Testkit's own metadata: its migrations hold its tables only (see shared.db)."""


OUTBOX, INBOX = messaging_tables(Base.metadata)
timer_table(Base.metadata)


class Applied(Base, table=True):
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True, max_length=64)
    event_id: str = Field(max_length=64)
    amount: int
    pid: int  # which process applied it: replicas share a group's partitions


class CounterIncremented(EventData):
    TYPE = "binome.testkit.counter.incremented.v1"
    KEY = "counter_id"
    run_id: str
    counter_id: str
    amount: int
    fail: bool = False


# Counters the handler has "a bug" for: their events fail until a test removes them (the fix),
# then replaying their dead letters must apply them.
BUGGY_COUNTERS: set[str] = set()


async def on_increment(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, CounterIncremented)
    if data.fail:
        raise RuntimeError("this event always fails (poison by design)")
    if data.counter_id in BUGGY_COUNTERS:
        raise RuntimeError(f"bug: cannot apply counter {data.counter_id}")
    uow.session.add(
        Applied(run_id=data.run_id, event_id=event.id, amount=data.amount, pid=os.getpid())
    )


_PID = os.getpid()
# Timers whose handler fails until a test removes them (as BUGGY_COUNTERS for events).
BUGGY_TIMERS: set[str] = set()


async def on_tick(uow: UnitOfWork, timer: Timer) -> None:
    """A timer's effect, deliberately not idempotent (a row per firing): a timer fired twice
    in effect would show as two rows."""
    if timer.key in BUGGY_TIMERS:
        raise RuntimeError(f"bug: cannot fire timer {timer.key}")
    uow.insert(Applied, run_id=timer.payload["run_id"], event_id=timer.key, amount=1, pid=_PID)
    rearm = int(timer.payload.get("rearm", 0))
    if rearm > 0:  # a periodic timer re-arms itself from its own handler
        uow.schedule(
            timer.key,
            kind="tick",
            due_at=timer.due_at + timedelta(seconds=1),
            org=timer.org,
            payload={**timer.payload, "rearm": rearm - 1},
        )


router = APIRouter(prefix="/v1")


class Arm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = 1
    due_in: timedelta = timedelta(0)  # ISO 8601 in JSON: "PT0S", "PT30S", "P14D"
    prefix: str = "t"
    rearm: int = 0


@router.post("/testkit/{run_id}/timers", status_code=201)
async def arm(run_id: str, body: Arm, request: Request) -> dict[str, int]:
    """Arm `count` timers (keys `<prefix><i>`), due `due_in` from now on the runtime's clock."""
    runtime = next(iter(request.app.state.runtimes.values()))
    async with runtime.uow() as uow:
        due = uow.now() + body.due_in
        for i in range(body.count):
            uow.schedule(
                f"{run_id}:{body.prefix}{i}",
                kind="tick",
                due_at=due,
                org="acme",
                payload={"run_id": run_id, "rearm": body.rearm},
            )
        await uow.commit()
    return {"armed": body.count}


class Emit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = 1
    counter: str = "c1"


@router.post("/testkit/{run_id}/emit", status_code=201)
async def emit(run_id: str, body: Emit, request: Request) -> dict[str, int]:
    """A write that causes events, through the outbox like every use case's: the write stream
    of the broker fault tests."""
    runtime = next(iter(request.app.state.runtimes.values()))
    async with runtime.uow() as uow:
        for _ in range(body.count):
            uow.emit(
                CounterIncremented(run_id=run_id, counter_id=body.counter, amount=1), org="acme"
            )
        await uow.commit()
    return {"emitted": body.count}


@router.get("/testkit/{run_id}/processes")
async def processes(run_id: str, request: Request) -> dict[str, int]:
    """How many events each process applied."""
    runtime = next(iter(request.app.state.runtimes.values()))
    async with runtime.uow() as uow:
        rows = await uow.session.exec(
            select(Applied.pid, func.count()).where(Applied.run_id == run_id).group_by(Applied.pid)
        )
        return {str(pid): n for pid, n in rows.all()}


@router.get("/testkit/{run_id}")
async def applied(run_id: str, request: Request) -> dict[str, int]:
    runtime = next(iter(request.app.state.runtimes.values()))
    async with runtime.uow() as uow:
        row = (
            await uow.session.exec(
                select(
                    func.count(),
                    func.count(func.distinct(Applied.event_id)),
                    func.coalesce(func.sum(Applied.amount), 0),
                ).where(Applied.run_id == run_id)
            )
        ).one()
    return {"rows": row[0], "distinct": row[1], "total": row[2]}


@dataclass
class KitClient:
    """A running testkit service as a test sees it: its counts and its dead letters."""

    name: str
    prefix: str
    client: httpx.AsyncClient
    bootstrap: str

    async def counts(self, run_id: str) -> dict[str, int]:
        return (await self.client.get(f"/v1/testkit/{run_id}")).json()

    async def dead_letters(self) -> int:
        group = f"{self.prefix}binome-{self.name}"
        bus = KafkaBus(self.bootstrap, client_id="testkit-client")
        return await bus.count(dead_letter_topic(group, self.prefix))


def definition(name: str) -> ServiceDef:
    return ServiceDef(
        name=name,
        base=Base,
        router=router,
        migrations_dir=Path(__file__).parent / "migrations",
        handlers={CounterIncremented.TYPE: on_increment},
        timers={"tick": on_tick},
    )


# --- feeding it, as the tests do ----------------------------------------------------------

NAME = "testkit"


def record(run: str, amount: int = 1, *, fail: bool = False, event_id: str | None = None) -> Record:
    """A counter increment as it travels on the bus (`fail`: its handler always fails)."""
    data = CounterIncremented(run_id=run, counter_id="c", amount=amount, fail=fail)
    return record_of(data, event_id=event_id)


def with_poison(run: str) -> list[Record]:
    """A batch with two poisons: 1 applied, an undecodable record, one whose handler always
    fails, 10 applied (11 in all once the consumer has gone past both)."""
    good = record(run, 1)
    junk = Record(topic=good.topic, key=good.key, headers=[], value=b"junk")
    return [good, junk, record(run, 1, fail=True), record(run, 10)]


def record_of(data: EventData, *, event_id: str | None = None) -> Record:
    """Any event as it travels on the bus (of tenant `acme`)."""
    event = Event.of(data, org="acme")
    if event_id:
        event = event.model_copy(update={"id": event_id})
    headers, value = to_wire(event)
    return Record(topic=topic_for(event.type), key=event.subject, headers=headers, value=value)


def app(settings: Settings, name: str = NAME) -> FastAPI:
    """The testkit service embedded in an app of its own."""
    from shared.app import build_app

    return build_app([definition(name)], settings, name=name)
