"""Enrollment's HTTP routes: thin shells over the use cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from services.enrollment import usecases
from services.enrollment.domain import EmployeeStatus, ParticipantStatus
from services.enrollment.models import (
    EmployeePublic,
    HrisBatch,
    HrisBatchResult,
    ParticipantCreate,
    ParticipantPublic,
    ProgramCreate,
    ProgramPublic,
    ProgramUpdate,
    WithdrawRequest,
)
from shared.api import Page
from shared.app import uow_dependency
from shared.auth import Admin, AdminOrEmployee, AdminOrHris, CurrentPrincipal
from shared.contracts.enrollment import ParticipantRole
from shared.uow import UnitOfWork

Uow = Annotated[UnitOfWork, uow_dependency("enrollment")]

router = APIRouter(prefix="/v1")


@router.post("/hris/events", tags=["hris"], response_model=HrisBatchResult)
async def push_hris_events(batch: HrisBatch, principal: AdminOrHris, uow: Uow) -> HrisBatchResult:
    """Apply a batch of HRIS employee events (hired, updated, terminated, leave, returned),
    all or nothing.

    Idempotent by `event_id`: a re-sent event is reported `duplicate` and has no effect.
    """
    return await usecases.apply_hris_batch(uow=uow, org=principal.org, batch=batch)


@router.get("/employees", tags=["employees"], response_model=list[EmployeePublic])
async def list_employees(
    principal: AdminOrHris,
    uow: Uow,
    page: Page,
    department: str | None = None,
    status: EmployeeStatus | None = None,
) -> list:
    return await usecases.list_employees(
        uow=uow, org=principal.org, page=page, department=department, status=status
    )


@router.get("/employees/{employee_id}", tags=["employees"], response_model=EmployeePublic)
async def get_employee(employee_id: str, principal: CurrentPrincipal, uow: Uow) -> object:
    return await usecases.get_employee(uow=uow, principal=principal, employee_id=employee_id)


@router.post(
    "/programs",
    tags=["programs"],
    response_model=ProgramPublic,
    status_code=status.HTTP_201_CREATED,
)
async def create_program(data: ProgramCreate, principal: Admin, uow: Uow) -> object:
    return await usecases.create_program(uow=uow, org=principal.org, data=data)


@router.get("/programs", tags=["programs"], response_model=list[ProgramPublic])
async def list_programs(principal: CurrentPrincipal, uow: Uow, page: Page) -> list:
    return await usecases.list_programs(uow=uow, org=principal.org, page=page)


@router.patch("/programs/{program_id}", tags=["programs"], response_model=ProgramPublic)
async def update_program(
    program_id: str,
    data: ProgramUpdate,  # type: ignore[valid-type]
    principal: Admin,
    uow: Uow,
) -> object:
    """Change a programme's settings (admins): the fields sent, the engagement policy field by
    field; not its format. Matching, sessions and feedback hear of the new rules
    (`program.updated`); feedback re-judges the programme's running relationships."""
    return await usecases.update_program(
        uow=uow, org=principal.org, program_id=program_id, data=data
    )


@router.get("/programs/{program_id}", tags=["programs"], response_model=ProgramPublic)
async def get_program(program_id: str, principal: CurrentPrincipal, uow: Uow) -> object:
    return await usecases.get_program(uow=uow, org=principal.org, program_id=program_id)


@router.post(
    "/participants",
    tags=["participants"],
    response_model=ParticipantPublic,
    status_code=status.HTTP_201_CREATED,
)
async def enroll(data: ParticipantCreate, principal: AdminOrEmployee, uow: Uow) -> object:
    """Enrol an employee in a programme as mentor or mentee (employees enrol themselves)."""
    return await usecases.enroll(uow=uow, principal=principal, data=data)


@router.get("/participants", tags=["participants"], response_model=list[ParticipantPublic])
async def list_participants(
    principal: AdminOrEmployee,
    uow: Uow,
    page: Page,
    program_id: Annotated[str | None, Query(max_length=36)] = None,
    role: ParticipantRole | None = None,
    status: ParticipantStatus | None = None,
) -> list:
    return await usecases.list_participants(
        uow=uow, principal=principal, page=page, program_id=program_id, role=role, status=status
    )


@router.get(
    "/participants/{participant_id}", tags=["participants"], response_model=ParticipantPublic
)
async def get_participant(participant_id: str, principal: AdminOrEmployee, uow: Uow) -> object:
    return await usecases.get_participant(
        uow=uow, principal=principal, participant_id=participant_id
    )


@router.post(
    "/participants/{participant_id}/withdraw",
    tags=["participants"],
    response_model=ParticipantPublic,
)
async def withdraw(
    participant_id: str, body: WithdrawRequest, principal: AdminOrEmployee, uow: Uow
) -> object:
    return await usecases.withdraw(
        uow=uow,
        principal=principal,
        participant_id=participant_id,
        reason=body.reason,
        note=body.note,
    )
