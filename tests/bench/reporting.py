"""Reporting at scale on PostgreSQL, in one run (scripts/bench-reporting.sh).

N events of a realistic mix (enrolments, proposals and their answers, sessions planned and
held or cancelled, two ratings per session held, pulses due and answered, health changes,
ends) across 4 programmes over 26 weeks are projected through reporting's own handlers the
way its consumer applies them (batches of 500, one transaction each, the inbox recording
them). Then the largest programme's KPIs (all of them, and filtered by a department), its
weekly trends (from the tallies, and counted from the rows) and its dashboard page are asked,
each 20 times, beside the load-everything programme report measured in the same run on the
same data. Last, `binome reporting rebuild`'s machinery makes the projection anew from the
same events (shadow, replay, switch) while it is in place, beside the pace of the first
projection; the KPIs must come out the same. The projection writes reporting's event archive
as the live consumer does, and the rebuild replays it (`--rebuild-from log`: the events
published to Kafka first, the rebuild replaying the topics).
One run on a shared machine: read the figures as orders of magnitude.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel import select

from services.reporting import dashboard, kpis, trends, usecases
from services.reporting.models import (
    ARCHIVE,
    INBOX,
    MADE_BY_CALLERS,
    OUTBOX,
    TIMERS,
    CaseView,
    DashboardLinkIn,
    KpiFilters,
    MatchView,
    ParticipantView,
    RatingView,
    SessionView,
    SkillView,
)
from services.reporting.service import definition
from shared import db
from shared.app import settle_heap
from shared.clock import ManualClock
from shared.contracts import enrollment, feedback, matching, sessions
from shared.events import Event, EventData, to_wire, topic_for
from shared.messaging.bus import Message, Record
from shared.messaging.kafka_bus import KafkaBus
from shared.rebuild import Rebuild, Rebuilt
from shared.settings import BusKind, Settings
from shared.uow import UnitOfWork
from tests.helpers import create_database
from tests.helpers.tallies import drain_all

ORG = "bench"
START = datetime(2030, 1, 7, 9, tzinfo=UTC)  # a Monday
WEEKS = 26
BATCH = 500
DEPARTMENTS = ["Eng", "Sales", "Ops", "Finance", "HR", "Legal"]
Ask = Callable[[UnitOfWork], Awaitable[Any]]


def _uid() -> str:
    return str(uuid.uuid4())


class _Script:
    """The events of N relationships, in time order."""

    def __init__(self, seed: int = 11) -> None:
        self.rnd = random.Random(seed)
        self.out: list[tuple[datetime, EventData]] = []

    def add(self, at: datetime, data: EventData) -> None:
        self.out.append((at, data))

    def person(self, pid: str, role: str, at: datetime) -> tuple[str, str]:
        participant, employee = _uid(), f"e-{_uid()[:12]}"
        self.add(
            at,
            enrollment.ParticipantEnrolled(
                participant_id=participant,
                program_id=pid,
                employee_id=employee,
                role=enrollment.ParticipantRole(role),
                skills_offered=[],
                skills_sought=[],
                languages=["fr"],
                level=5,
                department=self.rnd.choice(DEPARTMENTS),
                capacity=3,
                volunteer=True,
            ),
        )
        return participant, employee

    def relationship(self, pid: str, mentor: tuple[str, str], begun: datetime) -> None:
        rnd = self.rnd
        mentee = self.person(pid, "mentee", begun)
        mid = _uid()
        facts = {
            "match_id": mid,
            "program_id": pid,
            "mentor_participant_id": mentor[0],
            "mentee_participant_id": mentee[0],
            "mentor_employee_id": mentor[1],
            "mentee_employee_id": mentee[1],
        }
        proposed = begun + timedelta(days=rnd.uniform(0.5, 10))
        self.add(
            proposed,
            matching.MatchProposed(**facts, score=0.8, run_id=None, replaces_match_id=None),
        )
        answered = proposed + timedelta(days=rnd.uniform(0.1, 3))
        if rnd.random() < 0.2:
            self.add(answered, matching.MatchDeclined(**facts, reason="not_a_fit"))
            return
        self.add(answered, matching.MatchActivated(**facts))
        pair = {k: facts[k] for k in ("match_id", "program_id")}
        pair |= {k: facts[k] for k in ("mentor_employee_id", "mentee_employee_id")}
        at = answered
        for _ in range(6):
            at += timedelta(days=rnd.uniform(7, 21))
            s = {**pair, "session_id": _uid(), "scheduled_at": at, "duration_minutes": 60}
            self.add(at - timedelta(days=5), sessions.SessionScheduled(**s))
            if rnd.random() < 0.15:
                self.add(at - timedelta(days=1), sessions.SessionCancelled(**s, reason="other"))
                continue
            self.add(at + timedelta(hours=1), sessions.SessionCompleted(**s))
            for author in (pair["mentor_employee_id"], pair["mentee_employee_id"]):
                rating = feedback.FeedbackSubmitted(
                    feedback_id=_uid(),
                    session_id=s["session_id"],
                    match_id=mid,
                    program_id=pid,
                    author_employee_id=author,
                    rating=rnd.randint(2, 5),
                    has_comment=False,
                )
                self.add(at + timedelta(hours=3), rating)
        for side, who in (("mentor", mentor[1]), ("mentee", mentee[1])):
            survey, due = _uid(), answered + timedelta(days=30)
            common = {"survey_id": survey, "match_id": mid, "program_id": pid}
            kind = feedback.SurveyKind.pulse
            self.add(
                due,
                feedback.SurveyDue(
                    **common,
                    kind=kind,
                    respondent_employee_id=who,
                    expires_at=due + timedelta(days=14),
                ),
            )
            if rnd.random() < 0.7:
                mean = rnd.uniform(2, 5)
                self.add(
                    due + timedelta(days=2),
                    feedback.SurveyAnswered(
                        **common, kind=kind, side=side, mean=mean, has_comment=False
                    ),
                )
        for state in ("on_track", rnd.choice(["on_track", "needs_attention", "at_risk"])):
            health = feedback.RelationshipHealthChanged(
                match_id=mid,
                program_id=pid,
                state=feedback.HealthState(state),
                previous=None,
                score=70,
                reasons=[],
            )
            self.add(answered + timedelta(days=20), health)
        if rnd.random() < 0.3:
            self.add(at + timedelta(days=2), matching.MatchEnded(**facts, reason="completed"))


def generate(n: int, programmes: int = 4) -> tuple[str, list[tuple[datetime, EventData]]]:
    """About `n` events, in time order, and the largest programme's id."""
    script = _Script()
    pids = [_uid() for _ in range(programmes)]
    for i, pid in enumerate(pids):
        script.add(START, enrollment.ProgramCreated(program_id=pid, name=f"Programme {i}"))
    mentors: dict[str, list[tuple[str, str]]] = {pid: [] for pid in pids}
    r = 0
    while len(script.out) < n:  # about 26 events per relationship
        r += 1
        pid = pids[0] if r % 2 == 0 else script.rnd.choice(pids[1:])  # the first: the largest
        begun = START + timedelta(minutes=script.rnd.randrange(WEEKS * 7 * 24 * 60 // 2))
        if not mentors[pid] or script.rnd.random() < 0.34:
            mentors[pid].append(script.person(pid, "mentor", begun))
        script.relationship(pid, script.rnd.choice(mentors[pid]), begun)
    script.out.sort(key=lambda x: x[0])
    return pids[0], script.out[:n]


def _uow(engine: Any, clock: ManualClock) -> UnitOfWork:
    """A unit of work as reporting's consumer has: with its tallies (`ServiceDef.rollup`)."""
    return UnitOfWork(
        engine=engine,
        outbox=OUTBOX,
        inbox=INBOX,
        timers=TIMERS,
        clock=clock,
        archive=ARCHIVE,
        rollup=definition.rollup,
    )


async def project(engine: Any, events: list[tuple[Event, EventData]]) -> float:
    """Apply every event through reporting's handlers, as its consumer does; seconds."""
    handlers = definition.handlers
    group = definition.group()
    messages = [_message(event, offset) for offset, (event, _) in enumerate(events)]
    t0 = time.perf_counter()
    for i in range(0, len(events), BATCH):
        batch = events[i : i + BATCH]
        async with _uow(engine, ManualClock(START)) as uow:
            await uow.processed_ids(group, [e.id for e, _ in batch])
            for offset, (event, data) in enumerate(batch, start=i):
                uow.archive(messages[offset], event)
                await handlers[event.type](uow, event, data)
                uow.mark_processed(group, event)
            await uow.commit()
    return time.perf_counter() - t0


def _message(event: Event, offset: int) -> Message:
    """The event as the bus would deliver it."""
    headers, value = to_wire(event)
    topic = topic_for(event.type)
    return Message(
        topic=topic, partition=0, offset=offset, key=event.subject, headers=headers, value=value
    )


async def rebuild(
    url: str, events: list[tuple[Event, EventData]], source: str
) -> tuple[float, Rebuilt]:
    """The projection rebuilt from reporting's archive, or (`log`) from Kafka, the events
    published there first (topics of their own): (seconds to publish, what it did)."""
    settings = Settings(
        database_url=url,
        bus=BusKind.kafka,
        kafka_bootstrap=os.environ["BENCH_KAFKA_BOOTSTRAP"],
        topic_prefix=f"bench{uuid.uuid4().hex[:8]}.",
    )
    bus = KafkaBus(settings.kafka_bootstrap, client_id="bench-rebuild", partitions=6)
    if source == "archive":
        done = await Rebuild(definition, settings, bus, kept=MADE_BY_CALLERS).run()
        return 0.0, done
    await bus.start()
    try:
        topics = {topic_for(e.type, settings.topic_prefix) for e, _ in events}
        await bus.ensure_topics(sorted(topics))
        t0 = time.perf_counter()
        for i in range(0, len(events), 10_000):
            records = []
            for event, _ in events[i : i + 10_000]:
                headers, value = to_wire(event)
                topic = topic_for(event.type, settings.topic_prefix)
                records.append(Record(topic=topic, key=event.subject, headers=headers, value=value))
            await bus.publish(records)
        published = time.perf_counter() - t0
        done = await Rebuild(definition, settings, bus, kept=MADE_BY_CALLERS, source="log").run()
    finally:
        await bus.stop()
    return published, done


async def timed(what: Callable[[], Awaitable[Any]], n: int) -> tuple[float, float]:
    """p50 and p95 in milliseconds of `n` calls."""
    spent = []
    for _ in range(n):
        t0 = time.perf_counter()
        await what()
        spent.append((time.perf_counter() - t0) * 1000)
    spent.sort()
    return statistics.median(spent), spent[max(0, round(0.95 * n) - 1)]


async def _load_everything(uow: UnitOfWork, program_id: str) -> dict[str, Counter[str]]:
    """The baseline: the programme report as it was first written, every row of the
    programme loaded and counted in Python."""
    counted: dict[str, Counter[str]] = {}
    for name, model, column in (
        ("participants", ParticipantView, "role"),
        ("matches", MatchView, "status"),
        ("sessions", SessionView, "status"),
        ("ratings", RatingView, "rating"),
        ("cases", CaseView, "outcome"),
        ("skills", SkillView, "phase"),
    ):
        rows = (await uow.session.exec(select(model).where(model.program_id == program_id))).all()
        counted[name] = Counter(str(getattr(row, column)) for row in rows)
    return counted


async def _counted_trends(uow: UnitOfWork, filters: KpiFilters, now: datetime) -> Any:
    weekly, mondays = await trends.series(uow=uow, org=ORG, filters=filters, now=now, counted=True)
    return weekly.report(filters, mondays)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--rebuild-from", choices=("archive", "log"), default="archive")
    args = parser.parse_args()
    name = f"bench_reporting_{uuid.uuid4().hex[:8]}"
    url = await create_database(os.environ["BENCH_PG_URL"], name)
    engine = db.create_engine(url, custom_plans=definition.analytical)  # as the service's
    await db.upgrade(engine, definition.migrations_dir)
    settle_heap()
    t0 = time.perf_counter()
    pid, stream = generate(args.events)
    made = time.perf_counter() - t0
    clock = ManualClock(START + timedelta(weeks=WEEKS + 10))  # after the last event
    now = clock.now()
    every = KpiFilters(program_id=pid, start=None, end=None)
    eng = every.model_copy(update={"department": "Eng"})
    # The same figures counted from the rows: asked with a period spanning everything.
    spanning = {"start": START - timedelta(weeks=1), "end": START + timedelta(weeks=WEEKS + 12)}
    counted = every.model_copy(update=spanning)
    # The trends of the last 12 weeks with events.
    weeks = {"start": START + timedelta(weeks=WEEKS - 12), "end": START + timedelta(weeks=WEEKS)}
    recent = every.model_copy(update=weeks)
    events = [(Event.of(data, org=ORG, time=at), data) for at, data in stream]
    # The million events live as long as the bench: out of the collector's sight. A full
    # collection of them (the bench's own, not the service's) took 7 s in the middle of a
    # timed call.
    gc.freeze()
    try:
        seconds = await project(engine, events)
        t0 = time.perf_counter()
        marks = await drain_all(engine)  # the tally loop, catching up
        caught_up = time.perf_counter() - t0
        # What autovacuum keeps over the months these events took: the planner's statistics
        # (without them, just after the bulk load, it chose plans taking 20 s for the KPIs)
        # and the visibility map.
        async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            await conn.execute(text("VACUUM (ANALYZE)"))
        async with _uow(engine, clock) as uow:
            link = DashboardLinkIn(program_id=pid, expires_in=timedelta(days=1))
            token, _ = await dashboard.mint_link(uow=uow, org=ORG, data=link)
        rows: dict[str, Ask] = {
            "Binome: all the KPIs of the programme": lambda u: kpis.kpis(
                uow=u, org=ORG, filters=every, now=now
            ),
            "Binome: the KPIs, one department": lambda u: kpis.kpis(
                uow=u, org=ORG, filters=eng, now=now
            ),
            "the same KPIs counted from the rows (a period: all)": lambda u: kpis.kpis(
                uow=u, org=ORG, filters=counted, now=now
            ),
            "Binome: weekly trends, 12 weeks (tallies)": lambda u: trends.trends(
                uow=u, org=ORG, filters=recent, now=now
            ),
            "the same trends counted from the rows": lambda u: _counted_trends(u, recent, now),
            "Binome: the dashboard page (KPIs, trends, lists)": lambda u: dashboard.render(
                uow=u, token=token
            ),
            "Binome: the programme report (counted in the database)": (
                lambda u: usecases.program_report(uow=u, org=ORG, program_id=pid)
            ),
            "baseline: load-everything programme report": lambda u: _load_everything(u, pid),
        }

        async def ask(fn: Ask) -> Any:
            async with _uow(engine, clock) as uow:
                return await fn(uow)

        measured = {
            label: await timed(lambda fn=fn: ask(fn), args.queries) for label, fn in rows.items()
        }
        before = (await ask(rows["Binome: all the KPIs of the programme"])).model_dump()
        rowed = (await ask(rows["the same KPIs counted from the rows (a period: all)"])).kpis
        same = before["kpis"] == [k.model_dump() for k in rowed]
        series = await ask(rows["Binome: weekly trends, 12 weeks (tallies)"])
        same_series = series == await ask(rows["the same trends counted from the rows"])
        published, rebuilt = await rebuild(url, events, args.rebuild_from)
        t0 = time.perf_counter()
        rebuilt_marks = await drain_all(engine)
        rebuilt_caught_up = time.perf_counter() - t0
        after = (await ask(rows["Binome: all the KPIs of the programme"])).model_dump()
        # Every row new after the switch: the rebuild vacuumed and analysed its tables.
        after_switch = await timed(
            lambda: ask(rows["Binome: all the KPIs of the programme"]), args.queries
        )
    finally:
        await engine.dispose()
    n = len(stream)
    print(f"Reporting on PostgreSQL: {n:,} events, 4 programmes over {WEEKS} weeks (one run)")
    print(f"  generated in {made:.1f} s; projected through the handlers, {BATCH} per transaction:")
    print(
        f"  {n / seconds:,.0f} events/s ({seconds:.1f} s); the tallies caught up {caught_up:.1f} s"
    )
    print(f"  later ({marks:,} marks: each relationship and participant counted once)")
    print()
    print(f"The largest programme, {args.queries} calls each:")
    print(f"{'what':<56}{'p50 ms':>9}{'p95 ms':>9}")
    print("-" * 74)
    for label, (p50, p95) in measured.items():
        print(f"{label:<56}{p50:>9.1f}{p95:>9.1f}")
    print(
        f"  (the tallied KPIs and those counted from the rows: {'the same' if same else 'DIFFER'};"
        f" the trends: {'the same' if same_series else 'DIFFER'})"
    )
    print()
    if args.rebuild_from == "log":
        print(
            f"Rebuilt from Kafka (the {n:,} events published in {published:.1f} s, 6 partitions):"
        )
    else:
        print("Rebuilt from reporting's event archive:")
    print(
        f"  {rebuilt.replayed:,} events replayed in {rebuilt.seconds:.1f} s"
        f" ({rebuilt.replayed / rebuilt.seconds:,.0f} events/s; baseline, the first projection:"
        f" {n / seconds:,.0f} events/s), {rebuilt.skipped:,} skipped,"
        f" {sum(rebuilt.rows.values()):,} rows switched (the switch {rebuilt.switch_seconds} s);"
        f" the KPIs {'the same' if after == before else 'DIFFER'} after the switch"
    )
    print(
        f"  the tallies caught up {rebuilt_caught_up:.1f} s after the switch"
        f" ({rebuilt_marks:,} marks)"
    )
    print(
        f"  all the KPIs of the programme just after that: p50 {after_switch[0]:.1f} ms,"
        f" p95 {after_switch[1]:.1f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
