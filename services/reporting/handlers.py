"""Reporting's projections: every event it hears updates one read-model row (`uow.project`
takes the view's columns the event carries, by name)."""

from __future__ import annotations

from services.reporting.models import (
    CaseView,
    MatchView,
    ParticipantView,
    ProgramView,
    RatingView,
    SessionView,
    SkillView,
)
from shared.contracts import enrollment, feedback, matching, sessions
from shared.events import Event, EventData
from shared.uow import UnitOfWork


async def on_program_created(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, enrollment.ProgramCreated | enrollment.ProgramUpdated)
    uow.project(ProgramView, d, id=d.program_id, org=event.org)


async def on_participant(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, enrollment.ParticipantEnrolled | enrollment.ParticipantWithdrawn)
    active = isinstance(d, enrollment.ParticipantEnrolled)
    uow.project(ParticipantView, d, id=d.participant_id, active=active)


async def on_match(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, matching.MatchFacts)
    values: dict[str, object] = {
        "id": d.match_id,
        "program_id": d.program_id,
        "status": d.STATUS,
    }
    if isinstance(d, matching.MatchProposed):
        values["replaces_match_id"] = d.replaces_match_id
    if isinstance(d, matching.MatchEnded | matching.MatchDeclined):
        values["end_reason"] = d.reason
    uow.upsert(MatchView, **values)


async def on_session(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, sessions.SessionFacts)
    uow.project(SessionView, d, id=d.session_id, status=d.STATUS)


async def on_skill_assessed(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, sessions.SkillAssessed)
    uow.project(SkillView, d)


async def on_feedback(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, feedback.FeedbackSubmitted)
    uow.project(RatingView, d)


async def on_case(uow: UnitOfWork, event: Event, d: EventData) -> None:
    assert isinstance(d, feedback.CaseOpened | feedback.CaseClosed)
    uow.project(CaseView, d)


HANDLERS = {
    enrollment.ProgramCreated.TYPE: on_program_created,
    enrollment.ProgramUpdated.TYPE: on_program_created,
    enrollment.ParticipantEnrolled.TYPE: on_participant,
    enrollment.ParticipantWithdrawn.TYPE: on_participant,
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
}
