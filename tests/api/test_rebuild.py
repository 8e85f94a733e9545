"""`binome reporting rebuild` on the embedded mode: reporting's projection made anew from the
local bus's log, by the command ops run, while the server keeps serving the old one until
the switch (the same on PostgreSQL and Kafka: tests/infra/test_rebuild_pg.py)."""

from __future__ import annotations

import asyncio
import sqlite3

from shared.settings import Settings
from tests.helpers import Api
from tests.helpers.rebuild import LOSE_ROWS, rebuilt_while_serving


async def test_a_rebuild_remakes_the_projection_while_the_old_one_serves(
    api: Api, settings: Settings
) -> None:
    def lose_rows() -> None:
        db = sqlite3.connect(settings.data_dir / "reporting.db", timeout=30)
        try:
            with db:  # one transaction
                for statement in LOSE_ROWS:
                    db.execute(statement)
        finally:
            db.close()

    async def damage() -> None:
        await asyncio.to_thread(lose_rows)

    await rebuilt_while_serving(api, {"BINOME_DATA_DIR": str(settings.data_dir)}, damage)
