"""Sessions' reactions to other services' events and to its timers."""

from __future__ import annotations

from services.sessions import usecases
from services.sessions.models import MatchView, ProgramView
from services.sessions.usecases import journey
from shared.contracts import enrollment, feedback, matching
from shared.contracts.feedback import CaseAction
from shared.events import Event, EventData
from shared.timers import Timer
from shared.uow import UnitOfWork


async def on_match_activated(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, matching.MatchActivated)
    uow.project(MatchView, data, id=data.match_id, org=event.org, active=True)


async def on_match_ended(uow: UnitOfWork, event: Event, data: EventData) -> None:
    """The match is over: no new sessions, and its planned future sessions are cancelled."""
    assert isinstance(data, matching.MatchEnded)
    view = await uow.session.get(MatchView, data.match_id)
    if view is not None:
        view.active = False
        uow.session.add(view)
    await usecases.cancel_for_ended_match(uow=uow, match_id=data.match_id, ended_at=event.time)


async def on_program_created(uow: UnitOfWork, event: Event, data: EventData) -> None:
    """The programme's engagement policy: when its sessions become unconfirmed."""
    assert isinstance(data, enrollment.ProgramCreated | enrollment.ProgramUpdated)
    uow.project(ProgramView, data, id=data.program_id, org=event.org)


async def on_case_action(uow: UnitOfWork, event: Event, data: EventData) -> None:
    """A corrective case's mediation is a session to plan (its other actions are not ours)."""
    assert isinstance(data, feedback.CaseActionTaken)
    if data.action is CaseAction.mediation:
        await usecases.plan_mediation(uow=uow, data=data)


async def on_confirmation_due(uow: UnitOfWork, timer: Timer) -> None:
    await usecases.confirmation_due(uow=uow, session_id=timer.payload["session_id"])


HANDLERS = {
    enrollment.ProgramCreated.TYPE: on_program_created,
    enrollment.ProgramUpdated.TYPE: on_program_created,
    matching.MatchActivated.TYPE: on_match_activated,
    matching.MatchEnded.TYPE: on_match_ended,
    feedback.CaseActionTaken.TYPE: on_case_action,
}


async def on_milestone_due(uow: UnitOfWork, timer: Timer) -> None:
    await journey.milestone_due(uow=uow, **timer.payload)


TIMERS = {
    usecases.CONFIRMATION_DUE: on_confirmation_due,
    journey.MILESTONE_DUE: on_milestone_due,
}
