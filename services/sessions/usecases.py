"""Sessions' use cases, keyword-only, on a unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlmodel import col, select

from services.sessions import domain
from services.sessions.domain import SessionStatus
from services.sessions.models import (
    GroupSessionCreate,
    MatchView,
    Session,
    SessionCreate,
)
from shared.access import can_see, get_visible, scoped
from shared.api import PageParams, as_utc, new_id, utcnow
from shared.auth import Principal
from shared.contracts import sessions as ev
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.uow import UnitOfWork


def _facts(s: Session) -> dict:
    return {
        "session_id": s.id,
        "match_id": s.match_id,
        "program_id": s.program_id,
        "mentor_employee_id": s.mentor_employee_id,
        "mentee_employee_id": s.mentee_employee_id,
        "scheduled_at": as_utc(s.scheduled_at),
    }


async def schedule(*, uow: UnitOfWork, principal: Principal, data: SessionCreate) -> Session:
    match = await uow.session.get(MatchView, data.match_id)
    if match is None or match.org != principal.org:
        raise Invalid("unknown match", field="match_id")
    if not can_see(
        principal, org=match.org, owners=[match.mentor_employee_id, match.mentee_employee_id]
    ):
        raise Forbidden("only the match's mentor, mentee or an admin can plan its sessions")
    domain.ensure_can_schedule(match_active=match.active)
    session = _plan(uow=uow, match=match, data=data, group_id=None)
    await uow.commit()
    return session


def _plan(
    *,
    uow: UnitOfWork,
    match: MatchView,
    data: SessionCreate | GroupSessionCreate,
    group_id: str | None,
) -> Session:
    """A planned session of this match, and its event."""
    session = Session(
        org=match.org,
        match_id=match.id,
        program_id=match.program_id,
        mentor_employee_id=match.mentor_employee_id,
        mentee_employee_id=match.mentee_employee_id,
        scheduled_at=data.scheduled_at,
        duration_minutes=data.duration_minutes,
        topic=data.topic,
        group_id=group_id,
    )
    uow.session.add(session)
    uow.emit(ev.SessionScheduled(**_facts(session)), org=match.org)
    return session


async def schedule_group(
    *, uow: UnitOfWork, principal: Principal, data: GroupSessionCreate
) -> list[Session]:
    """One session per active mentee of the mentor in the programme, sharing a group id."""
    mentor = domain.group_mentor(
        is_admin=principal.is_admin,
        caller=principal.employee_id,
        requested=data.mentor_employee_id,
    )
    rows = await uow.session.exec(
        select(MatchView)
        .where(
            MatchView.org == principal.org,
            MatchView.program_id == data.program_id,
            MatchView.mentor_employee_id == mentor,
            MatchView.active,
        )
        .order_by(col(MatchView.mentee_employee_id), col(MatchView.id))
    )
    matches = list(rows.all())
    if not matches:
        raise Conflict("this mentor has no active match in this programme to meet with")
    group_id = new_id()
    sessions = [_plan(uow=uow, match=m, data=data, group_id=group_id) for m in matches]
    await uow.commit()
    return sessions


async def get_group(
    *, uow: UnitOfWork, principal: Principal, group_id: str, for_update: bool = False
) -> list[Session]:
    """The group's sessions the caller may see (the mentor and admins: all; a mentee: theirs)."""
    q = scoped(
        select(Session), Session, principal, Session.mentor_employee_id, Session.mentee_employee_id
    ).where(Session.group_id == group_id)
    if for_update:
        q = q.with_for_update()
    sessions = list((await uow.session.exec(q.order_by(col(Session.mentee_employee_id)))).all())
    if not sessions:
        raise NotFound("group session not found")
    return sessions


async def settle_group(
    *,
    uow: UnitOfWork,
    principal: Principal,
    group_id: str,
    action: Literal["complete", "cancel"],
    text: str | None,
) -> list[Session]:
    """Complete (`text`: notes) or cancel (`text`: reason) the group's planned sessions at
    once; those already settled (a mentee whose match ended meanwhile) stay as they are."""
    sessions = await get_group(uow=uow, principal=principal, group_id=group_id, for_update=True)
    if not principal.is_admin and principal.employee_id != sessions[0].mentor_employee_id:
        raise Forbidden("only the mentor or an admin settles a group session")
    planned = domain.planned([(s.id, SessionStatus(s.status)) for s in sessions], action=action)
    for s in sessions:
        if s.id not in planned:
            continue
        if action == "complete":
            _complete(uow=uow, session=s, notes=text)
        else:
            _cancel(uow=uow, session=s, reason=text or "cancelled")
    await uow.commit()
    return sessions


async def get(
    *, uow: UnitOfWork, principal: Principal, session_id: str, for_update: bool = False
) -> Session:
    return await get_visible(
        uow.session,
        Session,
        session_id,
        principal,
        owners=lambda s: [s.mentor_employee_id, s.mentee_employee_id],
        what="session",
        for_update=for_update,
    )


async def list_sessions(
    *,
    uow: UnitOfWork,
    principal: Principal,
    page: PageParams,
    match_id: str | None,
    status: SessionStatus | None,
) -> list[Session]:
    q = scoped(
        select(Session), Session, principal, Session.mentor_employee_id, Session.mentee_employee_id
    )
    if match_id:
        q = q.where(Session.match_id == match_id)
    if status:
        q = q.where(Session.status == status)
    q = q.order_by(col(Session.scheduled_at), col(Session.id)).offset(page.offset).limit(page.limit)
    return list((await uow.session.exec(q)).all())


async def complete(
    *, uow: UnitOfWork, principal: Principal, session_id: str, notes: str | None
) -> Session:
    session = await get(uow=uow, principal=principal, session_id=session_id, for_update=True)
    domain.ensure_scheduled(SessionStatus(session.status), "complete")
    _complete(uow=uow, session=session, notes=notes)
    await uow.commit()
    return session


def _complete(*, uow: UnitOfWork, session: Session, notes: str | None) -> None:
    session.status = SessionStatus.completed
    session.notes = notes
    session.completed_at = utcnow()
    uow.session.add(session)
    uow.emit(ev.SessionCompleted(**_facts(session)), org=session.org)


def _cancel(*, uow: UnitOfWork, session: Session, reason: str) -> None:
    session.status = SessionStatus.cancelled
    session.cancel_reason = reason
    uow.session.add(session)
    uow.emit(ev.SessionCancelled(**_facts(session), reason=reason), org=session.org)


async def cancel(*, uow: UnitOfWork, principal: Principal, session_id: str, reason: str) -> Session:
    session = await get(uow=uow, principal=principal, session_id=session_id, for_update=True)
    domain.ensure_scheduled(SessionStatus(session.status), "cancel")
    _cancel(uow=uow, session=session, reason=reason)
    await uow.commit()
    return session


async def cancel_for_ended_match(*, uow: UnitOfWork, match_id: str, ended_at: datetime) -> int:
    rows = list(
        (
            await uow.session.exec(
                select(Session).where(Session.match_id == match_id).with_for_update()
            )
        ).all()
    )
    doomed = set(
        domain.cancelled_by_match_end(
            [(s.id, SessionStatus(s.status), as_utc(s.scheduled_at)) for s in rows],
            ended_at=ended_at,
        )
    )
    for s in rows:
        if s.id in doomed:
            _cancel(uow=uow, session=s, reason="match_ended")
    return len(doomed)
