"""A unit of work's bulk writes (shared.bulk: one unnest statement per table on PostgreSQL, one
json_each statement on SQLite) store exactly what they were given on both databases: feedback's rows
with JSON lists, times, durations, booleans, enums stored as text and NULLs, inserted then
upserted, beside outbox events and timers, above and below the size where the unnest starts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlmodel import select as orm_select

from services.feedback.models import INBOX, OUTBOX, TIMERS, Base, Case, Relationship
from shared import bulk, db
from shared.api import as_utc
from shared.contracts.feedback import (
    CaseAction,
    CaseCause,
    CaseStatus,
    HealthReason,
    HealthState,
    RelationshipHealthChanged,
)
from shared.events import Event, from_wire
from shared.uow import UnitOfWork
from tests.helpers import create_database

pytestmark = pytest.mark.infra

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _relationship(i: int, *, version: int) -> dict:
    return {
        "match_id": f"m{i}", "org": "acme", "program_id": "p1",
        "mentor_employee_id": f"tom-{i}", "mentee_employee_id": f"eve-{i}",
        "active": i % 3 != 0, "activated_at": T0, "last_activity_at": T0 + timedelta(days=i),
        "mentor_ratings": [1 + (i + version) % 5] * (i % 3), "mentee_ratings": [],
        "held": version, "state": HealthState.at_risk if version else HealthState.on_track,
        "score": 100 - i - version, "reasons": [{"signal": "no_show", "share": 1.0,
        "detail": f"v{version} é"}] if i % 2 else [], "signals": ",no_show," if i % 2 else "",
        "paused_for": ["admin"] if i % 4 == 0 else [],
        "paused_at": T0 + timedelta(hours=i) if i % 4 == 0 else None,
        "cadence": timedelta(days=7 + i) if i % 5 == 0 else None,
        "last_nudge_at": None, "low_pulse": bool(i % 2),
    }  # fmt: skip


@pytest.mark.parametrize("n", [bulk.UNNEST_FROM - 1, 300])
@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
async def test_bulk_writes_store_what_they_were_given(
    database: str, n: int, pg_server: str, tmp_path: Path
) -> None:
    url = (
        await create_database(pg_server, f"t_bulk_{uuid.uuid4().hex[:8]}")
        if database == "postgresql"
        else f"sqlite+aiosqlite:///{tmp_path / 'feedback.db'}"
    )
    engine = db.create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)

    def uow() -> UnitOfWork:
        return UnitOfWork(engine=engine, outbox=OUTBOX, inbox=INBOX, timers=TIMERS)

    try:
        for version in (0, 1):  # inserted, then every row upserted with new values
            async with uow() as u:
                for i in range(n):
                    u.upsert(Relationship, **_relationship(i, version=version))
                    u.schedule(
                        f"inactivity:m{i}", kind="inactivity", org="acme",
                        due_at=T0 + timedelta(days=i + version), payload={"match_id": f"m{i}"},
                    )  # fmt: skip
                await u.commit()
        async with uow() as u:
            for i in range(n):
                u.insert(
                    Case, id=f"c{i}", org="acme", match_id=f"m{i}", program_id="p1",
                    mentor_employee_id=f"tom-{i}", mentee_employee_id=f"eve-{i}",
                    cause=CaseCause.at_risk, status=CaseStatus.open,
                    recommendation=CaseAction.mediation, why="ratings", reasons=[],
                    score_at_open=i, opened_at=T0, paused=False, history=[{"what": "opened"}],
                )  # fmt: skip
                u.emit(
                    RelationshipHealthChanged(
                        match_id=f"m{i}", program_id="p1", state=HealthState.at_risk,
                        previous=None, score=i,
                        reasons=[HealthReason(signal="no_show", share=0.5, detail="ü")],
                    ),
                    org="acme",
                )  # fmt: skip
            await u.commit()

        async with uow() as u:
            rows = {r.match_id: r for r in (await u.session.exec(orm_select(Relationship))).all()}
            cases = (await u.session.exec(orm_select(Case).order_by(Case.score_at_open))).all()
            conn = await u.session.connection()
            timers = {r.key: r for r in await conn.execute(select(TIMERS))}
            outbox = list(await conn.execute(select(OUTBOX).order_by(OUTBOX.c.seq)))
            assert len(rows) == n
            for i in range(n):
                stored = rows[f"m{i}"]
                for name, value in _relationship(i, version=1).items():
                    assert getattr(stored, name) == value, (name, i)
                timer = timers[f"inactivity:m{i}"]
                assert (as_utc(timer.due_at), timer.payload["match_id"]) == (
                    T0 + timedelta(days=i + 1),
                    f"m{i}",
                )
            assert [(c.id, c.cause, c.history, c.opened_at) for c in cases] == [
                (f"c{i}", CaseCause.at_risk, [{"what": "opened"}], T0) for i in range(n)
            ]
            assert len(outbox) == n
            events = [
                from_wire([(k, v.encode()) for k, v in r.headers], r.payload.encode())
                for r in outbox
            ]
            assert all(isinstance(e, Event) for e in events)
            assert [e.parse().score for e in events] == list(range(n))  # type: ignore[attr-defined]
            assert [r.event_id for r in outbox] == [e.id for e in events]
    finally:
        await engine.dispose()


async def test_bulk_writes_follow_a_schema_translation(pg_server: str) -> None:
    """A projection rebuild writes its shadow through a schema translation: a bulk write (the
    unnest statement, text) goes there too, never into the live table of the same name."""
    url = await create_database(pg_server, f"t_bulk_{uuid.uuid4().hex[:8]}")
    live = db.create_engine(url)
    shadow = live.execution_options(schema_translate_map={None: "shadow"})
    try:
        await db.upgrade(live, Path("services/feedback/migrations"))
        async with live.begin() as conn:
            await conn.exec_driver_sql("CREATE SCHEMA shadow")
            await conn.run_sync(lambda c: INBOX.create(c.execution_options(
                schema_translate_map={None: "shadow"})))  # fmt: skip
        rows = [
            {"consumer": "g", "event_id": str(i), "event_type": "t", "processed_at": T0}
            for i in range(bulk.UNNEST_FROM * 2)
        ]
        async with shadow.begin() as conn:
            await conn.execute(*bulk.write(conn, INBOX, rows))
        async with live.connect() as conn:
            count = "SELECT (SELECT count(*) FROM shadow.inbox), (SELECT count(*) FROM inbox)"
            assert tuple((await conn.exec_driver_sql(count)).one()) == (len(rows), 0)
    finally:
        await live.dispose()


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
async def test_bulk_counters_returning_and_values_json_cannot_carry(
    database: str, pg_server: str, tmp_path: Path
) -> None:
    """Counters added and rows returned by one statement; on SQLite, rows whose values JSON
    cannot carry (bytes) are written the plain way, unchanged."""
    url = (
        await create_database(pg_server, f"t_bulk_{uuid.uuid4().hex[:8]}")
        if database == "postgresql"
        else f"sqlite+aiosqlite:///{tmp_path / 'bulk.db'}"
    )
    metadata = MetaData()
    table = Table(
        "tally", metadata,
        Column("key", String(20), primary_key=True), Column("n", BigInteger, nullable=False),
        Column("share", Float), Column("note", Text), Column("blob", LargeBinary),
        Column("at", DateTime(timezone=True)),
    )  # fmt: skip
    engine = db.create_engine(url)
    n = bulk.UNNEST_FROM * 2

    def rows(blob: bool) -> list[dict]:
        return [
            {"key": f"k{i}", "n": i, "share": i / 3, "note": f"é {i} \u2028",
             "blob": bytes([i, 0, 255]) if blob else None, "at": T0 + timedelta(seconds=i)}
            for i in range(n)
        ]  # fmt: skip

    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(*bulk.write(conn, table, rows(blob=False)))
            for times, blob in ((2, False), (3, True)):  # the JSON way, then the plain one
                again = await conn.execute(
                    *bulk.write(conn, table, rows(blob), conflict=["key"], add=["n"],
                                update=["blob"], returning=["key", "n"])
                )  # fmt: skip
                assert sorted(tuple(r) for r in again) == sorted(
                    (f"k{i}", times * i) for i in range(n)
                )
            stored = {r.key: r for r in await conn.execute(select(table))}
        for row in rows(blob=True):
            got = stored[row["key"]]
            assert (got.n, got.blob, got.note) == (3 * row["n"], row["blob"], row["note"])
            assert got.share == pytest.approx(row["share"], rel=1e-15)
            assert as_utc(got.at) == row["at"]
    finally:
        await engine.dispose()
