"""The unit of work's write-behind upsert (projections): merged per key in order, read back by
any ORM query in the same unit of work, applied in place to a loaded row; one `upsert_last`
written only at commit. On SQLite here; the
infra tier runs the same on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from services import load
from services.reporting.models import MatchView
from shared import db
from shared.messaging.tables import messaging_tables
from shared.uow import UnitOfWork


async def upserts_behave(engine: AsyncEngine) -> None:
    definition = load("reporting")
    await db.upgrade(engine, definition.migrations_dir)
    outbox, inbox = messaging_tables(definition.base.metadata)

    def uow() -> UnitOfWork:
        return UnitOfWork(engine=engine, outbox=outbox, inbox=inbox)

    async with uow() as u:
        u.upsert(MatchView, id="m1", program_id="p", status="proposed", replaces_match_id="m0")
        u.upsert(MatchView, id="m1", program_id="p", status="active")
        u.upsert(MatchView, id="m2", program_id="p", status="proposed")
        loaded = await u.session.get(MatchView, "m1")  # reads the writes behind
        assert loaded is not None
        assert (loaded.status, loaded.replaces_match_id) == ("active", "m0")
        u.upsert(MatchView, id="m1", program_id="p", status="ended", end_reason="low")
        assert loaded.status == "ended"  # a loaded row is updated in place
        u.upsert(MatchView, id="m3", program_id="p", status="proposed")
        await u.commit()
    async with uow() as u:
        u.upsert(MatchView, id="m2", program_id="p", status="declined", end_reason="busy")
        await u.commit()
    async with uow() as u:
        # Written last, at commit: a query meanwhile does not see it (nor lock its row).
        u.upsert_last(MatchView, id="m4", program_id="p", status="proposed")
        u.upsert(MatchView, id="m5", program_id="p", status="proposed")
        seen = (await u.session.exec(select(MatchView.id).where(MatchView.id >= "m4"))).all()
        assert list(seen) == ["m5"]
        await u.commit()
    async with uow() as u:
        u.upsert(MatchView, id="m3", program_id="p", status="active")
        u.upsert_last(MatchView, id="m6", program_id="p", status="proposed")
        # not committed: rolled back with the unit of work
    async with uow() as u:
        rows = (await u.session.exec(select(MatchView).order_by(MatchView.id))).all()
        got = [(r.id, r.status, r.end_reason, r.replaces_match_id) for r in rows]
    assert got == [
        ("m1", "ended", "low", "m0"),
        ("m2", "declined", "busy", None),
        ("m3", "proposed", None, None),
        ("m4", "proposed", None, None),
        ("m5", "proposed", None, None),
    ]
    await engine.dispose()


async def test_upserts_on_sqlite(tmp_path: Path) -> None:
    await upserts_behave(db.create_engine(f"sqlite+aiosqlite:///{tmp_path}/reporting.db"))
