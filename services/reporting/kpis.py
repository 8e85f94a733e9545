"""The KPIs' use case: aggregates asked of the database (counts, sums and the few values a
median needs, grouped and filtered there, never a programme's rows loaded to be counted in
Python), turned into figures by the domain (definitions, shares, percentiles, privacy)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    distinct,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)

from services.reporting import domain
from services.reporting import tallies as tally
from services.reporting.domain import Figure
from services.reporting.models import (
    KpiFilters,
    KpiPublic,
    KpiReport,
)
from services.reporting.tables import A, C, E, G, H, K, M, P, R, S, U, Y
from services.reporting.usecases import program_of
from shared.api import EARLIEST, LATEST, as_utc
from shared.progress import Assessed, skill_progress
from shared.uow import UnitOfWork

# The aliases the joins need.
Mentee, Mentor, Replaced = P.alias("mentee"), P.alias("mentor"), M.alias("replaced")


class Scope:
    """The filters, as SQL conditions on each view."""

    def __init__(self, org: str, f: KpiFilters) -> None:
        self.f = f
        self.org = org
        self.start = f.start or EARLIEST
        self.end = f.end or LATEST

    def programme(self, column: Any) -> Any:
        if self.f.program_id is not None:
            return column == self.f.program_id
        return column.in_(select(G.c.id).where(G.c.org == self.org))

    def department(self, person: Any) -> Any:
        return (
            literal(True) if self.f.department is None else person.c.department == self.f.department
        )

    def role(self, column: Any) -> Any:
        return literal(True) if self.f.role is None else column == self.f.role

    def during(self, column: Any) -> Any:
        return and_(column >= self.start, column < self.end)

    def relationships(self) -> Any:
        """Matches of the scope, joined to their mentee (a relationship's department is its
        mentee's)."""
        return (
            select()
            .select_from(M)
            .join(
                Mentee, Mentee.c.id == M.c.mentee_participant_id, isouter=self.f.department is None
            )
            .where(self.programme(M.c.program_id), self.department(Mentee))
        )


async def kpis(
    *,
    uow: UnitOfWork,
    org: str,
    filters: KpiFilters,
    now: datetime,
    settle: tally.Settle | None = None,
) -> KpiReport:
    """`settle`: drains the programme's tallies first (a read's own transaction, on SQLite,
    sees what was committed before its first statement)."""
    pid = filters.program_id
    if settle is not None and pid is not None and _tallied(filters):
        await settle(pid)
    if filters.program_id is not None:
        await program_of(uow=uow, org=org, program_id=filters.program_id)
    q = Scope(org, filters)
    figures: dict[str, tuple[Any, int, bool]] = {}

    def put(name: str, value: Any, population: int) -> None:
        shown, withheld = domain.suppress(value, population)
        figures[name] = (shown, population, withheld)

    def put_cells(name: str, counts: dict[str, Figure], population: int) -> None:
        value, withheld = domain.cells(counts)
        figures[name] = (value, population, withheld)

    conn = await uow.session.connection()
    exec_ = conn.execute  # aggregates, read as plain rows (no ORM objects)
    # A programme's all-time figures (no period or role) read from its tallies, when they
    # have counted every change; any other scope, or while they catch up, from the rows.
    t = None
    if pid is not None and _tallied(filters) and not await tally.pending(conn, pid):
        t = await tally.read(conn, pid, filters.department)
    # --- participation
    rows: Sequence[Any]
    if t is not None:
        rows = [(*k.split(":"), t.n("participants", k)) for k in t.keys("participants")]
    else:
        rows = (
            await exec_(
                select(P.c.role, P.c.status, func.count())
                .where(
                    q.programme(P.c.program_id),
                    q.department(P),
                    q.role(P.c.role),
                    func.coalesce(P.c.requested_at, P.c.enrolled_at) < q.end,
                )
                .group_by(P.c.role, P.c.status)
            )
        ).all()
    by_role: dict[str, dict[str, Figure]] = {}
    for role, status, n in rows:
        by_role.setdefault(role, {})[status] = Figure(n, n)
    put_cells(
        "participants",
        {
            role: Figure(cells, sum(c.value for c in cells.values()))
            for role, cells in by_role.items()
        },
        sum(n for _, _, n in rows),
    )
    pending = sum(n for _, status, n in rows if status == "pending")
    put("pending_approvals", pending, pending)
    waiting = (
        t.n("waiting")
        if t is not None
        else (
            await exec_(
                select(func.count()).where(
                    q.programme(P.c.program_id),
                    q.department(P),
                    P.c.role == "mentee",
                    P.c.status == "active",
                    (P.c.waiting),
                )
            )
        ).scalar_one()
    )
    put("waiting_list", waiting, waiting)
    if t is not None:
        rows = [(k, t.n("withdrawals", k)) for k in t.keys("withdrawals")]
    else:
        rows = (
            await exec_(
                select(P.c.withdrawn_reason, func.count())
                .where(
                    q.programme(P.c.program_id),
                    q.department(P),
                    q.role(P.c.role),
                    q.during(P.c.withdrawn_at),
                )
                .group_by(P.c.withdrawn_reason)
            )
        ).all()
    put_cells("withdrawals", {str(r): Figure(n, n) for r, n in rows}, sum(n for _, n in rows))

    # --- matching
    if t is not None:
        enrolled, matched = t.n("mentees_enrolled"), t.n("mentees_matched")
        put("match_rate", domain.share(matched, enrolled), enrolled)
        halfway, p90 = await tally.waits(conn, t, matched)
        waited = None
        if p90 is not None:
            in_days = [domain.days(timedelta(seconds=w)) for w in [*halfway, p90]]
            waited = {
                "median": domain.median(in_days[:-1]),
                "p90": domain.nearest_rank(in_days[-1:], 0.9),
            }
        put("time_to_match_days", waited, matched)
    else:
        await _time_to_match(exec_, q, put)
    if t is not None:
        accepted, declined = t.n("activated"), t.n("declined")
    else:
        accepted, declined = (
            await exec_(
                q.relationships().add_columns(
                    func.count(M.c.activated_at).filter(q.during(M.c.activated_at)),
                    func.count(M.c.declined_at).filter(q.during(M.c.declined_at)),
                )
            )
        ).one()
    put("acceptance_rate", domain.share(accepted, accepted + declined), accepted + declined)
    proposed = (
        (t.n("proposed"), t.n("rematched"))
        if t is not None
        else (
            await exec_(
                q.relationships()
                .add_columns(func.count(), func.count(M.c.replaces_match_id))
                .where(q.during(M.c.proposed_at))
            )
        ).one()
    )
    put("rematch_rate", domain.share(proposed[1], proposed[0]), proposed[0])
    if t is not None:
        rows = [(k, t.n("rematch_causes", k)) for k in t.keys("rematch_causes")]
    else:
        rows = (
            await exec_(
                q.relationships()
                .add_columns(Replaced.c.end_reason, func.count())
                .join(Replaced, Replaced.c.id == M.c.replaces_match_id)
                .where(q.during(M.c.proposed_at))
                .group_by(Replaced.c.end_reason)
            )
        ).all()
    put_cells("rematch_causes", {str(r): Figure(n, n) for r, n in rows}, sum(n for _, n in rows))
    if t is not None:
        spread = Counter({k: t.n("mentor_load", k) for k in t.keys("mentor_load")})
    else:
        loads = (
            await exec_(
                select(Mentor.c.id, func.count(M.c.id))
                .select_from(Mentor)
                .join(
                    M,
                    and_(M.c.mentor_participant_id == Mentor.c.id, M.c.status == "active"),
                    isouter=True,
                )
                .where(
                    q.programme(Mentor.c.program_id),
                    q.department(Mentor),
                    Mentor.c.role == "mentor",
                    Mentor.c.status == "active",
                )
                .group_by(Mentor.c.id)
            )
        ).all()
        spread = Counter(str(n) for _, n in loads)
    put_cells(
        "mentor_load",
        {k: Figure(spread[k], spread[k]) for k in sorted(spread, key=int)},
        sum(spread.values()),
    )

    # --- engagement
    ref = min(q.end, now)
    active_during = and_(
        (M.c.activated_at).is_not(None),
        (M.c.activated_at) < q.end,
        or_((M.c.ended_at).is_(None), (M.c.ended_at) >= q.start),
    )
    people = func.count(distinct(M.c.mentor_employee_id)) + func.count(
        distinct(M.c.mentee_employee_id)
    )
    active = (
        (t.n("activated"), t.pairs("activated"))
        if t is not None
        else (
            await exec_(q.relationships().add_columns(func.count(), people).where(active_during))
        ).one()
    )
    put("active_relationships", active[0], active[1])
    if t is not None:
        rows = [
            (
                status,
                t.n("sessions", status),
                round(t.total("sessions", status)),
                t.pairs(f"sessions:{status}"),
            )
            for status in t.keys("sessions")
        ]
    else:
        rows = (
            await exec_(
                q.relationships()
                .add_columns(
                    S.c.status,
                    func.count(),
                    func.coalesce(func.sum(S.c.duration_minutes), 0),
                    people,
                )
                .join(S, S.c.match_id == M.c.id)
                .where(q.during(S.c.scheduled_at))
                .group_by(S.c.status)
            )
        ).all()
    outcome = {
        "completed": "held",
        "scheduled": "planned",
        "cancelled": "missed",
        "unconfirmed": "missed",
        "no_show": "no_show",
    }
    counted: dict[str, list[int]] = {k: [0, 0] for k in ("held", "planned", "missed", "no_show")}
    minutes = held_people = 0
    for status, n, total, who in rows:
        cell = counted[outcome.get(status, status)]
        cell[0] += n
        cell[1] = max(cell[1], who)  # the people of either status (a lower bound of both)
        if status == "completed":
            minutes, held_people = total, who
    put_cells(
        "sessions",
        {k: Figure(n, who) for k, (n, who) in counted.items()},
        sum(n for n, _ in counted.values()),
    )
    put("mentoring_hours", domain.hours([minutes]), held_people)
    put(
        "sessions_per_relationship",
        round(counted["held"][0] / active[0], 2) if active[0] else None,
        active[1],
    )
    if t is not None and not await tally.held_after(conn, t, ref):
        current = t.n("current")
        in_cadence, middle = await tally.cadence(conn, t, current, ref)
        put("relationships_in_cadence", domain.share(in_cadence, current), t.pairs("current"))
        put("days_since_last_activity", domain.median([domain.days(ref - at) for at in middle]),
            t.pairs("current"))  # fmt: skip
    else:
        await _cadence(exec_, q, ref, put)

    # --- satisfaction
    # The period's ratings read once (a materialised CTE), counted two ways in one statement:
    # by side and value, and the distinct raters by side (null value).
    tallies: Sequence[Any]
    if t is not None:  # (side is mentor, value, ratings), and (side is mentor, None, raters)
        tallies = [(k.startswith("mentor:"), int(k.split(":")[1]), t.n("ratings", k))
                   for k in t.keys("ratings")]  # fmt: skip
        tallies += [(m, None, t.people(f"rated:{'mentor' if m else 'mentee'}"))
                    for m in {m for m, _, _ in tallies}]  # fmt: skip
    else:
        rated = (
            q.relationships()
            .add_columns(
                (R.c.author_employee_id == M.c.mentor_employee_id).label("mentor_side"),
                R.c.rating.label("rating"),
                R.c.author_employee_id.label("author"),
            )
            .join(R, R.c.match_id == M.c.id)
            .where(q.during(R.c.rated_at))
            .cte("rated")
            .prefix_with("MATERIALIZED")
        )
        tallies = (
            await exec_(
                union_all(
                    select(rated.c.mentor_side, rated.c.rating, func.count()).group_by(
                        rated.c.mentor_side, rated.c.rating
                    ),
                    select(
                        rated.c.mentor_side, null(), func.count(distinct(rated.c.author))
                    ).group_by(rated.c.mentor_side),
                )
            )
        ).all()
    by_side: dict[str, dict[str, Any]] = {}
    who = {("mentor" if m else "mentee"): n for m, rating, n in tallies if rating is None}
    for is_mentor, rating, n in tallies:
        if rating is None:
            continue
        name = "mentor" if is_mentor else "mentee"
        if filters.role not in (None, name):
            continue
        entry = by_side.setdefault(name, {"distribution": Counter(), "count": 0, "sum": 0})
        entry["distribution"][str(rating)] += n
        entry["count"] += n
        entry["sum"] += rating * n
    sides = {
        name: Figure(
            {
                "count": Figure(e["count"], who[name]),
                "mean": Figure(round(e["sum"] / e["count"], 2), who[name]),
                "distribution": Figure(
                    {  # each value given by fewer than 5 people is withheld
                        str(v): Figure(e["distribution"][str(v)], e["distribution"][str(v)])
                        for v in range(1, 6)
                    },
                    who[name],
                ),
            },
            who[name],
        )
        for name, e in sorted(by_side.items())
    }
    put_cells("ratings", sides, sum(who.get(n, 0) for n in by_side))
    respondent = func.count(distinct(Y.c.respondent_employee_id))
    due = (
        (t.n("surveys_due"), t.n("surveys_due_answered"), t.people("surveyed"))
        if t is not None
        else (
            await exec_(
                q.relationships()
                .add_columns(func.count(), func.count(Y.c.answered_at), respondent)
                .join(Y, Y.c.match_id == M.c.id)
                .where(q.during(Y.c.due_at))
            )
        ).one()
    )
    put("survey_response_rate", domain.share(due[1], due[0]), due[2])
    # community events held in the period: who came (a person's department is theirs)
    seated = select(
        func.count(distinct(A.c.employee_id)).filter(A.c.attended),
        func.count(distinct(A.c.event_id)),
        func.count().filter(A.c.attended),
        func.count(),
        func.count(distinct(A.c.employee_id)),
    ).where(
        A.c.org == q.org,
        literal(True) if q.f.program_id is None else A.c.program_id == q.f.program_id,
        q.during(A.c.held_at),
    )
    if q.f.department is not None:
        seated = seated.join_from(
            A, E, and_(E.c.org == A.c.org, E.c.employee_id == A.c.employee_id)
        ).where(E.c.department == q.f.department)
    came, held, came_seats, seats, seated_people = (await exec_(seated)).one()
    put_cells(
        "community_attendance",
        {
            "attendees": Figure(came, came),
            "events": Figure(held, seated_people),
            "attendance_rate": Figure(domain.share(came_seats, seats), seated_people),
        },
        seated_people,
    )
    if t is not None:
        rows = [
            (kind, t.total("survey_scores", kind) / t.n("survey_scores", kind),
             t.people(f"answered:{kind}"))
            for kind in t.keys("survey_scores")
        ]  # fmt: skip
    else:
        rows = (
            await exec_(
                q.relationships()
                .add_columns(Y.c.kind, func.avg(Y.c.mean), respondent)
                .join(Y, Y.c.match_id == M.c.id)
                .where(q.during(Y.c.answered_at))
                .group_by(Y.c.kind)
            )
        ).all()
    put_cells(
        "survey_scores",
        {kind: Figure(round(mean, 2), n) for kind, mean, n in rows},
        sum(n for _, _, n in rows),
    )
    would = (
        (t.n("recommended"), t.n("recommended_high"), t.people("recommended"))
        if t is not None
        else (
            await exec_(
                q.relationships()
                .add_columns(func.count(), func.count().filter(Y.c.recommend >= 4), respondent)
                .join(Y, Y.c.match_id == M.c.id)
                .where(q.during(Y.c.answered_at), Y.c.recommend.is_not(None))
            )
        ).one()
    )
    put("would_recommend", domain.share(would[1], would[0]), would[2])

    # --- outcomes
    assessed = (
        await exec_(
            q.relationships()
            .add_columns(K.c.match_id, K.c.phase, K.c.by, K.c.ratings)
            .join(K, K.c.match_id == M.c.id)
            .where(M.c.activated_at < q.end)
        )
    ).all()
    per_match: dict[str, list[Assessed]] = {}
    for match_id, phase, by, ratings in assessed:
        per_match.setdefault(match_id, []).append(Assessed(phase=phase, by=by, ratings=ratings))
    changes: dict[str, list[int]] = {}
    for found in per_match.values():
        for skill, views in skill_progress(found)["skills"].items():
            change = views.get("mentee", {}).get("progress")
            if change is not None:
                changes.setdefault(skill, []).append(change)
    put_cells(
        "skill_progress",
        {
            skill: Figure(
                {
                    "relationships": Figure(len(v), len(v)),
                    "mean_progress": Figure(round(sum(v) / len(v), 2), len(v)),
                    "improved_share": Figure(
                        domain.share(sum(1 for x in v if x > 0), len(v)), len(v)
                    ),
                },
                len(v),
            )
            for skill, v in sorted(changes.items())
        },
        len({m for m, found in per_match.items() if found}),
    )
    goals = (
        await exec_(
            q.relationships()
            .add_columns(
                func.count(), func.count(U.c.reached_at).filter(U.c.reached_at < q.end), people
            )
            .join(U, U.c.match_id == M.c.id)
            .where(M.c.activated_at < q.end)
        )
    ).one()
    put("goals_reached", domain.share(goals[1], goals[0]), goals[2])
    ended = (
        (t.n("ended"), t.n("ended_completed"), t.pairs("ended"))
        if t is not None
        else (
            await exec_(
                q.relationships()
                .add_columns(
                    func.count(), func.count().filter(M.c.end_reason == "completed"), people
                )
                .where(q.during(M.c.ended_at))
            )
        ).one()
    )
    put("completion_rate", domain.share(ended[1], ended[0]), ended[2])
    groups, employees = await _retention(exec_, q)
    put_cells("retention", groups, employees)

    # --- health (now)
    # A relationship starts too early to tell; feedback speaks when its state changes.
    if t is not None:
        rows = [(k, t.n("health", k), t.pairs(f"health:{k}")) for k in t.keys("health")]
        put_cells("health_states", {k: Figure(n, who) for k, n, who in rows},
                  sum(w for *_, w in rows))  # fmt: skip
        reasons = {k: Figure(t.n("health_reason", k), t.pairs(f"reason:{k}"))
                   for k in t.keys("health_reason")}  # fmt: skip
        put_cells("health_reasons", reasons, 2 * t.n("health_flagged"))
    else:
        await _health(exec_, q, people, put_cells)
    case_outcome = func.coalesce(C.c.outcome, literal_column("'open'"))  # one expression
    rows = (
        await exec_(
            q.relationships()
            .add_columns(case_outcome, func.count(), people)
            .join(C, C.c.match_id == M.c.id)
            .where(
                or_(C.c.closed_at.is_(None), q.during(C.c.closed_at)),
                C.c.opened_at < q.end,
            )
            .group_by(case_outcome)
        )
    ).all()
    put_cells(
        "cases", {outcome: Figure(n, who) for outcome, n, who in rows}, sum(w for *_, w in rows)
    )

    return KpiReport(
        program_id=filters.program_id,
        start=filters.start,
        end=filters.end,
        department=filters.department,
        role=filters.role,
        kpis=[
            KpiPublic(
                name=name,
                group=d.group,
                unit=d.unit,
                definition=d.text,
                value=figures[name][0],
                population=figures[name][1],
                suppressed=figures[name][2],
            )
            for name, d in domain.DEFINITIONS.items()
        ],
    )


def _tallied(f: KpiFilters) -> bool:
    """A programme's all-time KPIs, of one department or all, every role: its tallies hold
    them."""
    return f.program_id is not None and f.start is f.end is f.role is None


async def _retention(exec_: Any, q: Scope) -> tuple[dict[str, Figure], int]:
    """Participants of the scope and the other employees there at the period's start: how
    many, how many left during it, the share that stayed. A count of leavers under 5 is
    withheld, and the share with it (it would give the count away)."""
    members = (
        select(P.c.employee_id.label("employee_id"))
        .where(
            q.programme(P.c.program_id),
            P.c.status.in_(("active", "withdrawn")),
            P.c.enrolled_at < q.end,
        )
        .distinct()
        .subquery()
    )
    is_member = members.c.employee_id.is_not(None)
    rows = (
        await exec_(
            select(
                is_member,
                func.count(),
                func.count(E.c.terminated_at).filter(q.during(E.c.terminated_at)),
            )
            .select_from(E)
            .join(members, members.c.employee_id == E.c.employee_id, isouter=True)
            .where(
                E.c.org == q.org,
                q.department(E),
                E.c.hired_at < q.end,
                or_(E.c.terminated_at.is_(None), E.c.terminated_at >= q.start),
            )
            .group_by(is_member)
        )
    ).all()
    groups: dict[str, Figure] = {}
    for member, n, left in rows:
        groups["participants" if member else "non_participants"] = Figure(
            {
                "employees": Figure(n, n),
                "left": Figure(left, left),
                "retention": Figure(domain.share(n - left, n), left or n),
            },
            n,
        )
    return dict(sorted(groups.items(), reverse=True)), sum(n for _, n, _ in rows)


async def _cadence(
    exec_: Any, q: Scope, ref: datetime, put: Callable[[str, Any, int], None]
) -> None:
    """Relationships in their cadence, and days since their last activity, counted from the
    rows: the relationships current at `ref`, each with its latest session held before."""
    last_held = (
        select(S.c.match_id.label("match_id"), func.max(S.c.scheduled_at).label("last_at"))
        .where(S.c.status == "completed", S.c.scheduled_at < ref)
        .group_by(S.c.match_id)
        .subquery()
    )
    rows = (
        await exec_(
            q.relationships()
            .add_columns(
                M.c.activated_at,
                last_held.c.last_at,
                G.c.cadence_s,
                M.c.mentor_employee_id,
                M.c.mentee_employee_id,
            )
            .join(last_held, last_held.c.match_id == M.c.id, isouter=True)
            .join(G, G.c.id == M.c.program_id)
            .where(
                (M.c.activated_at).is_not(None),
                (M.c.activated_at) < ref,
                or_((M.c.ended_at).is_(None), (M.c.ended_at) >= ref),
            )
        )
    ).all()
    pairs = len({r[3] for r in rows}) + len({r[4] for r in rows})
    idle = [domain.days(ref - as_utc(last or started)) for started, last, _, _, _ in rows]
    in_cadence = sum(
        1
        for _, last, cadence, _, _ in rows
        if last is not None and (ref - as_utc(last)).total_seconds() <= cadence
    )
    put("relationships_in_cadence", domain.share(in_cadence, len(rows)), pairs)
    put("days_since_last_activity", domain.median(idle), pairs)


async def _health(
    exec_: Any, q: Scope, people: Any, put_cells: Callable[[str, dict[str, Figure], int], None]
) -> None:
    """Active relationships by health state, and the reasons of those needing attention,
    counted from the rows."""
    state = func.coalesce(H.c.state, literal_column("'too_early'"))
    rows = (
        await exec_(
            q.relationships()
            .add_columns(state, func.count(), people)
            .join(H, H.c.match_id == M.c.id, isouter=True)
            .where(M.c.status == "active")
            .group_by(state)
        )
    ).all()
    put_cells(
        "health_states", {state: Figure(n, who) for state, n, who in rows}, sum(w for *_, w in rows)
    )
    rows = (
        await exec_(
            q.relationships()
            .add_columns(H.c.signals, M.c.mentor_employee_id, M.c.mentee_employee_id)
            .join(H, H.c.match_id == M.c.id)
            .where(M.c.status == "active", H.c.state.in_(("needs_attention", "at_risk")))
        )
    ).all()
    by_signal: dict[str, set[str]] = {}
    for signals, mentor, mentee in rows:
        for signal in set(signals or []):
            by_signal.setdefault(signal, set()).update((f"r:{mentor}", f"e:{mentee}"))
    counts = Counter(signal for signals, _, _ in rows for signal in set(signals or []))
    put_cells(
        "health_reasons",
        {signal: Figure(counts[signal], len(by_signal[signal])) for signal in sorted(counts)},
        2 * len(rows),
    )


async def _time_to_match(exec_: Any, q: Scope, put: Callable[[str, Any, int], None]) -> None:
    """The match rate and the time to a first proposed mentor, counted from the rows."""
    first = (
        select(
            M.c.mentee_participant_id.label("mentee_id"),
            func.min(M.c.proposed_at).label("first_at"),
        )
        .where(q.programme(M.c.program_id))
        .group_by(M.c.mentee_participant_id)
        .subquery()
    )
    mentees = (
        await exec_(
            select(P.c.enrolled_at, first.c.first_at)
            .select_from(P)
            .join(first, first.c.mentee_id == P.c.id, isouter=True)
            .where(
                q.programme(P.c.program_id),
                q.department(P),
                P.c.role == "mentee",
                (P.c.enrolled_at).is_not(None),
                (P.c.enrolled_at) < q.end,
            )
        )
    ).all()
    matched = sum(1 for _, at in mentees if at is not None and as_utc(at) < q.end)
    put("match_rate", domain.share(matched, len(mentees)), len(mentees))
    waits = [
        domain.days(as_utc(at) - as_utc(enrolled))
        for enrolled, at in mentees
        if at is not None and q.start <= as_utc(at) < q.end
    ]
    put(
        "time_to_match_days",
        {"median": domain.median(waits), "p90": domain.nearest_rank(waits, 0.9)} if waits else None,
        len(waits),
    )
