"""Kafka's log under Binôme's retention (tests/helpers/retention.py): the records every group
has committed past and older than the cut are deleted (DeleteRecords), nothing a lagging group
has not read, offsets never go back; the same as the embedded log
(tests/api/test_log_retention.py)."""

from __future__ import annotations

import pytest

from shared.messaging.kafka_bus import KafkaBus
from tests.helpers import topic_prefix
from tests.helpers.retention import forgets_what_every_group_read

pytestmark = pytest.mark.infra


async def test_kafka_forgets_what_every_group_read(kafka_bootstrap: str) -> None:
    prefix = topic_prefix()
    topic, dead = f"{prefix}t.events", f"{prefix}t.deadletter"
    bus = KafkaBus(kafka_bootstrap, client_id="retention-test", partitions=3)
    await bus.ensure_topics([topic, dead])
    await bus.start()
    try:
        await forgets_what_every_group_read(bus, topic, dead, f"{prefix}g")
    finally:
        await bus.stop()
