"""Community events (rules: services.sessions.domain.community): admins plan them, employees
register (a seat, or the waiting list: the first waiting gets a seat someone frees), admins
record attendance, attendees give feedback; each change an event."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func
from sqlmodel import col, select

from services.sessions.domain import community as domain
from services.sessions.domain.community import ACTIVE, EventStatus
from services.sessions.models import (
    AttendanceIn,
    CommunityEvent,
    CommunityEventIn,
    CommunityFeedbackIn,
    CommunityRegistration,
    ProgramView,
)
from shared.api import as_utc, new_id
from shared.auth import Principal
from shared.contracts import sessions as ev
from shared.contracts.sessions import CommunityKind, RegistrationStatus
from shared.db import lock_key
from shared.domain import state_of
from shared.errors import NotFound, Unknown
from shared.paging import PageParams, Window, page_of
from shared.uow import UnitOfWork

Counts = tuple[int, int]  # seats taken, waiting


async def create(*, uow: UnitOfWork, org: str, data: CommunityEventIn) -> CommunityEvent:
    if data.program_id is not None:
        program = await uow.session.get(ProgramView, data.program_id)
        if program is None or program.org != org:
            raise Unknown("unknown programme", field="program_id")
    domain.check_new(data.starts_at, now=uow.now())
    event = CommunityEvent(id=new_id(), org=org, created_at=uow.now(), **data.model_dump())
    uow.session.add(event)
    uow.emit(ev.CommunityEventScheduled.model_validate(event, from_attributes=True), org=org)
    await uow.commit()
    return event


async def get_event(
    uow: UnitOfWork, org: str, event_id: str, *, for_update: bool = False
) -> CommunityEvent:
    if for_update:  # registrations of one event take turns (seats, the waiting list)
        await lock_key(uow.session, f"community-event:{event_id}")
    event = await uow.session.get(CommunityEvent, event_id, with_for_update=for_update)
    if event is None or event.org != org:
        raise NotFound("community event not found")
    return event


def _state(event: CommunityEvent) -> domain.CommunityEventState:
    state = state_of(domain.CommunityEventState, event)
    return replace(state, status=EventStatus(state.status), starts_at=as_utc(state.starts_at))


async def counts(uow: UnitOfWork, event_ids: list[str]) -> dict[str, Counts]:
    rows = await uow.session.exec(
        select(CommunityRegistration.event_id, CommunityRegistration.status, func.count())
        .where(col(CommunityRegistration.event_id).in_(event_ids))
        .group_by(col(CommunityRegistration.event_id), col(CommunityRegistration.status))
    )
    found: dict[str, list[int]] = {}
    for event_id, status, n in rows.all():
        slot = found.setdefault(event_id, [0, 0])
        if status == RegistrationStatus.registered:
            slot[0] = n
        elif status == RegistrationStatus.waiting:
            slot[1] = n
    return {e: (c[0], c[1]) for e, c in found.items()}


async def mine(
    uow: UnitOfWork, employee_id: str | None, event_ids: list[str]
) -> dict[str, RegistrationStatus]:
    if not employee_id:
        return {}
    rows = await uow.session.exec(
        select(CommunityRegistration.event_id, CommunityRegistration.status).where(
            CommunityRegistration.employee_id == employee_id,
            col(CommunityRegistration.event_id).in_(event_ids),
        )
    )
    return {e: RegistrationStatus(s) for e, s in rows.all()}


async def list_events(
    *,
    uow: UnitOfWork,
    org: str,
    page: PageParams,
    program_id: str | None,
    kind: CommunityKind | None,
    upcoming: bool,
) -> Window[CommunityEvent]:
    q = select(CommunityEvent).where(CommunityEvent.org == org)
    if program_id:
        q = q.where(CommunityEvent.program_id == program_id)
    if kind:
        q = q.where(CommunityEvent.kind == kind)
    if upcoming:
        q = q.where(CommunityEvent.starts_at >= uow.now())
    return await page_of(
        uow.session, q, page, col(CommunityEvent.starts_at), col(CommunityEvent.id)
    )


async def _registration(
    uow: UnitOfWork, event_id: str, employee_id: str
) -> CommunityRegistration | None:
    return await uow.session.get(CommunityRegistration, (event_id, employee_id))


async def _seats_taken(uow: UnitOfWork, event_id: str) -> int:
    return (await counts(uow, [event_id])).get(event_id, (0, 0))[0]


async def register(
    *, uow: UnitOfWork, principal: Principal, event_id: str
) -> CommunityRegistration:
    """A seat if one is left, else the waiting list."""
    event = await get_event(uow, principal.org, event_id, for_update=True)
    who = principal.employee_id or ""
    reg = await _registration(uow, event.id, who)
    status = domain.register(
        _state(event),
        now=uow.now(),
        seats_taken=await _seats_taken(uow, event.id),
        current=RegistrationStatus(reg.status) if reg else None,
    )
    if reg is None:
        reg = CommunityRegistration(
            event_id=event.id, employee_id=who, org=principal.org, status=status,
            registered_at=uow.now(),
        )  # fmt: skip
    else:  # registering again after withdrawing: the back of the queue
        reg.status, reg.registered_at = status, uow.now()
    uow.session.add(reg)
    uow.emit(_changed(event, who, status), org=principal.org)
    await uow.commit()
    return reg


def _changed(
    event: CommunityEvent, who: str, status: RegistrationStatus, *, promoted: bool = False
) -> ev.CommunityRegistrationChanged:
    return ev.CommunityRegistrationChanged(
        event_id=event.id, program_id=event.program_id, employee_id=who, status=status,
        promoted=promoted,
    )  # fmt: skip


async def withdraw(
    *, uow: UnitOfWork, principal: Principal, event_id: str
) -> CommunityRegistration:
    """Give up a seat (the first waiting gets it) or one's place on the waiting list."""
    event = await get_event(uow, principal.org, event_id, for_update=True)
    who = principal.employee_id or ""
    reg = await _registration(uow, event.id, who)
    current = RegistrationStatus(reg.status) if reg else None
    freed = domain.withdraw(_state(event), now=uow.now(), current=current)
    assert reg is not None
    reg.status = RegistrationStatus.cancelled
    uow.session.add(reg)
    uow.emit(_changed(event, who, RegistrationStatus.cancelled), org=principal.org)
    if freed:
        nxt = (
            await uow.session.exec(
                select(CommunityRegistration)
                .where(
                    CommunityRegistration.event_id == event.id,
                    CommunityRegistration.status == RegistrationStatus.waiting,
                )
                .order_by(
                    col(CommunityRegistration.registered_at), col(CommunityRegistration.employee_id)
                )
                .limit(1)
            )
        ).first()
        if nxt is not None:
            nxt.status = RegistrationStatus.registered
            uow.session.add(nxt)
            uow.emit(
                _changed(event, nxt.employee_id, RegistrationStatus.registered, promoted=True),
                org=principal.org,
            )
    await uow.commit()
    return reg


async def cancel(*, uow: UnitOfWork, org: str, event_id: str) -> CommunityEvent:
    """Cancel the event: everyone registered or waiting is told (their registration
    cancelled, an event each)."""
    event = await get_event(uow, org, event_id, for_update=True)
    event.status = domain.cancel(_state(event), now=uow.now())
    uow.session.add(event)
    uow.emit(ev.CommunityEventCancelled.model_validate(event, from_attributes=True), org=org)
    regs = await uow.session.exec(
        select(CommunityRegistration).where(
            CommunityRegistration.event_id == event.id,
            col(CommunityRegistration.status).in_(list(ACTIVE)),
        )
    )
    for reg in regs.all():
        reg.status = RegistrationStatus.cancelled
        uow.session.add(reg)
        uow.emit(_changed(event, reg.employee_id, RegistrationStatus.cancelled), org=org)
    await uow.commit()
    return event


async def attendance(
    *, uow: UnitOfWork, org: str, event_id: str, data: AttendanceIn
) -> CommunityEvent:
    """Who came, of those with a seat (the others: absent). Recorded again, it replaces."""
    event = await get_event(uow, org, event_id, for_update=True)
    seated = (
        await uow.session.exec(
            select(CommunityRegistration).where(
                CommunityRegistration.event_id == event.id,
                col(CommunityRegistration.status).in_(
                    [
                        RegistrationStatus.registered,
                        RegistrationStatus.attended,
                        RegistrationStatus.absent,
                    ]
                ),
            )
        )
    ).all()
    came, absent = domain.record_attendance(
        _state(event),
        now=uow.now(),
        registered={r.employee_id for r in seated},
        attended=set(data.attended),
    )
    for reg in seated:
        reg.status = (
            RegistrationStatus.attended if reg.employee_id in came else RegistrationStatus.absent
        )
        uow.session.add(reg)
    event.status = EventStatus.held
    uow.session.add(event)
    uow.emit(
        ev.CommunityAttendanceRecorded(
            event_id=event.id, program_id=event.program_id, kind=event.kind, attended=came,
            absent=absent,
        ),
        org=org,
    )  # fmt: skip
    await uow.commit()
    return event


async def feedback(
    *, uow: UnitOfWork, principal: Principal, event_id: str, data: CommunityFeedbackIn
) -> CommunityRegistration:
    event = await get_event(uow, principal.org, event_id)
    reg = await _registration(uow, event.id, principal.employee_id or "")
    domain.check_feedback(
        RegistrationStatus(reg.status) if reg else None,
        already=reg is not None and reg.rating is not None,
    )
    assert reg is not None
    reg.rating, reg.comment = data.rating, data.comment
    uow.session.add(reg)
    await uow.commit()
    return reg


async def registrations(
    *, uow: UnitOfWork, org: str, event_id: str, page: PageParams
) -> Window[CommunityRegistration]:
    """Everyone registered, waiting, withdrawn, present or absent, in registration order."""
    event = await get_event(uow, org, event_id)
    q = select(CommunityRegistration).where(CommunityRegistration.event_id == event.id)
    return await page_of(
        uow.session,
        q,
        page,
        col(CommunityRegistration.registered_at),
        col(CommunityRegistration.employee_id),
    )


async def waiting_positions(uow: UnitOfWork, event_id: str) -> dict[str, int]:
    rows = await uow.session.exec(
        select(CommunityRegistration.employee_id)
        .where(
            CommunityRegistration.event_id == event_id,
            CommunityRegistration.status == RegistrationStatus.waiting,
        )
        .order_by(col(CommunityRegistration.registered_at), col(CommunityRegistration.employee_id))
    )
    return {who: i for i, who in enumerate(rows.all(), 1)}


async def attending(uow: UnitOfWork, org: str, employee_id: str) -> list[CommunityEvent]:
    """The events the employee has a seat at (or attended): their calendar's."""
    rows = await uow.session.exec(
        select(CommunityEvent)
        .join(
            CommunityRegistration,
            col(CommunityRegistration.event_id) == col(CommunityEvent.id),
        )
        .where(
            CommunityEvent.org == org,
            CommunityRegistration.employee_id == employee_id,
            col(CommunityRegistration.status).in_(
                [RegistrationStatus.registered, RegistrationStatus.attended]
            ),
        )
    )
    return list(rows.all())
