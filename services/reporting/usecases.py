"""Reporting's use cases: projecting events, and the programme report."""

from __future__ import annotations

from sqlmodel import select

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
    program = await uow.session.get(ProgramView, program_id)
    if program is None or program.org != org:
        raise NotFound("program not found")
    s = uow.session
    pid = program_id
    participants = (
        await s.exec(
            select(ParticipantView).where(ParticipantView.program_id == pid, ParticipantView.active)
        )
    ).all()
    matches = (await s.exec(select(MatchView).where(MatchView.program_id == pid))).all()
    sessions = (await s.exec(select(SessionView).where(SessionView.program_id == pid))).all()
    ratings = (await s.exec(select(RatingView.rating).where(RatingView.program_id == pid))).all()
    cases = (await s.exec(select(CaseView).where(CaseView.program_id == pid))).all()
    by_session_status = domain.count_by((x.status for x in sessions), keys=tuple(SessionStatus))
    assessed = (await s.exec(select(SkillView).where(SkillView.program_id == pid))).all()
    per_match: dict[str, list[Assessed]] = {}
    for a in assessed:
        per_match.setdefault(a.match_id, []).append(_assessed(a))
    progress, suppressed = programme_skill_progress(list(per_match.values()), min_group=MIN_GROUP)
    return ProgramReport(
        program_id=program.id,
        name=program.name,
        format=program.format,
        participants_by_role=domain.count_by(
            (p.role for p in participants), keys=tuple(ParticipantRole)
        ),
        matches_by_status=domain.count_by((m.status for m in matches), keys=tuple(MatchStatus)),
        matches_ended_by_reason=domain.count_by(
            m.end_reason for m in matches if m.status == "ended"
        ),
        rematches=sum(1 for m in matches if m.replaces_match_id),
        relationships_at_risk=len({c.match_id for c in cases if c.cause == "at_risk"}),
        cases_open=sum(1 for c in cases if c.outcome is None),
        cases_by_outcome=domain.count_by(c.outcome for c in cases if c.outcome),
        sessions_by_status=by_session_status,
        sessions_completed=by_session_status["completed"],
        mentoring_hours=domain.hours(
            x.duration_minutes for x in sessions if x.status == "completed"
        ),
        skill_progress=progress,
        skills_suppressed=suppressed,
        ratings=len(ratings),
        average_rating=domain.average(list(ratings)),
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
