"""Feedback's use cases, keyword-only, on a unit of work."""

from __future__ import annotations

from sqlmodel import col, select

from services.feedback import domain
from services.feedback.models import AtRiskFlag, Feedback, FeedbackCreate, ProgramView, SessionView
from shared.access import get_visible, scoped
from shared.api import PageParams
from shared.auth import Principal
from shared.contracts import feedback as ev
from shared.contracts.enrollment import PROGRAM_DEFAULTS as RULES
from shared.contracts.sessions import SessionStatus
from shared.db import lock_key
from shared.errors import Invalid
from shared.uow import UnitOfWork


async def submit(*, uow: UnitOfWork, principal: Principal, data: FeedbackCreate) -> Feedback:
    session = await uow.session.get(SessionView, data.session_id)
    if session is None or session.org != principal.org:
        raise Invalid("unknown session", field="session_id")
    mine = await uow.session.exec(
        select(Feedback.id).where(
            Feedback.session_id == session.id,
            Feedback.author_employee_id == principal.employee_id,
        )
    )
    domain.ensure_can_rate(
        session_status=SessionStatus(session.status),
        author=principal.employee_id,
        mentor=session.mentor_employee_id,
        mentee=session.mentee_employee_id,
        already_rated=mine.first() is not None,
    )
    feedback = Feedback(
        org=principal.org,
        session_id=session.id,
        match_id=session.match_id,
        program_id=session.program_id,
        author_employee_id=str(principal.employee_id),
        rating=data.rating,
        comment=data.comment,
    )
    uow.session.add(feedback)
    uow.emit(ev.FeedbackSubmitted.model_validate(feedback, from_attributes=True), org=principal.org)
    await uow.session.flush()
    await _watch_relationship(
        uow=uow, org=principal.org, match_id=session.match_id, program_id=session.program_id
    )
    await uow.commit()
    return feedback


async def _watch_relationship(*, uow: UnitOfWork, org: str, match_id: str, program_id: str) -> None:
    # Two ratings of one relationship arriving together must see each other.
    await lock_key(uow.session, f"relationship:{match_id}")
    if await uow.session.get(AtRiskFlag, match_id) is not None:
        return
    # Not heard of the programme yet (events cross services asynchronously): its defaults.
    rules = await uow.session.get(ProgramView, program_id) or RULES
    rows = await uow.session.exec(
        select(Feedback.rating)
        .where(Feedback.match_id == match_id)
        .order_by(col(Feedback.created_at), col(Feedback.id))
    )
    risk = domain.assess(
        list(rows.all()), window=rules.rating_window, threshold=rules.rematch_threshold
    )
    alarm = domain.alarm(risk, match_id=match_id, program_id=program_id)
    if alarm is None:
        return
    uow.session.add(AtRiskFlag(match_id=match_id, org=org, average_rating=alarm.average_rating))
    uow.emit(alarm, org=org)


async def get(*, uow: UnitOfWork, principal: Principal, feedback_id: str) -> Feedback:
    return await get_visible(
        uow.session,
        Feedback,
        feedback_id,
        principal,
        owners=lambda f: [f.author_employee_id],
        what="feedback",
    )


async def list_feedback(
    *,
    uow: UnitOfWork,
    principal: Principal,
    page: PageParams,
    session_id: str | None,
    match_id: str | None,
) -> list[Feedback]:
    q = scoped(select(Feedback), Feedback, principal, Feedback.author_employee_id)
    if session_id:
        q = q.where(Feedback.session_id == session_id)
    if match_id:
        q = q.where(Feedback.match_id == match_id)
    q = q.order_by(col(Feedback.created_at), col(Feedback.id)).offset(page.offset).limit(page.limit)
    return list((await uow.session.exec(q)).all())
