"""Feedback's use cases, keyword-only, on a unit of work."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select

from services.feedback import domain
from services.feedback.models import (
    AtRiskFlag,
    Feedback,
    FeedbackCreate,
    ProgramView,
    Relationship,
    SessionView,
    Survey,
    SurveyAnswers,
)
from shared.access import get_visible, scoped
from shared.api import PageParams, as_utc
from shared.auth import Principal
from shared.contracts import feedback as ev
from shared.contracts import matching as ev_matching
from shared.contracts.enrollment import PROGRAM_DEFAULTS as RULES
from shared.contracts.enrollment import EngagementPolicy
from shared.contracts.feedback import HealthState, SurveyKind
from shared.contracts.sessions import SessionStatus
from shared.db import lock_key
from shared.errors import Invalid
from shared.uow import UnitOfWork


async def submit(*, uow: UnitOfWork, principal: Principal, data: FeedbackCreate) -> Feedback:
    session = await uow.session.get(SessionView, data.session_id)
    if session is None or session.org != principal.org:
        raise Invalid("unknown session", field="session_id")
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
    await _watch_relationship(
        uow=uow, org=principal.org, match_id=session.match_id, program_id=session.program_id
    )
    rel = await uow.session.get(Relationship, session.match_id)
    if rel is not None and rel.active:
        await _recompute(uow, rel)
    await uow.commit()
    return feedback


async def _watch_relationship(*, uow: UnitOfWork, org: str, match_id: str, program_id: str) -> None:
    # Two ratings of one relationship arriving together must see each other.
    await lock_key(uow.session, f"relationship:{match_id}")
    if await uow.session.get(AtRiskFlag, match_id) is not None:
        return
    # Not heard of the programme yet (events cross services asynchronously): its defaults.
    rules = await uow.session.get(ProgramView, program_id) or RULES
    rows = await uow.session.exec(
        select(Feedback.rating)
        .where(Feedback.match_id == match_id)
        .order_by(col(Feedback.created_at), col(Feedback.id))
    )
    risk = domain.assess(
        list(rows.all()), window=rules.rating_window, threshold=rules.rematch_threshold
    )
    alarm = domain.alarm(risk, match_id=match_id, program_id=program_id)
    if alarm is None:
        return
    uow.session.add(AtRiskFlag(match_id=match_id, org=org, average_rating=alarm.average_rating))
    uow.emit(alarm, org=org)


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
) -> list[Feedback]:
    q = scoped(select(Feedback), Feedback, principal, Feedback.author_employee_id)
    if session_id:
        q = q.where(Feedback.session_id == session_id)
    if match_id:
        q = q.where(Feedback.match_id == match_id)
    q = q.order_by(col(Feedback.created_at), col(Feedback.id)).offset(page.offset).limit(page.limit)
    return list((await uow.session.exec(q)).all())


# --- relationship health ------------------------------------------------------------------

INACTIVITY = "relationship.inactivity"  # the timer kinds
PULSE = "relationship.pulse"
SURVEY_EXPIRY = "survey.expiry"


def _inactivity_timer(match_id: str) -> str:
    return f"inactivity:{match_id}"


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


async def relationship_ended(*, uow: UnitOfWork, match_id: str) -> None:
    rel = await uow.session.get(Relationship, match_id)
    if rel is not None and rel.active:
        rel.active = False
        uow.session.add(rel)
        uow.cancel_timer(_inactivity_timer(match_id))
        uow.cancel_timer(f"pulse:{match_id}")
        await _send_surveys(uow, rel, SurveyKind.closing)


async def session_signal(*, uow: UnitOfWork, match_id: str, status: SessionStatus) -> None:
    """A session of the relationship was planned, held, left unconfirmed or missed."""
    rel = await uow.session.get(Relationship, match_id)
    if rel is None or not rel.active:
        return
    if status in (SessionStatus.scheduled, SessionStatus.completed):
        rel.last_activity_at = uow.now()
    elif status is SessionStatus.unconfirmed:
        rel.unconfirmed += 1
    elif status is SessionStatus.no_show:
        rel.no_shows += 1
    await _recompute(uow, rel)


async def inactivity_check(*, uow: UnitOfWork, match_id: str) -> None:
    """The idle time crossed a threshold (a timer): nudge, and recompute the health."""
    rel = await uow.session.get(Relationship, match_id, with_for_update=True)
    if rel is not None and rel.active:
        await _recompute(uow, rel, nudge=True)


async def _recompute(uow: UnitOfWork, rel: Relationship, *, nudge: bool = False) -> None:
    rules = await uow.session.get(ProgramView, rel.program_id) or RULES
    policy = rules.engagement
    rows = await uow.session.exec(
        select(Feedback.author_employee_id, Feedback.rating)
        .where(Feedback.match_id == rel.match_id)
        .order_by(col(Feedback.created_at), col(Feedback.id))
    )
    ratings: dict[domain.Side, list[int]] = {"mentor": [], "mentee": []}
    for author, rating in rows.all():
        ratings["mentor" if author == rel.mentor_employee_id else "mentee"].append(rating)
    inputs = domain.HealthInputs(
        now=uow.now(),
        activated_at=as_utc(rel.activated_at),
        last_activity_at=as_utc(rel.last_activity_at),
        policy=policy,
        ratings=ratings,
        window=rules.rating_window,
        threshold=rules.rematch_threshold,
        unconfirmed=rel.unconfirmed,
        no_shows=rel.no_shows,
        low_pulse=rel.low_pulse,
        unanswered=rel.unanswered,
    )
    if nudge and domain.nudge_due_now(inputs, last_nudge_at=_aware(rel.last_nudge_at)):
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
    h = domain.health(inputs)
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
    rel.reasons = [r.model_dump() for r in h.reasons]
    uow.session.add(rel)
    check = domain.next_inactivity_check(inputs)
    key = _inactivity_timer(rel.match_id)
    if check is None:
        uow.cancel_timer(key)
    else:
        uow.schedule(
            key, kind=INACTIVITY, due_at=check, org=rel.org, payload={"match_id": rel.match_id}
        )


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
) -> list[Relationship]:
    q = select(Relationship).where(Relationship.org == org, Relationship.active)
    if program_id:
        q = q.where(Relationship.program_id == program_id)
    if state:
        q = q.where(Relationship.state == state)
    q = q.order_by(col(Relationship.score), col(Relationship.match_id))
    return list((await uow.session.exec(q.offset(page.offset).limit(page.limit))).all())


# --- pulse and closing surveys ----------------------------------------------------------------


async def _policy(uow: UnitOfWork, program_id: str) -> EngagementPolicy:
    return (await uow.session.get(ProgramView, program_id) or RULES).engagement


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
        ),
        org=survey.org,
    )  # fmt: skip
    rel = await uow.session.get(Relationship, survey.match_id)
    if rel is not None and rel.active and survey.kind == SurveyKind.pulse:
        rel.low_pulse = mean <= domain.LOW_PULSE
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
) -> list[Survey]:
    q = scoped(select(Survey), Survey, principal, Survey.respondent_employee_id)
    if match_id:
        q = q.where(Survey.match_id == match_id)
    q = q.order_by(col(Survey.sent_at), col(Survey.id)).offset(page.offset).limit(page.limit)
    return list((await uow.session.exec(q)).all())
