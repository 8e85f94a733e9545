"""The embedded bus keeps Kafka's delivery semantics: one effect per event, dead-lettering,
and nothing lost across a restart of the process (its log and offsets are on disk)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import httpx

from shared.contracts.enrollment import ProgramCreated
from shared.events import Event, dead_letter_topic, to_wire
from shared.messaging.bus import Record
from shared.messaging.local_bus import LocalBus
from shared.settings import Settings
from tests import testkit
from tests.helpers import eventually
from tests.helpers.dlq import dead_letters_replayed_after_a_fix

NAME = testkit.NAME


async def _total(client: httpx.AsyncClient, run: str, total: int) -> dict | None:
    counts = (await client.get(f"/v1/testkit/{run}")).json()
    return counts if counts["total"] >= total else None


async def test_duplicate_delivery_has_one_effect(kit) -> None:  # type: ignore[no-untyped-def]
    app, client = kit
    run = uuid.uuid4().hex
    twice = testkit.record(run, 5, event_id=str(uuid.uuid4()))
    await app.state.bus.publish([twice, twice, testkit.record(run, 1)])
    await app.state.bus.publish([twice, testkit.record(run, 100)])
    counts = await eventually(lambda: _total(client, run, 106), what="sentinel applied")
    assert counts == {"rows": 3, "distinct": 3, "total": 106}


async def test_poison_goes_to_dead_letter_and_consumer_goes_on(kit) -> None:  # type: ignore[no-untyped-def]
    app, client = kit
    run = uuid.uuid4().hex
    await app.state.bus.publish(testkit.with_poison(run))
    counts = await eventually(lambda: _total(client, run, 11), what="events behind poison")
    assert counts["rows"] == 2
    dead = await app.state.bus.read_topic(dead_letter_topic(f"binome-{NAME}"))
    errors = [dict(m.headers)["dlq_error"].decode() for m in dead]
    assert len(errors) == 2
    assert errors[0].startswith("UndecodableEvent")
    assert errors[1].startswith("RuntimeError")


async def test_events_survive_a_restart_and_are_not_applied_again(kit_settings: Settings) -> None:
    run = uuid.uuid4().hex
    app = testkit.app(kit_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
            await app.state.bus.publish([testkit.record(run, 1) for _ in range(20)])
            await eventually(lambda: _total(client, run, 20), what="first batch applied")
    # While the process is down, another writer appends to the durable log.
    offline = LocalBus(kit_settings.data_dir / "bus.db", partitions=kit_settings.topic_partitions)
    await offline.start()
    await offline.publish([testkit.record(run, 1) for _ in range(30)])
    await offline.stop()
    app = testkit.app(kit_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
            counts = await eventually(lambda: _total(client, run, 50), what="backlog applied")
    assert counts == {"rows": 50, "distinct": 50, "total": 50}


async def test_records_another_writer_appends_meanwhile_are_delivered(
    kit, kit_settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    """The running bus looks only where it appended itself after each publish, and
    everywhere once per poll interval: a record another writer appends (a CLI's dead-letter
    replay) is delivered, also while the bus keeps publishing its own."""
    app, client = kit
    run, busy = uuid.uuid4().hex, uuid.uuid4().hex
    other = LocalBus(kit_settings.data_dir / "bus.db", partitions=kit_settings.topic_partitions)
    await other.start()
    try:
        await other.publish([testkit.record(run, 1) for _ in range(7)])
    finally:
        await other.stop()
    for _ in range(30):  # its own publishes, one every 50 ms: never a quiet poll interval
        await app.state.bus.publish([testkit.record(busy, 1)])
        if await _total(client, run, 7):
            break
        await asyncio.sleep(0.05)
    counts = await eventually(lambda: _total(client, run, 7), what="the other writer's records")
    assert counts == {"rows": 7, "distinct": 7, "total": 7}


async def test_a_writer_holding_the_log_holds_up_no_consumer_reading_it(
    kit, kit_settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    """WAL: the log is read beside its writer. Here another connection holds the log's write
    lock (a CLI's replay in the middle of its transaction) just after another writer appended
    records: the consumer reads and applies them all the same; its offsets move once the
    lock is released, and nothing is applied twice. (With the bus's reads taking the write
    lock, the consumer waited the busy timeout, 30 s, before reading anything.)"""
    app, client = kit
    run = uuid.uuid4().hex
    log_file = kit_settings.data_dir / "bus.db"
    other = LocalBus(log_file, partitions=kit_settings.topic_partitions)
    await other.start()
    try:
        await other.publish([testkit.record(run, 1) for _ in range(7)])
    finally:
        await other.stop()
    busy = sqlite3.connect(log_file, isolation_level=None, timeout=30, check_same_thread=False)
    await asyncio.to_thread(busy.execute, "BEGIN IMMEDIATE")  # (the loop goes on meanwhile)
    try:
        await eventually(
            lambda: _total(client, run, 7), timeout=10, what="applied while the log is locked"
        )
    finally:
        busy.execute("ROLLBACK")
        busy.close()
    await app.state.bus.publish([testkit.record(run, 1)])
    counts = await eventually(lambda: _total(client, run, 8), what="the next record")
    assert counts == {"rows": 8, "distinct": 8, "total": 8}


async def test_dead_letters_are_listed_shown_and_replayed_after_a_fix(  # type: ignore[no-untyped-def]
    kit, kit_settings: Settings
) -> None:
    app, client = kit
    bus = app.state.bus

    async def publish(events: list[testkit.CounterIncremented]) -> None:
        await bus.publish([testkit.record_of(e) for e in events])

    await dead_letters_replayed_after_a_fix(
        client=client,
        publish=publish,
        bus=bus,
        dead_letter_topic=dead_letter_topic(f"binome-{NAME}"),
        group=NAME,
        env={"BINOME_DATA_DIR": str(kit_settings.data_dir)},
    )


async def test_an_event_this_service_does_not_handle_is_passed_over_unchecked(kit) -> None:  # type: ignore[no-untyped-def]
    """On a topic it reads, an event of a type Binôme knows but this service does not handle
    is passed over by the type its headers name, its data neither decoded nor checked (its
    own consumers check it and dead-letter it if it is off its contract or unreadable); a
    type nobody knows is still a dead letter."""
    app, client = kit
    run = uuid.uuid4().hex
    good = testkit.record(run, 1)

    def other(type_: str) -> Record:
        event = Event(
            id=str(uuid.uuid4()),
            type=type_,
            source="/binome/elsewhere",
            subject="x",
            time=datetime.now(UTC),
            org="acme",
            data={"not": "its contract"},
        )
        headers, value = to_wire(event)
        return Record(topic=good.topic, key="x", headers=headers, value=value)

    unreadable = replace(other(ProgramCreated.TYPE), value=b"\xff not JSON")
    await app.state.bus.publish(
        [
            good,
            other(ProgramCreated.TYPE),
            unreadable,
            other("binome.nobody.thing.v1"),
            testkit.record(run, 10),
        ]
    )
    counts = await eventually(lambda: _total(client, run, 11), what="the events around them")
    assert counts["rows"] == 2
    dead = await app.state.bus.read_topic(dead_letter_topic(f"binome-{NAME}"))
    errors = [dict(m.headers)["dlq_error"].decode() for m in dead]
    assert [e.split(":")[0] for e in errors] == ["UnknownEventType"], errors


async def test_a_group_reading_more_partitions_than_one_statement_reads_gets_them_all(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """A drain reads its partitions in statements of PARTITIONS_PER_DRAIN: a group reading
    two topics of 300 partitions (SQLite takes 500 SELECTs in one) gets every record once,
    each key's in order, where a publish appended (about 600 partitions) or anywhere."""
    bus = LocalBus(tmp_path / "bus.db", partitions=300)
    got: list[tuple[str, str, int]] = []

    async def deliver(messages: list) -> None:  # type: ignore[type-arg]
        got.extend((m.topic, m.key, int(m.value)) for m in messages)

    bus.subscribe(group="many", topics=["a", "b"], deliver=deliver)
    await bus.start()
    try:
        sent = [
            Record(topic, f"k{k}", [], str(n).encode())
            for n in range(3)
            for topic in ("a", "b")
            for k in range(1000)
        ]
        await bus.publish(sent)
        await eventually(lambda: asyncio.sleep(0, len(got) >= len(sent)), what="every record")
        await asyncio.sleep(0.2)  # nothing more comes
    finally:
        await bus.stop()
    assert sorted(got) == sorted((r.topic, r.key, int(r.value)) for r in sent)
    for topic in ("a", "b"):
        for k in range(1000):
            assert [n for t, key, n in got if (t, key) == (topic, f"k{k}")] == [0, 1, 2]
