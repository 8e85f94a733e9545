"""Matching's reactions to other services' events (thin: they call the use cases)."""

from __future__ import annotations

from sqlmodel import select

from services.matching import usecases
from services.matching.domain import OPEN
from services.matching.models import Match, ParticipantView, ProgramView
from services.matching.usecases import requests
from shared.contracts import enrollment, feedback
from shared.contracts.enrollment import ParticipantRole
from shared.contracts.feedback import CaseAction
from shared.contracts.matching import EndReason, WithdrawnBecause
from shared.events import Event, EventData
from shared.timers import Timer
from shared.uow import UnitOfWork


async def on_program_created(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, enrollment.ProgramCreated | enrollment.ProgramUpdated)
    # Matching's view of the programme: the contract's rules it applies, by name.
    uow.project(ProgramView, data, id=data.program_id, org=event.org)


async def on_program_status(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, enrollment.ProgramStatusChanged)
    program = await uow.session.get(ProgramView, data.program_id)
    if program is None:
        return
    program.status = data.status
    uow.session.add(program)
    if data.status is enrollment.ProgramStatus.closed:
        await usecases.close_program(uow=uow, program_id=data.program_id)
        await requests.withdraw_open(
            uow=uow, program_id=data.program_id, because=WithdrawnBecause.programme_closed
        )


async def on_participant_profile(uow: UnitOfWork, event: Event, data: EventData) -> None:
    """Enrolled or updated: matching's copy of the profile becomes the event's (an upsert, so
    a redelivered event changes nothing). A mentor's may bring room for the waiting list."""
    assert isinstance(data, enrollment.ParticipantProfile)
    uow.project(ParticipantView, data, id=data.participant_id, org=event.org)
    usecases.roster_changed(uow=uow, program_id=data.program_id, by=event.id)
    if data.role == ParticipantRole.mentor:
        usecases.room_may_have_appeared(uow=uow, org=event.org, program_id=data.program_id)


async def on_participant_updated(uow: UnitOfWork, event: Event, data: EventData) -> None:
    """A profile changed in the HRIS: take it, and end any open match it put inside a
    reporting line (its mentee is re-matched)."""
    assert isinstance(data, enrollment.ParticipantUpdated)
    await on_participant_profile(uow, event, data)
    await uow.session.flush()
    await usecases.separate_reporting_lines(uow=uow, participant_id=data.participant_id)


async def on_participant_withdrawn(uow: UnitOfWork, event: Event, data: EventData) -> None:
    """A participant left: end their open matches; a departed mentor's mentees get new ones."""
    assert isinstance(data, enrollment.ParticipantWithdrawn)
    candidate = await uow.session.get(ParticipantView, data.participant_id)
    if candidate is None:
        return
    candidate.active = False
    uow.session.add(candidate)
    usecases.roster_changed(uow=uow, program_id=candidate.program_id, by=event.id)
    await requests.withdraw_open(
        uow=uow, participant_id=data.participant_id, because=WithdrawnBecause.participant_left
    )
    column = Match.mentor_participant_id if data.role == "mentor" else Match.mentee_participant_id
    rows = await uow.session.exec(select(Match).where(column == data.participant_id))
    # Whatever their reason (it stays enrollment's), their matches end because they left.
    reason = EndReason.participant_left
    open_matches = [m for m in rows.all() if m.status in OPEN]
    if data.role == "mentor":
        await usecases.end_and_rematch(
            uow=uow, match_ids=[m.id for m in open_matches], reason=reason
        )
    else:
        for match in open_matches:
            usecases.close_match(uow=uow, match=match, reason=reason)
        await usecases.leave_waiting(uow=uow, participant_id=data.participant_id)
        if open_matches:  # their mentors have room again
            usecases.room_may_have_appeared(uow=uow, org=event.org, program_id=data.program_id)


async def on_case_action(uow: UnitOfWork, event: Event, data: EventData) -> None:
    """A corrective case re-pairs or concludes a relationship (its other actions are not
    matching's)."""
    assert isinstance(data, feedback.CaseActionTaken)
    if data.action is CaseAction.repair:
        await usecases.repair(uow=uow, match_id=data.match_id, reason=data.end_reason)
    elif data.action is CaseAction.conclude:
        await usecases.conclude(uow=uow, match_id=data.match_id, reason=data.end_reason)


HANDLERS = {
    enrollment.ProgramCreated.TYPE: on_program_created,
    enrollment.ProgramUpdated.TYPE: on_program_created,
    enrollment.ProgramStatusChanged.TYPE: on_program_status,
    enrollment.ParticipantEnrolled.TYPE: on_participant_profile,
    enrollment.ParticipantUpdated.TYPE: on_participant_updated,
    enrollment.ParticipantWithdrawn.TYPE: on_participant_withdrawn,
    feedback.CaseActionTaken.TYPE: on_case_action,
}


async def on_serve_waiting(uow: UnitOfWork, timer: Timer) -> None:
    await usecases.serve_waiting(uow=uow, program_id=timer.payload["program_id"])


async def on_planned_end(uow: UnitOfWork, timer: Timer) -> None:
    await usecases.reach_planned_end(uow=uow, match_id=timer.payload["match_id"])


async def on_request_expiry(uow: UnitOfWork, timer: Timer) -> None:
    await requests.expire(uow=uow, request_id=timer.payload["request_id"], now=uow.now())


TIMERS = {
    usecases.SERVE_WAITING: on_serve_waiting,
    usecases.PLANNED_END: on_planned_end,
    requests.EXPIRE: on_request_expiry,
}
