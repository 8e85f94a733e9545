"""The event log's retention, the same on both buses (tests/api/test_log_retention.py on the
embedded log, tests/infra/test_log_retention_kafka.py on Kafka): a record is forgotten once
it is older than the cut and every group reading its topic has committed past it; a lagging
group loses nothing; offsets never go back; dead letters go by age alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from shared.messaging.bus import Bus, Message, Record
from tests.helpers import eventually

KEY = "one-partition"  # every record on one partition: offsets 0, 1, 2...


def _records(topic: str, n: int, tag: str) -> list[Record]:
    return [Record(topic=topic, key=KEY, headers=[], value=f"{tag}-{i}".encode()) for i in range(n)]


async def forgets_what_every_group_read(bus: Bus, topic: str, dead: str, groups: str) -> None:
    """`bus` started, `topic` and `dead` existing and empty, `groups` a prefix for two groups."""
    seen: dict[str, list[bytes]] = {"fast": [], "slow": []}
    slow_may_go = asyncio.Event()
    slow_may_go.set()

    def reader(name: str):  # type: ignore[no-untyped-def]
        async def deliver(messages: list[Message]) -> None:
            if name == "slow":
                await slow_may_go.wait()  # holding the batch: nothing committed meanwhile
            seen[name].extend(m.value or b"" for m in messages)

        return deliver

    for name in seen:
        bus.subscribe(group=f"{groups}-{name}", topics=[topic], deliver=reader(name))
    before_all = datetime.now(UTC) - timedelta(seconds=1)
    await bus.publish(_records(topic, 5, "first"))
    await eventually(lambda: _read(seen, 5, "fast", "slow"), timeout=60, what="both read 5")
    await asyncio.sleep(1.5)  # the groups' commits follow their deliveries
    slow_may_go.clear()
    await bus.publish(_records(topic, 5, "second"))
    await eventually(lambda: _read(seen, 10, "fast"), timeout=60, what="the fast group read 10")
    await asyncio.sleep(1.5)

    # Younger than the cut: kept, read or not.
    assert await bus.purge(topic, before=before_all) == 0
    # Old enough: what both groups read goes; what the slow one holds stays.
    assert await bus.purge(topic, before=datetime.now(UTC)) == 5
    left = await bus.read_topic(topic)
    assert [m.offset for m in left] == list(range(5, 10))
    assert [m.value for m in left] == [f"second-{i}".encode() for i in range(5)]
    assert await bus.purge(topic, before=datetime.now(UTC)) == 0  # nothing more yet

    slow_may_go.set()
    await eventually(lambda: _read(seen, 10, "slow"), timeout=60, what="the slow group read 10")

    async def all_forgotten() -> bool:  # once its commit is in
        await bus.purge(topic, before=datetime.now(UTC))
        return await bus.read_topic(topic) == []

    await eventually(all_forgotten, timeout=30, interval=0.5, what="every record forgotten")
    # An emptied partition goes on from where it was: no group reads a record twice or never.
    await bus.publish(_records(topic, 1, "third"))
    assert [m.offset for m in await bus.read_topic(topic)] == [10]
    await eventually(lambda: _read(seen, 11, "fast", "slow"), timeout=60, what="both read 11")
    assert all(len(values) == len(set(values)) == 11 for values in seen.values()), seen

    # Dead letters: read by no group, forgotten by age alone.
    await bus.publish(_records(dead, 3, "dead"))
    assert await bus.purge(dead, before=before_all, consumed=False) == 0
    assert await bus.purge(dead, before=datetime.now(UTC), consumed=False) == 3
    assert await bus.read_topic(dead) == []


async def _read(seen: dict[str, list[bytes]], n: int, *names: str) -> bool:
    return all(len(seen[name]) >= n for name in names)
