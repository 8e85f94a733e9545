"""Reporting's all-time tallies against the rows they tally: random relationships' events
(proposals, re-matches, answers, sessions of every outcome, ratings by either side or someone
else, surveys, health with its reasons, ends) applied through reporting's handlers in a
shuffled order (the partitions' interleaving taken to the extreme), in batches of random
sizes. At checkpoints a programme's all-time KPIs (from its tallies) must equal the same KPIs
counted from the rows (asked with a period spanning everything). The embedded and PostgreSQL
runs share it."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting import kpis, trends
from services.reporting.handlers import HANDLERS
from services.reporting.models import INBOX, OUTBOX, KpiCell, KpiFilters, ProgramView
from services.reporting.tallies import DRAIN, drain, mark
from shared.clock import ManualClock
from shared.contracts import enrollment, feedback, matching, sessions
from shared.events import Event, EventData
from shared.messaging.failures import is_transient
from shared.uow import UnitOfWork

ORG = "tallies"
T0 = datetime(2031, 1, 6, 9, tzinfo=UTC)
NOW = T0 + timedelta(days=200)  # after every event (a few sessions are timed after it)
EVERYTHING = {"start": datetime(2000, 1, 1, tzinfo=UTC), "end": datetime(2100, 1, 1, tzinfo=UTC)}
SIGNALS = list(feedback.HealthSignal)
DEPARTMENTS = ["Eng", "Eng", "Sales", "Ops"]


def _uid() -> str:
    return str(uuid.uuid4())


def script(
    rnd: random.Random, relationships: int = 40, employees: int = 30
) -> list[tuple[datetime, EventData]]:
    """Two programmes' events (the first with most relationships), in time order; people
    drawn from `employees` (few: people in several pairs, a pair maybe twice)."""
    out: list[tuple[datetime, EventData]] = []
    pids = [_uid(), _uid()]
    for pid in pids:
        out.append((T0, enrollment.ProgramCreated(program_id=pid, name="Tallied")))
    people: dict[str, list[tuple[str, str]]] = {pid: [] for pid in pids}
    ended: dict[str, list[str]] = {pid: [] for pid in pids}
    for r in range(relationships):
        pid = pids[0] if r % 4 else pids[1]
        at = T0 + timedelta(days=rnd.uniform(0, 60))

        def person(role: str, pid: str = pid, at: datetime = at) -> tuple[str, str]:
            participant, employee = _uid(), f"e{rnd.randrange(employees)}"
            who = {"participant_id": participant, "program_id": pid, "employee_id": employee,
                   "role": enrollment.ParticipantRole(role)}  # fmt: skip
            if rnd.random() < 0.3:  # asked to enrol first, awaiting approval
                out.append((at - timedelta(days=1), enrollment.ParticipantPending(**who)))
            if rnd.random() < 0.1:  # withdrew later (or was rejected: never enrolled)
                fate = rnd.choice(["no_time", "personal", None])
                gone = at + timedelta(days=rnd.uniform(1, 90))
                left: EventData = (
                    enrollment.ParticipantWithdrawn(**who, reason=fate)
                    if fate
                    else enrollment.ParticipantRejected(**who, reason="not_a_fit")
                )
                out.append((gone, left))
            if role == "mentee" and rnd.random() < 0.2:  # no mentor with room, for a while
                out.append((at + timedelta(hours=1), matching.MenteeWaiting(
                    participant_id=participant, program_id=pid, employee_id=employee,
                    ended_match_id=None,
                )))  # fmt: skip
            profile = {**who, "skills_offered": [], "skills_sought": [], "languages": ["fr"],
                       "level": 5, "capacity": 3, "volunteer": True}  # fmt: skip
            department = rnd.choice(DEPARTMENTS)
            out.append((at, enrollment.ParticipantEnrolled(**profile, department=department)))
            if rnd.random() < 0.15:  # moved to another department (or out of any) later
                moved = rnd.choice([*DEPARTMENTS, None])
                later = at + timedelta(days=rnd.uniform(1, 60))
                out.append((later, enrollment.ParticipantUpdated(**profile, department=moved)))
            return participant, employee

        if not people[pid] or rnd.random() < 0.4:
            people[pid].append(person("mentor"))
        mentor, mentee = rnd.choice(people[pid]), person("mentee")
        mid = _uid()
        facts = {
            "match_id": mid, "program_id": pid, "mentor_participant_id": mentor[0],
            "mentee_participant_id": mentee[0], "mentor_employee_id": mentor[1],
            "mentee_employee_id": mentee[1],
        }  # fmt: skip
        replaces = rnd.choice(ended[pid]) if ended[pid] and rnd.random() < 0.3 else None
        at += timedelta(days=rnd.uniform(0.5, 5))
        out.append((at, matching.MatchProposed(
            **facts, score=0.7, run_id=None, replaces_match_id=replaces
        )))  # fmt: skip
        at += timedelta(days=rnd.uniform(0.1, 3))
        if rnd.random() < 0.2:
            out.append((at, matching.MatchDeclined(**facts, reason="not_a_fit")))
            ended[pid].append(mid)
            continue
        if rnd.random() < 0.1:
            continue  # still proposed
        out.append((at, matching.MatchActivated(**facts)))
        pair = {k: facts[k] for k in ("match_id", "program_id", "mentor_employee_id",
                                       "mentee_employee_id")}  # fmt: skip
        for _ in range(rnd.randrange(6)):
            at += timedelta(days=rnd.uniform(2, 12))
            # (now and then planned for after `NOW`, and confirmed held ahead of its time)
            timed = NOW + timedelta(days=rnd.uniform(0, 5)) if rnd.random() < 0.1 else at
            s = {**pair, "session_id": _uid(), "scheduled_at": timed,
                 "duration_minutes": rnd.choice([30, 45, 60, 90])}  # fmt: skip
            out.append((at - timedelta(days=3), sessions.SessionScheduled(**s)))
            fate = rnd.random()
            if fate < 0.15:
                out.append((at, sessions.SessionCancelled(**s, reason="other")))
            elif fate < 0.25:
                out.append((at, sessions.SessionNoShow(**s, absent="mentee")))
            elif fate < 0.3:
                out.append((at, sessions.SessionUnconfirmed(**s)))
            elif fate < 0.9:
                out.append((at, sessions.SessionCompleted(**s)))
                authors = [pair["mentor_employee_id"], pair["mentee_employee_id"], "e-admin"]
                for author in rnd.sample(authors, rnd.randrange(3)):
                    out.append((at + timedelta(hours=2), feedback.FeedbackSubmitted(
                        feedback_id=_uid(), session_id=s["session_id"], match_id=mid,
                        program_id=pid, author_employee_id=author, rating=rnd.randint(1, 5),
                        has_comment=False,
                    )))  # fmt: skip
        for side in ("mentor", "mentee"):
            if rnd.random() < 0.5:
                continue
            common = {"survey_id": _uid(), "match_id": mid, "program_id": pid,
                      "kind": rnd.choice(list(feedback.SurveyKind))}  # fmt: skip
            due = at + timedelta(days=1)
            out.append((due, feedback.SurveyDue(
                **common, respondent_employee_id=pair[f"{side}_employee_id"],
                expires_at=due + timedelta(days=7),
            )))  # fmt: skip
            if rnd.random() < 0.6:
                out.append((due + timedelta(days=1), feedback.SurveyAnswered(
                    **common, side=side, mean=rnd.uniform(1, 5), has_comment=False,
                    recommend=rnd.choice([None, 1, 2, 3, 4, 5]),
                )))  # fmt: skip
            else:
                out.append((due + timedelta(days=8), feedback.SurveyExpired(**common, side=side)))
        for _ in range(rnd.randrange(3)):
            state = rnd.choice(list(feedback.HealthState))
            reasons = [
                feedback.HealthReason(signal=signal, share=0.5, detail="")
                for signal in rnd.sample(SIGNALS, rnd.randrange(3))
            ]
            out.append((at + timedelta(days=1), feedback.RelationshipHealthChanged(
                match_id=mid, program_id=pid, state=state, previous=None, score=50,
                reasons=reasons,
            )))  # fmt: skip
        if rnd.random() < 0.5:
            reason = rnd.choice(["completed", "completed", "incompatible"])
            out.append((at + timedelta(days=2), matching.MatchEnded(**facts, reason=reason)))
            ended[pid].append(mid)
    out.sort(key=lambda x: x[0])
    return out


async def apply(
    engine: AsyncEngine | Callable[[], UnitOfWork],
    events: list[tuple[datetime, EventData]],
    *,
    rollup: bool = True,
) -> None:
    """Apply the events through reporting's handlers, in one unit of work."""
    uow = (
        UnitOfWork(
            engine=engine,
            outbox=OUTBOX,
            inbox=INBOX,
            clock=ManualClock(NOW),
            rollup=mark if rollup else None,
        )  # fmt: skip
        if isinstance(engine, AsyncEngine)
        else engine()
    )
    async with uow:
        for at, data in events:
            event = Event.of(data, org=ORG, time=at)
            await HANDLERS[event.type](uow, event, data)
        await uow.commit()


def batches(rnd: random.Random, events: list[Any]) -> list[list[Any]]:
    """The events shuffled, in batches of 1 to 60."""
    shuffled = events[:]
    rnd.shuffle(shuffled)
    out = []
    while shuffled:
        size = rnd.randint(1, 60)
        out.append(shuffled[:size])
        shuffled = shuffled[size:]
    return out


async def programmes(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(ProgramView.id))  # type: ignore[call-overload]
        return sorted(rows.scalars())


async def both_ways(
    engine: AsyncEngine, program_id: str, department: str | None
) -> tuple[list[Any], list[Any]]:
    """The programme's all-time KPIs from its tallies, and counted from its rows."""
    out = []
    for period in ({}, EVERYTHING):
        scope = KpiFilters(program_id=program_id, start=None, end=None, department=department)
        filters = scope.model_copy(update=period)
        uow = UnitOfWork(engine=engine, outbox=OUTBOX, inbox=INBOX)
        async with uow:
            report = await kpis.kpis(uow=uow, org=ORG, filters=filters, now=NOW)
        out.append([(k.name, k.value, k.population, k.suppressed) for k in report.kpis])
    return out[0], out[1]


async def drain_all(engine: AsyncEngine) -> int:
    """What the tally loop does: drain until no mark is left; how many marks it took."""
    taken = 0
    while True:
        async with engine.begin() as conn:
            n = await conn.run_sync(lambda sync: drain(sync, limit=DRAIN))
        taken += n
        if not n:
            return taken


# The trends asked over every week, and over weeks in the middle; now after every event, and
# halfway (events timed after it: this week's and later weeks' active relationships are now's).
WINDOWS = [
    (T0 - timedelta(days=7), NOW + timedelta(days=14)),
    (T0 + timedelta(days=40), T0 + timedelta(days=110)),
]
NOWS = [NOW, T0 + timedelta(days=100)]


async def trends_both_ways(
    engine: AsyncEngine, filters: KpiFilters, now: datetime
) -> tuple[Any, Any, bool]:
    """A programme's weekly series from its tallies and counted from its rows, and whether
    the tallied active relationships came from the cells."""
    out = []
    for counted in (False, True):
        uow = UnitOfWork(engine=engine, outbox=OUTBOX, inbox=INBOX)
        async with uow:
            weekly, mondays = await trends.series(
                uow=uow, org=ORG, filters=filters, now=now, counted=counted
            )
        out.append((weekly.report(filters, mondays).model_dump(), weekly.active_from_rows))
    return out[0][0], out[1][0], not out[0][1]


async def check_same(engine: AsyncEngine) -> tuple[int, int]:
    """Every programme's tallied KPIs and weekly series (every mark drained first) equal to
    its counted ones. How many relationship KPIs and weekly values had something to say, and
    how many series of active relationships came from the cells (the check is not vacuous)."""
    await drain_all(engine)
    async with engine.connect() as conn:
        assert not (await conn.execute(text("SELECT count(*) FROM tally_pending"))).scalar()
    said = from_cells = 0
    for pid in await programmes(engine):
        for department in (None, *sorted(set(DEPARTMENTS))):
            tallied, counted = await both_ways(engine, pid, department)
            for a, b in zip(tallied, counted, strict=True):
                assert a == b, (pid, department, a, b)
                said += a[1] not in (None, 0, {})
            for (start, end), now in itertools.product(WINDOWS, NOWS):
                f = KpiFilters(program_id=pid, start=start, end=end, department=department)
                series, rows, cells = await trends_both_ways(engine, f, now)
                for a, b in zip(series["series"], rows["series"], strict=True):
                    assert a == b, (pid, department, start, now, a, b)
                    said += sum(v not in (None, 0) for v in a["values"])
                from_cells += cells
    return said, from_cells


async def cells(engine: AsyncEngine) -> set[tuple[Any, ...]]:
    """The non-zero cells of every programme."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(KpiCell.program_id, KpiCell.name, KpiCell.key, KpiCell.n, KpiCell.total)  # type: ignore[call-overload]
        )
        return {(p, name, key, n, round(t, 6)) for p, name, key, n, t in rows if n or round(t, 6)}


async def recount_all(engine: AsyncEngine) -> None:
    """The tallies dropped and counted again from scratch, as after the migration that marks
    what was projected before they existed."""
    async with engine.begin() as conn:
        for table in ("kpi_cell", "kpi_person", "relationship_tally", "participant_tally"):
            await conn.execute(text(f"DELETE FROM {table}"))
        for kind in ("match", "participant"):
            await conn.execute(
                text(
                    "INSERT INTO tally_pending (kind, entity_id, program_id) "
                    f"SELECT '{kind}', id, program_id FROM {kind}"
                )
            )
    await drain_all(engine)


async def concurrently(
    engine: AsyncEngine, rnd: random.Random, events: list[Any]
) -> list[list[Any]]:
    """Two writers at once (PostgreSQL: two consumers of one group), each with the events of
    the partitions it owns (a topic and key: a match's events on one, its sessions' and its
    feedback's maybe on the other), in batches; a transient failure (a deadlock) retried as
    the consumer does. The batches, in the order they committed."""
    mine: list[list[Any]] = [[], []]
    for at, data in events:
        mine[zlib.crc32(f"{data.TYPE.split('.')[1]}/{data.key()}".encode()) % 2].append((at, data))
    committed: list[list[Any]] = []

    async def writer(events: list[Any]) -> None:
        for batch in batches(rnd, events):
            while True:
                try:
                    await apply(engine, batch)
                    committed.append(batch)
                    break
                except Exception as exc:  # noqa: BLE001 (classified just below)
                    if not is_transient(exc):
                        raise

    async def drainer() -> None:  # the tally loops of both processes, while they write
        while not done.is_set():
            async with engine.begin() as conn:
                await conn.run_sync(lambda sync: drain(sync, limit=rnd.randint(1, 200)))
            await asyncio.sleep(0)

    done = asyncio.Event()
    drains = [asyncio.create_task(drainer()) for _ in range(2)]
    try:
        await asyncio.gather(writer(mine[0]), writer(mine[1]))
    finally:
        done.set()
        await asyncio.gather(*drains)
    return committed
