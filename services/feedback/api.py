"""Feedback's HTTP routes: thin shells over the use cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, status

from services.feedback import usecases
from services.feedback.models import (
    Case,
    CaseActionIn,
    CasePublic,
    FeedbackCreate,
    FeedbackPublic,
    HealthPublic,
    Relationship,
    SurveyAnswers,
    SurveyPublic,
    TrainingPublic,
)
from shared.api import v1_router
from shared.app import uow_dependency
from shared.auth import CurrentPrincipal, Principal
from shared.contracts.feedback import (
    CaseOutcome,
    CaseStatus,
    HealthReason,
    HealthSignal,
    HealthState,
)
from shared.paging import Page, Window, listing
from shared.uow import UnitOfWork

Uow = Annotated[UnitOfWork, uow_dependency("feedback")]

router = v1_router("feedback")


@router.post(
    "/feedback",
    tags=["feedback"],
    response_model=FeedbackPublic,
    status_code=status.HTTP_201_CREATED,
)
async def submit(data: FeedbackCreate, principal: CurrentPrincipal, uow: Uow) -> object:
    """Rate a completed session 1 to 5 (its mentor or mentee, once each).

    Each side's last ratings are judged against its own threshold (the programme's engagement
    policy); low ones weigh on the relationship's health, and an at-risk relationship opens a
    corrective case.
    """
    return await usecases.submit(uow=uow, principal=principal, data=data)


@router.get("/feedback", tags=["feedback"], response_model=listing(FeedbackPublic))
async def list_feedback(
    principal: CurrentPrincipal,
    uow: Uow,
    page: Page,
    session_id: Annotated[str | None, Query(max_length=36)] = None,
    match_id: Annotated[str | None, Query(max_length=36)] = None,
) -> object:
    return await usecases.list_feedback(
        uow=uow, principal=principal, page=page, session_id=session_id, match_id=match_id
    )


@router.get("/feedback/{feedback_id}", tags=["feedback"], response_model=FeedbackPublic)
async def get_feedback(feedback_id: str, principal: CurrentPrincipal, uow: Uow) -> object:
    return await usecases.get(uow=uow, principal=principal, feedback_id=feedback_id)


def _health(rel: Relationship, principal: Principal) -> HealthPublic:
    """Admins see the score and every signal; a party sees the state and the signals that do
    not reveal one side's ratings (HR follows those up)."""
    reasons = [HealthReason.model_validate(r) for r in rel.reasons]
    if not principal.is_admin:
        reasons = [r for r in reasons if not r.signal.startswith("low_ratings_")]
    return HealthPublic(
        match_id=rel.match_id,
        program_id=rel.program_id,
        state=rel.state,
        score=rel.score if principal.is_admin else None,
        reasons=reasons,
        nudges=rel.nudges,
        held=rel.held,
        last_activity_at=rel.last_activity_at,
        paused=bool(rel.paused_for),
        agreed_cadence=rel.cadence,
    )


@router.get("/relationships/{match_id}/health", tags=["follow-up"], response_model=HealthPublic)
async def get_health(match_id: str, principal: CurrentPrincipal, uow: Uow) -> HealthPublic:
    """How an active relationship is going: too_early, on_track, needs_attention or at_risk,
    recomputed on every signal (sessions held or missed, ratings, idle time)."""
    rel = await usecases.get_health(uow=uow, principal=principal, match_id=match_id)
    return _health(rel, principal)


@router.get("/relationships", tags=["follow-up"], response_model=listing(HealthPublic))
async def list_health(
    principal: CurrentPrincipal,
    uow: Uow,
    page: Page,
    program_id: Annotated[str | None, Query(max_length=36)] = None,
    state: HealthState | None = None,
    reason: Annotated[HealthSignal | None, Query(description="a signal behind the health")] = None,
) -> Window[HealthPublic]:
    """Active relationships by health, the lowest score first (admins)."""
    found = await usecases.list_health(
        uow=uow, org=principal.org, page=page, program_id=program_id, state=state, reason=reason
    )
    return found.map(lambda r: _health(r, principal))


@router.get("/surveys", tags=["follow-up"], response_model=listing(SurveyPublic))
async def list_surveys(
    principal: CurrentPrincipal,
    uow: Uow,
    page: Page,
    match_id: Annotated[str | None, Query(max_length=36)] = None,
) -> object:
    """Pulse and closing surveys: an employee's own, or (admins) all."""
    return await usecases.list_surveys(uow=uow, principal=principal, page=page, match_id=match_id)


@router.get("/surveys/{survey_id}", tags=["follow-up"], response_model=SurveyPublic)
async def get_survey(survey_id: str, principal: CurrentPrincipal, uow: Uow) -> object:
    return await usecases.get_survey(uow=uow, principal=principal, survey_id=survey_id)


@router.post("/surveys/{survey_id}/answers", tags=["follow-up"], response_model=SurveyPublic)
async def answer_survey(
    survey_id: str, data: SurveyAnswers, principal: CurrentPrincipal, uow: Uow
) -> object:
    """Answer your survey (1-5 each, an optional comment only you and admins see), once,
    before it expires."""
    return await usecases.answer_survey(
        uow=uow, principal=principal, survey_id=survey_id, data=data
    )


def _case(case: Case) -> CasePublic:
    closed = case.status == CaseStatus.closed
    return CasePublic.model_validate(
        {
            **{name: getattr(case, name) for name in Case.model_fields},
            "recovered": (case.outcome == CaseOutcome.recovered) if closed else None,
        }
    )


@router.get("/cases", tags=["follow-up"], response_model=listing(CasePublic))
async def list_cases(
    principal: CurrentPrincipal,
    uow: Uow,
    page: Page,
    program_id: Annotated[str | None, Query(max_length=36)] = None,
    status: CaseStatus | None = None,
    match_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Window[CasePublic]:
    """Corrective cases, the oldest first (admins)."""
    found = await usecases.list_cases(
        uow=uow, org=principal.org, page=page, program_id=program_id, status=status,
        match_id=match_id,
    )  # fmt: skip
    return found.map(_case)


@router.get("/cases/{case_id}", tags=["follow-up"], response_model=CasePublic)
async def get_case(case_id: str, principal: CurrentPrincipal, uow: Uow) -> CasePublic:
    """A case: why it opened, the recommendation, its history and outcome (admins)."""
    return _case(await usecases.get_case(uow=uow, org=principal.org, case_id=case_id))


@router.post("/cases/{case_id}/actions", tags=["follow-up"], response_model=CasePublic)
async def act_on_case(
    case_id: str, data: CaseActionIn, principal: CurrentPrincipal, uow: Uow
) -> CasePublic:
    """Act on a case (admins): `repair` (end the match, propose the mentee a new mentor),
    `mediation` (a meeting of the pair with the programme manager), `training` (an item of
    the programme's catalogue), `pause`, `resume`, `conclude`, `dismiss`. Each is an event;
    the case keeps its history, and closes when the health recovers."""
    case = await usecases.act_on_case(uow=uow, principal=principal, case_id=case_id, data=data)
    return _case(case)


@router.post(
    "/cases/{case_id}/training/complete", tags=["follow-up"], response_model=TrainingPublic
)
async def complete_training(case_id: str, principal: CurrentPrincipal, uow: Uow) -> TrainingPublic:
    """The assigned training is done (its assignee, or an admin)."""
    case = await usecases.complete_training(uow=uow, principal=principal, case_id=case_id)
    return TrainingPublic.model_validate(case, from_attributes=True)
