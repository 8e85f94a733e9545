"""Sessions' use cases, keyword-only, on a unit of work."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlmodel import col, func, select

from services.sessions import domain
from services.sessions.domain.community import CalendarEntry
from services.sessions.models import (
    CalendarFeed,
    GroupSessionCreate,
    HoursPublic,
    MatchView,
    ProgramView,
    RescheduleRequest,
    Session,
    SessionCreate,
    SessionNote,
    SessionPublic,
)
from services.sessions.usecases import community
from shared.access import can_see, get_visible, scoped
from shared.api import as_utc, new_id
from shared.auth import Principal
from shared.conditional import check_if_match
from shared.contracts.enrollment import PROGRAM_DEFAULTS as RULES
from shared.contracts.enrollment import EngagementPolicy
from shared.contracts.feedback import CaseActionTaken
from shared.contracts.sessions import CancelReason, SessionKind, SessionStatus
from shared.domain import Transition, state_of, store
from shared.errors import Conflict, Forbidden, Invalid, NotFound, Unknown
from shared.paging import PageParams, Window, page_of
from shared.uow import UnitOfWork

CONFIRMATION_DUE = "session.confirmation_due"  # the timer kind


def _state(s: Session) -> domain.SessionState:
    return state_of(domain.SessionState, s)


def _apply(uow: UnitOfWork, session: Session, change: Transition[domain.SessionState]) -> None:
    """Store a transition's new state on the row and emit its events, in this transaction."""
    store(session, change.state)
    uow.session.add(session)
    for event in change.events:
        uow.emit(event, org=session.org)
    if change.state.status not in domain.OPEN:  # settled: its confirmation deadline is moot
        uow.cancel_timer(domain.unconfirmed_timer(session.id))


async def _policy(uow: UnitOfWork, program_id: str) -> EngagementPolicy:
    """The programme's engagement policy (its defaults until sessions hears of it)."""
    program = await uow.session.get(ProgramView, program_id)
    return program.engagement if program is not None else RULES.engagement


async def _agenda(uow: UnitOfWork, match: MatchView) -> list[str]:
    """The programme's agenda for the match's next session (by its rank among the pair's
    regular sessions not cancelled)."""
    program = await uow.session.get(ProgramView, match.program_id)
    if program is None or not program.agenda_templates:
        return []
    rows = await uow.session.exec(
        select(func.count())
        .select_from(Session)
        .where(
            Session.match_id == match.id,
            Session.kind == SessionKind.regular,
            Session.status != SessionStatus.cancelled,
        )
    )
    return domain.agenda_for(rows.one() + 1, program.agenda_templates)


async def schedule(*, uow: UnitOfWork, principal: Principal, data: SessionCreate) -> Session:
    match = await uow.session.get(MatchView, data.match_id)
    # Someone else's match is answered like one that does not exist: nothing is revealed.
    if match is None or not can_see(
        principal, org=match.org, owners=[match.mentor_employee_id, match.mentee_employee_id]
    ):
        raise Unknown("unknown match", field="match_id")
    domain.ensure_can_schedule(match_active=match.active)
    policy = await _policy(uow, match.program_id)
    agenda = await _agenda(uow, match)
    session = _plan(uow=uow, match=match, data=data, group_id=None, policy=policy, agenda=agenda)
    await uow.commit()
    return session


async def plan_mediation(*, uow: UnitOfWork, data: CaseActionTaken) -> None:
    """A corrective case planned a mediation: a session of the pair with the programme
    manager (its id the action's, so a redelivered event plans it once)."""
    match = await uow.session.get(MatchView, data.match_id)
    if match is None or not match.active:
        return
    if await uow.session.get(Session, data.action_id) is not None:
        return  # planned already
    assert data.scheduled_at is not None and data.duration_minutes is not None
    meeting = SessionCreate(
        match_id=match.id,
        scheduled_at=data.scheduled_at,
        duration_minutes=data.duration_minutes,
        topic=(data.note or "mediation with the programme manager")[:500],
    )
    _plan(
        uow=uow, match=match, data=meeting, group_id=None,
        policy=await _policy(uow, match.program_id), id=data.action_id,
        kind=SessionKind.mediation, facilitator=data.facilitator_employee_id,
    )  # fmt: skip


def _plan(
    *,
    uow: UnitOfWork,
    match: MatchView,
    data: SessionCreate | GroupSessionCreate,
    group_id: str | None,
    policy: EngagementPolicy,
    id: str | None = None,
    kind: SessionKind = SessionKind.regular,
    facilitator: str | None = None,
    agenda: list[str] | None = None,
) -> Session:
    """A planned session of this match, its event, and its confirmation deadline."""
    session = Session(
        agenda=agenda or [],
        id=id or new_id(),
        kind=kind,
        facilitator_employee_id=facilitator,
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
    state = _state(session)
    uow.emit(domain.scheduled(state), org=match.org)
    _arm_confirmation(uow, session, policy)
    return session


def _arm_confirmation(uow: UnitOfWork, session: Session, policy: EngagementPolicy) -> None:
    """(Re-)arm the session's confirmation deadline (a durable timer)."""
    uow.schedule(
        domain.unconfirmed_timer(session.id),
        kind=CONFIRMATION_DUE,
        due_at=domain.confirmation_due(_state(session), unconfirmed_after=policy.unconfirmed_after),
        org=session.org,
        payload={"session_id": session.id},
    )


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
    policy = await _policy(uow, data.program_id)
    sessions = [
        _plan(
            uow=uow,
            match=m,
            data=data,
            group_id=group_id,
            policy=policy,
            agenda=await _agenda(uow, m),
        )
        for m in matches
    ]
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
    outcome: domain.Held | domain.CalledOff,
) -> list[Session]:
    """Complete or cancel the group's planned sessions at once (see the domain)."""
    sessions = await get_group(uow=uow, principal=principal, group_id=group_id, for_update=True)
    changes = domain.settle_group(
        [_state(s) for s in sessions],
        is_admin=principal.is_admin,
        caller=principal.employee_id,
        outcome=outcome,
        at=uow.now(),
    )
    for s in sessions:
        if s.id in changes:
            _apply(uow, s, changes[s.id])
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
) -> Window[Session]:
    q = scoped(
        select(Session), Session, principal, Session.mentor_employee_id, Session.mentee_employee_id
    )
    if match_id:
        q = q.where(Session.match_id == match_id)
    if status:
        q = q.where(Session.status == status)
    return await page_of(uow.session, q, page, col(Session.scheduled_at), col(Session.id))


async def complete(
    *, uow: UnitOfWork, principal: Principal, session_id: str, notes: str | None
) -> Session:
    session = await get(uow=uow, principal=principal, session_id=session_id, for_update=True)
    _apply(uow, session, domain.complete(_state(session), notes=notes, at=uow.now()))
    await uow.commit()
    return session


async def reschedule(
    *, uow: UnitOfWork, principal: Principal, session_id: str, data: RescheduleRequest
) -> Session:
    """Move a planned session (its pair or an admin): history kept, sequence bumped, its
    confirmation deadline re-armed."""
    session = await get(uow=uow, principal=principal, session_id=session_id, for_update=True)
    _move(uow, session, data, by=principal.employee_id)
    _arm_confirmation(uow, session, await _policy(uow, session.program_id))
    await uow.commit()
    return session


def _move(uow: UnitOfWork, session: Session, data: RescheduleRequest, by: str | None) -> None:
    change = domain.reschedule(
        _state(session),
        to=data.scheduled_at,
        duration_minutes=data.duration_minutes,
        reason=data.reason,
        note=data.note,
        by=by,
        at=uow.now(),
    )
    _apply(uow, session, change)


async def reschedule_group(
    *, uow: UnitOfWork, principal: Principal, group_id: str, data: RescheduleRequest
) -> list[Session]:
    """Move a group's planned sessions together (its mentor or an admin)."""
    sessions = await get_group(uow=uow, principal=principal, group_id=group_id, for_update=True)
    if not principal.is_admin and principal.employee_id != sessions[0].mentor_employee_id:
        raise Forbidden("only the mentor or an admin moves a group session")
    planned = [s for s in sessions if s.status in domain.OPEN]
    if not planned:
        raise Conflict("cannot reschedule a group session with no planned session left")
    policy = await _policy(uow, planned[0].program_id)
    for s in planned:
        _move(uow, s, data, by=principal.employee_id)
        _arm_confirmation(uow, s, policy)
    await uow.commit()
    return sessions


async def edit_agenda(
    *,
    uow: UnitOfWork,
    principal: Principal,
    session_id: str,
    items: list[str],
    if_match: str | None = None,
) -> Session:
    """The pair's agenda, if the session is still the version `if_match` names
    (shared.conditional)."""
    session = await get(uow=uow, principal=principal, session_id=session_id, for_update=True)
    check_if_match(
        if_match, lambda: SessionPublic.model_validate(session, from_attributes=True), "session"
    )
    change = domain.edit_agenda(
        _state(session), items, is_admin=principal.is_admin, editor=principal.employee_id
    )
    _apply(uow, session, change)
    await uow.commit()
    return session


async def add_note(
    *, uow: UnitOfWork, principal: Principal, session_id: str, text: str
) -> SessionNote:
    """A private note of the session's mentor or mentee, read by its author only."""
    session = await get(uow=uow, principal=principal, session_id=session_id)
    author = domain.ensure_party(_state(session), principal.employee_id)
    note = SessionNote(org=session.org, session_id=session.id, author_employee_id=author, text=text)
    uow.session.add(note)
    await uow.commit()
    return note


async def my_notes(
    *, uow: UnitOfWork, principal: Principal, session_id: str, page: PageParams
) -> Window[SessionNote]:
    """The caller's own notes on a session they can see (nobody reads another's)."""
    session = await get(uow=uow, principal=principal, session_id=session_id)
    q = select(SessionNote).where(
        SessionNote.session_id == session.id,
        SessionNote.author_employee_id == (principal.employee_id or ""),
    )
    return await page_of(uow.session, q, page, col(SessionNote.created_at), col(SessionNote.id))


async def hours(
    *, uow: UnitOfWork, principal: Principal, employee_id: str | None, match_id: str | None
) -> HoursPublic:
    """Mentoring time held (completed sessions), of an employee or of a relationship: an
    employee reads their own and their relationships'."""
    if (employee_id is None) == (match_id is None):
        raise Invalid("give either employee_id or match_id", field="employee_id", at="query")
    q = select(Session).where(
        Session.org == principal.org, Session.status == SessionStatus.completed
    )
    if employee_id is not None:
        if not principal.is_admin and principal.employee_id != employee_id:
            raise NotFound("employee not found")
        q = q.where(
            (Session.mentor_employee_id == employee_id)
            | (Session.mentee_employee_id == employee_id)
        )
    else:
        match = await uow.session.get(MatchView, match_id)
        owners = [] if match is None else [match.mentor_employee_id, match.mentee_employee_id]
        if match is None or not can_see(principal, org=match.org, owners=owners):
            raise NotFound("match not found")
        q = q.where(Session.match_id == match_id)
    held = [_state(s) for s in (await uow.session.exec(q)).all()]
    return HoursPublic(
        employee_id=employee_id, match_id=match_id, **domain.hours(held, employee_id)
    )


async def cancel(
    *,
    uow: UnitOfWork,
    principal: Principal,
    session_id: str,
    reason: CancelReason,
    note: str | None,
) -> Session:
    session = await get(uow=uow, principal=principal, session_id=session_id, for_update=True)
    _apply(uow, session, domain.cancel(_state(session), reason=reason, note=note))
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
    changes = domain.after_match_end([_state(s) for s in rows], ended_at=ended_at)
    for s in rows:
        if s.id in changes:
            _apply(uow, s, changes[s.id])
    return len(changes)


async def report_no_show(
    *, uow: UnitOfWork, principal: Principal, session_id: str, absent: domain.Side
) -> Session:
    session = await get(uow=uow, principal=principal, session_id=session_id, for_update=True)
    change = domain.no_show(
        _state(session),
        absent=absent,
        is_admin=principal.is_admin,
        reporter=principal.employee_id,
        at=uow.now(),
    )
    _apply(uow, session, change)
    await uow.commit()
    return session


async def confirmation_due(*, uow: UnitOfWork, session_id: str) -> None:
    """The session's confirmation deadline passed (a timer): unconfirmed if still planned."""
    session = await uow.session.get(Session, session_id, with_for_update=True)
    if session is not None:
        _apply(uow, session, domain.unconfirm(_state(session)))


# --- calendar feeds -------------------------------------------------------------------------


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_feed(
    *, uow: UnitOfWork, principal: Principal, employee_id: str | None
) -> tuple[CalendarFeed, str]:
    """A new secret feed for an employee (themselves, or an admin for them); their previous
    one is revoked. Returns the feed and its token (shown once, only its hash is kept)."""
    if principal.is_admin:
        if employee_id is None:
            raise Invalid("admins say whose feed this is", field="employee_id")
        owner = employee_id
    else:
        if employee_id not in (None, principal.employee_id):
            raise Forbidden("employees make their own calendar feed only")
        assert principal.employee_id is not None
        owner = principal.employee_id
    now = uow.now()
    live = select(CalendarFeed).where(
        CalendarFeed.org == principal.org,
        CalendarFeed.employee_id == owner,
        col(CalendarFeed.revoked_at).is_(None),
    )
    for old in (await uow.session.exec(live)).all():
        old.revoked_at = now
        uow.session.add(old)
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(
        org=principal.org, employee_id=owner, token_sha256=_sha256(token), created_at=now
    )
    uow.session.add(feed)
    await uow.commit()
    return feed, token


async def list_feeds(
    *, uow: UnitOfWork, principal: Principal, page: PageParams, employee_id: str | None
) -> Window[CalendarFeed]:
    owner = employee_id if principal.is_admin and employee_id else principal.employee_id
    if owner is None:
        raise Invalid("admins say whose feeds to list", field="employee_id", at="query")
    if not principal.is_admin and employee_id not in (None, owner):
        raise NotFound("employee not found")
    q = select(CalendarFeed).where(
        CalendarFeed.org == principal.org, CalendarFeed.employee_id == owner
    )
    return await page_of(uow.session, q, page, col(CalendarFeed.created_at), col(CalendarFeed.id))


async def revoke_feed(*, uow: UnitOfWork, principal: Principal, feed_id: str) -> CalendarFeed:
    feed = await get_visible(
        uow.session, CalendarFeed, feed_id, principal, owners=lambda f: [f.employee_id],
        what="calendar feed", for_update=True,
    )  # fmt: skip
    if feed.revoked_at is not None:
        raise Conflict("this calendar feed is revoked already")
    feed.revoked_at = uow.now()
    uow.session.add(feed)
    await uow.commit()
    return feed


async def feed_calendar(*, uow: UnitOfWork, token: str) -> bytes:
    """The iCalendar of the feed whose secret `token` this is: the employee's sessions (as
    mentor, mentee or a mediation's facilitator) from 180 days back on. Unknown or revoked:
    NotFound, the same answer (nothing tells a revoked token from a wrong one)."""
    rows = await uow.session.exec(
        select(CalendarFeed).where(
            CalendarFeed.token_sha256 == _sha256(token), col(CalendarFeed.revoked_at).is_(None)
        )
    )
    feed = rows.first()
    if feed is None:
        raise NotFound("calendar feed not found")
    now = uow.now()
    who = feed.employee_id
    sessions = await uow.session.exec(
        select(Session).where(
            Session.org == feed.org,
            (Session.mentor_employee_id == who)
            | (Session.mentee_employee_id == who)
            | (Session.facilitator_employee_id == who),
            Session.scheduled_at >= now - domain.CALENDAR_PAST,
        )
    )
    mine = [_state(s) for s in sessions.all()]
    seats = await community.attending(uow, feed.org, who)
    entries = [
        CalendarEntry(
            id=e.id, kind=str(e.kind), title=e.title, starts_at=as_utc(e.starts_at),
            duration_minutes=e.duration_minutes, location=e.location, description=e.description,
        )
        for e in seats
        if as_utc(e.starts_at) >= now - domain.CALENDAR_PAST
    ]  # fmt: skip
    return domain.calendar(mine, who=who, now=now, community=entries)
