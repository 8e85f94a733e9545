"""Reporting's projections: every event it hears updates one read-model row (`uow.project`
takes the view's columns the event carries, by name)."""

from __future__ import annotations

from sqlmodel import col, select

from services.reporting.models import (
    CaseView,
    CommunityAttendanceView,
    EmployeeView,
    ErasureView,
    GoalView,
    HealthView,
    MatchView,
    ParticipantView,
    ProgramView,
    RatingView,
    SessionView,
    SkillView,
    SurveyView,
)
from shared.contracts import enrollment, feedback, matching, sessions
from shared.contracts.matching import MatchStatus
from shared.events import Event, EventData
from shared.uow import UnitOfWork


async def on_program_created(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, enrollment.ProgramCreated | enrollment.ProgramUpdated)
    uow.project(
        ProgramView,
        d,
        id=d.program_id,
        org=event.org,
        cadence_s=d.engagement.cadence.total_seconds(),
    )


_PARTICIPANT_EVENTS = (
    enrollment.ParticipantPending,
    enrollment.ParticipantEnrolled,
    enrollment.ParticipantUpdated,
    enrollment.ParticipantWithdrawn,
    enrollment.ParticipantRejected,
)


async def on_participant(uow: UnitOfWork, event: Event, d: EventData) -> None:
    """A participant's lifecycle: pending -> active (enrolled) -> withdrawn, or rejected; the
    profile's department as last heard (the KPIs' department filter)."""
    assert isinstance(d, _PARTICIPANT_EVENTS)
    values: dict[str, object] = {"id": d.participant_id}
    if isinstance(d, enrollment.ParticipantPending):
        values |= {"status": "pending", "active": False, "requested_at": event.time}
    elif isinstance(d, enrollment.ParticipantEnrolled):
        values |= {"status": "active", "active": True, "enrolled_at": event.time}
    elif isinstance(d, enrollment.ParticipantWithdrawn):
        values |= {
            "status": "withdrawn",
            "active": False,
            "waiting": False,
            "withdrawn_at": event.time,
            "withdrawn_reason": d.reason,
        }
    elif isinstance(d, enrollment.ParticipantRejected):
        values |= {"status": "rejected", "active": False}
    uow.project(ParticipantView, d, **values)


async def on_mentee_waiting(uow: UnitOfWork, event: Event, d: EventData) -> None:
    """On the waiting list, unless a mentor was proposed to them since: the proposal's event
    travels in another partition (keyed by its match) and may be applied first."""
    assert isinstance(d, matching.MenteeWaiting)
    since = await uow.session.exec(
        select(MatchView.id).where(
            MatchView.mentee_participant_id == d.participant_id,
            col(MatchView.proposed_at) >= event.time,
            col(MatchView.status).in_([MatchStatus.proposed, MatchStatus.active]),
        )
    )
    if since.first() is not None:
        return
    uow.upsert(
        ParticipantView, id=d.participant_id, program_id=d.program_id, role="mentee", waiting=True
    )


_STAMP = {
    matching.MatchProposed: "proposed_at",
    matching.MatchActivated: "activated_at",
    matching.MatchDeclined: "declined_at",
    matching.MatchEnded: "ended_at",
}


async def on_match(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, matching.MatchFacts)
    values: dict[str, object] = {"id": d.match_id, "status": d.STATUS, _STAMP[type(d)]: event.time}
    if isinstance(d, matching.MatchProposed):
        # Proposed a mentor: off the waiting list.
        uow.upsert(
            ParticipantView,
            id=d.mentee_participant_id,
            program_id=d.program_id,
            role="mentee",
            waiting=False,
        )
    if isinstance(d, matching.MatchEnded | matching.MatchDeclined):
        values["end_reason"] = d.reason
    uow.project(MatchView, d, **values)


async def on_session(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, sessions.SessionFacts)
    uow.project(SessionView, d, id=d.session_id, status=d.STATUS)


async def on_skill_assessed(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, sessions.SkillAssessed)
    uow.project(SkillView, d)


async def on_feedback(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, feedback.FeedbackSubmitted)
    uow.project(RatingView, d, rated_at=event.time)


async def on_case(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, feedback.CaseOpened | feedback.CaseClosed)
    stamp = "opened_at" if isinstance(d, feedback.CaseOpened) else "closed_at"
    uow.project(CaseView, d, **{stamp: event.time})


async def on_employee(uow: UnitOfWork, event: Event, d: EventData) -> None:
    """Hired (again: no longer terminated), updated, or terminated."""
    assert isinstance(d, enrollment.EmployeeSnapshot | enrollment.EmployeeTerminated)
    values: dict[str, object] = {"org": event.org, "employee_id": d.employee_id}
    if isinstance(d, enrollment.EmployeeHired):
        values |= {
            "name": d.name,
            "department": d.department,
            "hired_at": event.time,
            "terminated_at": None,
        }
    elif isinstance(d, enrollment.EmployeeUpdated):
        values |= {"name": d.name, "department": d.department}
    else:
        values["terminated_at"] = event.time
    uow.upsert(EmployeeView, **values)


async def on_health(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, feedback.RelationshipHealthChanged)
    signals = [r.signal.value for r in d.reasons]
    uow.project(HealthView, d, signals=signals, changed_at=event.time)


async def on_survey(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, feedback.SurveyDue | feedback.SurveyAnswered | feedback.SurveyExpired)
    stamp = {
        feedback.SurveyDue: "due_at",
        feedback.SurveyAnswered: "answered_at",
        feedback.SurveyExpired: "expired_at",
    }[type(d)]
    uow.project(SurveyView, d, **{stamp: event.time})


async def on_agreement(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, sessions.AgreementSigned)
    for goal in d.goals:  # a new version keeps the progress of the goals it keeps
        uow.upsert(GoalView, match_id=d.match_id, goal_id=str(goal["id"]), program_id=d.program_id)


async def on_goal(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, sessions.GoalProgressed)
    values: dict[str, object] = {"progress": d.progress}
    if d.progress >= 100:
        values["reached_at"] = event.time
    uow.project(GoalView, d, **values)


async def on_community_attendance(uow: UnitOfWork, event: Event, d: EventData) -> None:
    """Who came to a community event (recorded again, it replaces)."""
    assert isinstance(d, sessions.CommunityAttendanceRecorded)
    for people, came in ((d.attended, True), (d.absent, False)):
        for employee_id in people:
            uow.upsert(
                CommunityAttendanceView,
                event_id=d.event_id,
                employee_id=employee_id,
                org=event.org,
                program_id=d.program_id,
                kind=d.kind.value,
                attended=came,
                held_at=event.time,
            )


async def on_erasure(uow: UnitOfWork, event: Event, d: EventData) -> None:
    """An erasure requested (its pseudonym, never the employee's id) or confirmed by one
    service; complete once every service holding personal data has confirmed."""
    assert isinstance(d, enrollment.EmployeeErased | enrollment.ErasureConfirmed)
    view = await uow.session.get(ErasureView, d.erasure_id)
    if view is None:
        view = ErasureView(erasure_id=d.erasure_id, org=event.org)
    if isinstance(d, enrollment.EmployeeErased):
        view.pseudonym, view.requested_at = d.pseudonym, event.time
    else:
        view.confirmed = {**view.confirmed, d.service: d.records}
        if set(view.confirmed) >= set(enrollment.ERASURE_CONFIRMERS):
            view.completed_at = view.completed_at or event.time
    uow.session.add(view)


HANDLERS = {
    enrollment.EmployeeErased.TYPE: on_erasure,
    **{
        enrollment.erasure_confirmed(service): on_erasure
        for service in enrollment.ERASURE_CONFIRMERS
    },
    enrollment.ProgramCreated.TYPE: on_program_created,
    enrollment.ProgramUpdated.TYPE: on_program_created,
    enrollment.ParticipantPending.TYPE: on_participant,
    enrollment.ParticipantEnrolled.TYPE: on_participant,
    enrollment.ParticipantUpdated.TYPE: on_participant,
    enrollment.ParticipantWithdrawn.TYPE: on_participant,
    enrollment.ParticipantRejected.TYPE: on_participant,
    matching.MenteeWaiting.TYPE: on_mentee_waiting,
    matching.MatchProposed.TYPE: on_match,
    matching.MatchActivated.TYPE: on_match,
    matching.MatchDeclined.TYPE: on_match,
    matching.MatchEnded.TYPE: on_match,
    sessions.SessionScheduled.TYPE: on_session,
    sessions.SessionRescheduled.TYPE: on_session,
    sessions.SessionCompleted.TYPE: on_session,
    sessions.SessionCancelled.TYPE: on_session,
    sessions.SessionUnconfirmed.TYPE: on_session,
    sessions.SessionNoShow.TYPE: on_session,
    sessions.SkillAssessed.TYPE: on_skill_assessed,
    feedback.FeedbackSubmitted.TYPE: on_feedback,
    feedback.CaseOpened.TYPE: on_case,
    feedback.CaseClosed.TYPE: on_case,
    enrollment.EmployeeHired.TYPE: on_employee,
    enrollment.EmployeeUpdated.TYPE: on_employee,
    enrollment.EmployeeTerminated.TYPE: on_employee,
    feedback.RelationshipHealthChanged.TYPE: on_health,
    feedback.SurveyDue.TYPE: on_survey,
    feedback.SurveyAnswered.TYPE: on_survey,
    feedback.SurveyExpired.TYPE: on_survey,
    sessions.AgreementSigned.TYPE: on_agreement,
    sessions.GoalProgressed.TYPE: on_goal,
    sessions.CommunityAttendanceRecorded.TYPE: on_community_attendance,
}
