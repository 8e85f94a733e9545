"""The one bus interface both transports implement.

Semantics shared by Kafka and the embedded bus, and relied on by the rest of the code:
- `publish` returns once every record is durably stored (Kafka: acks=all; embedded: committed
  to its SQLite log), so the outbox may mark them sent.
- Records with the same key go to the same partition and are delivered in publication order.
- A consumer group sees each record at least once: the handler runs before the group's offset
  moves past the record, so a crash in between means redelivery, never loss.
- Consumers get records in batches (whatever a poll returns across the group's partitions), so
  a service applies a backlog in few transactions.
- The log forgets what every group has read once it is older than the retention (`purge`): a
  partition's start moves on, the offsets of the records kept never change.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    key: str
    headers: Headers
    value: bytes


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: str | None
    headers: Headers
    value: bytes | None


# A batch of messages, from one or more partitions, each partition's in offset order. Returns
# normally once every message is dealt with (applied, skipped or dead-lettered); raising means
# "not dealt with": the bus redelivers the batch from the same offsets after a pause.
Deliver = Callable[[list[Message]], Awaitable[None]]


class Bus(Protocol):
    # OpenTelemetry's `messaging.system` for spans of this bus ("kafka", or the embedded log's).
    system: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ensure_topics(self, topics: list[str]) -> list[str]:
        """Create the topics missing among `topics`; returns those it created."""
        ...

    async def missing_topics(self, topics: list[str]) -> list[str]: ...

    async def backlog(self, group: str, topics: list[str]) -> int:
        """How many records of `topics` the group has not yet dealt with (consumer lag)."""
        ...

    async def count(self, topic: str) -> int:
        """How many records `topic` holds (e.g. a dead-letter topic)."""
        ...

    async def read_topic(self, topic: str, since: Mapping[int, int] | None = None) -> list[Message]:
        """Every record `topic` holds now (from offset `since[partition]` on, if given), in
        partition then offset order, without moving any group's offset."""
        ...

    async def publish(self, records: list[Record]) -> None: ...

    async def purge(self, topic: str, *, before: datetime, consumed: bool = True) -> int:
        """Delete the records of `topic` published before `before` (the log's retention) and,
        if `consumed`, only those every consumer group with offsets on the topic has committed
        past (a lagging group loses nothing). Per partition, everything before the earliest
        record to keep goes: the offsets of later records never change. Returns how many."""
        ...

    def subscribe(self, *, group: str, topics: list[str], deliver: Deliver) -> None:
        """Register a consumer group; it starts consuming when the bus is started."""
        ...

    async def ping(self) -> None:
        """Raise if the bus cannot serve (readiness)."""
        ...

    def dead_loops(self) -> list[str]:
        """Consumer loops that ended without being stopped (liveness)."""
        ...


async def stop_gracefully(tasks: Iterable[asyncio.Task], *, grace_s: float = 5.0) -> None:
    """Let background loops finish the message or batch in hand (their stop flag is already
    set), then cancel whatever still runs after the grace period."""
    pending = [t for t in tasks if not t.done()]
    if pending:
        _, late = await asyncio.wait(pending, timeout=grace_s)
        for task in late:
            task.cancel()
        for task in late:
            with suppress(asyncio.CancelledError):
                await task


def partition_for(key: str, partitions: int) -> int:
    return zlib.crc32(key.encode()) % partitions


def ended(tasks: Iterable[asyncio.Task]) -> list[str]:
    """Names of the tasks that are over (a loop that should run until stopped has died)."""
    return [t.get_name() for t in tasks if t.done()]
