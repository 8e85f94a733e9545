"""The outbox keeps sent rows for the retention period, then purges them; unsent rows stay.
The inbox keeps applied event ids for its own retention, then forgets them."""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy import func, select, update

from tests.helpers import Api, eventually


async def test_sent_rows_are_purged_after_retention_and_unsent_rows_kept(api: Api, app) -> None:  # type: ignore[no-untyped-def]
    runtime = app.state.runtimes["enrollment"]
    outbox = runtime.outbox
    await api.program({"name": "Old"}, status=None)  # one event: program.created

    async def sent() -> int:
        async with runtime.engine.connect() as conn:
            q = select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_not(None))
            return (await conn.execute(q)).scalar_one()

    await eventually(sent, what="program event relayed")
    assert await runtime.relay.purge_sent() == 0  # within retention: kept

    await runtime.relay.stop()  # keep the relay from publishing the fake row below
    async with runtime.engine.begin() as conn:  # age the sent row past the retention
        await conn.execute(update(outbox).values(sent_at=func.datetime("now", "-30 days")))
        # ...and add one that was never sent, as if the bus were down
        await conn.execute(
            outbox.insert().values(
                event_id="unsent-1",
                topic="t",
                key="k",
                headers=[],
                payload="{}",
                created_at=func.datetime("now", "-30 days"),
                sent_at=None,
            )
        )
    assert await runtime.relay.purge_sent() == 1
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.event_id))).scalars().all()
    assert rows == ["unsent-1"]


async def test_the_inbox_forgets_applied_events_after_its_retention(app) -> None:  # type: ignore[no-untyped-def]
    runtime = app.state.runtimes["reporting"]
    inbox = runtime.inbox
    await runtime.relay.stop()
    async with runtime.engine.begin() as conn:
        for event_id, age in (("recent", "-29 days"), ("old", "-31 days")):
            await conn.execute(
                inbox.insert().values(
                    consumer="binome-reporting",
                    event_id=event_id,
                    event_type="t",
                    processed_at=func.datetime("now", age),
                )
            )
    await runtime.relay.purge_sent()
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(select(inbox.c.event_id))).scalars().all()
    assert "recent" in rows and "old" not in rows


async def test_a_relay_waiting_for_the_bus_holds_up_no_writer_of_its_service(api: Api, app) -> None:  # type: ignore[no-untyped-def]
    """SQLite: a transaction that writes locks the whole file, so the relay reads its batch
    without the lock and marks it sent after the publish. Here the log is busy (another
    connection holds its write lock) while the relay publishes a programme's event: the
    service's next write goes through all the same, and both events go out once the log is
    free, each counted once in the status's relay figures. (With the lock held across the
    publish, that write waited the busy timeout, 30 s, then failed.)"""
    runtime = app.state.runtimes["enrollment"]
    outbox = runtime.outbox

    async def relayed() -> int:
        status = await api.ok("GET", "/status")
        return status["services"]["enrollment"]["relay"]["published"]  # type: ignore[no-any-return]

    before = await relayed()
    log_file = app.state.bus._engine.url.database
    busy = sqlite3.connect(log_file, isolation_level=None, timeout=30, check_same_thread=False)
    await asyncio.to_thread(busy.execute, "BEGIN IMMEDIATE")  # (the loop goes on meanwhile)
    try:
        await api.program({"name": "Published while the log is busy"}, status=None)
        await asyncio.sleep(0.5)  # the relay, woken by that commit, is waiting for the log
        await api.program({"name": "Written meanwhile"}, status=None)

        async with runtime.engine.connect() as conn:
            unsent = select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            assert (await conn.execute(unsent)).scalar_one() == 2  # nothing went out yet
    finally:
        busy.execute("ROLLBACK")
        busy.close()

    async def all_sent() -> bool:
        async with runtime.engine.connect() as conn:
            return (await conn.execute(unsent)).scalar_one() == 0

    await eventually(all_sent, what="both events relayed once the log is free")
    assert await relayed() == before + 2
