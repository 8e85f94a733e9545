"""Sessions' HTTP routes: thin shells over the use cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response, status

from services.sessions import domain, usecases
from services.sessions.models import (
    AgendaUpdate,
    AgreementIn,
    AgreementPublic,
    AssessmentIn,
    AssessmentPublic,
    AttendanceIn,
    CalendarFeedCreate,
    CalendarFeedPublic,
    CancelRequest,
    CommunityEvent,
    CommunityEventIn,
    CommunityEventPublic,
    CommunityFeedbackIn,
    CommunityRegistration,
    CompleteRequest,
    GoalProgressIn,
    GroupSessionCreate,
    GroupSessionPublic,
    HoursPublic,
    MilestoneReachedIn,
    NoShowRequest,
    NoteCreate,
    NotePublic,
    RegistrationPublic,
    RescheduleRequest,
    Session,
    SessionCreate,
    SessionPublic,
    SkillProgressPublic,
)
from services.sessions.usecases import community, journey
from shared.api import v1_router
from shared.app import uow_dependency
from shared.auth import CurrentPrincipal
from shared.conditional import IfMatch
from shared.contracts.sessions import CommunityKind, SessionStatus
from shared.paging import Page, Window, listing
from shared.problems import PRECONDITION_RESPONSES
from shared.uow import UnitOfWork

Uow = Annotated[UnitOfWork, uow_dependency("sessions")]

router = v1_router("sessions")


@router.post(
    "/sessions",
    tags=["sessions"],
    response_model=SessionPublic,
    status_code=status.HTTP_201_CREATED,
)
async def schedule(data: SessionCreate, principal: CurrentPrincipal, uow: Uow) -> object:
    """Plan a session for an active match (its mentor, mentee or an admin)."""
    return await usecases.schedule(uow=uow, principal=principal, data=data)


@router.get("/sessions", tags=["sessions"], response_model=listing(SessionPublic))
async def list_sessions(
    principal: CurrentPrincipal,
    uow: Uow,
    page: Page,
    match_id: Annotated[str | None, Query(max_length=36)] = None,
    status: SessionStatus | None = None,
) -> object:
    return await usecases.list_sessions(
        uow=uow, principal=principal, page=page, match_id=match_id, status=status
    )


@router.get("/sessions/{session_id}", tags=["sessions"], response_model=SessionPublic)
async def get_session(session_id: str, principal: CurrentPrincipal, uow: Uow) -> object:
    return await usecases.get(uow=uow, principal=principal, session_id=session_id)


@router.post("/sessions/{session_id}/complete", tags=["sessions"], response_model=SessionPublic)
async def complete_session(
    session_id: str, body: CompleteRequest, principal: CurrentPrincipal, uow: Uow
) -> object:
    """The session was held (the body may be `{}`)."""
    return await usecases.complete(
        uow=uow, principal=principal, session_id=session_id, notes=body.notes
    )


@router.post("/sessions/{session_id}/reschedule", tags=["sessions"], response_model=SessionPublic)
async def reschedule(
    session_id: str, body: RescheduleRequest, principal: CurrentPrincipal, uow: Uow
) -> object:
    """Move a planned session to a time to come (its pair or an admin), with a reason
    category and a note; its moves are kept (`reschedules`) and counted (`sequence`)."""
    return await usecases.reschedule(uow=uow, principal=principal, session_id=session_id, data=body)


@router.put(
    "/sessions/{session_id}/agenda",
    tags=["sessions"],
    response_model=SessionPublic,
    responses=PRECONDITION_RESPONSES,
)
async def edit_agenda(
    session_id: str,
    body: AgendaUpdate,
    principal: CurrentPrincipal,
    uow: Uow,
    if_match: IfMatch = None,
) -> object:
    """The pair's agenda for a planned session (it starts from the programme's template for
    the session's rank). With `If-Match`, only if the session is still the version read (else
    412): the mentor and the mentee editing it at once do not undo each other."""
    return await usecases.edit_agenda(
        uow=uow, principal=principal, session_id=session_id, items=body.items, if_match=if_match
    )


@router.post(
    "/sessions/{session_id}/notes",
    tags=["sessions"],
    response_model=NotePublic,
    status_code=status.HTTP_201_CREATED,
)
async def add_note(
    session_id: str, body: NoteCreate, principal: CurrentPrincipal, uow: Uow
) -> object:
    """A private note of the session's mentor or mentee: nobody else reads it, admins
    included."""
    return await usecases.add_note(
        uow=uow, principal=principal, session_id=session_id, text=body.text
    )


@router.get("/sessions/{session_id}/notes", tags=["sessions"], response_model=listing(NotePublic))
async def my_notes(session_id: str, principal: CurrentPrincipal, uow: Uow, page: Page) -> object:
    """The caller's own private notes on the session, the oldest first."""
    return await usecases.my_notes(uow=uow, principal=principal, session_id=session_id, page=page)


@router.get("/mentoring-hours", tags=["sessions"], response_model=HoursPublic)
async def mentoring_hours(
    principal: CurrentPrincipal,
    uow: Uow,
    employee_id: Annotated[str | None, Query(max_length=100)] = None,
    match_id: Annotated[str | None, Query(max_length=36)] = None,
) -> HoursPublic:
    """Mentoring time held (completed sessions' planned durations) of an employee, as mentor
    and as mentee, or of a relationship (`match_id`)."""
    return await usecases.hours(
        uow=uow, principal=principal, employee_id=employee_id, match_id=match_id
    )


@router.post("/sessions/{session_id}/no-show", tags=["sessions"], response_model=SessionPublic)
async def no_show(
    session_id: str, body: NoShowRequest, principal: CurrentPrincipal, uow: Uow
) -> object:
    """One party did not come: reported, once the session has started, by the other party
    (the one who came) or an admin."""
    return await usecases.report_no_show(
        uow=uow, principal=principal, session_id=session_id, absent=body.absent
    )


@router.post("/sessions/{session_id}/cancel", tags=["sessions"], response_model=SessionPublic)
async def cancel(
    session_id: str, body: CancelRequest, principal: CurrentPrincipal, uow: Uow
) -> object:
    """The session is off (the body may be `{}`: reason `other`)."""
    return await usecases.cancel(
        uow=uow, principal=principal, session_id=session_id, reason=body.reason, note=body.note
    )


def _group(sessions: list[Session]) -> GroupSessionPublic:
    first = sessions[0]
    assert first.group_id is not None
    return GroupSessionPublic(
        group_id=first.group_id,
        program_id=first.program_id,
        mentor_employee_id=first.mentor_employee_id,
        scheduled_at=first.scheduled_at,
        sessions=[SessionPublic.model_validate(s, from_attributes=True) for s in sessions],
    )


@router.post(
    "/group-sessions",
    tags=["sessions"],
    response_model=GroupSessionPublic,
    status_code=status.HTTP_201_CREATED,
)
async def schedule_group(
    data: GroupSessionCreate, principal: CurrentPrincipal, uow: Uow
) -> GroupSessionPublic:
    """Plan one meeting of a mentor with all their active mentees in a programme (a circle):
    a session per mentee, sharing a `group_id`, so each mentee rates their own."""
    return _group(await usecases.schedule_group(uow=uow, principal=principal, data=data))


@router.get("/group-sessions/{group_id}", tags=["sessions"], response_model=GroupSessionPublic)
async def get_group(group_id: str, principal: CurrentPrincipal, uow: Uow) -> GroupSessionPublic:
    return _group(await usecases.get_group(uow=uow, principal=principal, group_id=group_id))


@router.post(
    "/group-sessions/{group_id}/complete", tags=["sessions"], response_model=GroupSessionPublic
)
async def complete_group(
    group_id: str, body: CompleteRequest, principal: CurrentPrincipal, uow: Uow
) -> GroupSessionPublic:
    """The meeting was held: every planned session of the group is completed (the body may
    be `{}`)."""
    held = domain.Held(notes=body.notes)
    sessions = await usecases.settle_group(
        uow=uow, principal=principal, group_id=group_id, outcome=held
    )
    return _group(sessions)


@router.post(
    "/group-sessions/{group_id}/reschedule",
    tags=["sessions"],
    response_model=GroupSessionPublic,
)
async def reschedule_group(
    group_id: str, body: RescheduleRequest, principal: CurrentPrincipal, uow: Uow
) -> GroupSessionPublic:
    """The group's meeting moves: every planned session of the group with it."""
    sessions = await usecases.reschedule_group(
        uow=uow, principal=principal, group_id=group_id, data=body
    )
    return _group(sessions)


@router.post(
    "/group-sessions/{group_id}/cancel", tags=["sessions"], response_model=GroupSessionPublic
)
async def cancel_group(
    group_id: str, body: CancelRequest, principal: CurrentPrincipal, uow: Uow
) -> GroupSessionPublic:
    """The meeting is off: every planned session of the group is cancelled (the body may be
    `{}`: reason `other`)."""
    off = domain.CalledOff(reason=body.reason, note=body.note)
    sessions = await usecases.settle_group(
        uow=uow, principal=principal, group_id=group_id, outcome=off
    )
    return _group(sessions)


# --- calendar feeds -------------------------------------------------------------------------


@router.post(
    "/calendar-feeds",
    tags=["calendar"],
    response_model=CalendarFeedPublic,
    status_code=status.HTTP_201_CREATED,
)
async def create_feed(
    body: CalendarFeedCreate, principal: CurrentPrincipal, uow: Uow
) -> CalendarFeedPublic:
    """A secret calendar feed URL of one's sessions (an admin's for an employee), for a
    calendar application that cannot send a bearer token: shown once, it replaces the
    employee's previous feed (revoked). The body may be `{}` (one's own feed)."""
    feed, token = await usecases.create_feed(
        uow=uow, principal=principal, employee_id=body.employee_id
    )
    public = CalendarFeedPublic.model_validate(feed, from_attributes=True)
    public.url = f"/v1/calendar/{token}.ics"
    return public


@router.get("/calendar-feeds", tags=["calendar"], response_model=listing(CalendarFeedPublic))
async def list_feeds(
    principal: CurrentPrincipal,
    uow: Uow,
    page: Page,
    employee_id: Annotated[str | None, Query(max_length=100)] = None,
) -> object:
    return await usecases.list_feeds(
        uow=uow, principal=principal, page=page, employee_id=employee_id
    )


@router.post(
    "/calendar-feeds/{feed_id}/revoke", tags=["calendar"], response_model=CalendarFeedPublic
)
async def revoke_feed(feed_id: str, principal: CurrentPrincipal, uow: Uow) -> object:
    """Revoke a feed: its URL answers 404 from now on."""
    return await usecases.revoke_feed(uow=uow, principal=principal, feed_id=feed_id)


@router.get(
    "/calendar/{token}.ics",
    tags=["calendar"],
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def calendar(token: Annotated[str, Path(max_length=100)], uow: Uow) -> Response:
    """The employee's sessions as an iCalendar (RFC 5545) feed. No bearer token: the secret
    URL is the credential."""
    body = await usecases.feed_calendar(uow=uow, token=token)
    return Response(
        content=body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )


# --- the relationship's journey: agreement, skill assessments -------------------------------


@router.put(
    "/agreements/{match_id}",
    tags=["journey"],
    response_model=AgreementPublic,
    responses=PRECONDITION_RESPONSES,
)
async def write_agreement(
    match_id: str,
    body: AgreementIn,
    principal: CurrentPrincipal,
    uow: Uow,
    if_match: IfMatch = None,
) -> object:
    """The pair's mentorship agreement for an active match: goals (with the programme's target
    skills and milestones) and the meeting rhythm. A change after signing is a new version,
    which both confirm again (the signed one is kept in `history`). With `If-Match`, only if
    the agreement is still the version read (else 412; `*`: only if there is one)."""
    return await journey.write_agreement(
        uow=uow, principal=principal, match_id=match_id, data=body, if_match=if_match
    )


@router.get("/agreements/{match_id}", tags=["journey"], response_model=AgreementPublic)
async def get_agreement(match_id: str, principal: CurrentPrincipal, uow: Uow) -> object:
    return await journey.get_agreement(uow=uow, principal=principal, match_id=match_id)


@router.post("/agreements/{match_id}/confirm", tags=["journey"], response_model=AgreementPublic)
async def confirm_agreement(match_id: str, principal: CurrentPrincipal, uow: Uow) -> object:
    """One side confirms the current version; with both, it is signed (`agreement.signed`)."""
    return await journey.confirm(uow=uow, principal=principal, match_id=match_id)


@router.post(
    "/agreements/{match_id}/goals/{goal_id}/progress",
    tags=["journey"],
    response_model=AgreementPublic,
)
async def goal_progress(
    match_id: str, goal_id: str, body: GoalProgressIn, principal: CurrentPrincipal, uow: Uow
) -> object:
    return await journey.progress(
        uow=uow, principal=principal, match_id=match_id, goal_id=goal_id,
        percent=body.progress, note=body.note,
    )  # fmt: skip


@router.post(
    "/agreements/{match_id}/goals/{goal_id}/milestones/{milestone_id}/reach",
    tags=["journey"],
    response_model=AgreementPublic,
)
async def reach_milestone(
    match_id: str,
    goal_id: str,
    milestone_id: str,
    body: MilestoneReachedIn,
    principal: CurrentPrincipal,
    uow: Uow,
) -> object:
    """A milestone of a goal was reached (on `on`, today by default: the body may be `{}`)."""
    return await journey.reach(
        uow=uow, principal=principal, match_id=match_id, goal_id=goal_id,
        milestone_id=milestone_id, on=body.on,
    )  # fmt: skip


@router.post(
    "/assessments",
    tags=["journey"],
    response_model=AssessmentPublic,
    status_code=status.HTTP_201_CREATED,
)
async def assess(body: AssessmentIn, principal: CurrentPrincipal, uow: Uow) -> object:
    """A skill assessment (`baseline`, `midpoint`, `final`) of the signed agreement's skills,
    1 to 5 each: the mentee's own, or the mentor's view. Once per phase and side."""
    return await journey.assess(uow=uow, principal=principal, data=body)


@router.get("/assessments", tags=["journey"], response_model=listing(AssessmentPublic))
async def list_assessments(
    principal: CurrentPrincipal,
    uow: Uow,
    page: Page,
    match_id: Annotated[str, Query(max_length=36)],
) -> object:
    return await journey.assessments(uow=uow, principal=principal, match_id=match_id, page=page)


@router.get("/skill-progress/{match_id}", tags=["journey"], response_model=SkillProgressPublic)
async def skill_progress(match_id: str, principal: CurrentPrincipal, uow: Uow) -> object:
    """Per skill and perspective: the ratings by phase and the progress (latest - baseline);
    the relationship's mean progress over the mentee's own assessments."""
    return await journey.skill_progress(uow=uow, principal=principal, match_id=match_id)


# --- community events: workshops, exchange groups, trainings ---------------------------------

CommunityTags: list = ["community"]


async def _public_events(
    uow: UnitOfWork, principal: CurrentPrincipal, events: list[CommunityEvent]
) -> list[CommunityEventPublic]:
    ids = [e.id for e in events]
    counts = await community.counts(uow, ids)
    mine = await community.mine(uow, principal.employee_id, ids)
    return [
        CommunityEventPublic.model_validate(
            {
                **{k: getattr(e, k) for k in CommunityEventPublic.model_fields if hasattr(e, k)},
                "registered": counts.get(e.id, (0, 0))[0],
                "waiting": counts.get(e.id, (0, 0))[1],
                "mine": mine.get(e.id),
            }
        )
        for e in events
    ]


@router.post(
    "/community-events", tags=CommunityTags, status_code=201, response_model=CommunityEventPublic
)
async def create_community_event(
    data: CommunityEventIn, principal: CurrentPrincipal, uow: Uow
) -> CommunityEventPublic:
    """Plan a workshop, exchange group or training, for the organisation or one programme
    (admins): its seats, then a waiting list."""
    event = await community.create(uow=uow, org=principal.org, data=data)
    return (await _public_events(uow, principal, [event]))[0]


@router.get("/community-events", tags=CommunityTags, response_model=listing(CommunityEventPublic))
async def list_community_events(
    principal: CurrentPrincipal,
    uow: Uow,
    page: Page,
    program_id: Annotated[str | None, Query(max_length=36)] = None,
    kind: CommunityKind | None = None,
    upcoming: bool = True,
) -> Window[CommunityEventPublic]:
    """The organisation's community events, the soonest first (`upcoming=false`: past ones
    too), with their seats taken, waiting list and the caller's registration."""
    found = await community.list_events(
        uow=uow, org=principal.org, page=page, program_id=program_id, kind=kind,
        upcoming=upcoming,
    )  # fmt: skip
    items = await _public_events(uow, principal, found.items)
    return Window(items, found.total, found.next_cursor)


@router.get("/community-events/{event_id}", tags=CommunityTags, response_model=CommunityEventPublic)
async def get_community_event(
    event_id: str, principal: CurrentPrincipal, uow: Uow
) -> CommunityEventPublic:
    """One community event, its seats and the caller's registration."""
    event = await community.get_event(uow, principal.org, event_id)
    return (await _public_events(uow, principal, [event]))[0]


async def _registrations(
    uow: UnitOfWork, regs: list[CommunityRegistration]
) -> list[RegistrationPublic]:
    """Registrations of one event, with their places on its waiting list (read once)."""
    positions = await community.waiting_positions(uow, regs[0].event_id) if regs else {}
    return [
        RegistrationPublic.model_validate(reg, from_attributes=True).model_copy(
            update={"position": positions.get(reg.employee_id)}
        )
        for reg in regs
    ]


async def _registration(uow: UnitOfWork, reg: CommunityRegistration) -> RegistrationPublic:
    return (await _registrations(uow, [reg]))[0]


@router.post(
    "/community-events/{event_id}/register", tags=CommunityTags, response_model=RegistrationPublic
)
async def register_for_community_event(
    event_id: str, principal: CurrentPrincipal, uow: Uow
) -> RegistrationPublic:
    """Take a seat, or a place on the waiting list when it is full (`position`: 1 is next)."""
    reg = await community.register(uow=uow, principal=principal, event_id=event_id)
    return await _registration(uow, reg)


@router.post(
    "/community-events/{event_id}/withdraw", tags=CommunityTags, response_model=RegistrationPublic
)
async def withdraw_from_community_event(
    event_id: str, principal: CurrentPrincipal, uow: Uow
) -> RegistrationPublic:
    """Give up one's seat (the first waiting gets it) or place on the waiting list."""
    reg = await community.withdraw(uow=uow, principal=principal, event_id=event_id)
    return await _registration(uow, reg)


@router.post(
    "/community-events/{event_id}/cancel", tags=CommunityTags, response_model=CommunityEventPublic
)
async def cancel_community_event(
    event_id: str, principal: CurrentPrincipal, uow: Uow
) -> CommunityEventPublic:
    """Cancel it (admins): every registration cancelled, each person told by an event."""
    event = await community.cancel(uow=uow, org=principal.org, event_id=event_id)
    return (await _public_events(uow, principal, [event]))[0]


@router.post(
    "/community-events/{event_id}/attendance",
    tags=CommunityTags,
    response_model=CommunityEventPublic,
)
async def record_community_attendance(
    event_id: str, data: AttendanceIn, principal: CurrentPrincipal, uow: Uow
) -> CommunityEventPublic:
    """Once it has started (admins): who came, of those with a seat; the others are absent."""
    event = await community.attendance(uow=uow, org=principal.org, event_id=event_id, data=data)
    return (await _public_events(uow, principal, [event]))[0]


@router.post(
    "/community-events/{event_id}/feedback", tags=CommunityTags, response_model=RegistrationPublic
)
async def give_community_feedback(
    event_id: str, data: CommunityFeedbackIn, principal: CurrentPrincipal, uow: Uow
) -> RegistrationPublic:
    """An attendee's rating (1-5) and comment, once; the comment is theirs and admins' only."""
    reg = await community.feedback(uow=uow, principal=principal, event_id=event_id, data=data)
    return await _registration(uow, reg)


@router.get(
    "/community-events/{event_id}/registrations",
    tags=CommunityTags,
    response_model=listing(RegistrationPublic),
)
async def list_community_registrations(
    event_id: str, principal: CurrentPrincipal, uow: Uow, page: Page
) -> Window[RegistrationPublic]:
    """Everyone registered, waiting, withdrawn, present or absent, with their feedback
    (admins)."""
    found = await community.registrations(uow=uow, org=principal.org, event_id=event_id, page=page)
    items = await _registrations(uow, list(found.items))
    return Window(items, found.total, found.next_cursor)
