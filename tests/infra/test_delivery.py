"""Delivery guarantees on the real Kafka broker and PostgreSQL.

- an event delivered twice has one effect (inbox);
- poison messages (undecodable, unknown type or version, invalid data, a handler that keeps
  failing) land in the dead-letter topic with the error, and the events behind them on the same
  partition are still processed;
- a consuming service killed with SIGKILL in the middle of a burst and restarted ends with every
  event applied exactly once in effect.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shared.app import build_app
from shared.events import dead_letter_topic
from shared.messaging.kafka_bus import KafkaBus
from tests import testkit
from tests.helpers import eventually, free_port, kafka_settings, ready, spawn_testkit, topic_prefix
from tests.helpers.dlq import dead_letters_replayed_after_a_fix
from tests.helpers.kafka import group_members, produce, read_topic, wire

pytestmark = pytest.mark.infra
ROOT = Path(__file__).resolve().parents[2]


def _inc(
    run_id: str, amount: int = 1, *, counter: str = "c1", fail: bool = False
) -> testkit.CounterIncremented:
    return testkit.CounterIncremented(run_id=run_id, counter_id=counter, amount=amount, fail=fail)


@pytest.fixture
async def kit(kafka_bootstrap: str, pg_databases) -> AsyncIterator[Kit]:  # type: ignore[no-untyped-def]
    name = f"testkit_{uuid.uuid4().hex[:8]}"
    url = await pg_databases([name])
    prefix = topic_prefix()
    app = build_app(
        [testkit.definition(name)], kafka_settings(kafka_bootstrap, url, prefix), name=name
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
            yield Kit(name, prefix, client)


@dataclass
class Kit:
    name: str
    prefix: str
    client: httpx.AsyncClient


async def _counts(client: httpx.AsyncClient, run_id: str) -> dict[str, int]:
    return (await client.get(f"/v1/testkit/{run_id}")).json()


async def test_event_delivered_twice_has_one_effect(kafka_bootstrap: str, kit: Kit) -> None:
    client, p = kit.client, kit.prefix
    run = uuid.uuid4().hex
    twice = wire(_inc(run, 5), prefix=p, event_id=str(uuid.uuid4()))
    # Same key, so one partition: the sentinel is applied only after both copies were seen.
    await produce(kafka_bootstrap, [twice, twice, wire(_inc(run, 1), prefix=p)])
    await produce(kafka_bootstrap, [twice])
    sentinel = wire(_inc(run, 100), prefix=p)
    await produce(kafka_bootstrap, [sentinel])
    counts = await eventually(lambda: _has_total(client, run, 106), what="sentinel applied")
    assert counts == {"rows": 3, "distinct": 3, "total": 106}


async def _has_total(client: httpx.AsyncClient, run: str, total: int) -> dict[str, int] | None:
    counts = await _counts(client, run)
    return counts if counts["total"] >= total else None


async def test_poison_messages_go_to_dead_letter_and_consumer_goes_on(
    kafka_bootstrap: str, kit: Kit
) -> None:
    client, p = kit.client, kit.prefix
    run = uuid.uuid4().hex
    topic, key, headers, value = wire(_inc(run, 1), prefix=p)
    unknown_version = [(k, v.replace(b".v1", b".v9") if k == "ce_type" else v) for k, v in headers]
    invalid_data = b'{"run_id": "x"}'
    poison = [
        (topic, key, [("content-type", b"text/plain")], b"\x00not a cloudevent"),
        (topic, key, unknown_version, value),
        (topic, key, wire(_inc(run, 1), prefix=p)[2], invalid_data),
        wire(_inc(run, 1, fail=True), prefix=p),
    ]
    await produce(
        kafka_bootstrap, [wire(_inc(run, 1), prefix=p), *poison, wire(_inc(run, 10), prefix=p)]
    )
    counts = await eventually(lambda: _has_total(client, run, 11), what="events behind poison")
    assert counts["rows"] == 2

    dead = await read_topic(
        kafka_bootstrap, dead_letter_topic(f"{p}binome-{kit.name}", p), expect=4
    )
    assert len(dead) == 4
    errors = [dict(m.headers)["dlq_error"].decode() for m in dead]
    assert errors[0].startswith("UndecodableEvent")
    assert errors[1].startswith("UnknownEventType")
    assert errors[2].startswith("ValidationError")
    assert errors[3].startswith("RuntimeError: this event always fails")
    assert dict(dead[3].headers)["dlq_attempts"] == b"3"
    assert all(dict(m.headers)["dlq_topic"] == topic.encode() for m in dead)


async def test_sigkill_mid_burst_then_restart_applies_each_event_once(
    kafka_bootstrap: str,
    pg_databases,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    name = f"testkit_{uuid.uuid4().hex[:8]}"
    url = await pg_databases([name])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    run = uuid.uuid4().hex
    burst = 3000
    log = tmp_path / "testkit.log"
    p = topic_prefix()
    proc = spawn_testkit(name, port, kafka_bootstrap, url, p, log)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            await eventually(lambda: ready(base), timeout=60, what="testkit process ready")
            # Many keys, so every partition is busy when the process dies.
            await produce(
                kafka_bootstrap,
                [wire(_inc(run, 1, counter=f"c{i % 24}"), prefix=p) for i in range(burst)],
            )
            at_kill = await eventually(
                lambda: _at_least(client, run, 300), interval=0.01, what="part of the burst applied"
            )
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            assert at_kill["rows"] < burst, "the burst finished before the kill; make it larger"

            proc = spawn_testkit(name, port, kafka_bootstrap, url, p, log)
            await eventually(lambda: ready(base), timeout=60, what="testkit restarted")
            final = await eventually(
                lambda: _at_least(client, run, burst), timeout=120, what="whole burst applied"
            )
            await asyncio.sleep(1.0)  # let any redelivery that would duplicate show up
            final = await _counts(client, run)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert final == {"rows": burst, "distinct": burst, "total": burst}, log.read_text()[-3000:]


async def _two_members(bootstrap: str, group: str) -> bool:
    return await group_members(bootstrap, group) == 2


async def _at_least(client: httpx.AsyncClient, run: str, rows: int) -> dict[str, int] | None:
    counts = await _counts(client, run)
    return counts if counts["distinct"] >= rows else None


async def test_replicas_share_partitions_and_survive_one_being_killed(
    kafka_bootstrap: str,
    pg_databases,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """Two processes of one service in one consumer group: Kafka spreads the partitions over
    them; when one dies mid-burst the other takes its partitions over, each event applied once.
    """
    name = f"testkit_{uuid.uuid4().hex[:8]}"
    url = await pg_databases([name])
    p = topic_prefix()
    ports = [free_port(), free_port()]
    log = tmp_path / "replicas.log"
    procs = [spawn_testkit(name, port, kafka_bootstrap, url, p, log) for port in ports]
    run = uuid.uuid4().hex
    burst = 2000
    try:
        clients = [
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) for port in ports
        ]
        for port in ports:
            url = f"http://127.0.0.1:{port}"
            await eventually(lambda url=url: ready(url), timeout=60, what="replica ready")
        # Both consumers in the group, partitions shared, before the burst starts.
        await eventually(
            lambda: _two_members(kafka_bootstrap, f"{p}binome-{name}"),
            timeout=60,
            interval=0.2,
            what="both replicas in the consumer group",
        )
        await produce(
            kafka_bootstrap,
            [wire(_inc(run, 1, counter=f"c{i % 24}"), prefix=p) for i in range(burst)],
        )

        async def both_working() -> dict[str, int] | None:
            per = (await clients[1].get(f"/v1/testkit/{run}/processes")).json()
            return per if len(per) == 2 and min(per.values()) >= 50 else None

        await eventually(
            both_working, timeout=60, interval=0.02, what="both replicas applying events"
        )
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(timeout=10)
        # The survivor gets the dead replica's partitions after the group's session timeout.
        await eventually(
            lambda: _at_least(clients[1], run, burst),
            timeout=120,
            what="survivor finishing the burst",
        )
        await asyncio.sleep(1.0)
        final = await _counts(clients[1], run)
        per_process = (await clients[1].get(f"/v1/testkit/{run}/processes")).json()
        for c in clients:
            await c.aclose()
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=10)
    assert final == {"rows": burst, "distinct": burst, "total": burst}, log.read_text()[-3000:]
    assert len(per_process) == 2 and sum(per_process.values()) == burst


async def test_dead_letters_are_listed_shown_and_replayed_after_a_fix(
    kafka_bootstrap: str, kit: Kit
) -> None:
    async def publish(events: list[testkit.CounterIncremented]) -> None:
        await produce(kafka_bootstrap, [wire(e, prefix=kit.prefix) for e in events])

    group = f"{kit.prefix}binome-{kit.name}"
    await dead_letters_replayed_after_a_fix(
        client=kit.client,
        publish=publish,
        bus=KafkaBus(kafka_bootstrap, client_id="test-dlq"),
        dead_letter_topic=dead_letter_topic(group, kit.prefix),
        group=kit.name,
        env={
            "BINOME_BUS": "kafka",
            "BINOME_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "BINOME_TOPIC_PREFIX": kit.prefix,
        },
    )
