"""Matching's use cases (HTTP actions and event reactions), keyword-only, on a unit of work."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.orm import object_session
from sqlmodel import col, select

from services.matching import domain, metrics, roster
from services.matching.models import (
    Loads,
    Match,
    MatchingRun,
    MentorRequest,
    ParticipantView,
    ProgramView,
    Roster,
    RunPair,
    Waiting,
)
from shared.access import can_see, get_visible, scoped
from shared.api import new_id, utcnow
from shared.auth import Principal
from shared.contracts import matching as ev
from shared.contracts.matching import DeclineReason, EndReason, MatchStatus
from shared.db import one_of
from shared.domain import Transition, state_of, store
from shared.errors import Invalid, NotFound, Unknown
from shared.paging import PageParams, Window, page_of
from shared.tracing import tracer
from shared.turns import in_turns
from shared.uow import UnitOfWork, unit_of

_tracer = tracer("binome.matching")
SERVE_WAITING = "matching.serve_waiting"  # the timer kind


def _person(c: ParticipantView) -> domain.Person:
    return state_of(domain.Person, c)


def _rules(program: ProgramView) -> domain.ProgramRules:
    return domain.ProgramRules.model_validate(program, from_attributes=True)


def _state(m: Match) -> domain.MatchState:
    return state_of(domain.MatchState, m)


def _actor(principal: Principal) -> domain.Actor:
    return domain.Actor(is_admin=principal.is_admin, employee_id=principal.employee_id)


def _apply(uow: UnitOfWork, match: Match, change: Transition[domain.MatchState]) -> Match:
    """Store a transition's new state on the row and emit its events, in this transaction."""
    store(match, change.state)
    uow.session.add(match)
    for event in change.events:
        uow.emit(event, org=match.org)
    return match


async def _program_matches(uow: UnitOfWork, program_id: str) -> list[Match]:
    rows = await uow.session.exec(select(Match).where(Match.program_id == program_id))
    return list(rows.all())


# Read as columns, not ORM objects: a cohort is thousands of rows, each only read.
_MATCH_STATE = [
    Match.__table__.c[f.name].label(f.name)  # type: ignore[attr-defined]
    for f in dataclass_fields(domain.MatchState)
]
_PERSON = [
    ParticipantView.__table__.c[  # type: ignore[attr-defined]
        "id" if f.name == "participant_id" else f.name
    ].label(f.name)
    for f in dataclass_fields(domain.Person)
]


async def _match_states(uow: UnitOfWork, *conditions: Any) -> list[domain.MatchState]:
    """The matches these conditions select, as the domain sees them (their explanations, the
    heaviest column, left out)."""
    rows = await uow.session.exec(select(*_MATCH_STATE).where(*conditions))  # type: ignore[call-overload]
    return [domain.MatchState(**row._mapping) async for row in in_turns(rows)]


async def _candidates(
    uow: UnitOfWork, program_id: str, role: str, among: Sequence[str] | None = None
) -> list[domain.Person]:
    """The programme's active participants in this role (`among`: only these), as the
    engine's people."""
    q = (
        select(*_PERSON)  # type: ignore[call-overload]
        .where(
            ParticipantView.program_id == program_id,
            ParticipantView.role == role,
            ParticipantView.active,
        )
        .order_by(col(ParticipantView.id))
    )
    if among is not None:
        q = q.where(one_of(ParticipantView.id, among))
    return await _people(uow, q)


async def _people(uow: UnitOfWork, q: Any) -> list[domain.Person]:
    rows = await uow.session.exec(q)
    # Decoded and built a few hundred at a time, taking turns with the service's requests;
    # the columns in the fields' order (_PERSON), passed by position.
    return [domain.Person(*row) async for row in in_turns(rows)]


def roster_changed(*, uow: UnitOfWork, program_id: str, by: str) -> None:
    """One of the programme's participants changed (event `by`): its roster's version moves
    (what was read of it at the old version is read again)."""
    uow.upsert(Roster, program_id=program_id, version=by)


def loads_changed(*, uow: UnitOfWork, program_id: str) -> None:
    """A match or a mentor request of the programme was written: its loads' version moves
    (the places counted at the old version are counted again). Written last, at commit: on
    PostgreSQL the version's row is locked only for the commit, so the programme's writers
    never wait on each other for it mid-transaction."""
    uow.upsert_last(Loads, program_id=program_id, version=new_id())


def _written(mapper: Any, connection: Any, row: Match | MentorRequest) -> None:
    """Any match or mentor request the ORM inserts, updates or deletes moves its programme's
    loads version (bulk inserts say so themselves: `_publish`)."""
    uow = unit_of(object_session(row))
    if uow is not None:
        loads_changed(uow=uow, program_id=row.program_id)


for _model in (Match, MentorRequest):
    for _moment in ("after_insert", "after_update", "after_delete"):
        orm_event.listen(_model, _moment, _written)


async def _loads(uow: UnitOfWork, program_id: str) -> dict[str, int]:
    """Each mentor's places taken (open matches and open requests), counted by the database
    in one statement and read as plain rows (thousands of mentors: no ORM object each)."""
    m, r = Match.__table__, MentorRequest.__table__  # type: ignore[attr-defined]
    matched = (
        sa_select(m.c.mentor_participant_id, func.count())
        .where(m.c.program_id == program_id, m.c.status.in_(domain.OPEN))
        .group_by(m.c.mentor_participant_id)
    )
    requested = (
        sa_select(r.c.mentor_participant_id, func.count())
        .where(r.c.program_id == program_id, r.c.status == ev.RequestStatus.open)
        .group_by(r.c.mentor_participant_id)
    )
    loads: Counter[str] = Counter()
    for mentor, taken in (
        await (await uow.session.connection()).execute(matched.union_all(requested))
    ).tuples():
        loads[mentor] += taken
    return dict(loads)


def _propose(
    *,
    uow: UnitOfWork,
    org: str,
    program_id: str,
    mentee: tuple[str, str],
    mentor: tuple[str, str],
    score: float,
    explanation: dict | None,
    run_id: str | None,
    replaces: str | None,
) -> Match:
    """A proposed match and its event; `mentee`/`mentor` are (participant id, employee id)."""
    match = Match(
        id=new_id(),
        org=org,
        program_id=program_id,
        mentee_participant_id=mentee[0],
        mentee_employee_id=mentee[1],
        mentor_participant_id=mentor[0],
        mentor_employee_id=mentor[1],
        score=score,
        explanation=explanation,
        run_id=run_id,
        replaces_match_id=replaces,
    )
    uow.session.add(match)
    uow.emit(
        domain.proposed(_state(match), score=score, run_id=run_id, replaces_match_id=replaces),
        org=org,
    )
    return match


# --- runs -----------------------------------------------------------------------------------


async def _held_by_requests(
    uow: UnitOfWork, program_id: str, *, mentor_ids: list[str] | None = None
) -> dict[str, int]:
    """Places held by open self-service requests, per mentor."""
    q = select(MentorRequest.mentor_participant_id).where(
        MentorRequest.program_id == program_id, MentorRequest.status == ev.RequestStatus.open
    )
    if mentor_ids is not None:
        q = q.where(col(MentorRequest.mentor_participant_id).in_(mentor_ids))
    return dict(Counter((await uow.session.exec(q)).all()))


async def _requests(uow: UnitOfWork, program_id: str) -> domain.Requests:
    """The programme's open requests as runs and re-matches count them."""
    rows = await uow.session.exec(
        select(MentorRequest.mentee_participant_id, MentorRequest.mentor_participant_id).where(
            MentorRequest.program_id == program_id, MentorRequest.status == ev.RequestStatus.open
        )
    )
    pairs = list(rows.all())
    return domain.Requests(
        held=dict(Counter(mentor for _, mentor in pairs)),
        mentees=frozenset(mentee for mentee, _ in pairs),
    )


async def _cohort_inputs(uow: UnitOfWork, program: ProgramView) -> domain.CohortInputs:
    """Everything a run of this programme depends on, as the domain wants it (its people as
    read at its roster's version: a publication checks its run with the run's people)."""
    version = (
        await uow.session.exec(select(Roster.version).where(Roster.program_id == program.id))
    ).first()

    async def read() -> tuple[list[domain.Person], list[domain.Person]]:
        return (
            await _candidates(uow, program.id, "mentee"),
            await _candidates(uow, program.id, "mentor"),
        )

    mentees, mentors = await roster.candidates(program.id, version, read)
    return domain.cohort_inputs(
        matches=await _match_states(uow, Match.program_id == program.id),
        mentees=mentees,
        mentors=mentors,
        rules=_rules(program),
        requests=await _requests(uow, program.id),
    )


async def _program_of(uow: UnitOfWork, org: str, program_id: str) -> ProgramView:
    """The programme, row-locked on PostgreSQL for the transaction: runs, publications and
    re-matches of one programme take turns, so two of them never match a mentee twice.
    (SQLite transactions are serial already.)"""
    program = await uow.session.get(ProgramView, program_id, with_for_update=True)
    if program is None or program.org != org:
        raise Unknown("unknown program", field="program_id")
    domain.check_matchable(program.status)
    return program


async def run_matching(
    *, uow: UnitOfWork, org: str, program_id: str
) -> tuple[MatchingRun, list[dict[str, Any]] | None]:
    """Solve the programme's unmatched mentees; a draft unless the programme auto-publishes."""
    started = time.perf_counter()
    program = await _program_of(uow, org, program_id)
    domain.prepare_to_propose()
    inputs = await _cohort_inputs(uow, program)
    # Solving takes seconds for a large programme: off the event loop, so the service (and,
    # embedded, every other one) keeps answering meanwhile; the kernels release the GIL.
    c = await asyncio.to_thread(domain.propose, inputs)
    run = MatchingRun(
        org=org,
        program_id=program_id,
        mentees_considered=len(inputs.mentees),
        mentors_considered=len(inputs.mentors),
        matched=len(c.pairs),
        total_score=c.total_score,
        inputs_digest=c.inputs_digest,
        certificate_holds=c.certificate_holds,
        objective_primal=c.primal,
        objective_dual=c.dual,
        pairs_covered=c.pairs_covered,
        solve_ms=c.solve_ms,
        policy=c.policy,
        blocking_pairs=c.blocking_pairs,
    )
    uow.session.add(run)
    pairs = [
        {
            "run_id": run.id,
            "mentee_participant_id": p.mentee.participant_id,
            "mentor_participant_id": p.mentor.participant_id,
            "mentee_employee_id": p.mentee.employee_id,
            "mentor_employee_id": p.mentor.employee_id,
            "score": p.score,
            "explanation": p.explanation,
        }
        for p in c.pairs
    ]
    await uow.session.flush()  # the run's row before its pairs, written as they come
    async for pair in in_turns(pairs, flush=uow.write_pending):  # written behind, in bulk
        uow.insert(RunPair, **pair)
    auto = program.auto_publish
    if auto:
        await _publish(uow=uow, run=run, pairs=pairs, inputs_now=run.inputs_digest)
    await uow.commit()
    metrics.RUN_SECONDS.observe(time.perf_counter() - started)
    metrics.SOLVE_SECONDS.observe(c.solve_ms / 1000)
    metrics.RUN_MENTEES.observe(len(inputs.mentees))
    metrics.RUN_PAIRS.observe(len(c.pairs))
    return run, _circle_pairs(run, pairs)


def _circle_pairs(run: MatchingRun, pairs: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """A circles run's pairs (its answer groups them by mentor); None for any other run."""
    return pairs if run.policy == "circles" else None


_MATCH_STATE_FIELDS = tuple(f.name for f in dataclass_fields(domain.MatchState))


async def _publish(
    *, uow: UnitOfWork, run: MatchingRun, pairs: list[dict[str, Any]], inputs_now: str
) -> None:
    """The draft's pairs become proposed matches, in bulk: rows written behind as one
    multi-row INSERT and their events emitted, in this transaction (taking turns with the
    service's other requests)."""
    published = domain.publish(state_of(domain.RunState, run), inputs_now=inputs_now, at=utcnow())
    store(run, published)
    uow.session.add(run)
    loads_changed(uow=uow, program_id=run.program_id)  # its matches are inserted in bulk
    now = utcnow()
    async for p in in_turns(pairs, flush=uow.write_pending):
        row = Match.filled(  # the rest: the model's defaults
            **{k: v for k, v in p.items() if k != "run_id"},
            id=new_id(), org=run.org, program_id=run.program_id, run_id=run.id, created_at=now,
        )  # fmt: skip
        uow.insert(Match, **row)
        state = domain.MatchState(**{name: row[name] for name in _MATCH_STATE_FIELDS})
        uow.emit(
            domain.proposed(state, score=row["score"], run_id=run.id, replaces_match_id=None),
            org=run.org,
        )


async def publish_run(
    *, uow: UnitOfWork, org: str, run_id: str
) -> tuple[MatchingRun, list[dict[str, Any]] | None]:
    """Turn a draft's pairs into proposed matches, if nothing it was based on has changed."""
    run = await _run(uow, org, run_id)
    domain.ensure_draft(state_of(domain.RunState, run))  # before the costly digest
    pairs = await _pairs(uow, run_id)
    program = await _program_of(uow, org, run.program_id)
    inputs = await _cohort_inputs(uow, program)
    current = await asyncio.to_thread(domain.inputs_digest, inputs, run.policy)
    await _publish(uow=uow, run=run, pairs=pairs, inputs_now=current)
    await uow.commit()
    return run, _circle_pairs(run, pairs)


async def get_run(
    *, uow: UnitOfWork, org: str, run_id: str
) -> tuple[MatchingRun, list[dict[str, Any]] | None]:
    """The run's summary (and a circles run's pairs, which its answer groups by mentor)."""
    run = await _run(uow, org, run_id)
    return run, await _pairs(uow, run_id) if run.policy == "circles" else None


async def run_pairs(*, uow: UnitOfWork, org: str, run_id: str, page: PageParams) -> Window[RunPair]:
    await _run(uow, org, run_id)
    q = select(RunPair).where(RunPair.run_id == run_id)
    return await page_of(uow.session, q, page, col(RunPair.mentee_participant_id))


async def _run(uow: UnitOfWork, org: str, run_id: str) -> MatchingRun:
    run = await uow.session.get(MatchingRun, run_id)
    if run is None or run.org != org:
        raise NotFound("matching run not found")
    return run


async def _pairs(uow: UnitOfWork, run_id: str) -> list[dict[str, Any]]:
    """A run's pairs as columns: thousands of them, read without an ORM object each."""
    table = RunPair.__table__  # type: ignore[attr-defined]
    conn = await uow.session.connection()
    rows = await conn.execute(
        sa_select(table).where(table.c.run_id == run_id).order_by(table.c.mentee_participant_id)
    )
    return [dict(r._mapping) async for r in in_turns(rows)]


# --- matches --------------------------------------------------------------------------------


async def get_match(
    *, uow: UnitOfWork, principal: Principal, match_id: str, for_update: bool = False
) -> Match:
    return await get_visible(
        uow.session,
        Match,
        match_id,
        principal,
        owners=lambda m: [m.mentor_employee_id, m.mentee_employee_id],
        what="match",
        for_update=for_update,
    )


async def list_matches(
    *,
    uow: UnitOfWork,
    principal: Principal,
    page: PageParams,
    program_id: str | None,
    status: MatchStatus | None,
    participant_id: str | None,
    run_id: str | None = None,
) -> Window[Match]:
    q = scoped(select(Match), Match, principal, Match.mentor_employee_id, Match.mentee_employee_id)
    if program_id:
        q = q.where(Match.program_id == program_id)
    if status:
        q = q.where(Match.status == status)
    if participant_id:
        q = q.where(
            (Match.mentor_participant_id == participant_id)
            | (Match.mentee_participant_id == participant_id)
        )
    if run_id:
        q = q.where(Match.run_id == run_id)
    return await page_of(uow.session, q, page, col(Match.created_at), col(Match.id))


async def accept(
    *, uow: UnitOfWork, principal: Principal, match_id: str, side: domain.Side | None
) -> Match:
    match = await get_match(uow=uow, principal=principal, match_id=match_id, for_update=True)
    state = _state(match)
    who = domain.side_of(state, _actor(principal), side)
    _apply(uow, match, domain.accept(state, side=who))
    await arm_planned_end(uow=uow, match=match)
    await uow.commit()
    return match


PLANNED_END = "matching.planned_end"  # the timer kind


async def arm_planned_end(*, uow: UnitOfWork, match: Match) -> None:
    """A match just activated: its planned end from the programme's dates, on a timer."""
    if _state(match).status is not MatchStatus.active:
        return
    program = await uow.session.get(ProgramView, match.program_id)
    if program is None:
        return
    due = domain.planned_end(
        uow.now(), duration=program.relationship_duration, ends_on=program.ends_on
    )
    if due is not None:
        uow.schedule(
            domain.planned_end_timer(match.id),
            kind=PLANNED_END,
            due_at=due,
            org=match.org,
            payload={"match_id": match.id},
        )


async def reach_planned_end(*, uow: UnitOfWork, match_id: str) -> None:
    match = await uow.session.get(Match, match_id, with_for_update=True)
    if match is None:
        return
    change = domain.reach_planned_end(_state(match), at=uow.now())
    if change.events:
        _apply(uow, match, change)
        room_may_have_appeared(uow=uow, org=match.org, program_id=match.program_id)


async def complete(*, uow: UnitOfWork, principal: Principal, match_id: str) -> Match:
    """A party says the relationship reached its natural end; both: it ends `completed`."""
    match = await get_match(uow=uow, principal=principal, match_id=match_id, for_update=True)
    state = _state(match)
    who = domain.side_of(
        state, domain.Actor(is_admin=False, employee_id=principal.employee_id), None
    )
    change = domain.complete(state, side=who, at=uow.now())
    _apply(uow, match, change)
    if change.events:
        uow.cancel_timer(domain.planned_end_timer(match.id))
        room_may_have_appeared(uow=uow, org=match.org, program_id=match.program_id)
    await uow.commit()
    return match


async def decline(
    *,
    uow: UnitOfWork,
    principal: Principal,
    match_id: str,
    reason: DeclineReason,
    note: str | None,
) -> Match:
    match = await get_match(uow=uow, principal=principal, match_id=match_id, for_update=True)
    state = _state(match)
    domain.ensure_party_or_admin(state, _actor(principal))
    _apply(uow, match, domain.decline(state, reason=reason, note=note, at=utcnow()))
    await uow.session.flush()
    # The mentee is not left waiting for the next run: the next best mentor with room is
    # proposed at once (never the one who was declined), as after any failed match.
    await _rematch(uow=uow, ended=[match])
    await uow.commit()
    return match


async def end(
    *,
    uow: UnitOfWork,
    principal: Principal,
    match_id: str,
    reason: EndReason,
    note: str | None,
) -> Match:
    match = await get_match(uow=uow, principal=principal, match_id=match_id, for_update=True)
    state = _state(match)
    actor = _actor(principal)
    domain.ensure_party_or_admin(state, actor)
    by = domain.ended_by(state, actor)
    _apply(uow, match, domain.end(state, reason=reason, note=note, at=utcnow(), by=by))
    room_may_have_appeared(uow=uow, org=match.org, program_id=match.program_id)
    await uow.commit()
    return match


def close_match(*, uow: UnitOfWork, match: Match, reason: EndReason) -> None:
    """End an open match for a reason the system found (its mentee left, a risk, the org chart)."""
    _apply(uow, match, domain.end(_state(match), reason=reason, at=utcnow()))


async def _rematch(*, uow: UnitOfWork, ended: list[Match]) -> list[Match]:
    """Minimal change: new mentors for these ended (or declined) matches' mentees, jointly
    with the programme's waiting list (the slots they freed may be what someone waits for)."""
    if not ended:
        return []
    program = await uow.session.get(ProgramView, ended[0].program_id, with_for_update=True)
    if program is None:
        return []
    return await _place(
        uow=uow, program=program, ended={m.mentee_participant_id: m.id for m in ended}
    )


async def serve_waiting(*, uow: UnitOfWork, program_id: str) -> list[Match]:
    """Room may have appeared (a mentor enrolled or gained capacity, a match closed): propose
    mentors to the programme's waiting mentees, jointly optimal."""
    program = await uow.session.get(ProgramView, program_id, with_for_update=True)
    if program is None:
        return []
    return await _place(uow=uow, program=program, ended={})


def room_may_have_appeared(*, uow: UnitOfWork, org: str, program_id: str) -> None:
    """Serve the programme's waiting list shortly, in its own transaction (a durable timer:
    one per programme however many events in a batch made room)."""
    uow.schedule(
        f"serve-waiting:{program_id}",
        kind=SERVE_WAITING,
        due_at=uow.now(),
        org=org,
        payload={"program_id": program_id},
    )


async def _room(
    uow: UnitOfWork, program_id: str, held: Mapping[str, int]
) -> tuple[list[str], dict[str, int]]:
    """The programme's active mentors with a place left, and their loads (open matches, and
    the places `held` by open requests). One statement counts each mentor's open matches on
    the index (`ix_match_mentor_load`) and answers only the mentors whose capacity exceeds
    them: after a run, the few hundred of 2,000 with room, instead of every mentor's capacity
    and every mentor's load read apart (11 of a departure's 70 ms)."""
    m, p = Match.__table__, ParticipantView.__table__  # type: ignore[attr-defined]
    matched = (
        sa_select(func.count())
        .where(
            m.c.program_id == program_id,
            m.c.mentor_participant_id == p.c.id,
            m.c.status.in_(domain.OPEN),
        )
        .scalar_subquery()
    )
    query = sa_select(p.c.id, p.c.capacity, matched).where(
        p.c.program_id == program_id, p.c.role == "mentor", p.c.active, p.c.capacity > matched
    )
    rows = (await (await uow.session.connection()).execute(query)).tuples().all()
    loads = {mentor: taken + held.get(mentor, 0) for mentor, _, taken in rows}
    room = sorted(domain.with_room(((mentor, places) for mentor, places, _ in rows), loads))
    return room, loads


async def _replacements(
    uow: UnitOfWork,
    program: ProgramView,
    mentees: list[domain.Person],
    loads: dict[str, int],
    room: list[str],
) -> list[domain.Pair]:
    """The engine's mentors for these mentees, within the room left, none they had before."""
    # These mentees' own matches (their history), not the programme's.
    ids = [p.participant_id for p in mentees]
    history: dict[str, list[domain.MatchState]] = {}
    theirs = one_of(Match.mentee_participant_id, ids)
    for state in await _match_states(uow, Match.program_id == program.id, theirs):
        history.setdefault(state.mentee_participant_id, []).append(state)
    excluded = {
        (pid, mentor_id)
        for pid, theirs in history.items()
        for mentor_id in domain.mentor_history(theirs, pid)
    }
    inputs = domain.CohortInputs(
        mentees=mentees,
        # Only the mentors with a place left can be chosen: only they are read.
        mentors=await _candidates(uow, program.id, "mentor", among=room),
        loads=loads,
        excluded=excluded,
        rules=_rules(program),
    )
    return await asyncio.to_thread(domain.replacements, inputs)


async def _place(*, uow: UnitOfWork, program: ProgramView, ended: dict[str, str]) -> list[Match]:
    """Propose mentors to these mentees (`ended`: participant id -> the match that ended) and
    to the programme's waiting ones; whoever finds no mentor with room waits (MenteeWaiting),
    whoever finds one leaves the list. Returns the proposed matches."""
    if program.status not in domain.MATCHABLE:  # closed: its relationships are over
        return []
    requests = await _requests(uow, program.id)
    room, loads = await _room(uow, program.id, requests.held)
    on_list = select(Waiting).where(Waiting.program_id == program.id)
    if not room:  # nobody can be placed: the list stays as it is, these mentees join it
        on_list = on_list.where(col(Waiting.participant_id).in_(sorted(ended)))
    waiting = {w.participant_id: w for w in (await uow.session.exec(on_list)).all()}
    replaced = {pid: w.ended_match_id for pid, w in waiting.items()} | ended
    wanted = sorted(replaced)
    if not wanted:
        return []
    found: dict[str, ParticipantView] = {}
    # read together, not one query per waiting mentee
    rows = await uow.session.exec(select(ParticipantView).where(one_of(ParticipantView.id, wanted)))
    found.update({p.id: p for p in rows.all()})
    mentees = []
    for participant_id in wanted:
        mentee = found.get(participant_id)
        if participant_id in requests.mentees:
            continue  # choosing a mentor themselves (an open request): not placed meanwhile
        if mentee is not None and mentee.active:
            mentees.append(_person(mentee))
        elif participant_id in waiting:  # withdrew meanwhile
            await uow.session.delete(waiting[participant_id])
    if not mentees:
        return []
    pairs = await _replacements(uow, program, mentees, loads, room) if room else []
    proposed = [
        _propose(
            uow=uow,
            org=program.org,
            program_id=program.id,
            mentee=(pair.mentee.participant_id, pair.mentee.employee_id),
            mentor=(pair.mentor.participant_id, pair.mentor.employee_id),
            score=pair.score,
            explanation=pair.explanation,
            run_id=None,
            replaces=replaced[pair.mentee.participant_id],
        )
        for pair in pairs
    ]
    placed = {p.mentee.participant_id for p in pairs}
    for person in mentees:
        row = waiting.get(person.participant_id)
        if person.participant_id in placed:
            if row is not None:
                await uow.session.delete(row)
        elif row is None:
            uow.session.add(
                Waiting(
                    participant_id=person.participant_id,
                    org=program.org,
                    program_id=program.id,
                    employee_id=person.employee_id,
                    ended_match_id=replaced[person.participant_id],
                    since=uow.now(),
                )
            )
            uow.emit(
                ev.MenteeWaiting(
                    participant_id=person.participant_id,
                    program_id=program.id,
                    employee_id=person.employee_id,
                    ended_match_id=replaced[person.participant_id],
                ),
                org=program.org,
            )
    return proposed


async def close_program(*, uow: UnitOfWork, program_id: str) -> None:
    """The programme closed: its open matches end (`programme_closed`) and its waiting list
    empties; nothing is proposed again (`_place` and runs refuse a closed programme)."""
    for match in await _program_matches(uow, program_id):
        if _state(match).status in domain.OPEN:
            close_match(uow=uow, match=match, reason=EndReason.programme_closed)
    rows = await uow.session.exec(select(Waiting).where(Waiting.program_id == program_id))
    for row in rows.all():
        await uow.session.delete(row)


async def leave_waiting(*, uow: UnitOfWork, participant_id: str) -> None:
    """A waiting mentee withdrew: off the list."""
    row = await uow.session.get(Waiting, participant_id)
    if row is not None:
        await uow.session.delete(row)


async def waiting_list(
    *, uow: UnitOfWork, org: str, program_id: str | None, page: PageParams
) -> Window[Waiting]:
    q = select(Waiting).where(Waiting.org == org)
    if program_id:
        q = q.where(Waiting.program_id == program_id)
    return await page_of(uow.session, q, page, col(Waiting.since), col(Waiting.participant_id))


async def end_and_rematch(
    *, uow: UnitOfWork, match_ids: list[str], reason: EndReason
) -> list[Match]:
    """Corrective path: end open matches and propose replacement mentors for their mentees.

    Several at once when a mentor leaves: their mentees are re-paired jointly, so the best
    free slot goes where it adds most, and no healthy pair is touched.
    """
    with _tracer.start_as_current_span(
        "matching.rematch",
        attributes={"binome.match_ids": match_ids, "binome.reason": reason},
    ) as span:
        ended = []
        rows = await uow.session.exec(
            select(Match)
            .where(col(Match.id).in_(sorted(set(match_ids))))
            .order_by(col(Match.id))
            .with_for_update()
        )
        found = {match.id: match for match in rows.all()}  # locked in the order of their ids
        for match_id in dict.fromkeys(match_ids):
            match = found.get(match_id)
            if match is None or _state(match).status not in domain.OPEN:
                continue  # unknown here or already closed: nothing to correct
            close_match(uow=uow, match=match, reason=reason)
            ended.append(match)
        await uow.session.flush()
        replacements = await _rematch(uow=uow, ended=ended)
        span.set_attribute("binome.replacement_ids", [m.id for m in replacements])
        return replacements


async def repair(*, uow: UnitOfWork, match_id: str, reason: EndReason | None) -> list[Match]:
    """A corrective case re-pairs: the match ends (if still open) and its mentee is proposed a
    new mentor, or waits for one. A match a party already ended (as incompatible) is re-paired
    the same way, unless its mentee has an open match or waits already."""
    match = await uow.session.get(Match, match_id, with_for_update=True)
    if match is None:
        return []
    if _state(match).status in domain.OPEN:
        return await end_and_rematch(
            uow=uow, match_ids=[match_id], reason=reason or EndReason.programme_decision
        )
    mentee = match.mentee_participant_id
    matches = await _program_matches(uow, match.program_id)
    if any(m.mentee_participant_id == mentee and m.status in domain.OPEN for m in matches):
        return []
    if await uow.session.get(Waiting, mentee) is not None:
        return []
    return await _rematch(uow=uow, ended=[match])


async def conclude(*, uow: UnitOfWork, match_id: str, reason: EndReason | None) -> None:
    """A corrective case concludes the relationship: the match ends; its mentor's slot may be
    what a waiting mentee needs."""
    match = await uow.session.get(Match, match_id, with_for_update=True)
    if match is None or _state(match).status not in domain.OPEN:
        return
    close_match(uow=uow, match=match, reason=reason or EndReason.programme_decision)
    room_may_have_appeared(uow=uow, org=match.org, program_id=match.program_id)


async def separate_reporting_lines(*, uow: UnitOfWork, participant_id: str) -> list[Match]:
    """An org-chart change put an open match of this participant inside a reporting line:
    it ends as incompatible and its mentee gets a replacement (the corrective path)."""
    rows = await uow.session.exec(
        select(Match).where(
            (Match.mentor_participant_id == participant_id)
            | (Match.mentee_participant_id == participant_id)
        )
    )
    conflicted = []
    for match in rows.all():
        if match.status not in domain.OPEN:
            continue
        mentee = await uow.session.get(ParticipantView, match.mentee_participant_id)
        mentor = await uow.session.get(ParticipantView, match.mentor_participant_id)
        if mentee and mentor and domain.in_reporting_line(_person(mentee), _person(mentor)):
            conflicted.append(match.id)
    if not conflicted:
        return []
    return await end_and_rematch(uow=uow, match_ids=conflicted, reason=EndReason.incompatible)


@dataclass(frozen=True)
class Suggested:
    mentee: ParticipantView
    found: list[domain.Suggestion]
    none_because: domain.NoSuggestion | None  # why `found` is empty
    waiting: bool  # the mentee is on the programme's waiting list


async def suggest(
    *, uow: UnitOfWork, principal: Principal, participant_id: str, limit: int
) -> Suggested:
    """Self-service: a mentee's best mentors with room left, each with its score's parts; if
    none, why not, and whether the mentee is on the waiting list."""
    # The mentee, their programme, its roster's and loads' versions and their place on the
    # waiting list, in one statement (each statement is a round trip to SQLite's thread).
    found_row = (
        await uow.session.exec(
            select(
                ParticipantView, ProgramView, Roster.version, Loads.version, Waiting.participant_id
            )  # type: ignore[call-overload]
            .outerjoin(ProgramView, col(ProgramView.id) == ParticipantView.program_id)
            .outerjoin(Roster, col(Roster.program_id) == ParticipantView.program_id)
            .outerjoin(Loads, col(Loads.program_id) == ParticipantView.program_id)
            .outerjoin(Waiting, col(Waiting.participant_id) == ParticipantView.id)
            .where(ParticipantView.id == participant_id)
        )
    ).first()
    mentee, program, version, loads_version, waiting_id = found_row or (None,) * 5
    if mentee is None or not can_see(principal, org=mentee.org, owners=[mentee.employee_id]):
        raise NotFound("participant not found")
    if mentee.role != "mentee":
        raise Invalid("suggestions are for mentees", field="participant_id", at="query")
    if program is None:
        raise NotFound("program not found")
    pool = await roster.mentors(
        program.id, version or "", lambda: _candidates(uow, program.id, "mentor")
    )
    loads = await roster.loads(program.id, loads_version, lambda: _loads(uow, program.id))
    history = await _match_states(uow, Match.mentee_participant_id == mentee.id)
    found = await asyncio.to_thread(
        domain.suggestions,
        mentee=_person(mentee),
        pool=pool,
        loads=loads,
        excluded_mentors=domain.mentor_history(history, mentee.id),
        rules=_rules(program),
        limit=limit,
    )
    why = None if found else domain.why_none(pool.mentors, loads)
    return Suggested(mentee, found, why, waiting_id is not None)
