"""Self-service requests' use cases: a mentee asks a mentor, who accepts or declines; an
unanswered request expires on a durable timer; declined or expired, it passes to the mentee's
next choice. Rules: services.matching.domain.requests.

A mentor's places are counted under their participant row's lock (PostgreSQL `FOR UPDATE`;
SQLite transactions are serial already), so parallel requests never hold more places than the
mentor has; the mentee's row is locked first, so their cap holds the same way.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlmodel import col, select

from services.matching import domain
from services.matching.cohort import MentorPool
from services.matching.domain import requests as rules
from services.matching.models import Match, MentorRequest, ParticipantView, ProgramView
from services.matching.usecases import (
    _apply,
    _held_by_requests,
    _match_states,
    _person,
    _propose,
    _rules,
    _state,
    arm_planned_end,
    leave_waiting,
)
from shared.access import get_visible, scoped
from shared.api import new_id
from shared.auth import Principal
from shared.contracts import matching as ev
from shared.contracts.matching import RequestStatus, WithdrawnBecause
from shared.domain import Transition, state_of, store
from shared.errors import Invalid, NotFound
from shared.paging import PageParams, Window, page_of
from shared.uow import UnitOfWork

EXPIRE = "matching.request_expiry"  # the timer kind


def _expiry_key(request_id: str) -> str:
    return f"request-expiry:{request_id}"


def _rstate(r: MentorRequest) -> rules.RequestState:
    return state_of(rules.RequestState, r)


def _store(uow: UnitOfWork, row: MentorRequest, change: Transition[rules.RequestState]) -> None:
    store(row, change.state)
    if change.events:
        row.decided_at = uow.now()
        uow.cancel_timer(_expiry_key(row.id))
    uow.session.add(row)
    for event in change.events:
        uow.emit(event, org=row.org)


async def _participant(uow: UnitOfWork, participant_id: str, *, lock: bool) -> ParticipantView:
    found = await uow.session.get(ParticipantView, participant_id, with_for_update=lock)
    if found is None:
        raise NotFound("participant not found")
    return found


async def _asking(
    uow: UnitOfWork, *, program: ProgramView, mentee: ParticipantView, mentor: ParticipantView
) -> tuple[rules.Asking, float]:
    """What decides whether `mentee` may ask `mentor` now, read under the two rows' locks, and
    the pair's score."""
    states = await _match_states(uow, Match.program_id == program.id)
    asked = await uow.session.exec(
        select(MentorRequest).where(MentorRequest.mentee_participant_id == mentee.id)
    )
    mine = list(asked.all())
    history = domain.mentor_history(states, mentee.id) | {r.mentor_participant_id for r in mine}
    held = domain.mentor_loads(states).get(mentor.id, 0)
    held += (await _held_by_requests(uow, program.id, mentor_ids=[mentor.id])).get(mentor.id, 0)
    places = mentor.capacity - held
    found: list[domain.Suggestion] = []
    if places > 0 and mentor.active and mentor.id not in history:
        found = await asyncio.to_thread(
            domain.suggestions,
            mentee=_person(mentee),
            pool=MentorPool([_person(mentor)]),
            loads={mentor.id: held},
            excluded_mentors=set(),
            rules=_rules(program),
            limit=1,
        )
    asking = rules.Asking(
        policy=program.requests,
        open_requests=sum(r.status == RequestStatus.open for r in mine),
        has_mentor=any(
            s.mentee_participant_id == mentee.id and s.status in domain.OPEN for s in states
        ),
        asked_before=mentor.id in history,
        allowed=bool(found) or places <= 0,  # with no place, the rules are not what refuses
        places=places,
    )
    return asking, (found[0].score if found else 0.0)


async def send(
    *,
    uow: UnitOfWork,
    principal: Principal,
    mentee_participant_id: str,
    mentor_participant_id: str,
    next_choices: list[str],
    message: str | None,
) -> MentorRequest:
    """A mentee (or an admin for them) asks a mentor; 409 or 422 say why not."""
    mentee = await _participant(uow, mentee_participant_id, lock=True)
    if mentee.org != principal.org or not (
        principal.is_admin or principal.employee_id == mentee.employee_id
    ):
        raise NotFound("participant not found")
    if mentee.role != "mentee" or not mentee.active:
        raise Invalid("requests are made by an active mentee", field="mentee_participant_id")
    program = await uow.session.get(ProgramView, mentee.program_id)
    if program is None:
        raise NotFound("program not found")
    domain.check_matchable(program.status)
    choices = [mentor_participant_id, *next_choices]
    if len(set(choices)) != len(choices):
        raise Invalid("each mentor appears once among the choices", field="next_choices")
    for k, mentor_id in enumerate(choices):
        other = await uow.session.get(ParticipantView, mentor_id)
        if other is None or other.program_id != program.id or other.role != "mentor":
            where = "mentor_participant_id" if k == 0 else f"next_choices.{k - 1}"
            raise Invalid("not a mentor of this programme", field=where)
    request = await _ask(
        uow, program=program, mentee=mentee, choices=choices, message=message, chain=None
    )
    assert request is not None  # asked by the mentee, _ask asks the first choice or raises
    await uow.commit()
    return request


async def _ask(
    uow: UnitOfWork,
    *,
    program: ProgramView,
    mentee: ParticipantView,
    choices: list[str],
    message: str | None,
    chain: MentorRequest | None,
) -> MentorRequest | None:
    """Ask the first of `choices` that may be asked: the first one or an error when the mentee
    asks (`chain` None); by cascade from `chain`, the next possible one or None."""
    for k, mentor_id in enumerate(choices):
        mentor = await _participant(uow, mentor_id, lock=True)
        asking, score = await _asking(uow, program=program, mentee=mentee, mentor=mentor)
        if chain is None:
            rules.check_asking(asking)
        elif rules.refusal(asking) is not None:
            continue
        now = uow.now()
        row = MentorRequest(
            id=new_id(),
            org=mentee.org,
            program_id=program.id,
            chain_id=chain.chain_id if chain else "",
            mentee_participant_id=mentee.id,
            mentee_employee_id=mentee.employee_id,
            mentor_participant_id=mentor.id,
            mentor_employee_id=mentor.employee_id,
            message=message,
            choices=choices[k + 1 :],
            score=score,
            expires_at=now + program.requests.expires_after,
            cascaded_from=chain.id if chain else None,
            created_at=now,
        )
        row.chain_id = row.chain_id or row.id
        uow.session.add(row)
        state = _rstate(row)
        uow.emit(rules.sent(state, message=message, cascaded_from=row.cascaded_from), org=row.org)
        uow.schedule(
            _expiry_key(row.id),
            kind=EXPIRE,
            due_at=row.expires_at,
            org=row.org,
            payload={"request_id": row.id},
        )
        await uow.session.flush()  # counted by the next request in this transaction
        return row
    return None


async def get(
    *, uow: UnitOfWork, principal: Principal, request_id: str, for_update: bool = False
) -> MentorRequest:
    return await get_visible(
        uow.session,
        MentorRequest,
        request_id,
        principal,
        owners=lambda r: [r.mentee_employee_id, r.mentor_employee_id],
        what="request",
        for_update=for_update,
    )


async def listing(
    *,
    uow: UnitOfWork,
    principal: Principal,
    page: PageParams,
    program_id: str | None,
    status: RequestStatus | None,
) -> Window[MentorRequest]:
    q = scoped(
        select(MentorRequest),
        MentorRequest,
        principal,
        MentorRequest.mentee_employee_id,
        MentorRequest.mentor_employee_id,
    )
    if program_id:
        q = q.where(MentorRequest.program_id == program_id)
    if status:
        q = q.where(MentorRequest.status == status)
    return await page_of(uow.session, q, page, col(MentorRequest.created_at), col(MentorRequest.id))


async def accept(*, uow: UnitOfWork, principal: Principal, request_id: str) -> MentorRequest:
    """The mentor accepts: a match, active at once (both asked for it); the mentee's other open
    requests are withdrawn and their mentors told."""
    row = await get(uow=uow, principal=principal, request_id=request_id, for_update=True)
    state = _rstate(row)
    rules.ensure_mentor_or_admin(
        state, is_admin=principal.is_admin, employee_id=principal.employee_id
    )
    program = await uow.session.get(ProgramView, row.program_id)
    assert program is not None
    domain.check_matchable(program.status)
    match = _propose(
        uow=uow,
        org=row.org,
        program_id=row.program_id,
        mentee=(row.mentee_participant_id, row.mentee_employee_id),
        mentor=(row.mentor_participant_id, row.mentor_employee_id),
        score=row.score,
        explanation=None,
        run_id=None,
        replaces=None,
    )
    for side in ("mentee", "mentor"):
        _apply(uow, match, domain.accept(_state(match), side=side))  # type: ignore[arg-type]
    await arm_planned_end(uow=uow, match=match)
    row.match_id = match.id
    _store(uow, row, rules.accept(state, match_id=match.id))
    await withdraw_open(
        uow=uow, mentee_participant_id=row.mentee_participant_id, because=WithdrawnBecause.matched
    )
    await leave_waiting(uow=uow, participant_id=row.mentee_participant_id)
    await uow.commit()
    return row


async def decline(
    *,
    uow: UnitOfWork,
    principal: Principal,
    request_id: str,
    reason: ev.DeclineReason,
    note: str | None,
) -> MentorRequest:
    row = await get(uow=uow, principal=principal, request_id=request_id, for_update=True)
    state = _rstate(row)
    rules.ensure_mentor_or_admin(
        state, is_admin=principal.is_admin, employee_id=principal.employee_id
    )
    row.decline_reason, row.decline_note = reason, note
    _store(uow, row, rules.decline(state, reason=reason, note=note))
    await _cascade(uow, row)
    await uow.commit()
    return row


async def withdraw(*, uow: UnitOfWork, principal: Principal, request_id: str) -> MentorRequest:
    row = await get(uow=uow, principal=principal, request_id=request_id, for_update=True)
    state = _rstate(row)
    rules.ensure_mentee_or_admin(
        state, is_admin=principal.is_admin, employee_id=principal.employee_id
    )
    row.withdrawn_because = WithdrawnBecause.mentee
    _store(uow, row, rules.withdraw(state, because=WithdrawnBecause.mentee))
    await uow.commit()
    return row


async def expire(*, uow: UnitOfWork, request_id: str, now: datetime) -> None:
    """The request's timer: unanswered, it expires and passes to the next choice."""
    row = await uow.session.get(MentorRequest, request_id, with_for_update=True)
    if row is None:
        return
    change = rules.expire(_rstate(row), now=now)
    if change.events:
        _store(uow, row, change)
        await _cascade(uow, row)


async def _cascade(uow: UnitOfWork, row: MentorRequest) -> None:
    program = await uow.session.get(ProgramView, row.program_id)
    if program is None or not rules.cascades(_rstate(row), program.requests):
        return
    if program.status not in domain.MATCHABLE or not row.choices:
        return
    mentee = await uow.session.get(ParticipantView, row.mentee_participant_id, with_for_update=True)
    if mentee is None or not mentee.active:
        return
    await _ask(
        uow, program=program, mentee=mentee, choices=row.choices, message=row.message, chain=row
    )


async def withdraw_open(
    *,
    uow: UnitOfWork,
    because: WithdrawnBecause,
    mentee_participant_id: str | None = None,
    participant_id: str | None = None,
    program_id: str | None = None,
) -> None:
    """Withdraw the open requests of a mentee (they got a mentor), of a participant on either
    side (they left), or of a programme (it closed); each mentor is told by the event."""
    q = select(MentorRequest).where(MentorRequest.status == RequestStatus.open)
    if mentee_participant_id:
        q = q.where(MentorRequest.mentee_participant_id == mentee_participant_id)
    if participant_id:
        q = q.where(
            (MentorRequest.mentee_participant_id == participant_id)
            | (MentorRequest.mentor_participant_id == participant_id)
        )
    if program_id:
        q = q.where(MentorRequest.program_id == program_id)
    for row in (await uow.session.exec(q.with_for_update())).all():
        row.withdrawn_because = because
        _store(uow, row, rules.withdraw(_rstate(row), because=because))
