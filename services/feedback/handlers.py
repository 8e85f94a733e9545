"""Feedback's reactions to enrollment's and sessions' events (read models only)."""

from __future__ import annotations

from services.feedback.models import ProgramView, SessionView
from shared.contracts import enrollment, sessions
from shared.events import Event, EventData
from shared.uow import UnitOfWork


async def on_program_created(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, enrollment.ProgramCreated)
    rules = data.model_dump(include=set(ProgramView.model_fields))
    uow.upsert(ProgramView, **rules, id=data.program_id, org=event.org)


async def on_session_event(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, sessions.SessionFacts)
    status = data.STATUS
    view = await uow.session.get(SessionView, data.session_id) or SessionView(
        id=data.session_id,
        org=event.org,
        match_id=data.match_id,
        program_id=data.program_id,
        mentor_employee_id=data.mentor_employee_id,
        mentee_employee_id=data.mentee_employee_id,
        status=status,
    )
    view.status = status
    uow.session.add(view)


HANDLERS = {
    enrollment.ProgramCreated.TYPE: on_program_created,
    sessions.SessionScheduled.TYPE: on_session_event,
    sessions.SessionCompleted.TYPE: on_session_event,
    sessions.SessionCancelled.TYPE: on_session_event,
}
