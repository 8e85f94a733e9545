"""The bus on Apache Kafka (aiokafka).

Producer: idempotent, acks=all, so a retried send never duplicates or reorders a partition.
Consumers: one AIOKafkaConsumer per group, auto-commit off; a partition's offset is committed only
after its messages were dealt with (the handler's database commit happened first), so a crash
means redelivery, which the idempotent handlers absorb. Services scale out by running replicas:
Kafka spreads the partitions of a group over them.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shared.messaging.bus import Deliver, Message, Record, stop_gracefully

log = logging.getLogger(__name__)


class KafkaBus:
    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str,
        partitions: int = 6,
        replication: int = 1,
        retry_pause_s: float = 0.5,
    ) -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._partitions = partitions
        self._replication = replication
        self._retry_pause = retry_pause_s
        self._producer: AIOKafkaProducer | None = None
        self._subs: list[tuple[str, list[str], Deliver]] = []
        self._tasks: list[asyncio.Task] = []
        self._started = False
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=2,
        )
        await self._producer.start()
        self._started = True
        for group, topics, deliver in self._subs:
            self._spawn(group, topics, deliver)

    async def stop(self) -> None:
        """Let each consumer finish the message in hand and commit, then stop."""
        self._stopping.set()
        await stop_gracefully(self._tasks)
        self._tasks.clear()
        if self._producer:
            await self._producer.stop()
            self._producer = None
        self._started = False

    async def ensure_topics(self, topics: list[str]) -> None:
        """Create the topics that do not exist yet, with the designed partition count."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [t for t in dict.fromkeys(topics) if t not in existing]
            if not missing:
                return
            new = [NewTopic(t, self._partitions, self._replication) for t in missing]
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another replica created it first
        finally:
            await admin.close()

    async def ping(self) -> None:
        if self._producer is None:
            raise RuntimeError("kafka producer not started")
        await self._producer.client.fetch_all_metadata()

    async def publish(self, records: list[Record]) -> None:
        if self._producer is None:
            raise RuntimeError("kafka producer not started")
        futures = [
            await self._producer.send(r.topic, r.value, key=r.key.encode(), headers=r.headers)
            for r in records
        ]
        await asyncio.gather(*futures)

    def subscribe(self, *, group: str, topics: list[str], deliver: Deliver) -> None:
        self._subs.append((group, list(topics), deliver))
        if self._started:
            self._spawn(group, topics, deliver)

    def _spawn(self, group: str, topics: list[str], deliver: Deliver) -> None:
        self._tasks.append(
            asyncio.create_task(self._consume(group, topics, deliver), name=f"kafka:{group}")
        )

    async def _consume(self, group: str, topics: list[str], deliver: Deliver) -> None:
        while not self._stopping.is_set():
            consumer = AIOKafkaConsumer(
                *topics,
                bootstrap_servers=self._bootstrap,
                client_id=f"{self._client_id}-{group}",
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=200,
                metadata_max_age_ms=5000,
            )
            try:
                await consumer.start()
                await self._poll(consumer, deliver)
            except asyncio.CancelledError:
                raise
            except KafkaError:
                log.exception("kafka consumer %s failed; reconnecting", group)
                await asyncio.sleep(self._retry_pause)
            finally:
                with suppress(Exception):
                    await consumer.stop()

    async def _poll(self, consumer: AIOKafkaConsumer, deliver: Deliver) -> None:
        while not self._stopping.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            for tp, messages in batches.items():
                await self._deliver_partition(consumer, tp, messages, deliver)

    async def _deliver_partition(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, messages: list, deliver: Deliver
    ) -> None:
        done: int | None = None
        for m in messages:
            if self._stopping.is_set():
                break  # commit what was dealt with; the rest is redelivered after restart
            try:
                await deliver(
                    Message(
                        topic=m.topic,
                        partition=m.partition,
                        offset=m.offset,
                        key=m.key.decode() if m.key is not None else None,
                        headers=list(m.headers or []),
                        value=m.value,
                    )
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                # Not dealt with: rewind to it so the next poll redelivers it, after a pause.
                log.exception("delivery failed at %s@%s; will redeliver", tp, m.offset)
                consumer.seek(tp, m.offset)
                if done is not None:
                    await self._commit(consumer, tp, done)
                await asyncio.sleep(self._retry_pause)
                return
            done = m.offset + 1
        if done is not None:
            await self._commit(consumer, tp, done)

    @staticmethod
    async def _commit(consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
        try:
            await consumer.commit({tp: offset})
        except KafkaError:
            # E.g. the partition was reassigned: its new owner redelivers from the last commit.
            log.warning("offset commit for %s failed; messages will be redelivered", tp)
