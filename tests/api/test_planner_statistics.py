"""The embedded mode keeps SQLite's planner statistics up to date (shared.statistics): without
them SQLite guesses which index to use, and guessed a programme-wide one for one mentee's
matches once the programme had thousands."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import insert, text

from services import load_all
from services.matching.models import Match
from shared.app import build_app
from shared.clock import ManualClock
from shared.settings import Settings
from shared.statistics import MIN_CHANGE, changed
from tests.helpers import eventually

HISTORY = "SELECT id FROM match WHERE program_id = :p AND mentee_participant_id IN (:a, :b, :c)"


def test_statistics_are_gathered_again_when_a_table_doubles_or_halves() -> None:
    assert changed({}, {"match": MIN_CHANGE}) == ["match"]  # new rows enough to matter
    assert changed({}, {"match": MIN_CHANGE - 1}) == []
    assert changed({"match": 2_000}, {"match": 3_999}) == []
    assert changed({"match": 2_000}, {"match": 4_000}) == ["match"]
    assert changed({"match": 2_000}, {"match": 1_000, "outbox": 0}) == ["match"]
    assert changed({"match": 100}, {"match": 550}) == []  # 4.5 times, but 450 rows


async def test_the_planner_uses_the_mentees_index_once_the_matches_are_many(
    settings: Settings,
) -> None:
    every = {"sqlite_statistics_every": timedelta(milliseconds=50)}
    app = build_app(
        load_all(), settings.model_copy(update=every), name="binome", clock=ManualClock()
    )
    async with app.router.lifespan_context(app):
        matching = app.state.runtimes["matching"]
        program = str(uuid.uuid4())
        rows = [
            {
                "id": f"m{k}",
                "org": "acme",
                "program_id": program,
                "mentor_participant_id": f"r{k % 400}",
                "mentee_participant_id": f"e{k}",
                "mentor_employee_id": f"er{k % 400}",
                "mentee_employee_id": f"ee{k}",
                "score": 0.5,
                "status": "proposed",
            }
            for k in range(3_000)
        ]
        async with matching.engine.begin() as conn:
            await conn.execute(insert(Match), rows)

        async def plan() -> str | None:
            async with matching.reader.connect() as conn:
                found = await conn.execute(
                    text(f"EXPLAIN QUERY PLAN {HISTORY}"),
                    {"p": program, "a": "e1", "b": "e2", "c": "e3"},
                )
                detail = " ".join(row[-1] for row in found)
            return detail if "ix_match_mentee_participant_id" in detail else None

        await eventually(plan, what="the mentees' index chosen for their matches")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://binome") as c:
            status = (await c.get("/status")).json()
        assert status["services"]["matching"]["planner-statistics"]["analysed"] >= 2, status
