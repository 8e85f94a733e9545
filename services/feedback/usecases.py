"""Feedback's use cases, keyword-only, on a unit of work."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import Table, Text, bindparam, cast, literal, text
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from services.feedback import domain
from services.feedback.models import (
    Case,
    CaseActionData,
    CaseEntry,
    CommunityTraining,
    Feedback,
    FeedbackCreate,
    MediationIn,
    ProgramView,
    Relationship,
    SessionView,
    SimpleActionIn,
    Survey,
    SurveyAnswers,
    TrainingIn,
)
from shared.access import can_see, get_visible, scoped
from shared.api import as_utc, new_id
from shared.auth import Principal
from shared.contracts import feedback as ev
from shared.contracts import matching as ev_matching
from shared.contracts.enrollment import PROGRAM_DEFAULTS as RULES
from shared.contracts.enrollment import RATINGS_KEPT, EngagementPolicy, ProgramRules
from shared.contracts.feedback import (
    CaseAction,
    CaseCause,
    CaseStatus,
    HealthReason,
    HealthState,
    SurveyKind,
)
from shared.contracts.matching import EndedBy, EndReason
from shared.contracts.sessions import SessionStatus
from shared.db import lock_key, one_of
from shared.domain import state_of, store
from shared.errors import Conflict, Invalid, NotFound, Unknown
from shared.paging import PageParams, Window, page_of
from shared.turns import in_turns
from shared.uow import UnitOfWork


async def submit(*, uow: UnitOfWork, principal: Principal, data: FeedbackCreate) -> Feedback:
    session = await uow.session.get(SessionView, data.session_id)
    # Someone else's session is answered like one that does not exist: nothing is revealed.
    if session is None or not can_see(
        principal, org=session.org, owners=[session.mentor_employee_id, session.mentee_employee_id]
    ):
        raise Unknown("unknown session", field="session_id")
    mine = await uow.session.exec(
        select(Feedback.id).where(
            Feedback.session_id == session.id,
            Feedback.author_employee_id == principal.employee_id,
        )
    )
    domain.ensure_can_rate(
        session_status=SessionStatus(session.status),
        author=principal.employee_id,
        mentor=session.mentor_employee_id,
        mentee=session.mentee_employee_id,
        already_rated=mine.first() is not None,
    )
    feedback = Feedback(
        org=principal.org,
        session_id=session.id,
        match_id=session.match_id,
        program_id=session.program_id,
        author_employee_id=str(principal.employee_id),
        rating=data.rating,
        comment=data.comment,
    )
    uow.session.add(feedback)
    uow.emit(ev.FeedbackSubmitted.model_validate(feedback, from_attributes=True), org=principal.org)
    await uow.session.flush()
    # Two ratings of one relationship arriving together must see each other.
    await lock_key(uow.session, f"relationship:{session.match_id}")
    rel = await uow.session.get(Relationship, session.match_id)
    if rel is not None and rel.active:
        await _recompute(uow, rel)
    await uow.commit()
    return feedback


async def get(*, uow: UnitOfWork, principal: Principal, feedback_id: str) -> Feedback:
    return await get_visible(
        uow.session,
        Feedback,
        feedback_id,
        principal,
        owners=lambda f: [f.author_employee_id],
        what="feedback",
    )


async def list_feedback(
    *,
    uow: UnitOfWork,
    principal: Principal,
    page: PageParams,
    session_id: str | None,
    match_id: str | None,
) -> Window[Feedback]:
    q = scoped(select(Feedback), Feedback, principal, Feedback.author_employee_id)
    if session_id:
        q = q.where(Feedback.session_id == session_id)
    if match_id:
        q = q.where(Feedback.match_id == match_id)
    return await page_of(uow.session, q, page, col(Feedback.created_at), col(Feedback.id))


# --- relationship health ------------------------------------------------------------------

INACTIVITY = "relationship.inactivity"  # the timer kinds
PULSE = "relationship.pulse"
SURVEY_EXPIRY = "survey.expiry"


INACTIVITY_PREFIX = "inactivity:"


def _inactivity_timer(match_id: str) -> str:
    return f"{INACTIVITY_PREFIX}{match_id}"


async def relationship_started(
    *, uow: UnitOfWork, org: str, data: ev_matching.MatchActivated
) -> None:
    """A match became active: follow-up starts (its health, its inactivity deadline)."""
    rel = await uow.session.get(Relationship, data.match_id)
    if rel is None:
        now = uow.now()
        rel = Relationship(
            match_id=data.match_id,
            org=org,
            program_id=data.program_id,
            mentor_employee_id=data.mentor_employee_id,
            mentee_employee_id=data.mentee_employee_id,
            activated_at=now,
            last_activity_at=now,
        )
        uow.session.add(rel)
        policy = await _policy(uow, data.program_id)
        _arm_pulse(uow, rel, at=now + policy.first_pulse)
    await _recompute(uow, rel)


async def program_heard(*, uow: UnitOfWork, program_id: str) -> None:
    """Feedback heard of a programme: events of different services travel apart, so some of
    its relationships may have come first and been followed by the default policy. Their
    first pulse is armed again by the programme's own policy (from their activation; at once
    if that is past) and their health re-judged by it."""
    rels = (
        await uow.session.exec(
            select(Relationship)
            .where(Relationship.program_id == program_id, Relationship.active)
            .with_for_update()  # a pulse firing meanwhile (it locks its relationship) goes first
        )
    ).all()
    if not rels:
        return
    policy = await _policy(uow, program_id)
    pulsed = set(
        (
            await uow.session.exec(
                select(Survey.match_id).where(
                    Survey.program_id == program_id, Survey.kind == SurveyKind.pulse
                )
            )
        ).all()
    )
    for rel in rels:
        if rel.match_id not in pulsed and not rel.paused_for:
            _arm_pulse(uow, rel, at=as_utc(rel.activated_at) + policy.first_pulse)
    await recompute_program(uow=uow, program_id=program_id)


async def rhythm_agreed(*, uow: UnitOfWork, match_id: str, rhythm: timedelta | None) -> None:
    """The pair signed an agreement: their rhythm is the cadence their inactivity is judged
    in (re-judged now)."""
    rel = await uow.session.get(Relationship, match_id, with_for_update=True)
    if rel is None or rel.cadence == rhythm:
        return
    rel.cadence = rhythm
    await _recompute(uow, rel)


async def relationship_ended(*, uow: UnitOfWork, data: ev_matching.MatchEnded) -> None:
    """The match ended: follow-up stops (a closing survey to each side), its open case closes;
    a party ending it as incompatible opens a case (their mentee's re-pairing)."""
    rel = await uow.session.get(Relationship, data.match_id, with_for_update=True)
    if rel is None or not rel.active:
        return
    rel.active = False
    rel.paused_for, rel.paused_at = [], None
    uow.session.add(rel)
    uow.cancel_timer(_inactivity_timer(data.match_id))
    uow.cancel_timer(f"pulse:{data.match_id}")
    await _send_surveys(uow, rel, SurveyKind.closing)
    case = await _open_case_of(uow, rel.match_id)
    if case is not None:
        _move_case(uow, case, rel, domain.match_ended(state_of(domain.CaseState, case)))
    if data.reason is EndReason.incompatible and data.by is EndedBy.party:
        await _open_case(uow, rel, cause=CaseCause.incompatible)


async def session_signal(*, uow: UnitOfWork, match_id: str, status: SessionStatus) -> None:
    """A session of the relationship was planned, held, left unconfirmed or missed."""
    rel = await uow.session.get(Relationship, match_id, with_for_update=True)
    if rel is None or not rel.active:
        return
    if status in (SessionStatus.scheduled, SessionStatus.completed):
        rel.last_activity_at = max(as_utc(rel.last_activity_at), uow.now())
    await _recompute(uow, rel)


async def inactivity_check(*, uow: UnitOfWork, match_id: str) -> None:
    """The idle time crossed a threshold (a timer): nudge, and recompute the health."""
    rel = await uow.session.get(Relationship, match_id, with_for_update=True)
    if rel is not None and rel.active:
        await _recompute(uow, rel, nudge=True)


async def _take_signals(uow: UnitOfWork, rel: Relationship) -> None:
    """Summarise the relationship's signals on its row, from the ratings and the sessions'
    latest states (right whatever order the events of different sessions arrived in): each
    side's last ratings, the sessions held, and those unconfirmed or missed since the last
    one held. A re-judging of the whole programme reads only these rows."""
    conn = await uow.session.connection()  # plain rows: no ORM objects for these
    f, v = Feedback.__table__.c, SessionView.__table__.c  # type: ignore[attr-defined]
    sides: dict[domain.Side, list[int]] = {"mentor": [], "mentee": []}
    for author, rating in await conn.execute(
        select(f.author_employee_id, f.rating)
        .where(f.match_id == rel.match_id)
        .order_by(f.created_at, f.id)
    ):
        sides["mentor" if author == rel.mentor_employee_id else "mentee"].append(rating)
    rel.mentor_ratings = sides["mentor"][-RATINGS_KEPT:]
    rel.mentee_ratings = sides["mentee"][-RATINGS_KEPT:]
    sessions = [
        (SessionStatus(status), _aware(at))
        for status, at in await conn.execute(
            select(v.status, v.scheduled_at).where(v.match_id == rel.match_id)
        )
    ]
    counts = domain.session_counts(sessions)
    rel.held, rel.unconfirmed, rel.no_shows = counts.held, counts.unconfirmed, counts.no_shows


def _inputs(
    rel: Relationship, *, now: datetime, policy: EngagementPolicy, ratings: dict
) -> domain.HealthInputs:
    """A relationship's health inputs; a paused one is judged as of its pause (its clocks
    stopped)."""
    return domain.HealthInputs(
        now=_aware(rel.paused_at) or now,
        activated_at=as_utc(rel.activated_at),
        last_activity_at=as_utc(rel.last_activity_at),
        policy=policy,
        ratings=ratings,
        unconfirmed=rel.unconfirmed,
        no_shows=rel.no_shows,
        low_pulse=rel.low_pulse,
        unanswered=rel.unanswered,
    )


async def _recompute(uow: UnitOfWork, rel: Relationship, *, nudge: bool = False) -> None:
    """The relationship's health from every signal; its change is an event, may open (or
    close) its corrective case, and the next inactivity deadline is armed."""
    rules = await _rules(uow, rel.program_id)
    await _take_signals(uow, rel)
    changed = _judge(uow, rel, policy=rules.engagement, nudge=nudge)
    uow.session.add(rel)
    if changed:
        await _follow_case(uow, rel, HealthState(rel.state))


# What re-judging a relationship may change on its row.
JUDGED = ("state", "score", "reasons", "signals")


# Re-judging a programme in bulk: each chunk of relationships is written (its rows, events,
# cases and deadlines) while the next is judged, taking turns with the service's other work
# (shared.turns: other requests, and the chunk being written, go on meanwhile).
CHUNK = 10_000
PAGE = 5_000  # rows read per round trip (about 50 ms of decoding)


async def recompute_program(*, uow: UnitOfWork, program_id: str) -> int:
    """The programme's engagement policy changed: every running relationship re-judged by it,
    in bulk, from the signals summarised on its row: one query for the relationships, one for
    their armed deadlines and one for their open cases (plain rows, no ORM objects); per
    chunk, one multi-row UPDATE of the rows whose health changed, their events, the cases
    opened and the deadlines that moved re-armed, written while the next chunk is judged.
    Returns how many changed state."""
    rules = await _rules(uow, program_id)
    # Read now: a case opened in the loop asks for it, and the loop runs no query while a
    # chunk is being written on the same connection.
    await _community_trainings(uow, program_id)
    table = Relationship.__table__  # type: ignore[attr-defined]
    timers = uow.timer_table
    c = Case.__table__.c  # type: ignore[attr-defined]
    conn = await uow.session.connection()
    # What judging reads (the row's signals, its clocks, its last health), `reasons` as its
    # JSON text: compared, not decoded.
    skipped = {"reasons", "active", "nudges", "last_nudge_at"}
    columns = [c for c in table.c if c.name not in skipped]
    # Streamed in pages of PAGE rows, the event loop let run between them.
    rows = await conn.stream(
        sa_select(*columns, cast(table.c.reasons, Text).label("reasons_json"))
        .where(table.c.program_id == program_id, table.c.active)
        .with_for_update()
        .execution_options(yield_per=PAGE)
    )
    names = list(rows.keys())
    rels = [
        SimpleNamespace(**dict(zip(names, row, strict=True)))
        async for page in rows.partitions()
        for row in page
    ]
    armed: dict[str, datetime] = {}
    deadlines = await conn.stream(
        select(timers.c.key, timers.c.due_at)
        .join(table, timers.c.key == literal(INACTIVITY_PREFIX) + table.c.match_id)
        .where(table.c.program_id == program_id)
        .execution_options(yield_per=PAGE)
    )
    async for page in deadlines.partitions():
        armed.update((key, as_utc(due)) for key, due in page)
    open_cases: dict[str, str] = {
        match: case_id
        for match, case_id in await conn.execute(
            select(c.match_id, c.id).where(
                c.program_id == program_id, c.status != CaseStatus.closed
            )
        )
    }
    changed, updates, with_case = 0, [], []
    writing: asyncio.Task[None] | None = None
    try:
        async for i, rel in in_turns(enumerate(rels, 1)):
            before = (rel.state, rel.score, rel.signals)
            key = _inactivity_timer(rel.match_id)
            if _judge(uow, rel, policy=rules.engagement, armed=armed.get(key)):  # type: ignore[arg-type]
                changed += 1
                if rel.match_id in open_cases:
                    with_case.append(rel)  # its case is loaded and moved at the end
                else:  # a case opened if at risk (no query)
                    await _follow_case(
                        uow,
                        rel,  # type: ignore[arg-type]
                        HealthState(rel.state),
                        known=True,
                        rules=rules,
                    )
            if (rel.state, rel.score, rel.signals) != before or (
                orjson.dumps(rel.reasons).decode() != rel.reasons_json
            ):
                updates.append(
                    {"key": rel.match_id, **{name: getattr(rel, name) for name in JUDGED}}
                )
            if i % CHUNK == 0 or i == len(rels):
                if writing is not None:
                    await writing
                chunk, updates = updates, []
                writing = asyncio.create_task(_write_judged(uow, conn, table, chunk))
        if writing is not None:
            await writing
    finally:
        if writing is not None and not writing.done():  # judging failed: the transaction
            writing.cancel()  # is rolled back, this chunk's write with it
            with contextlib.suppress(BaseException):
                await writing
    if with_case:
        # The open cases of the relationships whose state changed: they may close or reopen.
        ids = sorted(open_cases[rel.match_id] for rel in with_case)
        loaded: dict[str, Case] = {}
        query = select(Case).where(one_of(Case.id, ids))
        loaded.update((case.match_id, case) for case in (await uow.session.exec(query)).all())
        for rel in with_case:
            await _follow_case(
                uow,
                rel,  # type: ignore[arg-type]
                HealthState(rel.state),
                case=loaded.get(rel.match_id),
                known=True,
                rules=rules,
            )
    return changed


async def _write_judged(
    uow: UnitOfWork, conn: AsyncConnection, table: Table, updates: list[dict]
) -> None:
    """One chunk of a programme's re-judging written: its rows, then what it emitted, opened
    and armed."""
    await _update_judged(conn, table, updates)
    await uow.write_pending()


async def _update_judged(conn: AsyncConnection, table: Table, updates: list[dict]) -> None:
    """Write the re-judged rows: on PostgreSQL one `UPDATE ... FROM unnest(...)` (an
    executemany runs each row as its own statement); elsewhere an executemany."""
    if conn.dialect.name != "postgresql":
        if updates:
            await conn.execute(
                table.update()
                .where(table.c.match_id == bindparam("key"))
                .values({name: bindparam(name) for name in JUDGED}),
                updates,
            )
        return
    if not updates:
        return
    # One statement for them all: the rows travel as five arrays, unnested server-side.
    await conn.execute(
        text(
            f"UPDATE {table.name} SET state = j.state, score = j.score, "
            "reasons = CAST(j.reasons AS json), signals = j.signals "
            "FROM unnest(CAST(:keys AS varchar[]), CAST(:states AS varchar[]), "
            "CAST(:scores AS integer[]), CAST(:reasons AS text[]), CAST(:signals AS varchar[])) "
            f"AS j(key, state, score, reasons, signals) WHERE {table.name}.match_id = j.key"
        ),
        {
            "keys": [row["key"] for row in updates],
            "states": [str(row["state"]) for row in updates],
            "scores": [row["score"] for row in updates],
            "reasons": [orjson.dumps(row["reasons"]).decode() for row in updates],
            "signals": [row["signals"] for row in updates],
        },
    )


NOT_ARMED = datetime.min.replace(tzinfo=UTC)  # no deadline known: (re)arm


def _judge(
    uow: UnitOfWork,
    rel: Relationship,
    *,
    policy: EngagementPolicy,
    nudge: bool = False,
    armed: datetime | None = NOT_ARMED,
) -> bool:
    """Judge one relationship from the signals summarised on its row: its health stored (a
    state change is an event), a nudge when due, its next inactivity deadline armed unless
    already `armed` for that time (None: armed for none). True if the state changed."""
    ratings: dict[domain.Side, list[int]] = {
        "mentor": rel.mentor_ratings,
        "mentee": rel.mentee_ratings,
    }
    policy = domain.with_rhythm(policy, rel.cadence)
    inputs = _inputs(rel, now=uow.now(), policy=policy, ratings=ratings)
    paused = bool(rel.paused_for)
    if (
        nudge
        and not paused
        and domain.nudge_due_now(inputs, last_nudge_at=_aware(rel.last_nudge_at))
    ):
        rel.nudges += 1
        rel.last_nudge_at = inputs.now
        uow.emit(
            ev.RelationshipNudged(
                match_id=rel.match_id,
                program_id=rel.program_id,
                mentor_employee_id=rel.mentor_employee_id,
                mentee_employee_id=rel.mentee_employee_id,
                idle_days=round((inputs.now - inputs.last_activity_at).total_seconds() / 86400, 2),
            ),
            org=rel.org,
        )
    changed = _store_health(uow, rel, domain.health(inputs))
    key = _inactivity_timer(rel.match_id)
    check = None if paused else domain.next_inactivity_check(inputs)
    if check == armed:
        pass  # the deadline stands
    elif check is None:
        uow.cancel_timer(key)
    else:
        uow.schedule(
            key, kind=INACTIVITY, due_at=check, org=rel.org, payload={"match_id": rel.match_id}
        )
    return changed


def _store_health(uow: UnitOfWork, rel: Relationship, h: domain.Health) -> bool:
    """Keep the new health on the row; a state change is an event. True if it changed."""
    previous = HealthState(rel.state) if rel.state else None
    if h.state is not previous:
        uow.emit(
            ev.RelationshipHealthChanged(
                match_id=rel.match_id,
                program_id=rel.program_id,
                state=h.state,
                previous=previous,
                score=h.score,
                reasons=h.reasons,
            ),
            org=rel.org,
        )
    rel.state, rel.score = h.state, h.score
    rel.reasons = h.stored()
    rel.signals = "".join(f",{s}" for s in h.signals) + ("," if h.shares else "")
    return h.state is not previous


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


async def get_health(*, uow: UnitOfWork, principal: Principal, match_id: str) -> Relationship:
    return await get_visible(
        uow.session,
        Relationship,
        match_id,
        principal,
        owners=lambda r: [r.mentor_employee_id, r.mentee_employee_id],
        what="relationship",
    )


async def list_health(
    *,
    uow: UnitOfWork,
    org: str,
    page: PageParams,
    program_id: str | None,
    state: HealthState | None,
    reason: str | None = None,
) -> Window[Relationship]:
    q = select(Relationship).where(Relationship.org == org, Relationship.active)
    if program_id:
        q = q.where(Relationship.program_id == program_id)
    if state:
        q = q.where(Relationship.state == state)
    if reason:
        q = q.where(col(Relationship.signals).contains(f",{reason},"))
    return await page_of(uow.session, q, page, col(Relationship.score), col(Relationship.match_id))


# --- pulse and closing surveys ----------------------------------------------------------------


async def _rules(uow: UnitOfWork, program_id: str) -> ProgramView | ProgramRules:
    """The programme's rules, or (not heard of it yet: events cross services asynchronously)
    the defaults."""
    return await uow.session.get(ProgramView, program_id) or RULES


async def _policy(uow: UnitOfWork, program_id: str) -> EngagementPolicy:
    return (await _rules(uow, program_id)).engagement


def _arm_pulse(uow: UnitOfWork, rel: Relationship, *, at: datetime) -> None:
    uow.schedule(
        f"pulse:{rel.match_id}", kind=PULSE, due_at=at, org=rel.org,
        payload={"match_id": rel.match_id},
    )  # fmt: skip


async def pulse_due(*, uow: UnitOfWork, match_id: str) -> None:
    """The programme's pulse schedule came round (a timer): a survey to each side, and the
    next pulse armed."""
    rel = await uow.session.get(Relationship, match_id, with_for_update=True)
    if rel is None or not rel.active:
        return
    policy = await _send_surveys(uow, rel, SurveyKind.pulse)
    _arm_pulse(uow, rel, at=uow.now() + policy.pulse_every)


async def _send_surveys(uow: UnitOfWork, rel: Relationship, kind: SurveyKind) -> EngagementPolicy:
    policy = await _policy(uow, rel.program_id)
    now = uow.now()
    for side, respondent in (
        ("mentor", rel.mentor_employee_id),
        ("mentee", rel.mentee_employee_id),
    ):
        survey = Survey(
            org=rel.org,
            match_id=rel.match_id,
            program_id=rel.program_id,
            kind=kind,
            respondent_employee_id=respondent,
            side=side,
            sent_at=now,
            expires_at=now + policy.survey_expires,
        )
        uow.session.add(survey)
        uow.emit(
            ev.SurveyDue(
                survey_id=survey.id,
                match_id=rel.match_id,
                program_id=rel.program_id,
                kind=kind,
                respondent_employee_id=respondent,
                expires_at=survey.expires_at,
            ),
            org=rel.org,
        )
        uow.schedule(
            f"survey-expiry:{survey.id}", kind=SURVEY_EXPIRY, due_at=survey.expires_at,
            org=rel.org, payload={"survey_id": survey.id},
        )  # fmt: skip
    return policy


async def survey_expired(*, uow: UnitOfWork, survey_id: str) -> None:
    """A survey's time ran out (a timer): unanswered, it counts against the relationship."""
    survey = await uow.session.get(Survey, survey_id, with_for_update=True)
    if survey is None or survey.status != "open":
        return
    survey.status = "expired"
    uow.session.add(survey)
    uow.emit(
        ev.SurveyExpired(
            survey_id=survey.id, match_id=survey.match_id, program_id=survey.program_id,
            kind=survey.kind, side=survey.side,
        ),
        org=survey.org,
    )  # fmt: skip
    rel = await uow.session.get(Relationship, survey.match_id)
    if rel is not None and rel.active:
        rel.unanswered += 1
        await _recompute(uow, rel)


async def answer_survey(
    *, uow: UnitOfWork, principal: Principal, survey_id: str, data: SurveyAnswers
) -> Survey:
    survey = await get_survey(uow=uow, principal=principal, survey_id=survey_id, for_update=True)
    domain.ensure_can_answer(
        status=survey.status,
        respondent=survey.respondent_employee_id,
        caller=principal.employee_id,
        expired=uow.now() >= as_utc(survey.expires_at),
    )
    for name, value in data.model_dump().items():
        setattr(survey, name, value)
    survey.status, survey.answered_at = "answered", uow.now()
    uow.session.add(survey)
    uow.cancel_timer(f"survey-expiry:{survey.id}")
    mean = domain.survey_mean(data.quality, data.progress, data.rhythm, data.recommend)
    uow.emit(
        ev.SurveyAnswered(
            survey_id=survey.id, match_id=survey.match_id, program_id=survey.program_id,
            kind=survey.kind, side=survey.side, mean=mean, has_comment=bool(data.comment),
            recommend=data.recommend,
        ),
        org=survey.org,
    )  # fmt: skip
    rel = await uow.session.get(Relationship, survey.match_id)
    if rel is not None and rel.active and survey.kind == SurveyKind.pulse:
        rel.low_pulse = mean <= domain.LOW_PULSE
        if not rel.low_pulse:  # answering again: the surveys left unanswered before stop counting
            rel.unanswered = 0
        await _recompute(uow, rel)
    await uow.commit()
    return survey


async def get_survey(
    *, uow: UnitOfWork, principal: Principal, survey_id: str, for_update: bool = False
) -> Survey:
    return await get_visible(
        uow.session,
        Survey,
        survey_id,
        principal,
        owners=lambda s: [s.respondent_employee_id],
        what="survey",
        for_update=for_update,
    )


async def list_surveys(
    *, uow: UnitOfWork, principal: Principal, page: PageParams, match_id: str | None
) -> Window[Survey]:
    q = scoped(select(Survey), Survey, principal, Survey.respondent_employee_id)
    if match_id:
        q = q.where(Survey.match_id == match_id)
    return await page_of(uow.session, q, page, col(Survey.sent_at), col(Survey.id))


# --- pauses: an admin's (a case action), a party's leave of absence ---------------------------


async def _pause(uow: UnitOfWork, rel: Relationship, cause: str) -> None:
    """Stop the relationship's clocks (inactivity, nudges, pulses) for this cause."""
    if cause in rel.paused_for:
        return
    if not rel.paused_for:
        rel.paused_at = uow.now()
        uow.cancel_timer(_inactivity_timer(rel.match_id))
        uow.cancel_timer(f"pulse:{rel.match_id}")
        uow.emit(
            ev.RelationshipPaused(match_id=rel.match_id, program_id=rel.program_id, cause=cause),
            org=rel.org,
        )
    rel.paused_for = [*rel.paused_for, cause]
    uow.session.add(rel)


async def _resume(uow: UnitOfWork, rel: Relationship, cause: str) -> None:
    """Drop one cause of a pause; with none left the clocks restart where they stopped (the
    pause does not count as idle time) and the pulses start over."""
    if cause not in rel.paused_for:
        return
    rel.paused_for = [c for c in rel.paused_for if c != cause]
    if not rel.paused_for:
        now, paused_at = uow.now(), _aware(rel.paused_at) or uow.now()
        rel.last_activity_at = as_utc(rel.last_activity_at) + (now - paused_at)
        rel.paused_at = None
        _arm_pulse(uow, rel, at=now + (await _policy(uow, rel.program_id)).first_pulse)
        uow.emit(
            ev.RelationshipResumed(match_id=rel.match_id, program_id=rel.program_id),
            org=rel.org,
        )
        await _recompute(uow, rel)
    uow.session.add(rel)


async def _relationships_of(uow: UnitOfWork, org: str, employee_id: str) -> list[Relationship]:
    rows = await uow.session.exec(
        select(Relationship)
        .where(
            Relationship.org == org,
            Relationship.active,
            (Relationship.mentor_employee_id == employee_id)
            | (Relationship.mentee_employee_id == employee_id),
        )
        .with_for_update()
    )
    return list(rows.all())


async def employee_on_leave(*, uow: UnitOfWork, org: str, employee_id: str) -> None:
    """HRIS leave of absence: their relationships pause instead of ending."""
    for rel in await _relationships_of(uow, org, employee_id):
        await _pause(uow, rel, f"leave:{employee_id}")


async def employee_returned(*, uow: UnitOfWork, org: str, employee_id: str) -> None:
    for rel in await _relationships_of(uow, org, employee_id):
        await _resume(uow, rel, f"leave:{employee_id}")


# --- corrective cases ------------------------------------------------------------------------

CASE_GRACE = "case.grace"  # the timer kind: the policy's action after the grace period


def _signals(reasons: list[dict]) -> set[str]:
    return {r["signal"] for r in reasons}


def _entry(
    uow: UnitOfWork, what: str, *, by: str | None = None, note: str | None = None, **details: Any
) -> dict:
    return CaseEntry(at=uow.now(), what=what, by=by, note=note, details=details).model_dump(
        mode="json"
    )


async def _open_case_of(uow: UnitOfWork, match_id: str) -> Case | None:
    rows = await uow.session.exec(
        select(Case)
        .where(Case.match_id == match_id, Case.status != CaseStatus.closed)
        .with_for_update()
    )
    return rows.first()


async def _open_case(
    uow: UnitOfWork,
    rel: Relationship,
    *,
    cause: CaseCause,
    rules: ProgramView | ProgramRules | None = None,
) -> None:
    """A case for this relationship, with the rules' recommendation (its programme's `rules`,
    loaded unless given); under a `rematch` or `conclude` policy its action is armed for the
    end of the grace period."""
    rules = rules or await _rules(uow, rel.program_id)
    rec = domain.recommend(
        cause=cause,
        signals=_signals(rel.reasons),
        held=rel.held,
        has_training=bool(rules.training) or bool(await _community_trainings(uow, rel.program_id)),
    )
    case_id = new_id()
    uow.insert(
        Case,
        id=case_id,
        org=rel.org,
        match_id=rel.match_id,
        program_id=rel.program_id,
        mentor_employee_id=rel.mentor_employee_id,
        mentee_employee_id=rel.mentee_employee_id,
        cause=cause,
        status=CaseStatus.open,
        recommendation=rec.action,
        why=rec.why,
        reasons=rel.reasons,
        score_at_open=rel.score,
        opened_at=uow.now(),
        paused=False,
        history=[_entry(uow, "opened", recommendation=rec.action.value, why=rec.why)],
    )
    uow.emit(
        ev.CaseOpened(
            case_id=case_id,
            match_id=rel.match_id,
            program_id=rel.program_id,
            cause=cause,
            recommendation=rec.action,
            why=rec.why,
            reasons=[HealthReason.model_validate(r) for r in rel.reasons],
        ),
        org=rel.org,
    )
    _arm_grace(uow, case_id, rel.org, rules.engagement)


def _arm_grace(uow: UnitOfWork, case_id: str, org: str, policy: EngagementPolicy) -> None:
    if domain.policy_action(policy.on_at_risk) is not None:
        uow.schedule(
            f"case-grace:{case_id}", kind=CASE_GRACE, due_at=uow.now() + policy.grace,
            org=org, payload={"case_id": case_id},
        )  # fmt: skip


async def _follow_case(
    uow: UnitOfWork,
    rel: Relationship,
    state: HealthState,
    *,
    case: Case | None = None,
    known: bool = False,
    rules: ProgramView | ProgramRules | None = None,
) -> None:
    """The health changed: it may close (recovered) or reopen the open case, or open one
    (`known`: the caller loaded the open case, if any, as `case`; `rules`: the programme's, if
    the caller has them)."""
    if not known:
        case = await _open_case_of(uow, rel.match_id)
    if case is None:
        if state is HealthState.at_risk:
            await _open_case(uow, rel, cause=CaseCause.at_risk, rules=rules)
        return
    before = state_of(domain.CaseState, case)
    after = domain.health_moved(before, state)
    if after.status is CaseStatus.open and before.status is not CaseStatus.open:
        case.history = [*case.history, _entry(uow, "reopened", health=state.value)]
        rules = rules or await _rules(uow, rel.program_id)
        _arm_grace(uow, case.id, case.org, rules.engagement)
    _move_case(uow, case, rel, after)


def _move_case(uow: UnitOfWork, case: Case, rel: Relationship, new: domain.CaseState) -> None:
    """Store a case's next state; closing it is an event with the relationship's score."""
    closing = new.status is CaseStatus.closed and case.status != CaseStatus.closed
    store(case, new)
    if new.status is not CaseStatus.open:
        uow.cancel_timer(f"case-grace:{case.id}")
    if closing:
        assert new.outcome is not None
        case.closed_at, case.score_at_close = uow.now(), rel.score
        case.history = [*case.history, _entry(uow, "closed", outcome=new.outcome.value)]
        uow.emit(
            ev.CaseClosed(
                case_id=case.id, match_id=case.match_id, program_id=case.program_id,
                outcome=new.outcome, score=rel.score,
            ),
            org=case.org,
        )  # fmt: skip
    uow.session.add(case)


async def act_on_case(
    *, uow: UnitOfWork, principal: Principal, case_id: str, data: CaseActionData
) -> Case:
    """An admin's action on a case (see CaseActionIn)."""
    case = await _case(uow, principal.org, case_id)
    await _take(uow, case, data, by=principal.employee_id or "admin", admin=principal)
    await uow.commit()
    return case


async def grace_over(*, uow: UnitOfWork, case_id: str) -> None:
    """The grace period of a case ended (a timer): still open (nobody acted, the health did
    not recover), the programme's policy takes its action."""
    case = await uow.session.get(Case, case_id, with_for_update=True)
    if case is None or case.status != CaseStatus.open:
        return
    policy = await _policy(uow, case.program_id)
    action = domain.policy_action(policy.on_at_risk)
    if action is None:  # the policy changed to review meanwhile
        return
    data = SimpleActionIn(action=action)
    await _take(uow, case, data, by="policy", admin=None)


async def _take(
    uow: UnitOfWork, case: Case, data: CaseActionData, *, by: str, admin: Principal | None
) -> None:
    rel = await uow.session.get(Relationship, case.match_id, with_for_update=True)
    assert rel is not None  # a case is opened for a relationship
    action = data.action
    if action in domain.NEEDS_ACTIVE and not rel.active:
        raise Conflict(f"the relationship has ended: {action.value} is not possible")
    rules = await _rules(uow, case.program_id)
    new = domain.act(
        state_of(domain.CaseState, case),
        action=action,
        catalogue={t.id for t in rules.training} | await _community_trainings(uow, case.program_id),
        training_item_id=getattr(data, "training_item_id", None),
    )
    extra: dict[str, Any] = {}
    if isinstance(data, MediationIn):
        facilitator = data.facilitator_employee_id or (admin.employee_id if admin else None)
        if facilitator is None:
            raise Invalid(
                "name the facilitator (the programme manager)", field="facilitator_employee_id"
            )
        if as_utc(data.scheduled_at) <= uow.now():
            raise Invalid("a mediation is planned in the future", field="scheduled_at")
        extra = {
            "facilitator_employee_id": facilitator,
            "scheduled_at": as_utc(data.scheduled_at),
            "duration_minutes": data.duration_minutes,
        }
    elif isinstance(data, TrainingIn):
        assignee = rel.mentor_employee_id if data.assignee == "mentor" else rel.mentee_employee_id
        case.assignee_employee_id = assignee
        extra = {"training_item_id": data.training_item_id, "assignee_employee_id": assignee}
    elif action in (CaseAction.repair, CaseAction.conclude):
        extra = {"end_reason": domain.end_reason(cause=case.cause, signals=_signals(case.reasons))}
    if action is CaseAction.pause:
        await _pause(uow, rel, "admin")
    elif action is CaseAction.resume:
        await _resume(uow, rel, "admin")
    taken = ev.CaseActionTaken(
        action_id=new_id(),
        case_id=case.id,
        match_id=case.match_id,
        program_id=case.program_id,
        action=action,
        by=by,
        note=data.note,
        mentor_employee_id=case.mentor_employee_id,
        mentee_employee_id=case.mentee_employee_id,
        **extra,
    )
    uow.emit(taken, org=case.org)
    details = taken.model_dump(mode="json", include=set(extra))
    case.history = [*case.history, _entry(uow, action.value, by=by, note=data.note, **details)]
    _move_case(uow, case, rel, new)


async def _case(uow: UnitOfWork, org: str, case_id: str) -> Case:
    case = await uow.session.get(Case, case_id, with_for_update=True)
    if case is None or case.org != org:
        raise NotFound("case not found")
    return case


async def get_case(*, uow: UnitOfWork, org: str, case_id: str) -> Case:
    return await _case(uow, org, case_id)


async def list_cases(
    *,
    uow: UnitOfWork,
    org: str,
    page: PageParams,
    program_id: str | None,
    status: CaseStatus | None,
    match_id: str | None,
) -> Window[Case]:
    q = select(Case).where(Case.org == org)
    if program_id:
        q = q.where(Case.program_id == program_id)
    if status:
        q = q.where(Case.status == status)
    if match_id:
        q = q.where(Case.match_id == match_id)
    return await page_of(uow.session, q, page, col(Case.opened_at), col(Case.id))


async def complete_training(*, uow: UnitOfWork, principal: Principal, case_id: str) -> Case:
    """The assignee (or an admin) says the training assigned by a case is done."""
    case = await uow.session.get(Case, case_id, with_for_update=True)
    if (
        case is None
        or case.org != principal.org
        or not (principal.is_admin or principal.employee_id == case.assignee_employee_id)
    ):
        raise NotFound("case not found")
    _training_done(uow, case, by=principal.employee_id or "admin")
    await uow.commit()
    return case


def _training_done(uow: UnitOfWork, case: Case, *, by: str) -> None:
    store(case, domain.complete_training(state_of(domain.CaseState, case), at=uow.now()))
    assert case.training_item_id is not None and case.assignee_employee_id is not None
    case.history = [*case.history, _entry(uow, "training_completed", by=by)]
    uow.session.add(case)
    uow.emit(
        ev.TrainingCompleted(
            case_id=case.id, match_id=case.match_id, program_id=case.program_id,
            training_item_id=case.training_item_id,
            assignee_employee_id=case.assignee_employee_id,
        ),
        org=case.org,
    )  # fmt: skip


async def training_attended(*, uow: UnitOfWork, event_id: str, attended: list[str]) -> None:
    """A community training took place: the cases that assigned it to someone who came have
    it completed (by `attendance`)."""
    cases = await uow.session.exec(
        select(Case)
        .where(
            Case.training_item_id == event_id,
            col(Case.training_completed_at).is_(None),
            col(Case.assignee_employee_id).in_(attended),
        )
        .with_for_update()
    )
    for case in cases.all():
        _training_done(uow, case, by="attendance")


async def _community_trainings(uow: UnitOfWork, program_id: str) -> set[str]:
    """The programme's community trainings still to come (read once per unit of work)."""
    known: dict[str, set[str]] = uow.memo.setdefault("feedback.community_trainings", {})
    if program_id not in known:
        rows = await uow.session.exec(
            select(CommunityTraining.id).where(
                CommunityTraining.program_id == program_id,
                col(CommunityTraining.cancelled).is_(False),
                CommunityTraining.starts_at > uow.now(),
            )
        )
        known[program_id] = set(rows.all())
    return known[program_id]
