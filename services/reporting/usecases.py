"""Reporting's use cases: projecting events, and the programme report."""

from __future__ import annotations

from sqlmodel import select

from services.reporting import domain
from services.reporting.models import (
    CaseView,
    MatchView,
    ParticipantView,
    ProgramReport,
    ProgramView,
    RatingView,
    SessionView,
)
from shared.contracts.enrollment import ParticipantRole
from shared.contracts.matching import MatchStatus
from shared.contracts.sessions import SessionStatus
from shared.errors import NotFound
from shared.uow import UnitOfWork


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
        ratings=len(ratings),
        average_rating=domain.average(list(ratings)),
    )
