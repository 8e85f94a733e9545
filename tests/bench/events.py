"""Event throughput, on the real broker and PostgreSQL, in one run (scripts/bench-events.sh).

Prints, beside the ceiling measured on the same broker in the same run:
- raw aiokafka: a bare consume loop reading the backlog (what the broker and client can do);
- reporting's projections: Binôme's consumer catching up on a backlog (events/s), then a steady
  stream at a fixed rate (end-to-end lag p50/p95: event time to its inbox row's commit);
- matching's participant upserts, the same way;
- the outbox relay publishing a backlog of rows (events/s);
- an HRIS push of 1,000 and 10,000 events to a running enrollment server (seconds).
Each figure is one measurement on a shared machine: read them as orders of magnitude.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import func, select

from services import load
from shared import db
from shared.app import build_app
from shared.auth import Role, mint_token
from shared.contracts import enrollment, feedback, matching, sessions
from shared.events import Event, EventData, to_wire, topic_for
from shared.messaging.tables import messaging_tables
from shared.service import ServiceRuntime
from shared.settings import BusKind, Settings
from shared.uow import UnitOfWork
from tests.helpers import create_database

ROOT = Path(__file__).resolve().parents[2]
# The service processes run on the Kafka bus: they refuse the public development secret, and
# a benchmark is not one caller of a real deployment (no rate limits).
os.environ.setdefault("BINOME_JWT_SECRET", secrets.token_urlsafe(48))
os.environ.setdefault("BINOME_RATE_LIMIT_PER_TOKEN", "off")
os.environ.setdefault("BINOME_RATE_LIMIT_PER_ADDRESS", "off")


def _program_created(program_id: str) -> enrollment.ProgramCreated:
    return enrollment.ProgramCreated(program_id=program_id, name="Bench", format="classic")


def _reporting_events(n: int) -> list[EventData]:
    """A realistic mix for reporting: programmes, matches through their life, sessions,
    ratings."""
    program = str(uuid.uuid4())
    out: list[EventData] = [_program_created(program)]
    i = 0
    while len(out) < n:
        i += 1
        m = dict(
            match_id=str(uuid.uuid4()),
            program_id=program,
            mentor_participant_id=f"p{i}",
            mentee_participant_id=f"q{i}",
            mentor_employee_id=f"e{i}",
            mentee_employee_id=f"f{i}",
        )
        out.append(matching.MatchProposed(**m, score=0.5, run_id=None, replaces_match_id=None))
        out.append(matching.MatchActivated(**m))
        s = dict(
            session_id=str(uuid.uuid4()),
            match_id=m["match_id"],
            program_id=program,
            mentor_employee_id=m["mentor_employee_id"],
            mentee_employee_id=m["mentee_employee_id"],
            scheduled_at=datetime(2026, 12, 1, tzinfo=UTC),
        )
        out.append(sessions.SessionScheduled(**s))
        out.append(sessions.SessionCompleted(**s))
        out.append(
            feedback.FeedbackSubmitted(
                feedback_id=str(uuid.uuid4()),
                session_id=s["session_id"],
                match_id=m["match_id"],
                program_id=program,
                author_employee_id=m["mentee_employee_id"],
                rating=4,
                has_comment=False,
            )
        )
    return out[:n]


def _matching_events(n: int) -> list[EventData]:
    program = str(uuid.uuid4())
    out: list[EventData] = [_program_created(program)]
    for i in range(n - 1):
        out.append(
            enrollment.ParticipantEnrolled(
                participant_id=str(uuid.uuid4()),
                program_id=program,
                employee_id=f"e{i}",
                role="mentor" if i % 5 == 0 else "mentee",
                skills_offered=["python", "sql"],
                skills_sought=["leadership"],
                languages=["fr", "en"],
                level=3 + i % 8,
                department=f"d{i % 7}",
                capacity=3,
                volunteer=True,
                themes=["growth"],
                answers=[3, 4, 2, 5],
                availability=[10, 11, 20],
                tz_offset_h=1,
                manager_chain=[f"m{i % 50}"],
            )
        )
    return out


def _wire(data: EventData, prefix: str, sent: dict[str, datetime] | None = None) -> tuple:
    """(topic, key, headers, value); records the event's time in `sent` by id if given."""
    event = Event.of(data, org="bench")
    if sent is not None:
        sent[event.id] = event.time
    headers, value = to_wire(event)
    return topic_for(event.type, prefix), event.subject.encode(), headers, value


async def _produce(bootstrap: str, records: list[tuple]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    try:
        futures = [await producer.send(t, v, key=k, headers=h) for t, k, h, v in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _ensure(bootstrap: str, topics: set[str]) -> None:
    from shared.messaging.kafka_bus import KafkaBus

    await KafkaBus(bootstrap, client_id="bench").ensure_topics(sorted(topics))


async def bench_raw(bootstrap: str, n: int) -> float:
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    records = [_wire(d, prefix) for d in _reporting_events(n)]
    await _ensure(bootstrap, {r[0] for r in records})
    await _produce(bootstrap, records)
    topics = sorted({r[0] for r in records})
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"{prefix}raw",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=500,
    )
    await consumer.start()
    try:
        seen, t0 = 0, time.perf_counter()
        while seen < n:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            seen += sum(len(v) for v in batches.values())
            if batches:
                await consumer.commit()
        return n / (time.perf_counter() - t0)
    finally:
        await consumer.stop()


async def _inbox_count(runtime: ServiceRuntime) -> int:
    async with runtime.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(runtime.inbox)) or 0)


async def _wait(check: Callable[[], Awaitable[bool]], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark did not finish")
        await asyncio.sleep(0.02)


async def bench_consumer(
    bootstrap: str, pg: str, service: str, make: Callable[[int], list[EventData]], n: int, rate: int
) -> tuple[float, float, float]:
    """(catch-up events/s, stream lag p50 ms, p95 ms)."""
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    url = await create_database(pg, f"bench_{uuid.uuid4().hex[:8]}_{service}")
    backlog = [_wire(d, prefix) for d in make(n)]
    await _ensure(bootstrap, {r[0] for r in backlog})
    await _produce(bootstrap, backlog)
    settings = Settings(
        bus=BusKind.kafka, kafka_bootstrap=bootstrap, database_url=url, topic_prefix=prefix
    )
    app = build_app([load(service)], settings, name=service)
    async with app.router.lifespan_context(app):
        runtime: ServiceRuntime = app.state.runtimes[service]
        await _wait(lambda: _at_least(runtime, n))
        catch_up = await _apply_rate(runtime)
        # A steady stream: `rate` events/s for 3 s; lag = event time -> its inbox row.
        stream = make(rate * 3)
        sent: dict[str, datetime] = {}
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=2
        )
        await producer.start()
        step = max(rate // 50, 1)  # 50 sends a second
        start = time.perf_counter()
        for i in range(0, len(stream), step):
            for t, k, h, v in [_wire(d, prefix, sent) for d in stream[i : i + step]]:
                await producer.send(t, v, key=k, headers=h)
            await asyncio.sleep(max(0.0, start + (i + step) / rate - time.perf_counter()))
        await producer.flush()
        await producer.stop()
        await _wait(lambda: _at_least(runtime, n + len(stream)))
        lags = await _lags(runtime, sent)
    return catch_up, _pct(lags, 50), _pct(lags, 95)


async def _apply_rate(runtime: ServiceRuntime) -> float:
    """Events applied per second, from the first inbox row to the last (start-up and the
    consumer group's join excluded)."""
    inbox = runtime.inbox
    async with runtime.engine.connect() as conn:
        first, last, count = (
            await conn.execute(
                select(
                    func.min(inbox.c.processed_at),
                    func.max(inbox.c.processed_at),
                    func.count(),
                )
            )
        ).one()
    return count / max((last - first).total_seconds(), 1e-3)


async def _at_least(runtime: ServiceRuntime, n: int) -> bool:
    return await _inbox_count(runtime) >= n


async def _lags(runtime: ServiceRuntime, sent: dict[str, datetime]) -> list[float]:
    """Milliseconds from each streamed event's time to its application (its inbox row)."""
    inbox = runtime.inbox
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(inbox.c.event_id, inbox.c.processed_at).where(
                    inbox.c.event_id.in_(list(sent))
                )
            )
        ).all()
    return [(r.processed_at - sent[r.event_id]).total_seconds() * 1000 for r in rows]


def _pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


async def bench_relay(bootstrap: str, pg: str, n: int) -> float:
    """The relay of enrollment publishing a backlog of n outbox rows."""
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    url = await create_database(pg, f"bench_{uuid.uuid4().hex[:8]}_enrollment")
    settings = Settings(
        bus=BusKind.kafka,
        kafka_bootstrap=bootstrap,
        database_url=url,
        topic_prefix=prefix,
        outbox_poll_interval_s=3600,
    )
    app = build_app([load("enrollment")], settings, name="enrollment")
    async with app.router.lifespan_context(app):  # migrations, topics
        pass
    # The backlog: outbox rows written by a unit of work of no running service (nothing relays
    # them until the service starts below).
    definition = load("enrollment")
    outbox, inbox = messaging_tables(definition.base.metadata)
    engine = db.create_engine(url)
    events = _matching_events(n)
    for i in range(0, n, 2000):
        async with UnitOfWork(engine=engine, outbox=outbox, inbox=inbox) as uow:
            for d in events[i : i + 2000]:
                uow.emit(d, org="bench")
            await uow.commit()
    await engine.dispose()
    app = build_app([load("enrollment")], settings, name="enrollment")
    t0 = time.perf_counter()
    async with app.router.lifespan_context(app):
        runtime = app.state.runtimes["enrollment"]

        async def drained() -> bool:
            o = runtime.outbox
            async with runtime.engine.connect() as conn:
                left = await conn.scalar(
                    select(func.count()).select_from(o).where(o.c.sent_at.is_(None))
                )
            return left == 0

        await _wait(drained)
        return n / (time.perf_counter() - t0)


async def bench_hris(bootstrap: str, pg: str, sizes: list[int]) -> list[tuple[int, float, int]]:
    """(events, seconds, status) for each push, against a real enrollment server process."""
    url = await create_database(pg, f"bench_{uuid.uuid4().hex[:8]}_enrollment")
    port = 18765
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINOME_")}
    env.update(
        BINOME_JWT_SECRET=os.environ["BINOME_JWT_SECRET"],  # the one its tokens are minted with
        BINOME_BUS="kafka",
        BINOME_KAFKA_BOOTSTRAP=bootstrap,
        BINOME_DATABASE_URL=url,
        BINOME_TOPIC_PREFIX=f"bench{uuid.uuid4().hex[:6]}.",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli",
            "serve",
            "--service",
            "enrollment",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    out = []
    try:
        token = mint_token(Settings(), org="bench", role=Role.hris)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        ) as client:
            for _ in range(600):
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            for size in sizes:
                tag = uuid.uuid4().hex[:6]
                events = [
                    {
                        "event_id": f"{tag}-{i}",
                        "type": "hired",
                        "employee": {
                            "id": f"{tag}-{i}",
                            "name": f"Person {i}",
                            "department": f"d{i % 9}",
                            "level": 1 + i % 10,
                            "languages": ["fr", "en"],
                            "manager_id": f"{tag}-{i // 10}" if i >= 10 else None,
                        },
                    }
                    for i in range(size)
                ]
                t0 = time.perf_counter()
                r = await client.post("/v1/hris/events", json={"events": events})
                out.append((size, time.perf_counter() - t0, r.status_code))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


async def main() -> None:
    # The figures, not the clients' reconnection chatter while topics are being created.
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=1_000, help="events/s of the steady stream")
    args = parser.parse_args()
    bootstrap = os.environ["BENCH_KAFKA_BOOTSTRAP"]
    pg = os.environ["BENCH_PG_URL"]
    n = args.events
    print(f"Event throughput: backlogs of {n:,} events, streams at {args.rate:,}/s (one run)")
    print(f"{'what':44} {'events/s':>10} {'lag p50 ms':>11} {'lag p95 ms':>11}")
    print("-" * 79)
    raw = await bench_raw(bootstrap, n)
    print(f"{'raw aiokafka consume loop (ceiling)':44} {raw:10,.0f} {'-':>11} {'-':>11}")
    for service, make, label in (
        ("reporting", _reporting_events, "reporting projections (Binôme consumer)"),
        ("matching", _matching_events, "matching participant upserts"),
    ):
        rate, p50, p95 = await bench_consumer(bootstrap, pg, service, make, n, args.rate)
        print(f"{label:44} {rate:10,.0f} {p50:11.1f} {p95:11.1f}")
    relay = await bench_relay(bootstrap, pg, n)
    print(f"{'outbox relay publishing a backlog':44} {relay:10,.0f} {'-':>11} {'-':>11}")
    for size, seconds, status in await bench_hris(bootstrap, pg, [1_000, 10_000]):
        print(f"HRIS push of {size:,} events: {seconds:.3f} s (HTTP {status})")


if __name__ == "__main__":
    asyncio.run(main())
