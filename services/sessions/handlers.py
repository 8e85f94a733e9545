"""Sessions' reactions to matching's events."""

from __future__ import annotations

from services.sessions import usecases
from services.sessions.models import MatchView
from shared.contracts import matching
from shared.events import Event, EventData
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


HANDLERS = {
    matching.MatchActivated.TYPE: on_match_activated,
    matching.MatchEnded.TYPE: on_match_ended,
}
