"""Reporting's HTTP routes."""

from __future__ import annotations

from typing import Annotated

from services.reporting import usecases
from services.reporting.models import ProgramReport, RelationshipReport
from shared.api import v1_router
from shared.app import uow_dependency
from shared.auth import CurrentPrincipal
from shared.uow import UnitOfWork

Uow = Annotated[UnitOfWork, uow_dependency("reporting")]

router = v1_router("reporting")


@router.get("/reports/programs/{program_id}", tags=["reports"], response_model=ProgramReport)
async def program_report(program_id: str, principal: CurrentPrincipal, uow: Uow) -> ProgramReport:
    """Engagement figures of one programme, as known from the events received so far."""
    return await usecases.program_report(uow=uow, org=principal.org, program_id=program_id)


@router.get(
    "/reports/relationships/{match_id}", tags=["reports"], response_model=RelationshipReport
)
async def relationship_report(
    match_id: str, principal: CurrentPrincipal, uow: Uow
) -> RelationshipReport:
    """One relationship's mentoring hours and skill progress (admins)."""
    return await usecases.relationship_report(uow=uow, org=principal.org, match_id=match_id)
