"""A programme's relationships re-judged in bulk on PostgreSQL (its `UPDATE ... FROM unnest`
path, in chunks each written while the next is judged) agree with the per-signal path,
relationship by relationship, and each one at risk has exactly one open case."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlmodel
from sqlalchemy import select

from services.feedback import usecases
from services.feedback.models import TIMERS, Base, Case, Relationship
from shared import db
from shared.contracts.enrollment import EngagementPolicy
from tests.bench import health as bench

pytestmark = pytest.mark.infra


async def test_bulk_re_judging_agrees_with_the_per_signal_path(pg_databases, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(usecases, "CHUNK", 70)  # five chunks, the last one short
    url = (await pg_databases(["feedback"])).format(service="feedback")
    engine = db.create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        program_id = str(uuid.uuid4())
        await bench._seed(engine, program_id, 300)
        await bench._judged(engine, program_id)
        event, data = bench._update(program_id, EngagementPolicy(cadence=timedelta(days=7)))
        async with bench._uow(engine) as uow:
            await bench.handlers.on_program_updated(uow, event, data)
            await uow.commit()

        async with bench._uow(engine) as uow:
            rels = (
                await uow.session.exec(
                    sqlmodel.select(Relationship).where(Relationship.program_id == program_id)
                )
            ).all()
            bulk = {r.match_id: (r.state, r.score, r.reasons, r.signals) for r in rels}
            assert {state for state, *_ in bulk.values()} >= {"needs_attention", "at_risk"}
            cases = (
                await uow.session.exec(sqlmodel.select(Case).where(Case.status != "closed"))
            ).all()
            at_risk = sorted(m for m, (state, *_) in bulk.items() if state == "at_risk")
            assert sorted(c.match_id for c in cases) == at_risk
            conn = await uow.session.connection()
            armed = dict((await conn.execute(select(TIMERS.c.key, TIMERS.c.due_at))).all())
            for rel in rels:  # the per-signal path, from the ratings and sessions themselves
                await usecases._recompute(uow, rel)
                assert (rel.state, rel.score, rel.reasons, rel.signals) == bulk[rel.match_id]
                key = f"inactivity:{rel.match_id}"
                rearmed = uow._timers[key]  # the per-signal path arms or cancels, always
                assert (rearmed and rearmed["due_at"]) == armed.get(key), key
            await uow.session.rollback()
    finally:
        await engine.dispose()
