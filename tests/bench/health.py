"""Relationship health recomputed in bulk on PostgreSQL, in one run (scripts/bench-timers.sh).

A programme with N running relationships (each with two ratings per side and three sessions,
idle for 0 to 60 days, judged by the default policy) gets a new engagement policy, two ways:
- a stricter rating threshold (the mentee's 3.5 instead of 2.5): their deadlines stand;
- a weekly cadence instead of a fortnightly one: every inactivity deadline moves.
Feedback's handler of `program.updated` re-judges every relationship at once (their health
stored, a `relationship.health_changed` event for each state that changed, a corrective case
for each newly at risk, the deadlines that moved re-armed), in one transaction. Beside it, the
naive way measured in the same run: the per-signal path (one relationship re-judged with its
own queries), on a sample, extrapolated to N.
One measurement each on a shared machine: read them as orders of magnitude.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
from datetime import timedelta
from typing import Any

import sqlmodel
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.feedback import handlers, usecases
from services.feedback.models import (
    INBOX,
    OUTBOX,
    TIMERS,
    Base,
    Case,
    Feedback,
    ProgramView,
    Relationship,
    SessionView,
)
from shared import db
from shared.app import settle_heap
from shared.clock import SystemClock
from shared.contracts.enrollment import EngagementPolicy, ProgramUpdated
from shared.contracts.sessions import SessionStatus
from shared.events import Event
from shared.uow import UnitOfWork
from tests.helpers import create_database

ORG = "bench"


def _uow(engine: AsyncEngine) -> UnitOfWork:
    return UnitOfWork(engine=engine, outbox=OUTBOX, inbox=INBOX, timers=TIMERS)


async def _seed(engine: AsyncEngine, program_id: str, n: int) -> None:
    """N relationships of one programme, idle 0-60 days, with ratings and sessions."""
    rnd = random.Random(7)
    now = SystemClock().now()
    async with engine.begin() as conn:
        await conn.execute(
            insert(ProgramView.__table__),  # type: ignore[attr-defined]
            [{"id": program_id, "org": ORG, "engagement": EngagementPolicy(), "training": []}],
        )
    for start in range(0, n, 10_000):
        rels, ratings, sessions = [], [], []
        for i in range(start, min(n, start + 10_000)):
            match = f"{program_id[:8]}-{i}"
            activated = now - timedelta(days=90)
            idle = timedelta(days=rnd.uniform(0, 60))
            rels.append(
                {
                    "match_id": match, "org": ORG, "program_id": program_id,
                    "mentor_employee_id": f"mentor-{i % 5000}", "mentee_employee_id": f"mentee-{i}",
                    "active": True, "activated_at": activated, "last_activity_at": now - idle,
                    "state": "on_track", "score": 100, "reasons": [], "signals": "",
                    "paused_for": [], "held": 2, "unconfirmed": 0, "no_shows": 1, "nudges": 0,
                    "unanswered": 0, "low_pulse": False,
                }
            )  # fmt: skip
            pairs = [
                (f"mentor-{i % 5000}", rnd.randint(1, 5)),
                (f"mentee-{i}", rnd.randint(1, 5)),
            ] * 2
            # The signals as feedback summarises them on the row (see usecases._take_signals).
            rels[-1]["mentor_ratings"] = [rating for _, rating in pairs[0::2]]
            rels[-1]["mentee_ratings"] = [rating for _, rating in pairs[1::2]]
            for k, (author, rating) in enumerate(pairs):
                ratings.append(
                    {
                        "id": f"{match}-r{k}", "org": ORG, "session_id": f"{match}-s{k // 2}",
                        "match_id": match, "program_id": program_id,
                        "author_employee_id": author, "rating": rating,
                        "created_at": activated + timedelta(days=k),
                    }
                )  # fmt: skip
            for k, status in enumerate(
                (SessionStatus.completed, SessionStatus.completed, SessionStatus.no_show)
            ):
                sessions.append(
                    {
                        "id": f"{match}-s{k}", "org": ORG, "match_id": match,
                        "program_id": program_id, "mentor_employee_id": f"mentor-{i % 5000}",
                        "mentee_employee_id": f"mentee-{i}", "status": status.value,
                        "scheduled_at": activated + timedelta(days=7 * (k + 1)),
                    }
                )  # fmt: skip
        async with engine.begin() as conn:
            await conn.execute(insert(Relationship.__table__), rels)  # type: ignore[attr-defined]
            await conn.execute(insert(Feedback.__table__), ratings)  # type: ignore[attr-defined]
            await conn.execute(insert(SessionView.__table__), sessions)  # type: ignore[attr-defined]


SCENARIOS = {
    "stricter mentee threshold (deadlines stand)": EngagementPolicy(mentee_low_rating=3.5),
    "weekly cadence (every deadline moves)": EngagementPolicy(cadence=timedelta(days=7)),
}


def _update(program_id: str, policy: EngagementPolicy) -> tuple[Event, ProgramUpdated]:
    data = ProgramUpdated(
        program_id=program_id, name="bench", engagement=policy, changed=["engagement"]
    )
    return Event.of(data, org=ORG), data


async def _judged(engine: AsyncEngine, program_id: str) -> None:
    """The seeded relationships judged by the current (default) policy, as they would be."""
    async with _uow(engine) as uow:
        await usecases.recompute_program(uow=uow, program_id=program_id)
        await uow.commit()


async def _count(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        cases = await conn.scalar(select(func.count()).select_from(Case))
        events = await conn.scalar(select(func.count()).select_from(OUTBOX))
    return cases or 0, events or 0


async def bench_bulk(engine: AsyncEngine, n: int, policy: EngagementPolicy) -> dict[str, Any]:
    program_id = str(uuid.uuid4())
    await _seed(engine, program_id, n)
    await _judged(engine, program_id)
    cases_before, events_before = await _count(engine)
    event, data = _update(program_id, policy)
    stalls: list[float] = []
    watch = asyncio.create_task(_watch_loop(stalls))
    t0 = time.perf_counter()
    async with _uow(engine) as uow:
        await handlers.on_program_updated(uow, event, data)
        judged = time.perf_counter() - t0
        await uow.commit()
    seconds = time.perf_counter() - t0
    watch.cancel()
    cases, events = await _count(engine)
    return {
        "seconds": seconds,
        "stall": max(stalls, default=seconds),
        "commit": seconds - judged,
        "cases": cases - cases_before,
        "events": events - events_before,
    }


async def _watch_loop(stalls: list[float]) -> None:
    """How late a 10 ms sleep wakes, again and again: how long the event loop (every other
    request of the service) waits behind the re-judging."""
    while True:
        t = time.perf_counter()
        await asyncio.sleep(0.01)
        stalls.append(time.perf_counter() - t - 0.01)


async def bench_naive(engine: AsyncEngine, n: int, policy: EngagementPolicy) -> float:
    """The per-signal path on each relationship in turn: its own queries, one by one."""
    program_id = str(uuid.uuid4())
    await _seed(engine, program_id, n)
    await _judged(engine, program_id)
    event, data = _update(program_id, policy)
    async with _uow(engine) as uow:  # the new policy, without the bulk re-judging
        uow.project(ProgramView, data, id=program_id, org=ORG)
        await uow.commit()
    t0 = time.perf_counter()
    async with _uow(engine) as uow:
        rels = (
            await uow.session.exec(
                sqlmodel.select(Relationship).where(Relationship.program_id == program_id)
            )
        ).all()
        for rel in rels:
            await usecases._recompute(uow, rel)
        await uow.commit()
    return time.perf_counter() - t0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--relationships", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=5_000, help="relationships, the naive way")
    args = parser.parse_args()
    url = await create_database(os.environ["BENCH_PG_URL"], f"bench_health_{uuid.uuid4().hex[:8]}")
    engine = db.create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    settle_heap()  # as a service does once started
    results = {}
    try:
        for name, policy in SCENARIOS.items():
            results[name] = (
                await bench_bulk(engine, args.relationships, policy),
                await bench_naive(engine, args.naive, policy),
            )
    finally:
        await engine.dispose()
    n = args.relationships
    print(f"Relationship health re-judged on a new policy, PostgreSQL (one run; {n:,} each)")
    print(f"{'what':<62}{'rel/s':>8}{'100k in s':>11}")
    print("-" * 81)
    for name, (bulk, naive) in results.items():
        print(name)
        rate = n / bulk["seconds"]
        print(f"{'  Binome: program.updated handler, in bulk':<62}{rate:>8,.0f}{1e5 / rate:>11.1f}")
        naive_rate = args.naive / naive
        label = f"  naive: per-signal path, one by one ({args.naive:,}, extrapolated)"
        print(f"{label:<62}{naive_rate:>8,.0f}{1e5 / naive_rate:>11.1f}")
        print(
            f"  ({bulk['cases']:,} cases opened, {bulk['events']:,} events written;"
            f" the commit took {bulk['commit']:.1f} s of it)"
        )
        print(f"  (the event loop's longest stall meanwhile: {bulk['stall'] * 1000:,.0f} ms)")


if __name__ == "__main__":
    asyncio.run(main())
