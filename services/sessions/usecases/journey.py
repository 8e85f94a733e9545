"""The relationship's journey: the pair's mentorship agreement and skill assessments (rules:
services.sessions.domain.journey)."""

from __future__ import annotations

from datetime import date

from sqlmodel import col, select

from services.sessions.domain import journey
from services.sessions.models import (
    Agreement,
    AgreementIn,
    AgreementPublic,
    Assessment,
    AssessmentIn,
    MatchView,
    ProgramView,
)
from shared.access import can_see
from shared.auth import Principal
from shared.conditional import check_if_match
from shared.contracts import sessions as ev
from shared.domain import Transition, state_of, store
from shared.errors import Conflict, NotFound
from shared.paging import PageParams, Window, page_of
from shared.uow import UnitOfWork

MILESTONE_DUE = "session.milestone_due"  # the timer kind


async def _match(uow: UnitOfWork, principal: Principal, match_id: str) -> MatchView:
    match = await uow.session.get(MatchView, match_id)
    owners = [] if match is None else [match.mentor_employee_id, match.mentee_employee_id]
    if match is None or not can_see(principal, org=match.org, owners=owners):
        raise NotFound("match not found")
    return match


def _state(row: Agreement) -> journey.AgreementState:
    return state_of(journey.AgreementState, row)


def _apply(uow: UnitOfWork, row: Agreement, change: Transition[journey.AgreementState]) -> None:
    store(row, change.state)
    row.goals = list(change.state.goals)
    row.history = list(change.state.history)
    row.updated_at = uow.now()
    uow.session.add(row)
    for event in change.events:
        uow.emit(event, org=row.org)


async def get_agreement(
    *, uow: UnitOfWork, principal: Principal, match_id: str, for_update: bool = False
) -> Agreement:
    match = await _match(uow, principal, match_id)
    row = await uow.session.get(Agreement, match.id, with_for_update=for_update)
    if row is None:
        raise NotFound("this match has no agreement yet")
    return row


async def write_agreement(
    *,
    uow: UnitOfWork,
    principal: Principal,
    match_id: str,
    data: AgreementIn,
    if_match: str | None = None,
) -> Agreement:
    """The pair writes its terms (goals, rhythm): a draft, or a new version of a signed one;
    if the agreement is still the version `if_match` names (shared.conditional)."""
    match = await _match(uow, principal, match_id)
    if not match.active:
        raise Conflict("an agreement is written for an active match")
    row = await uow.session.get(Agreement, match.id, with_for_update=True)

    def shown() -> AgreementPublic:  # the agreement as its GET answers it
        return AgreementPublic.model_validate(row, from_attributes=True)

    check_if_match(if_match, None if row is None else shown, "agreement")
    if row is None:
        row = Agreement(
            match_id=match.id,
            org=match.org,
            program_id=match.program_id,
            mentor_employee_id=match.mentor_employee_id,
            mentee_employee_id=match.mentee_employee_id,
        )
    state = _state(row)
    journey.side_of(state, principal.employee_id)
    program = await uow.session.get(ProgramView, match.program_id)
    journey.check_vocabulary(data.goals, program.objectives.skill_names if program else [])
    _apply(uow, row, journey.write(state, goals=data.goals, rhythm=data.rhythm))
    await uow.commit()
    return row


async def confirm(*, uow: UnitOfWork, principal: Principal, match_id: str) -> Agreement:
    """One side confirms; the second signs the version and arms its milestones' deadlines."""
    row = await get_agreement(uow=uow, principal=principal, match_id=match_id, for_update=True)
    state = _state(row)
    side = journey.side_of(state, principal.employee_id)
    change = journey.confirm(state, side=side, at=uow.now())
    _apply(uow, row, change)
    if change.events:
        for goal_id, m in journey.open_milestones(change.state):
            uow.schedule(
                journey.milestone_timer(row.match_id, goal_id, m.id),
                kind=MILESTONE_DUE,
                due_at=journey.overdue_at(m),
                org=row.org,
                payload={"match_id": row.match_id, "goal_id": goal_id, "milestone_id": m.id},
            )
    await uow.commit()
    return row


async def progress(
    *,
    uow: UnitOfWork,
    principal: Principal,
    match_id: str,
    goal_id: str,
    percent: int,
    note: str | None,
) -> Agreement:
    row = await get_agreement(uow=uow, principal=principal, match_id=match_id, for_update=True)
    state = _state(row)
    journey.side_of(state, principal.employee_id)
    _apply(uow, row, journey.progress(state, goal_id=goal_id, percent=percent, note=note))
    await uow.commit()
    return row


async def reach(
    *, uow: UnitOfWork, principal: Principal, match_id: str, goal_id: str, milestone_id: str,
    on: date | None,
) -> Agreement:  # fmt: skip
    row = await get_agreement(uow=uow, principal=principal, match_id=match_id, for_update=True)
    state = _state(row)
    journey.side_of(state, principal.employee_id)
    day = on or uow.now().date()
    _apply(uow, row, journey.reach(state, goal_id=goal_id, milestone_id=milestone_id, on=day))
    uow.cancel_timer(journey.milestone_timer(match_id, goal_id, milestone_id))
    await uow.commit()
    return row


async def milestone_due(*, uow: UnitOfWork, match_id: str, goal_id: str, milestone_id: str) -> None:
    """A milestone's deadline (a timer): overdue if the pair has not reached it."""
    row = await uow.session.get(Agreement, match_id)
    if row is None:
        return
    for event in journey.overdue(
        _state(row), goal_id=goal_id, milestone_id=milestone_id, now=uow.now()
    ):
        uow.emit(event, org=row.org)


async def assess(*, uow: UnitOfWork, principal: Principal, data: AssessmentIn) -> Assessment:
    """A skill assessment by the mentee (their own) or the mentor (their view), once per phase
    and side, of the signed agreement's skills."""
    match = await _match(uow, principal, data.match_id)
    row = await uow.session.get(Agreement, match.id)
    agreement = None if row is None else _state(row)
    ratings = {k.strip().lower(): v for k, v in data.ratings.items()}
    journey.check_ratings(agreement, ratings)
    assert agreement is not None
    by = journey.side_of(agreement, principal.employee_id)
    done = await uow.session.exec(
        select(Assessment).where(
            Assessment.match_id == match.id, Assessment.phase == data.phase, Assessment.by == by
        )
    )
    if done.first() is not None:
        raise Conflict(f"the {by}'s {data.phase} assessment is made already")
    assert principal.employee_id is not None
    made = Assessment(
        org=match.org,
        match_id=match.id,
        program_id=match.program_id,
        phase=data.phase,
        by=by,
        employee_id=principal.employee_id,
        ratings=ratings,
        created_at=uow.now(),
    )
    uow.session.add(made)
    uow.emit(
        ev.SkillAssessed(
            match_id=match.id, program_id=match.program_id, phase=data.phase, by=by, ratings=ratings
        ),
        org=match.org,
    )
    await uow.commit()
    return made


async def assessments(
    *, uow: UnitOfWork, principal: Principal, match_id: str, page: PageParams
) -> Window[Assessment]:
    match = await _match(uow, principal, match_id)
    q = select(Assessment).where(Assessment.match_id == match.id)
    return await page_of(uow.session, q, page, col(Assessment.created_at), col(Assessment.id))


async def skill_progress(*, uow: UnitOfWork, principal: Principal, match_id: str) -> dict:
    match = await _match(uow, principal, match_id)
    found = (
        await uow.session.exec(select(Assessment).where(Assessment.match_id == match.id))
    ).all()
    table = journey.skill_progress(
        [journey.Assessed(phase=a.phase, by=a.by, ratings=a.ratings) for a in found]
    )
    return {"match_id": match_id, **table}
