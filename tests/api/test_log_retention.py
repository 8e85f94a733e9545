"""The embedded log's retention (tests/helpers/retention.py): the same as Kafka's
(tests/infra/test_log_retention_kafka.py); and each service's relay applying it on its own."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import timedelta
from pathlib import Path

import httpx

from shared.events import topic_of
from shared.messaging.local_bus import LocalBus
from shared.settings import Settings
from tests import testkit
from tests.helpers import eventually
from tests.helpers.retention import forgets_what_every_group_read


async def test_the_embedded_log_forgets_what_every_group_read(tmp_path: Path) -> None:
    bus = LocalBus(tmp_path / "bus.db", partitions=3, poll_interval_s=0.1)
    await bus.start()
    try:
        await forgets_what_every_group_read(bus, "t.events", "t.deadletter", "g")
    finally:
        await bus.stop()


async def test_a_service_forgets_its_records_once_read(tmp_path: Path) -> None:
    """The relay purges the service's own topic every `event_purge_interval`: the events its
    use case emitted, once its consumer applied them and the retention (here none) passed."""
    settings = Settings(
        data_dir=tmp_path / "data",
        event_retention=timedelta(0),
        event_purge_interval=timedelta(seconds=1),
    )
    app = testkit.app(settings)
    run = uuid.uuid4().hex
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
            r = await client.post(f"/v1/testkit/{run}/emit", json={"count": 20})
            assert r.status_code == 201, r.text

            async def applied() -> bool:
                return (await client.get(f"/v1/testkit/{run}")).json()["total"] == 20

            await eventually(applied, what="the events applied")
            topic = topic_of(testkit.NAME)

            async def forgotten() -> bool:
                return await app.state.bus.read_topic(topic) == []

            await eventually(forgotten, timeout=30, what="the relay purging them")
    # The log's partitions of the topic now start past the 20 records it held.
    db = sqlite3.connect(settings.data_dir / "bus.db")
    try:
        starts = "SELECT sum(start_offset) FROM log_start WHERE topic = ?"
        assert db.execute(starts, (topic,)).fetchone() == (20,)
    finally:
        db.close()
