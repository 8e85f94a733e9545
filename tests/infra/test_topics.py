"""Binôme's topics keep their records forever (the log is what a projection is rebuilt
from): new ones are created so, and existing ones (made before, with the broker's 7-day
default) are changed at start, keeping the other settings they override."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.messaging.kafka_bus import KafkaBus
from tests.helpers import eventually, topic_prefix

pytestmark = pytest.mark.infra
WEEK_MS = str(7 * 24 * 3600 * 1000)


async def _configs(admin: AIOKafkaAdminClient, topic: str) -> dict[str, str]:
    """The topic's settings, once the broker describes it: a topic just created answers
    UNKNOWN_TOPIC_OR_PARTITION until the broker has applied the controller's record."""

    async def described() -> dict[str, str] | None:
        resource = ConfigResource(ConfigResourceType.TOPIC, topic)
        (answer,) = await admin.describe_configs([resource])
        ((error, _, _, _, entries, *_),) = answer.resources
        return None if error else {entry[0]: entry[1] for entry in entries}

    return await eventually(described, timeout=30, what=f"the broker to describe {topic}")


async def test_topics_keep_their_records_forever(kafka_bootstrap: str) -> None:
    prefix = topic_prefix()
    old, new = f"{prefix}old", f"{prefix}new"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        settings = {"retention.ms": WEEK_MS, "max.message.bytes": "2000000"}
        await admin.create_topics([NewTopic(old, 1, 1, topic_configs=settings)])
        assert (await _configs(admin, old))["retention.ms"] == WEEK_MS
        bus = KafkaBus(kafka_bootstrap, client_id="topics-test", partitions=2)
        assert await bus.ensure_topics([old, new]) == [new]
        for topic in (old, new):
            configs = await _configs(admin, topic)
            assert (configs["retention.ms"], configs["retention.bytes"]) == ("-1", "-1"), topic
        assert (await _configs(admin, old))["max.message.bytes"] == "2000000"  # kept
        assert await bus.ensure_topics([old, new]) == []  # nothing more to do
    finally:
        await admin.close()
