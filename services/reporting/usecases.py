"""Reporting's use cases: projecting events, and the programme report."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, func, literal, union_all
from sqlmodel import col, select

from services.reporting import domain
from services.reporting.models import (
    CaseView,
    ErasureStatus,
    ErasureView,
    MatchView,
    ParticipantView,
    ProgramReport,
    ProgramView,
    RatingView,
    RelationshipReport,
    SessionView,
    SkillView,
)
from shared.contracts.enrollment import ERASURE_CONFIRMERS, ParticipantRole
from shared.contracts.matching import MatchStatus
from shared.contracts.sessions import SessionStatus
from shared.errors import NotFound
from shared.progress import MIN_GROUP, Assessed, programme_skill_progress, skill_progress
from shared.uow import UnitOfWork


async def erasure_status(*, uow: UnitOfWork, org: str, erasure_id: str) -> ErasureStatus:
    view = await uow.session.get(ErasureView, erasure_id)
    if view is None or view.org != org:
        raise NotFound("erasure not found")
    return ErasureStatus(
        erasure_id=view.erasure_id,
        pseudonym=view.pseudonym,
        requested_at=view.requested_at,
        confirmed=view.confirmed,
        pending=[s for s in ERASURE_CONFIRMERS if s not in view.confirmed],
        completed_at=view.completed_at,
    )


async def program_report(*, uow: UnitOfWork, org: str, program_id: str) -> ProgramReport:
    """Counted in the database (each figure a grouped count on an indexed programme id), not
    from every row of the programme loaded (scripts/bench-reporting.sh measures both)."""
    program = await uow.session.get(ProgramView, program_id)
    if program is None or program.org != org:
        raise NotFound("program not found")
    s = uow.session
    pid = program_id

    def counts(figure: str, column: Any, *where: Any, total: Any = None) -> Any:
        """(figure, value, rows, total) per value of `column` in the programme."""
        table = column.class_
        summed = literal(0) if total is None else func.coalesce(func.sum(total), 0)
        return (
            select(literal(figure), cast(column, String), func.count(), summed)
            .where(table.program_id == pid, *where)
            .group_by(column)
        )

    # Every count in one statement, one round trip.
    figures = union_all(
        counts("role", ParticipantView.role, ParticipantView.active),
        counts("match", MatchView.status),
        counts("ended", MatchView.end_reason, MatchView.status == "ended"),
        counts("rematch", MatchView.program_id, col(MatchView.replaces_match_id).is_not(None)),
        counts("session", SessionView.status, total=SessionView.duration_minutes),
        counts("rating", RatingView.program_id, total=RatingView.rating),
        counts("outcome", CaseView.outcome),
        counts("at_risk", CaseView.match_id, CaseView.cause == "at_risk"),
    )
    found: dict[str, dict[str | None, tuple[int, int]]] = {}
    for figure, value, rows, total in (await (await s.connection()).execute(figures)).all():
        found.setdefault(figure, {})[value] = (rows, total)

    def by(figure: str) -> dict[str | None, int]:
        return {value: rows for value, (rows, _) in found.get(figure, {}).items()}

    rated, rating_sum = found.get("rating", {}).get(pid, (0, 0))
    minutes = found.get("session", {}).get("completed", (0, 0))[1]
    by_outcome = by("outcome")
    assessed = (await s.exec(select(SkillView).where(SkillView.program_id == pid))).all()
    per_match: dict[str, list[Assessed]] = {}
    for a in assessed:
        per_match.setdefault(a.match_id, []).append(_assessed(a))
    progress, suppressed = programme_skill_progress(list(per_match.values()), min_group=MIN_GROUP)
    sessions_by_status = domain.counted(by("session"), keys=tuple(SessionStatus))
    return ProgramReport(
        program_id=program.id,
        name=program.name,
        format=program.format,
        participants_by_role=domain.counted(by("role"), keys=tuple(ParticipantRole)),
        matches_by_status=domain.counted(by("match"), keys=tuple(MatchStatus)),
        matches_ended_by_reason=domain.counted(by("ended")),
        rematches=sum(by("rematch").values()),
        relationships_at_risk=len(by("at_risk")),
        cases_open=by_outcome.get(None, 0),
        cases_by_outcome=domain.counted(by_outcome),
        sessions_by_status=sessions_by_status,
        sessions_completed=sessions_by_status["completed"],
        mentoring_hours=domain.hours([minutes]),
        skill_progress=progress,
        skills_suppressed=suppressed,
        ratings=rated,
        average_rating=domain.average(rating_sum, rated),
    )


def _assessed(a: SkillView) -> Assessed:
    return Assessed(phase=a.phase, by=a.by, ratings=a.ratings)


async def relationship_report(*, uow: UnitOfWork, org: str, match_id: str) -> RelationshipReport:
    """One relationship's hours and skill progress, as reporting heard them (admins)."""
    s = uow.session
    match = await s.get(MatchView, match_id)
    program = None if match is None else await s.get(ProgramView, match.program_id)
    if match is None or program is None or program.org != org:
        raise NotFound("relationship not found")
    sessions = (
        await s.exec(
            select(SessionView).where(
                SessionView.match_id == match_id, SessionView.status == "completed"
            )
        )
    ).all()
    assessed = (await s.exec(select(SkillView).where(SkillView.match_id == match_id))).all()
    table = skill_progress([_assessed(a) for a in assessed])
    return RelationshipReport(
        match_id=match_id,
        program_id=match.program_id,
        sessions_completed=len(sessions),
        mentoring_hours=domain.hours(x.duration_minutes for x in sessions),
        **table,
    )


async def program_of(*, uow: UnitOfWork, org: str, program_id: str) -> ProgramView:
    """The organisation's programme, else NotFound."""
    program = await uow.session.get(ProgramView, program_id)
    if program is None or program.org != org:
        raise NotFound("program not found")
    return program
