"""Reporting's HTTP routes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse

from services.reporting import dashboard, exports, kpis, tallies, trends, usecases
from services.reporting.models import (
    DashboardLinkIn,
    DashboardLinkPublic,
    ErasureStatus,
    KpiFilters,
    KpiReport,
    ProgramReport,
    RelationshipReport,
    TrendReport,
)
from services.reporting.recognition import api as recognition
from services.reporting.webhooks import api as webhooks
from shared.api import QueryDay, v1_router
from shared.app import uow_dependency
from shared.auth import CurrentPrincipal
from shared.contracts.enrollment import ParticipantRole
from shared.errors import Invalid
from shared.uow import UnitOfWork

Uow = Annotated[UnitOfWork, uow_dependency("reporting")]


def _settler(request: Request) -> tallies.Settle:
    """Drains a programme's tallies before its KPIs are read (services.reporting.tallies)."""
    runtime = request.app.state.runtimes["reporting"]
    return next(w for w in runtime.workers if isinstance(w, tallies.TallyLoop)).settle


Settle = Annotated[tallies.Settle, Depends(_settler)]

router = v1_router("reporting")
# Recognition's and webhooks' routes are reporting's too: one router, each route of its own
# (what the gateway's table and the 405 answers read).
router.routes.extend([*recognition.router.routes, *webhooks.router.routes])


@router.get("/reports/erasures/{erasure_id}", tags=["reports"], response_model=ErasureStatus)
async def erasure_status(erasure_id: str, principal: CurrentPrincipal, uow: Uow) -> ErasureStatus:
    """Where an employee's erasure (`POST /v1/employees/{id}/erasure`) stands: the services
    that confirmed it and the records each erased; complete once all have (admins)."""
    return await usecases.erasure_status(uow=uow, org=principal.org, erasure_id=erasure_id)


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


_From = Annotated[QueryDay | None, Query(alias="from", description="First day of the period (UTC)")]
_To = Annotated[
    QueryDay | None, Query(alias="to", description="Last day of the period (UTC), included")
]
_Department = Annotated[str | None, Query(min_length=1, max_length=100)]


class _Period:
    """A period of whole UTC days and a department, from the query."""

    def __init__(
        self, start: _From = None, end: _To = None, department: _Department = None
    ) -> None:
        if start is not None and end is not None and end < start:
            raise Invalid("the period ends before it starts", field="to", at="query")
        self.start, self.end, self.department = start, end, department
        self.role: ParticipantRole | None = None

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


class _Filters(_Period):
    """The KPIs' filters: the period, the department, and a role (where a KPI has one)."""

    def __init__(
        self,
        start: _From = None,
        end: _To = None,
        department: _Department = None,
        role: Annotated[ParticipantRole | None, Query()] = None,
    ) -> None:
        super().__init__(start, end, department)
        self.role = role


class _Weeks(_Period):
    """The trends' filters: the period (by default the last 12 weeks), the department."""


# Async: FastAPI runs a plain function (or a class) dependency on a worker thread, a thread hop
# per request for building three fields.
async def _weeks(start: _From = None, end: _To = None, department: _Department = None) -> _Weeks:
    return _Weeks(start, end, department)


async def _filters(
    start: _From = None,
    end: _To = None,
    department: _Department = None,
    role: Annotated[ParticipantRole | None, Query()] = None,
) -> _Filters:
    return _Filters(start, end, department, role)


Weeks = Annotated[_Weeks, Depends(_weeks)]
Filters = Annotated[_Filters, Depends(_filters)]


@router.get("/reports/programs/{program_id}/kpis", tags=["reports"], response_model=KpiReport)
async def program_kpis(
    program_id: str, principal: CurrentPrincipal, uow: Uow, filters: Filters, settle: Settle
) -> KpiReport:
    """One programme's KPIs (admins), each with its definition; filters: `from`/`to` (days),
    `department` (a relationship's is its mentee's), `role` (where a KPI has one). A figure
    describing fewer than 5 people is withheld."""
    now = uow.now()
    return await kpis.kpis(
        uow=uow, org=principal.org, filters=filters.filters(program_id), now=now, settle=settle
    )


@router.get("/reports/kpis", tags=["reports"], response_model=KpiReport)
async def org_kpis(principal: CurrentPrincipal, uow: Uow, filters: Filters) -> KpiReport:
    """The same KPIs across every programme of the organisation (admins)."""
    now = uow.now()
    return await kpis.kpis(uow=uow, org=principal.org, filters=filters.filters(None), now=now)


@router.get("/reports/programs/{program_id}/trends", tags=["reports"], response_model=TrendReport)
async def program_trends(
    program_id: str, principal: CurrentPrincipal, uow: Uow, period: Weeks, settle: Settle
) -> TrendReport:
    """One programme's weekly series (admins): enrolments, proposals, sessions held, hours,
    active relationships, ratings per side; a week's value about fewer than 5 people is
    withheld. By default the last 12 weeks; `from`/`to` choose them (at most 104)."""
    now = uow.now()
    return await trends.trends(
        uow=uow, org=principal.org, filters=period.filters(program_id), now=now, settle=settle
    )


@router.get("/reports/trends", tags=["reports"], response_model=TrendReport)
async def org_trends(principal: CurrentPrincipal, uow: Uow, period: Weeks) -> TrendReport:
    """The same weekly series across every programme of the organisation (admins)."""
    now = uow.now()
    return await trends.trends(uow=uow, org=principal.org, filters=period.filters(None), now=now)


@router.get(
    "/reports/programs/{program_id}/exports/{table}",
    tags=["reports"],
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {}, "application/json": {}},
            "description": "The table, streamed (columns: see the README)",
        }
    },
)
async def export(
    program_id: str,
    table: exports.ExportTable,
    request: Request,
    principal: CurrentPrincipal,
    uow: Uow,
    period: Weeks,
    settle: Settle,
    format: exports.ExportFormat = exports.ExportFormat.csv,  # noqa: A002 (the query's name)
) -> StreamingResponse:
    """One programme's table as CSV (default) or JSON (admins): `participation`,
    `relationships`, `sessions` (streamed from the database), or `trends` (the weekly series;
    `from`/`to` as for the trends)."""
    await usecases.program_of(uow=uow, org=principal.org, program_id=program_id)
    if table is exports.ExportTable.trends:
        report = await trends.trends(
            uow=uow,
            org=principal.org,
            filters=period.filters(program_id),
            now=uow.now(),
            settle=settle,
        )
        columns: tuple[str, ...] = ("week", *(s.name for s in report.series))
        rows: Any = [
            {"week": week, **{s.name: s.values[i] for s in report.series}}
            for i, week in enumerate(report.weeks)
        ]
    else:
        columns = exports.COLUMNS[table]
        engine = request.app.state.runtimes["reporting"].engine
        rows = exports.stream(engine, table, program_id)
    if format is exports.ExportFormat.json:
        return StreamingResponse(exports.as_json(columns, rows), media_type="application/json")
    return StreamingResponse(
        exports.as_csv(columns, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{table}-{program_id}.csv"'},
    )


@router.post(
    "/reports/dashboard-links",
    tags=["reports"],
    status_code=201,
    response_model=DashboardLinkPublic,
)
async def mint_dashboard_link(
    data: DashboardLinkIn, principal: CurrentPrincipal, uow: Uow
) -> DashboardLinkPublic:
    """A short-lived link to the dashboard of a programme (or of the organisation, without
    `program_id`) for a browser (admins): the URL carries its secret (shown once)."""
    token, expires_at = await dashboard.mint_link(uow=uow, org=principal.org, data=data)
    return DashboardLinkPublic(url=f"/v1/reports/dashboards/{token}", expires_at=expires_at)


@router.get("/reports/dashboards/{token}", tags=["reports"], response_class=HTMLResponse)
async def dashboard_page(
    token: Annotated[str, Path(max_length=100)], uow: Uow, settle: Settle
) -> HTMLResponse:
    """The dashboard a link shows (no bearer token: the link is the secret); 404 once it has
    expired."""
    return HTMLResponse(await dashboard.render(uow=uow, token=token, settle=settle))


@router.get("/reports/assets/plotly.min.js", tags=["reports"], response_class=Response)
async def plotly_asset() -> Response:
    """The charting library the dashboard loads, from the installed plotly package."""
    return Response(
        dashboard.plotly_js(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )
