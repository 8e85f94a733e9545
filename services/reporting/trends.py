"""Weekly series of the main KPIs: each a grouped aggregate the database computes per ISO
week (Monday 00:00 UTC), the privacy rule applied per week."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import distinct, func, or_, select

from services.reporting import domain
from services.reporting.kpis import M, P, R, S, Scope, Y
from services.reporting.models import KpiFilters, TrendPublic, TrendReport
from services.reporting.usecases import program_of
from shared.api import as_utc
from shared.errors import Invalid
from shared.uow import UnitOfWork


def week_of(column: Any, dialect: str) -> Any:
    """The Monday (UTC) of `column`'s week, as the database computes it."""
    if dialect == "postgresql":
        return func.date(func.date_trunc("week", func.timezone("UTC", column)))
    return func.date(column, "weekday 0", "-6 days")  # SQLite: next Sunday (or today), -6


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


async def trends(*, uow: UnitOfWork, org: str, filters: KpiFilters, now: datetime) -> TrendReport:
    """`filters.start`/`end` bound the weeks (the end exclusive); no role (the series are
    the programme's)."""
    if filters.program_id is not None:
        await program_of(uow=uow, org=org, program_id=filters.program_id)
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
    dialect = conn.dialect.name
    index = {monday: i for i, monday in enumerate(mondays)}
    values: dict[str, list[Any]] = {name: [0] * len(mondays) for name in domain.TRENDS}
    people: dict[str, list[int]] = {name: [0] * len(mondays) for name in domain.TRENDS}

    def put(name: str, week: Any, value: Any, population: int) -> None:
        i = index.get(_day(week))
        if i is not None:
            values[name][i], people[name][i] = value, population

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
        put("mentoring_hours", w, domain.hours([minutes]), who)
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
        name = "mentor_rating" if is_mentor else "mentee_rating"
        put(name, w, round(total / n, 2), raters)
    week = week_of(Y.c.answered_at, dialect)
    for w, kind, mean, respondents in await conn.execute(
        q.relationships()
        .add_columns(
            week, Y.c.kind, func.avg(Y.c.mean), func.count(distinct(Y.c.respondent_employee_id))
        )
        .join(Y, Y.c.match_id == M.c.id)
        .where(q.during(Y.c.answered_at))
        .group_by(week, Y.c.kind)
    ):
        put(f"{kind}_score", w, round(mean, 2), respondents)
    for name in ("mentee_rating", "mentor_rating", "pulse_score", "closing_score"):  # no mean
        values[name] = [v if people[name][i] else None for i, v in enumerate(values[name])]
    # Active at each week's end: one row per relationship of the period (two times each).
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
        values["active_relationships"][i] = len(live)
        people["active_relationships"][i] = len({s[2] for s in live}) + len({s[3] for s in live})
    series = []
    for name, d in domain.TRENDS.items():
        shown = [domain.suppress(v, n) for v, n in zip(values[name], people[name], strict=True)]
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
