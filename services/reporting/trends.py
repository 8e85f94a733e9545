"""Weekly series of the main KPIs, per ISO week (Monday 00:00 UTC), the privacy rule applied
per week.

A programme's series are read from its weekly tallies (services.reporting.tallies: each
relationship adds to the cells of the weeks its events fall in): a few dozen cells of the
weeks asked, whatever the programme's size. The organisation's series, and a programme's while
its tallies catch up, are counted by the database from the rows (grouped aggregates per week).
Both give the same figures, which the tests hold them to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, distinct, func, or_, select

from services.reporting import contributions as contrib
from services.reporting import domain
from services.reporting import tallies as tally
from services.reporting.kpis import Scope
from services.reporting.models import KpiFilters, TrendPublic, TrendReport
from services.reporting.tables import CELL, M, P, R, S, T, Y, week_of
from services.reporting.usecases import program_of
from shared.api import as_utc
from shared.errors import Invalid
from shared.progress import MIN_GROUP
from shared.uow import UnitOfWork

_HALF = (MIN_GROUP - 1) // 2
# Relationships at once with every pair distinct (matching never proposes a mentor to a mentee
# twice) name at least MIN_GROUP people once there are more than this many: m mentors and
# e mentees make at most m * e pairs.
_SURE_OF_PEOPLE = _HALF * (MIN_GROUP - 1 - _HALF)


async def trends(
    *,
    uow: UnitOfWork,
    org: str,
    filters: KpiFilters,
    now: datetime,
    settle: tally.Settle | None = None,
) -> TrendReport:
    """`filters.start`/`end` bound the weeks (the end exclusive); no role (the series are
    the programme's). `settle`: drains the programme's tallies first."""
    weekly, mondays = await series(uow=uow, org=org, filters=filters, now=now, settle=settle)
    return weekly.report(filters, mondays)


async def series(
    *,
    uow: UnitOfWork,
    org: str,
    filters: KpiFilters,
    now: datetime,
    settle: tally.Settle | None = None,
    counted: bool = False,
) -> tuple[Weekly, list[date]]:
    """The series and their weeks (`counted`: from the rows, tallies or not)."""
    pid = filters.program_id
    if pid is not None:
        if settle is not None and not counted:
            await settle(pid)
        await program_of(uow=uow, org=org, program_id=pid)
    last_day = ((filters.end or now) - timedelta(microseconds=1)).date()
    first_day = filters.start.date() if filters.start else last_day - timedelta(weeks=11)
    if first_day > last_day:  # `from` alone, after today
        raise Invalid(
            "the period ends before it starts (`to` is today unless given)",
            field="from",
            at="query",
        )
    mondays = domain.weeks(first_day, last_day)
    if len(mondays) > domain.MAX_WEEKS:
        raise Invalid(f"at most {domain.MAX_WEEKS} weeks at once", field="from", at="query")
    start = datetime.combine(mondays[0], time.min, UTC)
    end = datetime.combine(mondays[-1] + timedelta(weeks=1), time.min, UTC)
    q = Scope(org, filters.model_copy(update={"start": start, "end": end, "role": None}))
    conn = await uow.session.connection()
    if pid is not None and not counted and not await tally.pending(conn, pid):
        return await from_tallies(conn, q, mondays, now), mondays
    return await from_rows(conn, q, mondays, now), mondays


@dataclass
class Weekly:
    """Each series' value and the people it describes, week by week."""

    values: dict[str, list[Any]]
    people: dict[str, list[int]]
    active_from_rows: bool = True  # (the active relationships counted from the rows)

    @classmethod
    def empty(cls, weeks: int) -> Weekly:
        return cls(
            {name: [0] * weeks for name in domain.TRENDS},
            {name: [0] * weeks for name in domain.TRENDS},
        )

    def put(self, name: str, i: int, value: Any, population: int) -> None:
        self.values[name][i], self.people[name][i] = value, population

    def report(self, filters: KpiFilters, mondays: list[date]) -> TrendReport:
        for name in ("mentee_rating", "mentor_rating", "pulse_score", "closing_score"):
            who = self.people[name]  # no one: no mean
            self.values[name] = [v if who[i] else None for i, v in enumerate(self.values[name])]
        series = []
        for name, d in domain.TRENDS.items():
            shown = [
                domain.suppress(v, n)
                for v, n in zip(self.values[name], self.people[name], strict=True)
            ]
            series.append(
                TrendPublic(
                    name=name,
                    group=d.group,
                    unit=d.unit,
                    definition=d.text,
                    values=[v for v, _ in shown],
                    suppressed=any(withheld for _, withheld in shown),
                )
            )
        return TrendReport(
            program_id=filters.program_id,
            department=filters.department,
            weeks=mondays,
            series=series,
        )


def _mean(total: Any, n: Any) -> float | None:
    return round(total / n, 2) if n and total is not None else None


async def from_tallies(conn: Any, q: Scope, mondays: list[date], now: datetime) -> Weekly:
    """A programme's series from its weekly cells. Active relationships at each week's end are
    the activations up to it less the ends; they are counted from the rows instead when the
    cells cannot tell the people they name (a week with a few, a pair twice) or something is
    timed after now."""
    pid, department = q.f.program_id, q.f.department
    mine = and_(CELL.c.program_id == pid, CELL.c.department == (department or contrib.ALL))
    first, last = (contrib.weekly(m.isoformat()) for m in (mondays[0], mondays[-1]))
    cells: dict[tuple[str, str], tuple[int, float]] = {
        (name, key): (n, total)
        for name, key, n, total in await conn.execute(
            select(CELL.c.name, CELL.c.key, CELL.c.n, CELL.c.total).where(
                mine, CELL.c.name >= first, CELL.c.name <= last
            )
        )
    }
    earlier = dict(
        (
            await conn.execute(
                select(CELL.c.key, func.sum(CELL.c.n))
                .where(
                    mine,
                    CELL.c.name >= contrib.WEEK,
                    CELL.c.name < first,
                    CELL.c.key.in_(("activated", "ended")),
                )
                .group_by(CELL.c.key)
            )
        ).all()
    )
    pairs = {
        (name, key): n
        for name, key, n in await conn.execute(
            select(CELL.c.name, CELL.c.key, CELL.c.n).where(
                mine,
                or_(
                    and_(CELL.c.name.in_(("paired", "unpaired")), CELL.c.key == ""),
                    and_(CELL.c.name == "people", CELL.c.key == "pairs"),
                ),
            )
        )
    }
    out = Weekly.empty(len(mondays))
    activated, ended = int(earlier.get("activated") or 0), int(earlier.get("ended") or 0)
    running: list[int] = []
    for i, monday in enumerate(mondays):
        week = contrib.weekly(monday.isoformat())

        def n(key: str, week: str = week) -> int:
            return int(cells.get((week, key), (0, 0.0))[0])

        def total(key: str, week: str = week) -> float:
            return cells.get((week, key), (0, 0.0))[1]

        out.put("enrolments", i, n("enrolments"), n("enrolments"))
        out.put("proposals", i, n("proposals"), n("proposals"))
        if n("held"):
            who = n("people:held:mentor") + n("people:held:mentee")
            out.put("sessions_held", i, n("held"), who)
            out.put("mentoring_hours", i, domain.hours([int(total("held"))]), who)
        for side in ("mentee", "mentor"):
            raters = n(f"people:rated:{side}")
            if raters:
                mean = _mean(total(f"rating:{side}"), n(f"rating:{side}"))
                out.put(f"{side}_rating", i, mean, raters)
        for kind in ("pulse", "closing"):
            respondents = n(f"people:answered:{kind}")
            if respondents:
                mean = _mean(total(f"score:{kind}"), n(f"score:{kind}"))
                out.put(f"{kind}_score", i, mean, respondents)
        activated, ended = activated + n("activated"), ended + n("ended")
        running.append(activated - ended)
    # Active relationships: exact from the cells when the week's end is past and the pairs are
    # distinct; this week's (or a later one's) is now's, when nothing is timed after now.
    end = datetime.combine(mondays[-1] + timedelta(weeks=1), time.min, UTC)
    counted = (
        pairs.get(("unpaired", ""), 0) > 0
        or pairs.get(("people", "pairs"), 0) < pairs.get(("paired", ""), 0)
        or any(0 < v <= _SURE_OF_PEOPLE for v in running)
    )
    if not counted and end > now:
        ahead = select(T.c.match_id).where(T.c.program_id == pid, T.c.latest_at > now)
        if department is not None:
            ahead = ahead.where(T.c.department == department)
        counted = (await conn.execute(ahead.limit(1))).first() is not None
    if counted:
        await _active_from_rows(conn, q, mondays, now, out)
    else:
        out.active_from_rows = False
        for i, v in enumerate(running):
            out.put("active_relationships", i, v, MIN_GROUP if v else 0)
    return out


async def from_rows(conn: Any, q: Scope, mondays: list[date], now: datetime) -> Weekly:
    """The series counted by the database from the rows, grouped by week."""
    dialect = conn.dialect.name
    index = {monday: i for i, monday in enumerate(mondays)}
    out = Weekly.empty(len(mondays))

    def put(name: str, week: Any, value: Any, population: int) -> None:
        i = index.get(_day(week))
        if i is not None:
            out.put(name, i, value, population)

    week = week_of(P.c.enrolled_at, dialect)
    for w, n in await conn.execute(
        select(week, func.count())
        .where(q.programme(P.c.program_id), q.department(P), q.during(P.c.enrolled_at))
        .group_by(week)
    ):
        put("enrolments", w, n, n)
    week = week_of(M.c.proposed_at, dialect)
    for w, n in await conn.execute(
        q.relationships()
        .add_columns(week, func.count())
        .where(q.during(M.c.proposed_at))
        .group_by(week)
    ):
        put("proposals", w, n, n)
    week = week_of(S.c.scheduled_at, dialect)
    pairs = func.count(distinct(M.c.mentor_employee_id)) + func.count(
        distinct(M.c.mentee_employee_id)
    )
    for w, n, minutes, who in await conn.execute(
        q.relationships()
        .add_columns(week, func.count(), func.sum(S.c.duration_minutes), pairs)
        .join(S, S.c.match_id == M.c.id)
        .where(S.c.status == "completed", q.during(S.c.scheduled_at))
        .group_by(week)
    ):
        put("sessions_held", w, n, who)
        put("mentoring_hours", w, domain.hours([minutes or 0]), who)
    week = week_of(R.c.rated_at, dialect)
    mentor_side = R.c.author_employee_id == M.c.mentor_employee_id
    for w, is_mentor, n, total, raters in await conn.execute(
        q.relationships()
        .add_columns(
            week,
            mentor_side,
            func.count(),
            func.sum(R.c.rating),
            func.count(distinct(R.c.author_employee_id)),
        )
        .join(R, R.c.match_id == M.c.id)
        .where(q.during(R.c.rated_at))
        .group_by(week, mentor_side)
    ):
        put("mentor_rating" if is_mentor else "mentee_rating", w, _mean(total, n), raters)
    week = week_of(Y.c.answered_at, dialect)
    for w, kind, total, n, respondents in await conn.execute(
        q.relationships()
        .add_columns(
            week,
            Y.c.kind,
            func.sum(Y.c.mean),
            func.count(Y.c.mean),
            func.count(distinct(Y.c.respondent_employee_id)),
        )
        .join(Y, Y.c.match_id == M.c.id)
        .where(q.during(Y.c.answered_at))
        .group_by(week, Y.c.kind)
    ):
        put(f"{kind}_score", w, _mean(total, n), respondents)
    await _active_from_rows(conn, q, mondays, now, out)
    return out


async def _active_from_rows(
    conn: Any, q: Scope, mondays: list[date], now: datetime, out: Weekly
) -> None:
    """Active relationships at each week's end (or now, for this week), and the mentors and
    mentees they name: one row per relationship of the period (two times each)."""
    start = datetime.combine(mondays[0], time.min, UTC)
    end = datetime.combine(mondays[-1] + timedelta(weeks=1), time.min, UTC)
    spans = (
        await conn.execute(
            q.relationships()
            .add_columns(
                M.c.activated_at, M.c.ended_at, M.c.mentor_employee_id, M.c.mentee_employee_id
            )
            .where(
                M.c.activated_at.is_not(None),
                M.c.activated_at < end,
                or_(M.c.ended_at.is_(None), M.c.ended_at >= start),
            )
        )
    ).all()
    for i, monday in enumerate(mondays):
        at = min(datetime.combine(monday + timedelta(weeks=1), time.min, UTC), now)
        live = [
            s for s in spans
            if as_utc(s[0]) <= at and (s[1] is None or as_utc(s[1]) > at)
        ]  # fmt: skip
        who = len({s[2] for s in live}) + len({s[3] for s in live})
        out.put("active_relationships", i, len(live), who)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
