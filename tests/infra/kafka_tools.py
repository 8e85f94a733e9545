"""Talking to the real broker from tests, as an outside producer or reader would."""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from shared.events import Event, EventData, to_wire, topic_for

Raw = tuple[str, str, list[tuple[str, bytes]], bytes]  # topic, key, headers, value


def wire(data: EventData, *, prefix: str, org: str = "acme", event_id: str | None = None) -> Raw:
    event = Event.of(data, org=org)
    if event_id:
        event = event.model_copy(update={"id": event_id})
    headers, value = to_wire(event)
    return topic_for(event.type, prefix), event.subject, headers, value


async def produce(bootstrap: str, records: list[Raw]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value, key=key.encode(), headers=headers)
            for topic, key, headers, value in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, *, expect: int, timeout: float = 20.0) -> list:
    """Every record of `topic` from the beginning, waiting until `expect` have arrived."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"reader-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=1000,
    )
    await consumer.start()
    out: list = []
    try:
        deadline = time.monotonic() + timeout
        while len(out) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for messages in batch.values():
                out.extend(messages)
    finally:
        await consumer.stop()
    return out


async def group_members(bootstrap: str, group: str) -> int:
    """How many consumers the group has right now (after a rebalance settles)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
        (described,) = response.groups
        return len(described[5]) if described[2] == "Stable" else 0
    finally:
        await admin.close()
