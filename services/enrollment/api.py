"""Enrollment's HTTP routes: thin shells over the use cases."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Literal

import orjson
from fastapi import Query, Request, Response, status
from fastapi.responses import StreamingResponse

from services.enrollment import usecases
from services.enrollment.domain import EmployeeStatus, ParticipantStatus
from services.enrollment.models import (
    ApproveRequest,
    EmployeeImportResult,
    EmployeePublic,
    EnrolmentBatch,
    EnrolmentBatchResult,
    ErasurePublic,
    HrisBatch,
    HrisBatchResult,
    ParticipantCreate,
    ParticipantImportResult,
    ParticipantPublic,
    ParticipantUpdate,
    ProgramCreate,
    ProgramPublic,
    ProgramStatusChange,
    ProgramUpdate,
    RejectRequest,
    WithdrawRequest,
)
from services.enrollment.scim import api as scim
from shared import logs
from shared.api import v1_router
from shared.app import uow_dependency
from shared.auth import CurrentPrincipal
from shared.conditional import IfMatch
from shared.contracts.enrollment import ParticipantRole, ProgramStatus
from shared.errors import DomainError, Invalid
from shared.http_errors import domain_problem
from shared.paging import Page, listing
from shared.problems import PRECONDITION_RESPONSES, problem
from shared.settings import Settings
from shared.uow import UnitOfWork

if TYPE_CHECKING:
    from shared.service import ServiceRuntime

log = logging.getLogger(__name__)

Uow = Annotated[UnitOfWork, uow_dependency("enrollment")]

router = v1_router("enrollment")
# SCIM's routes are enrollment's too: the admins' credentials under /v1, the protocol under
# /scim/v2 (one router, each route of its own: what the gateway's table reads).
router.routes.extend([*scim.router.routes, *scim.scim_router.routes])


NDJSON = "application/x-ndjson"
# A route taking a file: its body as OpenAPI describes it (FastAPI reads JSON bodies only).
CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string", "maxLength": 16_000_000}}},
    }
}


@router.post(
    "/hris/employees/import",
    tags=["hris"],
    response_model=EmployeeImportResult,
    openapi_extra=CSV_BODY,
    responses={
        200: {
            "content": {
                NDJSON: {
                    "schema": {"type": "string"},
                    "description": "With `Accept: application/x-ndjson`: a line "
                    '`{"progress": {"processed": n, "total": t}}` per 2,000 lines applied, '
                    'then `{"result": ...}` (the import committed) or `{"error": problem}` '
                    "(nothing imported).",
                }
            }
        }
    },
)
async def import_employees(
    request: Request,
    principal: CurrentPrincipal,
    mode: Literal["all_or_nothing", "per_line"] = "all_or_nothing",
) -> object:
    """Import employees from a CSV file (UTF-8, a header row; columns `id` and `name`
    required, and any of `email`, `department`, `level`, `manager_id`, `languages` (separated
    by `;`), `timezone`, `location`, `hired_on`), at most 100,000 lines. Each line becomes an
    HRIS record (`hired`, or `updated` for a known employee), judged on its own; importing the
    same file again changes nothing (`duplicate`). `all_or_nothing` (the default): a line
    refused refuses the file, 422 naming each line and column at fault; `per_line`: the other
    lines are imported and the refused ones listed. One transaction either way. Asked with
    `Accept: application/x-ndjson`, the answer streams the progress of a large file, then its
    result."""
    text = await _csv_text(request)
    runtime = request.app.state.runtimes["enrollment"]
    logs.serving("enrollment")
    per_line = mode == "per_line"
    if NDJSON not in request.headers.get("accept", ""):
        async with runtime.uow() as uow:
            return await usecases.import_employees(
                uow=uow, org=principal.org, text=text, per_line=per_line
            )
    return StreamingResponse(
        _import_progress(runtime, principal.org, text, per_line, str(request.url.path)),
        media_type=NDJSON,
    )


async def _csv_text(request: Request) -> str:
    """A file's text (UTF-8, a byte-order mark ignored)."""
    try:
        return (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("the file is not UTF-8 text") from exc


async def _import_progress(
    runtime: ServiceRuntime, org: str, text: str, per_line: bool, path: str
) -> AsyncIterator[bytes]:
    """The import run beside the answer: each progress report a line as it comes, then the
    result (committed) or the error (rolled back: nothing imported)."""
    lines: asyncio.Queue[dict] = asyncio.Queue()

    async def progress(processed: int, total: int) -> None:
        await lines.put({"progress": {"processed": processed, "total": total}})

    async def run() -> None:
        try:
            async with runtime.uow() as uow:
                done = await usecases.import_employees(
                    uow=uow, org=org, text=text, per_line=per_line, progress=progress
                )
            await lines.put({"result": done.model_dump(mode="json")})
        except DomainError as exc:
            await lines.put({"error": domain_problem(exc, instance=path)})
        except Exception:  # the database away, or a fault of ours: said, never half-written
            log.exception("employee import failed")
            failed = "the import failed; nothing was imported"
            await lines.put({"error": problem(503, failed, instance=path)})

    task = asyncio.create_task(run())
    try:
        while True:
            line = await lines.get()
            yield orjson.dumps(line) + b"\n"
            if "progress" not in line:
                return
    finally:
        if not task.done():  # the client went away: the import is rolled back
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


@router.post("/hris/events", tags=["hris"], response_model=HrisBatchResult)
async def push_hris_events(
    batch: HrisBatch, principal: CurrentPrincipal, uow: Uow
) -> HrisBatchResult:
    """Apply a batch of HRIS employee events (hired, updated, terminated, leave, returned),
    all or nothing.

    Idempotent by `event_id`: a re-sent event is reported `duplicate` and has no effect.
    """
    return await usecases.apply_hris_batch(uow=uow, org=principal.org, batch=batch)


@router.get("/employees", tags=["employees"], response_model=listing(EmployeePublic))
async def list_employees(
    principal: CurrentPrincipal,
    uow: Uow,
    page: Page,
    department: Annotated[str | None, Query(max_length=200)] = None,
    status: EmployeeStatus | None = None,
) -> object:
    return await usecases.list_employees(
        uow=uow, org=principal.org, page=page, department=department, status=status
    )


@router.get("/employees/{employee_id}", tags=["employees"], response_model=EmployeePublic)
async def get_employee(employee_id: str, principal: CurrentPrincipal, uow: Uow) -> object:
    return await usecases.get_employee(uow=uow, principal=principal, employee_id=employee_id)


@router.post(
    "/employees/{employee_id}/erasure",
    tags=["employees"],
    response_model=ErasurePublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses={200: {"description": "An erasure of this employee already under way"}},
)
async def erase_employee(
    employee_id: str, principal: CurrentPrincipal, uow: Uow, request: Request, response: Response
) -> object:
    """Erase an employee's personal data in every service (GDPR article 17; admins). They are
    terminated first if they still work here. Each service replaces their id with the
    returned pseudonym, blanks the personal fields (names, contact details, free text) of
    the records about them and deletes those only about them; its confirmation shows in
    `GET /v1/reports/erasures/{id}`."""
    settings: Settings = request.app.state.settings
    erasure, made = await usecases.erase_employee(
        uow=uow,
        org=principal.org,
        employee_id=employee_id,
        repeat_after=settings.erasure_repeat_after,
    )
    if not made:
        response.status_code = status.HTTP_200_OK
    return erasure


@router.post(
    "/programs",
    tags=["programs"],
    response_model=ProgramPublic,
    status_code=status.HTTP_201_CREATED,
)
async def create_program(data: ProgramCreate, principal: CurrentPrincipal, uow: Uow) -> object:
    """Design a programme (admins): objectives, dates, rules, eligibility, approval. It starts
    as a `draft`; open its enrolment with `POST /v1/programs/{id}/status`."""
    return await usecases.create_program(uow=uow, org=principal.org, data=data)


@router.get("/programs", tags=["programs"], response_model=listing(ProgramPublic))
async def list_programs(
    principal: CurrentPrincipal, uow: Uow, page: Page, status: ProgramStatus | None = None
) -> object:
    return await usecases.list_programs(uow=uow, org=principal.org, page=page, status=status)


@router.post("/programs/{program_id}/status", tags=["programs"], response_model=ProgramPublic)
async def change_program_status(
    program_id: str, body: ProgramStatusChange, principal: CurrentPrincipal, uow: Uow
) -> object:
    """Move the programme on: draft -> enrolling -> running -> closed (draft and enrolling may
    close directly). Closing ends its open relationships (`programme_closed`)."""
    return await usecases.change_program_status(
        uow=uow, org=principal.org, program_id=program_id, status=body.status, note=body.note
    )


@router.patch(
    "/programs/{program_id}",
    tags=["programs"],
    response_model=ProgramPublic,
    responses=PRECONDITION_RESPONSES,
)
async def update_program(
    program_id: str,
    data: ProgramUpdate,  # type: ignore[valid-type]
    principal: CurrentPrincipal,
    uow: Uow,
    if_match: IfMatch = None,
) -> object:
    """Change a programme's settings (admins): the fields sent, the engagement policy field by
    field; not its format. Matching, sessions and feedback hear of the new rules
    (`program.updated`); feedback re-judges the programme's running relationships. With
    `If-Match`, only if the programme is still the version read (else 412)."""
    return await usecases.update_program(
        uow=uow, org=principal.org, program_id=program_id, data=data, if_match=if_match
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
async def enroll(data: ParticipantCreate, principal: CurrentPrincipal, uow: Uow) -> object:
    """Enrol an employee in a programme as mentor or mentee (employees enrol themselves)."""
    return await usecases.enroll(uow=uow, principal=principal, data=data)


@router.post("/participants/batch", tags=["participants"], response_model=EnrolmentBatchResult)
async def enroll_batch(data: EnrolmentBatch, principal: CurrentPrincipal, uow: Uow) -> object:
    """Enrol a cohort in one call (admins, up to 1,000 lines): each line judged as
    `POST /v1/participants` would judge it alone. `all_or_nothing` (the default): a line
    refused refuses the batch, 422 naming each line at fault, nothing enrolled; `per_line`:
    the lines that pass are enrolled and the others listed with the status they met."""
    enrolled, refused = await usecases.enroll_batch(uow=uow, principal=principal, data=data)
    return EnrolmentBatchResult(
        enrolled=[ParticipantPublic.model_validate(p, from_attributes=True) for p in enrolled],
        refused=refused,
    )


@router.post(
    "/participants/import",
    tags=["participants"],
    response_model=ParticipantImportResult,
    openapi_extra=CSV_BODY,
)
async def import_participants(
    request: Request,
    principal: CurrentPrincipal,
    uow: Uow,
    mode: Literal["all_or_nothing", "per_line"] = "all_or_nothing",
    program_id: Annotated[str | None, Query(max_length=36)] = None,
) -> object:
    """Enrol a cohort from a CSV file (admins; UTF-8, a header row, at most 100,000 lines):
    columns `employee_id` and `role` required, `program_id` too unless given as the parameter
    (for every line), and any of `skills_offered`, `skills_sought`, `themes`, `languages`,
    `availability` (lists, items separated by `;`), `level`, `department`, `capacity`,
    `volunteer` (`true` or `false`), `override_note`; a questionnaire's answers go by the JSON
    routes. Each line is judged as `POST /v1/participants` would judge it alone, in one
    transaction. `all_or_nothing` (the default): a line refused refuses the file, 422 naming
    each line and column at fault, nothing enrolled; `per_line`: the lines that pass are
    enrolled and the others listed with the status they met (a header at fault refuses the
    file either way)."""
    enrolled, refused = await usecases.import_participants(
        uow=uow,
        principal=principal,
        text=await _csv_text(request),
        per_line=mode == "per_line",
        program_id=program_id,
    )
    return ParticipantImportResult(
        enrolled=[ParticipantPublic.model_validate(p, from_attributes=True) for p in enrolled],
        refused=refused,
    )


@router.get("/participants", tags=["participants"], response_model=listing(ParticipantPublic))
async def list_participants(
    principal: CurrentPrincipal,
    uow: Uow,
    page: Page,
    program_id: Annotated[str | None, Query(max_length=36)] = None,
    role: ParticipantRole | None = None,
    status: ParticipantStatus | None = None,
) -> object:
    return await usecases.list_participants(
        uow=uow, principal=principal, page=page, program_id=program_id, role=role, status=status
    )


@router.get(
    "/participants/{participant_id}", tags=["participants"], response_model=ParticipantPublic
)
async def get_participant(participant_id: str, principal: CurrentPrincipal, uow: Uow) -> object:
    return await usecases.get_participant(
        uow=uow, principal=principal, participant_id=participant_id
    )


@router.patch(
    "/participants/{participant_id}",
    tags=["participants"],
    response_model=ParticipantPublic,
    responses=PRECONDITION_RESPONSES,
)
async def update_participant(
    participant_id: str,
    data: ParticipantUpdate,  # type: ignore[valid-type]
    principal: CurrentPrincipal,
    uow: Uow,
    if_match: IfMatch = None,
) -> object:
    """Change one's profile or questionnaire answers (the participant, or an admin), checked
    as an enrolment is; matching hears of it (`participant.updated`). With `If-Match`, only
    if the profile is still the version read (else 412)."""
    return await usecases.update_participant(
        uow=uow,
        principal=principal,
        participant_id=participant_id,
        data=data,
        if_match=if_match,
    )


@router.post(
    "/participants/{participant_id}/approve",
    tags=["participants"],
    response_model=ParticipantPublic,
)
async def approve(
    participant_id: str, body: ApproveRequest, principal: CurrentPrincipal, uow: Uow
) -> object:
    """Approve a pending enrolment (admins): the participant becomes active and matchable."""
    return await usecases.decide(
        uow=uow, principal=principal, participant_id=participant_id, approve=True, note=body.note
    )


@router.post(
    "/participants/{participant_id}/reject",
    tags=["participants"],
    response_model=ParticipantPublic,
)
async def reject(
    participant_id: str, body: RejectRequest, principal: CurrentPrincipal, uow: Uow
) -> object:
    """Reject a pending enrolment (admins), with a reason category and a note."""
    return await usecases.decide(
        uow=uow,
        principal=principal,
        participant_id=participant_id,
        approve=False,
        reason=body.reason,
        note=body.note,
    )


@router.post(
    "/participants/{participant_id}/withdraw",
    tags=["participants"],
    response_model=ParticipantPublic,
)
async def withdraw(
    participant_id: str, body: WithdrawRequest, principal: CurrentPrincipal, uow: Uow
) -> object:
    return await usecases.withdraw(
        uow=uow,
        principal=principal,
        participant_id=participant_id,
        reason=body.reason,
        note=body.note,
    )
