"""Feedback's reactions to other services' events and to its timers: read models, and the
follow-up of every active relationship (its health, its inactivity deadline)."""

from __future__ import annotations

from services.feedback import usecases
from services.feedback.models import CommunityTraining, ProgramView, SessionView
from shared.contracts import enrollment, matching, sessions
from shared.events import Event, EventData
from shared.timers import Timer
from shared.uow import UnitOfWork


async def on_program_created(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, enrollment.ProgramCreated)
    uow.project(ProgramView, data, id=data.program_id, org=event.org)
    await usecases.program_heard(uow=uow, program_id=data.program_id)


async def on_program_updated(uow: UnitOfWork, event: Event, data: EventData) -> None:
    """New rules; a new engagement policy re-judges the programme's running relationships."""
    assert isinstance(data, enrollment.ProgramUpdated)
    uow.project(ProgramView, data, id=data.program_id, org=event.org)
    if "engagement" in data.changed:
        await usecases.recompute_program(uow=uow, program_id=data.program_id)


async def on_session_event(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, sessions.SessionFacts)
    uow.project(SessionView, data, id=data.session_id, org=event.org, status=data.STATUS)
    await usecases.session_signal(uow=uow, match_id=data.match_id, status=data.STATUS)


async def on_match_activated(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, matching.MatchActivated)
    await usecases.relationship_started(uow=uow, org=event.org, data=data)


async def on_match_ended(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, matching.MatchEnded)
    await usecases.relationship_ended(uow=uow, data=data)


async def on_employee_on_leave(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, enrollment.EmployeeOnLeave)
    await usecases.employee_on_leave(uow=uow, org=event.org, employee_id=data.employee_id)


async def on_employee_returned(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, enrollment.EmployeeReturned)
    await usecases.employee_returned(uow=uow, org=event.org, employee_id=data.employee_id)


async def on_inactivity(uow: UnitOfWork, timer: Timer) -> None:
    await usecases.inactivity_check(uow=uow, match_id=timer.payload["match_id"])


async def on_agreement_signed(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, sessions.AgreementSigned)
    await usecases.rhythm_agreed(uow=uow, match_id=data.match_id, rhythm=data.rhythm)


async def on_community_event(uow: UnitOfWork, event: Event, data: EventData) -> None:
    """A programme's training among the community events: in its catalogue (until
    cancelled)."""
    assert isinstance(data, sessions.CommunityEventScheduled | sessions.CommunityEventCancelled)
    if data.kind is not sessions.CommunityKind.training or data.program_id is None:
        return
    uow.upsert(
        CommunityTraining,
        id=data.event_id,
        org=event.org,
        program_id=data.program_id,
        title=data.title,
        starts_at=data.starts_at,
        cancelled=isinstance(data, sessions.CommunityEventCancelled),
    )


async def on_community_attendance(uow: UnitOfWork, event: Event, data: EventData) -> None:
    """Attending a training a case assigned completes it."""
    assert isinstance(data, sessions.CommunityAttendanceRecorded)
    if data.kind is sessions.CommunityKind.training:
        await usecases.training_attended(uow=uow, event_id=data.event_id, attended=data.attended)


HANDLERS = {
    enrollment.ProgramCreated.TYPE: on_program_created,
    enrollment.ProgramUpdated.TYPE: on_program_updated,
    enrollment.EmployeeOnLeave.TYPE: on_employee_on_leave,
    enrollment.EmployeeReturned.TYPE: on_employee_returned,
    matching.MatchActivated.TYPE: on_match_activated,
    matching.MatchEnded.TYPE: on_match_ended,
    sessions.SessionScheduled.TYPE: on_session_event,
    sessions.SessionRescheduled.TYPE: on_session_event,
    sessions.SessionCompleted.TYPE: on_session_event,
    sessions.SessionCancelled.TYPE: on_session_event,
    sessions.SessionUnconfirmed.TYPE: on_session_event,
    sessions.SessionNoShow.TYPE: on_session_event,
    sessions.AgreementSigned.TYPE: on_agreement_signed,
    sessions.CommunityEventScheduled.TYPE: on_community_event,
    sessions.CommunityEventCancelled.TYPE: on_community_event,
    sessions.CommunityAttendanceRecorded.TYPE: on_community_attendance,
}


async def on_pulse(uow: UnitOfWork, timer: Timer) -> None:
    await usecases.pulse_due(uow=uow, match_id=timer.payload["match_id"])


async def on_survey_expiry(uow: UnitOfWork, timer: Timer) -> None:
    await usecases.survey_expired(uow=uow, survey_id=timer.payload["survey_id"])


async def on_case_grace(uow: UnitOfWork, timer: Timer) -> None:
    await usecases.grace_over(uow=uow, case_id=timer.payload["case_id"])


TIMERS = {
    usecases.CASE_GRACE: on_case_grace,
    usecases.INACTIVITY: on_inactivity,
    usecases.PULSE: on_pulse,
    usecases.SURVEY_EXPIRY: on_survey_expiry,
}
