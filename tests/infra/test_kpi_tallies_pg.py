"""The tallies on PostgreSQL (the KPIs and the weekly series): equal to the rows after two
writers applied a programme's events at once (two consumers of one group, each with its
partitions), and after the migration's count from scratch (tests/helpers/tallies.py)."""

from __future__ import annotations

import random
import uuid

from services.reporting.service import definition
from shared import db
from tests.helpers import create_database, drop_database
from tests.helpers.tallies import cells, check_same, concurrently, recount_all, script


async def test_two_writers_at_once_keep_the_tallies_equal_to_the_rows(pg_server: str) -> None:
    name = f"tallies_{uuid.uuid4().hex[:8]}"
    engine = db.create_engine(await create_database(pg_server, name), custom_plans=True)
    try:
        await db.upgrade(engine, definition.migrations_dir)
        rnd = random.Random(3)
        await concurrently(engine, rnd, script(rnd, relationships=60))
        said, _ = await check_same(engine)
        assert said >= 15

        kept = await cells(engine)
        await recount_all(engine)
        assert await cells(engine) == kept
    finally:
        await engine.dispose()
        await drop_database(pg_server, name)
