"""Talking to the real broker from tests, as an outside producer or reader would."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import time
import uuid
import warnings
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from shared.events import Event, EventData, to_wire, topic_for

ROOT = Path(__file__).resolve().parents[2]
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


class KafkaCluster:
    """A broker or cluster of its own for a fault test, driven through scripts/kafka.sh (the
    same script ops use): start, stop cleanly, SIGKILL a node, restart a node with its data."""

    def __init__(self, run_dir: Path, *, nodes: int = 1) -> None:
        self.nodes = nodes
        self.run_dir = run_dir
        self.port = _free_port_block(2 * nodes)
        self.bootstrap = ",".join(f"127.0.0.1:{self.port + 2 * i}" for i in range(nodes))

    def _env(self) -> dict[str, str]:
        return dict(
            os.environ,
            KAFKA_PORT=str(self.port),
            KAFKA_NODES=str(self.nodes),
            KAFKA_RUN=str(self.run_dir),
            KAFKA_HEAP="256m",
        )

    async def run(self, *args: str) -> str:
        def go() -> str:
            done = subprocess.run(
                [str(ROOT / "scripts" / "kafka.sh"), *args],
                env=self._env(),
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert done.returncode == 0, f"kafka.sh {' '.join(args)}: {done.stderr[-2000:]}"
            return done.stdout

        return await asyncio.to_thread(go)

    async def start(self) -> None:
        await self.run("start")

    async def stop(self, node: int | None = None) -> None:
        await self.run("stop", *([str(node)] if node else []))

    async def kill(self, node: int) -> None:
        await self.run("kill", str(node))

    async def start_node(self, node: int) -> None:
        await self.run("start-node", str(node))

    async def wipe(self) -> None:
        await self.run("wipe")

    async def __aenter__(self) -> KafkaCluster:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.wipe()


def _free_port_block(n: int) -> int:
    """A base port such that base .. base+n-1 are all free on 127.0.0.1, below the ephemeral
    range: a stopped broker's port must not be taken as the source port of some connection
    before the broker starts again."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        base = random.randrange(20000, low - 2 * n, 2)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no block of free ports found")


async def delete_topics(bootstrap: str, prefixes: tuple[str, ...]) -> None:
    """Delete the topics whose names start with one of `prefixes` (a test session's, a
    benchmark's): a broker kept across runs would otherwise pile up partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="cleanup")
    try:
        await admin.start()
        ours = [t for t in await admin.list_topics() if t.startswith(prefixes)]
        for i in range(0, len(ours), 200):
            await admin.delete_topics(ours[i : i + 200])
    except Exception as exc:  # a broker already gone: nothing to keep tidy
        warnings.warn(f"topics not deleted: {exc!r}", stacklevel=1)
    finally:
        await admin.close()
