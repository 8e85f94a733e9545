"""Durable timers on PostgreSQL, in one run (scripts/bench-timers.sh).

Prints, beside a naive baseline measured in the same run:
- a backlog of due timers fired through their handler (each writes a row, in the transaction
  that deletes the timer): Binôme's scheduler (batches taken FOR UPDATE SKIP LOCKED) against
  one transaction per timer (take one, handle, delete, commit);
- due-to-fired latency p50/p95 under a steady stream of timers coming due, with the scheduler
  loop running as in a service (it sleeps until the next timer is due), against a poller that
  looks once per interval.
One measurement each on a shared machine: read them as orders of magnitude.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import db
from shared.clock import SystemClock
from shared.settings import Settings
from shared.timers import Timer, TimerScheduler, _timer
from shared.uow import UnitOfWork
from tests import testkit
from tests.helpers import create_database

MD = testkit.Base.metadata
OUTBOX, INBOX, TIMERS = MD.tables["outbox"], MD.tables["inbox"], MD.tables["timer"]


def _uow_factory(engine: AsyncEngine) -> Callable[[], UnitOfWork]:
    return lambda: UnitOfWork(engine=engine, outbox=OUTBOX, inbox=INBOX, timers=TIMERS)


async def _arm(engine: AsyncEngine, run: str, n: int, *, due_in: Callable[[int], float]) -> None:
    uow_factory, now = _uow_factory(engine), SystemClock().now()
    for start in range(0, n, 10_000):
        async with uow_factory() as uow:
            for i in range(start, min(n, start + 10_000)):
                uow.schedule(
                    f"{run}:{i}",
                    kind="tick",
                    due_at=now + timedelta(seconds=due_in(i)),
                    org="bench",
                    payload={"run_id": run},
                )
            await uow.commit()


async def bench_backlog(engine: AsyncEngine, n: int, naive_n: int) -> dict[str, float]:
    clock = SystemClock()
    scheduler = TimerScheduler(
        engine=engine, table=TIMERS, handlers={"tick": testkit.on_tick},
        uow_factory=_uow_factory(engine),
        clock=clock, batch=Settings().timer_batch,
    )  # fmt: skip
    run = uuid.uuid4().hex[:8]
    await _arm(engine, run, n, due_in=lambda i: -1)
    t0 = time.perf_counter()
    while await scheduler.fire_due():
        pass
    binome = time.perf_counter() - t0
    assert scheduler.stats.fired == n, scheduler.stats

    # The naive way: one transaction per timer.
    run = uuid.uuid4().hex[:8]
    await _arm(engine, run, naive_n, due_in=lambda i: -1)
    uow_factory = _uow_factory(engine)
    fired = 0
    t0 = time.perf_counter()
    while True:
        async with uow_factory() as uow:
            conn = await uow.session.connection()
            row = (
                await conn.execute(
                    select(TIMERS)
                    .where(TIMERS.c.due_at <= clock.now())
                    .order_by(TIMERS.c.due_at)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            ).first()
            if row is None:
                break
            await conn.execute(delete(TIMERS).where(TIMERS.c.key == row.key))
            await testkit.on_tick(uow, _timer(row))
            await uow.commit()
            fired += 1
    naive = time.perf_counter() - t0
    assert fired == naive_n
    return {"binome_s": binome, "binome_rate": n / binome, "naive_rate": naive_n / naive}


async def bench_latency(engine: AsyncEngine, rate: int, seconds: float, naive_poll_s: float):  # type: ignore[no-untyped-def]
    """Timers coming due at `rate` per second for `seconds`: how late each fires."""
    clock = SystemClock()
    out: dict[str, tuple[float, float]] = {}
    for label, poll in (("binome", 0.5), ("naive", naive_poll_s)):
        lateness: list[float] = []

        async def tick(uow: UnitOfWork, timer: Timer, lateness: list[float] = lateness) -> None:
            lateness.append((clock.now() - timer.due_at).total_seconds())
            await testkit.on_tick(uow, timer)

        scheduler = TimerScheduler(
            engine=engine, table=TIMERS, handlers={"tick": tick}, uow_factory=_uow_factory(engine),
            clock=clock,
            poll_interval_s=poll,
        )  # fmt: skip
        n = int(rate * seconds)
        run = uuid.uuid4().hex[:8]
        await _arm(engine, run, n, due_in=lambda i: 1.0 + i / rate)
        if label == "naive":  # looks once per interval, whatever is due when
            poller = asyncio.create_task(_poll_every(scheduler, poll))
        else:
            scheduler.start()
        try:
            deadline = time.monotonic() + seconds + 30
            while len(lateness) < n and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        finally:
            if label == "naive":
                poller.cancel()
            else:
                await scheduler.stop()
        q = statistics.quantiles(lateness, n=100)
        out[label] = (q[49], q[94])
    return out


async def _poll_every(scheduler: TimerScheduler, seconds: float) -> None:
    while True:
        while await scheduler.fire_due():
            pass
        await asyncio.sleep(seconds)


async def main() -> None:
    import os

    parser = argparse.ArgumentParser()
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=5_000, help="timers for the naive way")
    parser.add_argument("--rate", type=int, default=500, help="timers/s coming due (latency)")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    url = await create_database(os.environ["BENCH_PG_URL"], f"bench_timers_{uuid.uuid4().hex[:8]}")
    engine = db.create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(MD.create_all)
    try:
        backlog = await bench_backlog(engine, args.timers, args.naive)
        latency = await bench_latency(engine, args.rate, args.seconds, naive_poll_s=1.0)
    finally:
        await engine.dispose()
    print(f"Durable timers on PostgreSQL (one run; {args.timers:,} due timers)")
    print(f"{'what':<58}{'timers/s':>10}{'100k in s':>11}")
    print("-" * 79)
    ours = f"Binome scheduler: batches of {Settings().timer_batch:,}, SKIP LOCKED"
    print(f"{ours:<58}{backlog['binome_rate']:>10,.0f}{100_000 / backlog['binome_rate']:>11.1f}")
    print(
        f"{'naive: one transaction per timer (' + format(args.naive, ',') + ' timers)':<58}"
        f"{backlog['naive_rate']:>10,.0f}{100_000 / backlog['naive_rate']:>11.1f}"
    )
    print()
    print(f"Due-to-fired latency, {args.rate}/s coming due for {args.seconds:.0f} s")
    print(f"{'what':<58}{'p50 ms':>10}{'p95 ms':>11}")
    print("-" * 79)
    for label, name in (
        ("binome", "Binome scheduler (sleeps until the next due, 0.5 s cap)"),
        ("naive", "naive: looks once a second"),
    ):
        p50, p95 = latency[label]
        print(f"{name:<58}{p50 * 1000:>10.1f}{p95 * 1000:>11.1f}")


if __name__ == "__main__":
    asyncio.run(main())
