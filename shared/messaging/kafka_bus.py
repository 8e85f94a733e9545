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
from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    TopicAlreadyExistsError,
    UnknownProducerId,
    UnknownTopicOrPartitionError,
)

from shared.messaging.bus import Deliver, Message, Record, ended, stop_gracefully

log = logging.getLogger(__name__)

# Topic settings: the broker's defaults would delete records after 7 days.
KEPT_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}
_TOPIC_OVERRIDE = 1  # DescribeConfigs' config source: a setting of the topic itself

_REQUEST_TIMEOUT_MS = 10_000
_PUBLISH_TIMEOUT_S = 3 * _REQUEST_TIMEOUT_MS / 1000

# The brokers no longer know this producer's id or sequence: only a new producer recovers.
_PRODUCER_STATE_LOST = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    ProducerFenced,
)


class KafkaBus:
    system = "kafka"

    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str,
        partitions: int = 6,
        replication: int = 1,
        retry_pause_s: float = 0.5,
        max_batch: int = 500,
    ) -> None:
        self._max_batch = max_batch
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
        self._producer = self._new_producer()
        await self._producer.start()
        self._started = True
        for group, topics, deliver in self._subs:
            self._spawn(group, topics, deliver)

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=2,
            # A batch the brokers cannot take fails after this, and the relay tries again (the
            # rows stay unsent meanwhile); aiokafka's 40 s default slowed recovery.
            request_timeout_ms=_REQUEST_TIMEOUT_MS,
        )

    async def _replace_producer(self) -> None:
        """A new producer (a new producer id): the idempotent producer's sequence state no
        longer matches the brokers' (e.g. a cluster re-created empty) and it cannot recover."""
        old, self._producer = self._producer, self._new_producer()
        await self._producer.start()
        if old is not None:
            with suppress(Exception):
                await old.stop()

    async def stop(self) -> None:
        """Let each consumer finish the message in hand and commit, then stop."""
        self._stopping.set()
        await stop_gracefully(self._tasks)
        self._tasks.clear()
        if self._producer:
            await self._producer.stop()
            self._producer = None
        self._started = False

    async def ensure_topics(self, topics: list[str]) -> list[str]:
        """Create the topics that do not exist yet, with the designed partition count and no
        time or size limit on the broker's retention (the broker would delete by age, read or
        not; Binôme forgets only what every group has read: `purge`); returns the ones
        created."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [t for t in dict.fromkeys(topics) if t not in existing]
            await self._keep_forever(admin, [t for t in dict.fromkeys(topics) if t in existing])
            if not missing:
                return []
            new = [
                NewTopic(t, self._partitions, self._replication, topic_configs=KEPT_FOREVER)
                for t in missing
            ]
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another replica created it first
            return missing
        finally:
            await admin.close()

    async def _keep_forever(self, admin: AIOKafkaAdminClient, topics: list[str]) -> None:
        """Topics made with the broker's default retention (records deleted after 7 days, read
        or not) get unlimited retention, `purge` being Binôme's; the other settings they
        override are kept (Kafka's AlterConfigs replaces a topic's whole set). A broker
        refusing it is said, not fatal."""
        if not topics:
            return
        try:
            answers = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics]
            )
            changes = []
            for answer in answers:
                for error, message, _, name, entries, *_ in answer.resources:
                    if error:  # said, and tried again at the next start
                        log.warning("could not read %s's settings: %s %s", name, error, message)
                        continue
                    values = {e[0]: e[1] for e in entries}
                    if all(values.get(k) == v for k, v in KEPT_FOREVER.items()):
                        continue
                    overrides = {e[0]: e[1] for e in entries if e[3] == _TOPIC_OVERRIDE}
                    configs = {**overrides, **KEPT_FOREVER}
                    changes.append(ConfigResource(ConfigResourceType.TOPIC, name, configs=configs))
            if changes:
                await admin.alter_configs(changes)
                log.info("kept these topics' records forever: %s", [c.name for c in changes])
        except KafkaError as exc:
            log.warning("could not set unlimited retention on existing topics: %r", exc)

    async def missing_topics(self, topics: list[str]) -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
        finally:
            await admin.close()
        return [t for t in topics if t not in existing]

    async def backlog(self, group: str, topics: list[str]) -> int:
        """Records in `topics` the group has not committed past (its lag)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        await admin.start()
        try:
            committed = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        starts, ends = await self._offsets(topics)
        return sum(
            end
            - (
                committed[tp].offset
                if tp in committed and committed[tp].offset >= 0
                else starts[tp]
            )
            for tp, end in ends.items()
        )

    async def count(self, topic: str) -> int:
        """Records currently held by `topic` (e.g. a dead-letter topic)."""
        starts, ends = await self._offsets([topic])
        return sum(end - starts[tp] for tp, end in ends.items())

    async def _partitions_of(self, topics: list[str]) -> list[TopicPartition]:
        """The partitions of those of `topics` that exist, from fresh cluster metadata."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        await admin.start()
        try:
            described = await admin.describe_topics(list(topics))
        finally:
            await admin.close()
        return sorted(
            TopicPartition(d["topic"], p["partition"])
            for d in described
            if d["error_code"] == 0
            for p in d["partitions"]
        )

    async def _offsets(
        self, topics: list[str]
    ) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
        parts = await self._partitions_of(topics)
        if not parts:
            return {}, {}
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        await consumer.start()
        try:
            return await consumer.beginning_offsets(parts), await consumer.end_offsets(parts)
        finally:
            await consumer.stop()

    async def read_topic(self, topic: str, since: Mapping[int, int] | None = None) -> list[Message]:
        """Every record `topic` holds now (from offset `since[partition]` on, if given), in
        partition then offset order (no consumer group: reading moves no offset)."""
        since = since or {}
        parts = await self._partitions_of([topic])
        if not parts:
            return []
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        out: list[Message] = []
        try:
            consumer.assign(parts)
            starts, ends = (
                await consumer.beginning_offsets(parts),
                await consumer.end_offsets(parts),
            )
            for tp in parts:  # synchronous, unlike seek_to_beginning
                starts[tp] = max(starts[tp], since.get(tp.partition, 0))
                consumer.seek(tp, starts[tp])
            remaining = {tp for tp in parts if ends[tp] > starts[tp]}
            while remaining:
                batches = await consumer.getmany(*remaining, timeout_ms=1000)
                for tp, messages in batches.items():
                    out.extend(_message(m) for m in messages if m.offset < ends[tp])
                for tp in list(remaining):
                    if await consumer.position(tp) >= ends[tp]:
                        remaining.discard(tp)
        finally:
            await consumer.stop()
        return sorted(out, key=lambda m: (m.partition, m.offset))

    async def purge(self, topic: str, *, before: datetime, consumed: bool = True) -> int:
        """See shared.messaging.bus.Bus.purge: the records' timestamps (when the relay sent
        them) against `before`, the groups' committed offsets, then DeleteRecords (the
        partition's start moves on; the broker drops the segments behind it)."""
        parts = await self._partitions_of([topic])
        if not parts:
            return 0
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        await consumer.start()
        try:
            starts = await consumer.beginning_offsets(parts)
            ends = await consumer.end_offsets(parts)
            ms = int(before.timestamp() * 1000)
            recent = await consumer.offsets_for_times({tp: ms for tp in parts})
        finally:
            await consumer.stop()
        upto = {tp: ends[tp] if recent.get(tp) is None else recent[tp].offset for tp in parts}
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        await admin.start()
        try:
            if consumed:
                for group, *_ in await admin.list_consumer_groups():
                    offsets = await admin.list_consumer_group_offsets(group, partitions=parts)
                    read = {tp: o.offset for tp, o in offsets.items() if o.offset >= 0}
                    if read:  # a group reading this topic: nothing past what it committed
                        upto = {tp: min(upto[tp], read.get(tp, 0)) for tp in parts}
            deletions = {
                tp: RecordsToDelete(before_offset=upto[tp]) for tp in parts if upto[tp] > starts[tp]
            }
            if deletions:
                await admin.delete_records(deletions)
        finally:
            await admin.close()
        return sum(upto[tp] - starts[tp] for tp in deletions)

    def dead_loops(self) -> list[str]:
        return [] if self._stopping.is_set() else ended(self._tasks)

    async def ping(self) -> None:
        if self._producer is None:
            raise RuntimeError("kafka producer not started")
        await self._producer.client.fetch_all_metadata()

    async def publish(self, records: list[Record]) -> None:
        if self._producer is None:
            raise RuntimeError("kafka producer not started")
        await self._require_topics({r.topic for r in records})
        producer = self._producer

        async def send_all() -> None:
            futures = [
                await producer.send(r.topic, r.value, key=r.key.encode(), headers=r.headers)
                for r in records
            ]
            await asyncio.gather(*futures)

        try:
            # Bounded: a batch aiokafka keeps retrying (e.g. to a topic a re-created broker
            # lacks) must fail so that the relay can repair and try again.
            await asyncio.wait_for(send_all(), _PUBLISH_TIMEOUT_S)
        except _PRODUCER_STATE_LOST:
            if self._producer is producer:
                log.warning("kafka producer state lost by the brokers; starting a new producer")
                await self._replace_producer()
            raise  # the relay publishes the batch again (at-least-once)

    async def _require_topics(self, topics: set[str]) -> None:
        """Fail fast on a topic the broker does not have (aiokafka would wait for it until its
        request timeout), so the relay re-creates it at once."""
        assert self._producer is not None
        client = self._producer.client
        unknown = [t for t in topics if client.cluster.partitions_for_topic(t) is None]
        if not unknown:
            return
        for topic in unknown:
            client.add_topic(topic)  # track it in metadata updates
        await client.force_metadata_update()
        missing = sorted(t for t in unknown if client.cluster.partitions_for_topic(t) is None)
        if missing:
            raise UnknownTopicOrPartitionError(f"topics not found: {missing}")

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
                max_poll_records=self._max_batch,
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
            batches = await consumer.getmany(timeout_ms=500, max_records=self._max_batch)
            if batches:
                await self._deliver(consumer, batches, deliver)

    async def _deliver(
        self,
        consumer: AIOKafkaConsumer,
        batches: dict[TopicPartition, list[ConsumerRecord]],
        deliver: Deliver,
    ) -> None:
        """One batch across partitions; commit every partition past it once it is dealt with."""
        messages = [_message(m) for records in batches.values() for m in records]
        try:
            await deliver(messages)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Not dealt with: rewind every partition so the next poll redelivers the batch.
            log.exception("delivery of a batch of %d failed; will redeliver", len(messages))
            for tp, records in batches.items():
                consumer.seek(tp, records[0].offset)
            await asyncio.sleep(self._retry_pause)
            return
        offsets = {tp: records[-1].offset + 1 for tp, records in batches.items() if records}
        try:
            await consumer.commit(offsets)
        except KafkaError:
            # E.g. the partitions were reassigned: their new owner redelivers from the last
            # commit, which the inbox absorbs.
            log.warning("offset commit failed; the batch will be redelivered")


def _message(m: ConsumerRecord) -> Message:
    return Message(
        topic=m.topic,
        partition=m.partition,
        offset=m.offset,
        key=m.key.decode() if m.key is not None else None,
        headers=list(m.headers or []),
        value=m.value,
    )
