"""Feedback's HTTP routes: thin shells over the use cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from services.feedback import usecases
from services.feedback.models import FeedbackCreate, FeedbackPublic
from shared.api import Page
from shared.app import uow_dependency
from shared.auth import AdminOrEmployee
from shared.uow import UnitOfWork

Uow = Annotated[UnitOfWork, uow_dependency("feedback")]

router = APIRouter(prefix="/v1")


@router.post(
    "/feedback",
    tags=["feedback"],
    response_model=FeedbackPublic,
    status_code=status.HTTP_201_CREATED,
)
async def submit(data: FeedbackCreate, principal: AdminOrEmployee, uow: Uow) -> object:
    """Rate a completed session 1 to 5 (its mentor or mentee, once each).

    When the relationship's last ratings average below the programme's threshold, the
    relationship is reported at risk and matching re-pairs the mentee asynchronously.
    """
    return await usecases.submit(uow=uow, principal=principal, data=data)


@router.get("/feedback", tags=["feedback"], response_model=list[FeedbackPublic])
async def list_feedback(
    principal: AdminOrEmployee,
    uow: Uow,
    page: Page,
    session_id: Annotated[str | None, Query(max_length=36)] = None,
    match_id: Annotated[str | None, Query(max_length=36)] = None,
) -> list:
    return await usecases.list_feedback(
        uow=uow, principal=principal, page=page, session_id=session_id, match_id=match_id
    )


@router.get("/feedback/{feedback_id}", tags=["feedback"], response_model=FeedbackPublic)
async def get_feedback(feedback_id: str, principal: AdminOrEmployee, uow: Uow) -> object:
    return await usecases.get(uow=uow, principal=principal, feedback_id=feedback_id)
