"""Sessions' HTTP routes: thin shells over the use cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from services.sessions import usecases
from services.sessions.models import (
    CancelRequest,
    CompleteRequest,
    SessionCreate,
    SessionPublic,
    SessionStatus,
)
from shared.api import Page
from shared.app import uow_dependency
from shared.auth import AdminOrEmployee
from shared.uow import UnitOfWork

Uow = Annotated[UnitOfWork, uow_dependency("sessions")]

router = APIRouter(prefix="/v1")


@router.post(
    "/sessions",
    tags=["sessions"],
    response_model=SessionPublic,
    status_code=status.HTTP_201_CREATED,
)
async def schedule(data: SessionCreate, principal: AdminOrEmployee, uow: Uow) -> object:
    """Plan a session for an active match (its mentor, mentee or an admin)."""
    return await usecases.schedule(uow=uow, principal=principal, data=data)


@router.get("/sessions", tags=["sessions"], response_model=list[SessionPublic])
async def list_sessions(
    principal: AdminOrEmployee,
    uow: Uow,
    page: Page,
    match_id: Annotated[str | None, Query(max_length=36)] = None,
    status: SessionStatus | None = None,
) -> list:
    return await usecases.list_sessions(
        uow=uow, principal=principal, page=page, match_id=match_id, status=status
    )


@router.get("/sessions/{session_id}", tags=["sessions"], response_model=SessionPublic)
async def get_session(session_id: str, principal: AdminOrEmployee, uow: Uow) -> object:
    return await usecases.get(uow=uow, principal=principal, session_id=session_id)


@router.post("/sessions/{session_id}/complete", tags=["sessions"], response_model=SessionPublic)
async def complete(
    session_id: str, principal: AdminOrEmployee, uow: Uow, body: CompleteRequest | None = None
) -> object:
    return await usecases.complete(
        uow=uow, principal=principal, session_id=session_id, notes=body.notes if body else None
    )


@router.post("/sessions/{session_id}/cancel", tags=["sessions"], response_model=SessionPublic)
async def cancel(
    session_id: str, principal: AdminOrEmployee, uow: Uow, body: CancelRequest | None = None
) -> object:
    reason = body.reason if body else "cancelled"
    return await usecases.cancel(uow=uow, principal=principal, session_id=session_id, reason=reason)
