"""The tallies on PostgreSQL: equal to the rows after two writers applied a programme's events
at once (two consumers of one group, each with its partitions), and after the migration's
count from scratch (tests/helpers/tallies.py)."""

from __future__ import annotations

import random
import uuid

from services.reporting.service import definition
from shared import db
from tests.helpers import create_database, drop_database
from tests.helpers.tallies import apply, cells, check_same, concurrently, recount_all, script


async def test_two_writers_at_once_keep_the_tallies_equal_to_the_rows(pg_server: str) -> None:
    names = [f"tallies_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    engines = [
        db.create_engine(await create_database(pg_server, name), custom_plans=True)
        for name in names
    ]
    engine, scratch = engines
    try:
        for e in engines:
            await db.upgrade(e, definition.migrations_dir)
        rnd = random.Random(3)
        events = script(rnd, relationships=60)
        committed = await concurrently(engine, rnd, events)
        assert await check_same(engine) >= 15

        for batch in committed:  # the same rows (each batch's events concern one writer's
            await apply(scratch, batch, rollup=False)  # partitions), without the tallies
        await recount_all(scratch)
        assert await cells(scratch) == await cells(engine)
    finally:
        for e in engines:
            await e.dispose()
        for name in names:
            await drop_database(pg_server, name)
