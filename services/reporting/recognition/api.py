"""Recognition's routes: badge rules (admins), kudos (the parties), the recognition page and
the certificate (admins, or the employee themselves)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from services.reporting.recognition import certificate, usecases
from services.reporting.recognition.domain import Figures
from services.reporting.recognition.models import (
    BadgePublic,
    BadgeRule,
    BadgeRuleIn,
    BadgeRulePublic,
    Contribution,
    FiguresPublic,
    KudosIn,
    KudosPublic,
    RecognitionPage,
)
from shared.api import v1_router
from shared.app import uow_dependency
from shared.auth import CurrentPrincipal
from shared.contracts.enrollment import ParticipantRole
from shared.paging import Page, Window, listing
from shared.uow import UnitOfWork

Uow = Annotated[UnitOfWork, uow_dependency("reporting")]

router = v1_router("reporting")
TAGS: list = ["recognition"]


def _rule(found: tuple[BadgeRule, int]) -> BadgeRulePublic:
    rule, awarded = found
    return BadgeRulePublic.model_validate(
        {
            **{k: getattr(rule, k) for k in BadgeRulePublic.model_fields if k != "awarded"},
            "awarded": awarded,
        }
    )


def _figures(f: Figures) -> FiguresPublic:
    return FiguresPublic.model_validate(f.evidence())


@router.post("/recognition/badge-rules", tags=TAGS, status_code=201, response_model=BadgeRulePublic)
async def create_badge_rule(
    data: BadgeRuleIn, principal: CurrentPrincipal, uow: Uow
) -> BadgeRulePublic:
    """A programme's badge: earned once, by an employee in a role, when a figure reaches the
    threshold (sessions held, hours, people accompanied, relationships completed, or the mean
    survey score the other parties gave, once at least 5 answered). Those who already earned
    it get it now."""
    rule = await usecases.create_rule(uow=uow, org=principal.org, data=data)
    return _rule((rule, 0))


@router.get("/recognition/badge-rules", tags=TAGS, response_model=listing(BadgeRulePublic))
async def list_badge_rules(
    principal: CurrentPrincipal,
    uow: Uow,
    page: Page,
    program_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Window[BadgeRulePublic]:
    """The badges of the organisation's programmes, with how many earned each."""
    found = await usecases.list_rules(uow=uow, org=principal.org, page=page, program_id=program_id)
    return found.map(_rule)


@router.post("/recognition/kudos", tags=TAGS, status_code=201, response_model=KudosPublic)
async def give_kudos(data: KudosIn, principal: CurrentPrincipal, uow: Uow) -> KudosPublic:
    """Thank the other party of your relationship (shown on their recognition page)."""
    kudos = await usecases.give_kudos(uow=uow, principal=principal, data=data)
    return KudosPublic.model_validate(kudos, from_attributes=True)


@router.get("/recognition/employees/{employee_id}", tags=TAGS, response_model=RecognitionPage)
async def get_recognition(
    employee_id: str, principal: CurrentPrincipal, uow: Uow
) -> RecognitionPage:
    """An employee's contribution (hours, sessions, people accompanied, relationships, per
    programme and role), badges with their evidence, and the kudos they received: admins, or
    the employee themselves."""
    employee, parts, badges, received, given = await usecases.recognition(
        uow=uow, principal=principal, employee_id=employee_id
    )
    return RecognitionPage(
        employee_id=employee_id,
        name=employee.name if employee else None,
        as_mentor=_figures(usecases.totals(parts, ParticipantRole.mentor)),
        as_mentee=_figures(usecases.totals(parts, ParticipantRole.mentee)),
        contributions=[
            Contribution(program_id=p.id, program=p.name, role=r, figures=_figures(f))
            for p, r, f in parts
        ],
        badges=[BadgePublic.model_validate(b, from_attributes=True) for b in badges],
        kudos_received=[KudosPublic.model_validate(k, from_attributes=True) for k in received],
        kudos_given=given,
    )


@router.get(
    "/recognition/employees/{employee_id}/certificate",
    tags=TAGS,
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The certificate (PDF)"}},
)
async def get_certificate(employee_id: str, principal: CurrentPrincipal, uow: Uow) -> Response:
    """The employee's certificate of contribution, a PDF HR can hand over: admins, or the
    employee themselves."""
    employee, parts, badges, _, _ = await usecases.recognition(
        uow=uow, principal=principal, employee_id=employee_id
    )
    pdf = certificate.render(
        org=principal.org,
        employee_id=employee_id,
        name=employee.name if employee else None,
        as_of=uow.now(),
        parts=parts,
        totals={r: usecases.totals(parts, r) for r in ParticipantRole},
        badges=badges,
        programs={p.id: p.name for p, _, _ in parts},
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="certificate-{employee_id}.pdf"'},
    )
