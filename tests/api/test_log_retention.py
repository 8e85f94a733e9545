"""The embedded log's retention (tests/helpers/retention.py): the same as Kafka's
(tests/infra/test_log_retention_kafka.py)."""

from __future__ import annotations

from pathlib import Path

from shared.messaging.local_bus import LocalBus
from tests.helpers.retention import forgets_what_every_group_read


async def test_the_embedded_log_forgets_what_every_group_read(tmp_path: Path) -> None:
    bus = LocalBus(tmp_path / "bus.db", partitions=3, poll_interval_s=0.1)
    await bus.start()
    try:
        await forgets_what_every_group_read(bus, "t.events", "t.deadletter", "g")
    finally:
        await bus.stop()
