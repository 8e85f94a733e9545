"""The backbone when the broker fails, on brokers of the test's own (scripts/kafka.sh), with a
stream of writes going on: every write is accepted through the outbox while the broker is away,
and every event it caused is applied once when the broker is back.

- one broker stopped and restarted with its data;
- a three-broker KRaft cluster (replication 3, min.insync.replicas 2, the producer's acks=all
  and idempotence) losing one broker to SIGKILL, which later comes back: the service goes on
  without a restart.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from shared.app import build_app
from tests import testkit
from tests.helpers import eventually, kafka_settings, topic_prefix
from tests.helpers.kafka import KafkaCluster
from tests.helpers.metrics import value
from tests.testkit import KitClient

pytestmark = pytest.mark.infra


@dataclass
class Writer:
    """Writes that cause events, at a steady pace, counting what was accepted."""

    client: httpx.AsyncClient
    run: str
    sent: int = 0
    refused: list[str] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._go())

    async def stop(self) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task

    async def _go(self) -> None:
        i = 0
        while not self._stop.is_set():
            body = {"count": 3, "counter": f"c{i % 12}"}
            r = await self.client.post(f"/v1/testkit/{self.run}/emit", json=body)
            if r.status_code == 201:
                self.sent += 3
            else:
                self.refused.append(f"{r.status_code} {r.text[:200]}")
            i += 1
            await asyncio.sleep(0.02)


async def _service(
    cluster: KafkaCluster,
    pg_databases,
    replication: int,  # type: ignore[no-untyped-def]
) -> AsyncIterator[KitClient]:
    name = f"testkit_{uuid.uuid4().hex[:8]}"
    url = await pg_databases([name])
    prefix = topic_prefix()
    settings = kafka_settings(cluster.bootstrap, url, prefix, topic_replication=replication)
    app = build_app([testkit.definition(name)], settings, name=name)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
            yield KitClient(name, prefix, client, cluster.bootstrap)


async def _all_applied(svc: KitClient, run: str, n: int) -> dict[str, int] | None:
    counts = await svc.counts(run)
    return counts if counts["distinct"] >= n else None


async def _settled(svc: KitClient, writer: Writer) -> None:
    """Every accepted write's events applied once, nothing dead-lettered."""
    assert writer.refused == [], writer.refused[:5]
    await eventually(
        lambda: _all_applied(svc, writer.run, writer.sent), timeout=180, what="every event applied"
    )
    await asyncio.sleep(1.0)  # a duplicate would show by now
    n = writer.sent
    assert await svc.counts(writer.run) == {"rows": n, "distinct": n, "total": n}
    assert await svc.dead_letters() == 0


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[KafkaCluster]:
    async with KafkaCluster(tmp_path / "kafka", nodes=1) as cluster:
        yield cluster


async def test_broker_restarted_with_its_data_under_a_write_stream_loses_nothing(
    broker: KafkaCluster,
    pg_databases,  # type: ignore[no-untyped-def]
) -> None:
    async for svc in _service(broker, pg_databases, replication=1):
        writer = Writer(svc.client, uuid.uuid4().hex)
        writer.start()
        await asyncio.sleep(1.5)
        await broker.stop()
        await asyncio.sleep(1.0)
        ready = await svc.client.get("/readyz")
        assert ready.status_code == 200, "a broker outage must not make the API unready"
        assert ready.json()["status"] == "degraded" and ready.json()["checks"]["bus"] != "ok"
        sent_before = writer.sent
        await asyncio.sleep(3.0)
        assert writer.sent > sent_before, "writes must go on while the broker is away"
        status = (await svc.client.get("/status")).json()
        assert status["bus"] != "ok"
        assert status["services"][svc.name]["outbox"]["unsent"] > 0
        # The same in metrics: degraded (the bus down, the database up), a backlog building.
        text = (await svc.client.get("/metrics")).text
        assert value(text, "binome_bus_up") == 0
        assert value(text, "binome_database_up", service=svc.name) == 1
        assert (value(text, "binome_outbox_unsent", service=svc.name) or 0) > 0
        await broker.start()  # with its data: topics, offsets and committed events kept
        await asyncio.sleep(1.5)
        await writer.stop()
        await _settled(svc, writer)
        status = (await svc.client.get("/status")).json()["services"][svc.name]
        assert status["outbox"]["unsent"] == 0 and status["missing_topics"] == []
        assert status["consumer"]["lag"] == 0 and status["dead_letters"] == 0
        # Kafka's own ops tool sees the same group, caught up.
        described = await broker.run(
            "consumer-groups", "--describe", "--group", f"{svc.prefix}binome-{svc.name}"
        )
        rows = [line.split() for line in described.splitlines() if svc.prefix in line]
        assert rows and all(row[5] in ("0", "-") for row in rows), described  # LAG column


async def test_topics_lost_by_the_broker_are_created_again(
    tmp_path: Path,
    pg_databases,  # type: ignore[no-untyped-def]
) -> None:
    """A broker re-created empty (its data wiped): the relay creates the topics again instead
    of looping on "topic not found", and the unsent rows go out."""
    async with KafkaCluster(tmp_path / "kafka", nodes=1) as cluster:
        async for svc in _service(cluster, pg_databases, replication=1):
            run = uuid.uuid4().hex
            await cluster.wipe()
            await cluster.start()  # a new, empty cluster on the same port
            writer = Writer(svc.client, run)
            writer.start()
            await asyncio.sleep(1.0)
            await writer.stop()
            await _settled(svc, writer)


@pytest.fixture
async def cluster3(tmp_path: Path) -> AsyncIterator[KafkaCluster]:
    async with KafkaCluster(tmp_path / "kafka3", nodes=3) as cluster:
        yield cluster


async def test_three_broker_cluster_survives_losing_one_broker(
    cluster3: KafkaCluster,
    pg_databases,  # type: ignore[no-untyped-def]
) -> None:
    async for svc in _service(cluster3, pg_databases, replication=3):
        writer = Writer(svc.client, uuid.uuid4().hex)
        writer.start()
        await asyncio.sleep(1.5)
        await cluster3.kill(2)
        await asyncio.sleep(6.0)  # partitions led by broker 2 move to the others
        await cluster3.start_node(2)
        await asyncio.sleep(2.0)
        await writer.stop()
        await _settled(svc, writer)
