"""Reporting's HTTP routes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import Depends, Query

from services.reporting import kpis, usecases
from services.reporting.models import KpiFilters, KpiReport, ProgramReport, RelationshipReport
from shared.api import v1_router
from shared.app import uow_dependency
from shared.auth import CurrentPrincipal
from shared.contracts.enrollment import ParticipantRole
from shared.errors import Invalid
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


class _Filters:
    """The KPIs' filters, from the query: a period of whole UTC days, a department, a role."""

    def __init__(
        self,
        start: Annotated[
            date | None, Query(alias="from", description="First day of the period (UTC)")
        ] = None,
        end: Annotated[
            date | None, Query(alias="to", description="Last day of the period (UTC), included")
        ] = None,
        department: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
        role: Annotated[ParticipantRole | None, Query()] = None,
    ) -> None:
        if start is not None and end is not None and end < start:
            raise Invalid("the period ends before it starts", field="to", at="query")
        self.start, self.end, self.department, self.role = start, end, department, role

    def filters(self, program_id: str | None) -> KpiFilters:
        def midnight(day: date) -> datetime:
            return datetime.combine(day, time.min, UTC)

        return KpiFilters(
            program_id=program_id,
            start=None if self.start is None else midnight(self.start),
            end=None if self.end is None else midnight(self.end + timedelta(days=1)),
            department=self.department,
            role=self.role,
        )


Filters = Annotated[_Filters, Depends()]


@router.get("/reports/programs/{program_id}/kpis", tags=["reports"], response_model=KpiReport)
async def program_kpis(
    program_id: str, principal: CurrentPrincipal, uow: Uow, filters: Filters
) -> KpiReport:
    """One programme's KPIs (admins), each with its definition; filters: `from`/`to` (days),
    `department` (a relationship's is its mentee's), `role` (where a KPI has one). A figure
    describing fewer than 5 people is withheld."""
    now = uow.now()
    return await kpis.kpis(
        uow=uow, org=principal.org, filters=filters.filters(program_id), now=now
    )


@router.get("/reports/kpis", tags=["reports"], response_model=KpiReport)
async def org_kpis(principal: CurrentPrincipal, uow: Uow, filters: Filters) -> KpiReport:
    """The same KPIs across every programme of the organisation (admins)."""
    now = uow.now()
    return await kpis.kpis(uow=uow, org=principal.org, filters=filters.filters(None), now=now)
