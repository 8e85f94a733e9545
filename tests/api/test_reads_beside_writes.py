"""The embedded mode's reads take no write lock: while a writer holds a service's SQLite
database (a long batch, a report's aggregate in the old days), a GET of that service still
answers at once instead of queueing behind it (WAL readers see the last committed state)."""

from __future__ import annotations

import asyncio
import sqlite3

from shared.settings import Settings
from tests.helpers import Api


async def test_a_get_answers_while_a_writer_holds_the_database(
    api: Api, settings: Settings
) -> None:
    await api.program({"name": "Read me"})
    writer = sqlite3.connect(
        settings.data_dir / "enrollment.db", isolation_level=None, check_same_thread=False,
        timeout=60,
    )  # fmt: skip
    # The write lock, held until the end of the test. Taken off the event loop: the service's
    # own writer of the moment (its outbox relay, say) needs the loop to finish and let go.
    await asyncio.to_thread(writer.execute, "BEGIN IMMEDIATE")
    writer.execute("UPDATE program SET name = 'not yet'")  # uncommitted: never seen
    try:
        # Queued behind the writer, a read would wait the 30 s busy timeout, then fail.
        r = await asyncio.wait_for(api.c.get("/v1/programs", headers=api.admin), timeout=15)
        assert r.status_code == 200 and [p["name"] for p in r.json()["items"]] == ["Read me"]
    finally:
        writer.execute("ROLLBACK")
        writer.close()
