"""The outbox keeps sent rows for the retention period, then purges them; unsent rows stay.
The inbox keeps applied event ids for its own retention, then forgets them."""

from __future__ import annotations

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
