"""A programme's all-time KPIs and weekly series read from its tallies equal the same counted
from the rows, whatever order the events come in (tests/helpers/tallies.py); and the
migration's count from scratch of relationships projected before the tallies existed gives the
same cells."""

from __future__ import annotations

import random
from pathlib import Path

from services.reporting.service import definition
from shared import db
from tests.helpers.tallies import apply, batches, cells, check_same, recount_all, script


async def test_the_tallies_equal_the_rows_whatever_the_order(tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'tallied.db'}")
    try:
        await db.upgrade(engine, definition.migrations_dir)
        rnd = random.Random(20261203)
        events = script(rnd)
        work = batches(rnd, events)
        for i, batch in enumerate(work, start=1):
            await apply(engine, batch)
            if i in (len(work) // 3, 2 * len(work) // 3):  # halfway through, too
                await check_same(engine)
        said, _ = await check_same(engine)
        assert said >= 15  # figures with something to say, all equal

        kept = await cells(engine)
        await recount_all(engine)
        assert await cells(engine) == kept

        await apply(engine, script(rnd, relationships=10), rollup=False)  # (the tallies miss
        assert await cells(engine) == kept  # these: the test sees a recount)
        await recount_all(engine)
        assert await cells(engine) != kept
        said, _ = await check_same(engine)
        assert said >= 15
    finally:
        await engine.dispose()


async def test_the_weekly_series_equal_the_rows_with_their_active_relationships_from_the_cells(
    tmp_path: Path,
) -> None:
    """People in one pair at most, as matching proposes them (no mentor twice to a mentee):
    weeks with 5 active relationships or more are read from the cells alone."""
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'weekly.db'}")
    try:
        await db.upgrade(engine, definition.migrations_dir)
        rnd = random.Random(20261204)
        for batch in batches(rnd, script(rnd, relationships=80, employees=10**9)):
            await apply(engine, batch)
        said, from_cells = await check_same(engine)
        assert said >= 100
        assert from_cells >= 5  # of 32 series of active relationships (the others: some weeks
        # with fewer than 5, or events timed after now, counted from the rows)
    finally:
        await engine.dispose()
