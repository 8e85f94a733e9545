"""Feedback's reactions to enrollment's and sessions' events (read models only)."""

from __future__ import annotations

from services.feedback.models import ProgramView, SessionView
from shared.contracts import enrollment, sessions
from shared.events import Event, EventData
from shared.uow import UnitOfWork


async def on_program_created(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, enrollment.ProgramCreated)
    uow.project(ProgramView, data, id=data.program_id, org=event.org)


async def on_session_event(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, sessions.SessionFacts)
    uow.project(SessionView, data, id=data.session_id, org=event.org, status=data.STATUS)


HANDLERS = {
    enrollment.ProgramCreated.TYPE: on_program_created,
    sessions.SessionScheduled.TYPE: on_session_event,
    sessions.SessionCompleted.TYPE: on_session_event,
    sessions.SessionCancelled.TYPE: on_session_event,
    sessions.SessionUnconfirmed.TYPE: on_session_event,
    sessions.SessionNoShow.TYPE: on_session_event,
}
