"""Recognition's use cases: badge rules (admins), badges awarded as people act (a reaction of
reporting's consumer to sessions held, relationships ended and surveys answered, and at once
for what was done before a rule existed), kudos between the parties of a relationship, the
recognition page and the certificate."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import func
from sqlmodel import col, select

from services.reporting.models import EmployeeView, MatchView, ProgramView, SessionView, SurveyView
from services.reporting.recognition import domain
from services.reporting.recognition.domain import Figures
from services.reporting.recognition.models import (
    BadgeAward,
    BadgeRule,
    BadgeRuleIn,
    Kudos,
    KudosIn,
)
from shared import bulk
from shared.access import can_see
from shared.api import new_id
from shared.auth import Principal
from shared.contracts import feedback, matching, sessions
from shared.contracts.enrollment import ParticipantRole
from shared.contracts.matching import EndReason
from shared.contracts.reporting import BadgeAwarded, KudosGiven
from shared.contracts.sessions import SessionStatus
from shared.errors import Conflict, Invalid, NotFound, Unknown
from shared.events import Event, EventData
from shared.paging import PageParams, Window, page_of
from shared.uow import UnitOfWork

MENTOR, MENTEE = ParticipantRole.mentor, ParticipantRole.mentee


async def _program(uow: UnitOfWork, org: str, program_id: str) -> ProgramView:
    program = await uow.session.get(ProgramView, program_id)
    if program is None or program.org != org:
        raise Unknown("unknown programme", field="program_id")
    return program


# --- rules --------------------------------------------------------------------------------------


async def create_rule(*, uow: UnitOfWork, org: str, data: BadgeRuleIn) -> BadgeRule:
    """A programme's badge; those who already earned it get it now."""
    await _program(uow, org, data.program_id)
    domain.check_rule(domain.Rule(data.metric, data.threshold, data.role))
    taken = await uow.session.exec(
        select(BadgeRule.id).where(
            BadgeRule.program_id == data.program_id, BadgeRule.name == data.name
        )
    )
    if taken.first() is not None:
        raise Conflict(f"the programme has a badge named {data.name!r} already")
    rule = BadgeRule(id=new_id(), org=org, created_at=uow.now(), **data.model_dump())
    uow.session.add(rule)
    await uow.session.flush()
    column = MatchView.mentor_employee_id if rule.role is MENTOR else MatchView.mentee_employee_id
    people = await uow.session.exec(
        select(column)
        .where(MatchView.program_id == rule.program_id, col(MatchView.activated_at).is_not(None))
        .distinct()
    )
    for employee in sorted(p for p in people.all() if p):
        await _award(uow, org, rule.program_id, employee, rule.role, [rule])
    await uow.commit()
    return rule


async def list_rules(
    *, uow: UnitOfWork, org: str, page: PageParams, program_id: str | None
) -> Window[tuple[BadgeRule, int]]:
    """A page of the organisation's badge rules, each with how many earned it."""
    q = select(BadgeRule).where(BadgeRule.org == org)
    if program_id:
        q = q.where(BadgeRule.program_id == program_id)
    found = await page_of(uow.session, q, page, col(BadgeRule.created_at), col(BadgeRule.id))
    counts = dict(
        (
            await uow.session.exec(
                select(BadgeAward.rule_id, func.count())
                .where(col(BadgeAward.rule_id).in_([r.id for r in found.items]))
                .group_by(col(BadgeAward.rule_id))
            )
        ).all()
    )
    return found.map(lambda rule: (rule, counts.get(rule.id, 0)))


# --- figures and awards -------------------------------------------------------------------------


async def figures(
    uow: UnitOfWork, program_id: str, employee_id: str, role: ParticipantRole
) -> Figures:
    """What the employee did in the programme in that role, from reporting's views (ORM
    queries: the views an event just changed are written before they run)."""
    me, other = (
        (MatchView.mentor_employee_id, MatchView.mentee_employee_id)
        if role is MENTOR
        else (MatchView.mentee_employee_id, MatchView.mentor_employee_id)
    )
    matches = (
        await uow.session.exec(
            select(MatchView.id, other, MatchView.end_reason).where(
                MatchView.program_id == program_id,
                me == employee_id,
                col(MatchView.activated_at).is_not(None),
            )
        )
    ).all()
    if not matches:
        return Figures()
    ids = [m for m, _, _ in matches]
    held, minutes = (
        await uow.session.exec(
            select(func.count(), func.coalesce(func.sum(SessionView.duration_minutes), 0)).where(
                col(SessionView.match_id).in_(ids),
                SessionView.status == SessionStatus.completed.value,
            )
        )
    ).one()
    answers = (
        await uow.session.exec(
            select(SurveyView.respondent_employee_id, SurveyView.mean).where(
                col(SurveyView.match_id).in_(ids),
                col(SurveyView.mean).is_not(None),
                SurveyView.respondent_employee_id != employee_id,
            )
        )
    ).all()
    respondents = {who for who, _ in answers}
    score = None
    if len(respondents) >= domain.MIN_RESPONDENTS:
        score = round(sum(mean for _, mean in answers if mean is not None) / len(answers), 2)
    return Figures(
        sessions_held=held,
        hours=round(minutes / 60, 2),
        partners=len({o for _, o, _ in matches if o}),
        relationships=len(matches),
        relationships_completed=sum(1 for _, _, r in matches if r == EndReason.completed.value),
        survey_score=score,
        survey_respondents=len(respondents),
    )


def award_id(rule_id: str, employee_id: str) -> str:
    """The same for one rule and one employee: a badge is awarded once."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"binome:badge:{rule_id}:{employee_id}"))


async def _award(
    uow: UnitOfWork,
    org: str,
    program_id: str,
    employee_id: str,
    role: ParticipantRole,
    rules: Iterable[BadgeRule],
) -> None:
    """Award the employee each of these rules (in their role) they now meet and did not have;
    each award an event."""
    rules = [r for r in rules if ParticipantRole(r.role) is role]
    if not rules:
        return
    done = await figures(uow, program_id, employee_id, role)
    conn = await uow.session.connection()
    table = BadgeAward.__table__  # type: ignore[attr-defined]
    for rule in rules:
        value = domain.earned(domain.Rule(rule.metric, rule.threshold, role), done)
        if value is None:
            continue
        award = BadgeAward(
            id=award_id(rule.id, employee_id), org=org, rule_id=rule.id, program_id=program_id,
            employee_id=employee_id, badge=rule.name, role=role.value, metric=str(rule.metric),
            value=value, threshold=rule.threshold, evidence=done.evidence(),
            awarded_at=uow.now(),
        )  # fmt: skip
        row = award.model_dump()
        added = await conn.execute(*bulk.write(conn, table, [row], conflict=["id"]))
        if added.rowcount == 1:  # not earned before (nothing twice, whatever the replays)
            uow.emit(BadgeAwarded.model_validate(award, from_attributes=True), org=org)


# The events after which someone may have earned a badge.
AWARDING = (
    sessions.SessionCompleted.TYPE,
    matching.MatchEnded.TYPE,
    feedback.SurveyAnswered.TYPE,
)


async def award_after(uow: UnitOfWork, event: Event, data: EventData) -> None:
    """A session held, a relationship ended or a survey answered: its parties' badges of the
    programme, checked (a reaction, after reporting's views took the event in)."""
    program_id = getattr(data, "program_id", "")
    known: dict[str, list[BadgeRule]] = uow.memo.setdefault("recognition.rules", {})
    if program_id not in known:  # read once per batch of events and programme
        rows = await uow.session.exec(select(BadgeRule).where(BadgeRule.program_id == program_id))
        known[program_id] = list(rows.all())
    rules = known[program_id]
    if not rules:
        return
    mentor: str | None
    mentee: str | None
    if isinstance(data, sessions.SessionFacts | matching.MatchFacts):
        mentor, mentee = data.mentor_employee_id, data.mentee_employee_id
    else:
        match = await uow.session.get(MatchView, getattr(data, "match_id", ""))
        if match is None:
            return
        mentor, mentee = match.mentor_employee_id, match.mentee_employee_id
    for employee, role in ((mentor, MENTOR), (mentee, MENTEE)):
        if employee:
            await _award(uow, event.org, program_id, employee, role, rules)


# --- kudos --------------------------------------------------------------------------------------


async def give_kudos(*, uow: UnitOfWork, principal: Principal, data: KudosIn) -> Kudos:
    """Thanks from a party of a relationship to the other (the message stays here: the event
    says who thanked whom, not what)."""
    match = await uow.session.get(MatchView, data.match_id)
    me = principal.employee_id or ""
    parties = (match.mentor_employee_id, match.mentee_employee_id) if match else ()
    program = await uow.session.get(ProgramView, match.program_id) if match else None
    if match is None or program is None or program.org != principal.org or me not in parties:
        raise Unknown("unknown relationship", field="match_id")
    if match.activated_at is None:
        raise Conflict("the relationship has not started: thank them once it has")
    to = match.mentee_employee_id if me == match.mentor_employee_id else match.mentor_employee_id
    if not to or to == me:
        raise Invalid("nobody else to thank in this relationship", field="match_id")
    kudos = Kudos(
        id=new_id(), org=principal.org, match_id=match.id, program_id=match.program_id,
        from_employee_id=me, to_employee_id=to, message=data.message, created_at=uow.now(),
    )  # fmt: skip
    uow.session.add(kudos)
    uow.emit(KudosGiven.model_validate(kudos, from_attributes=True), org=principal.org)
    await uow.commit()
    return kudos


# --- the recognition page -------------------------------------------------------------------


async def _visible(uow: UnitOfWork, principal: Principal, employee_id: str) -> EmployeeView | None:
    """Admins see anyone of their organisation, an employee themselves only (another's page
    answers like an unknown one)."""
    if not can_see(principal, org=principal.org, owners=[employee_id]):
        raise NotFound("employee not found")
    return await uow.session.get(EmployeeView, (principal.org, employee_id))


async def contributions(
    uow: UnitOfWork, org: str, employee_id: str
) -> list[tuple[ProgramView, ParticipantRole, Figures]]:
    """Each programme and role the employee took part in, with its figures."""
    found = []
    for role, column in (
        (MENTOR, MatchView.mentor_employee_id),
        (MENTEE, MatchView.mentee_employee_id),
    ):
        rows = await uow.session.exec(
            select(ProgramView)
            .join(MatchView, col(MatchView.program_id) == col(ProgramView.id))
            .where(ProgramView.org == org, column == employee_id)
            .where(col(MatchView.activated_at).is_not(None))
            .distinct()
        )
        for program in sorted(rows.all(), key=lambda p: (p.name, p.id)):
            found.append((program, role, await figures(uow, program.id, employee_id, role)))
    return found


async def recognition(
    *, uow: UnitOfWork, principal: Principal, employee_id: str
) -> tuple[EmployeeView | None, list, list[BadgeAward], list[Kudos], int]:
    employee = await _visible(uow, principal, employee_id)
    parts = await contributions(uow, principal.org, employee_id)
    badges = (
        await uow.session.exec(
            select(BadgeAward)
            .where(BadgeAward.org == principal.org, BadgeAward.employee_id == employee_id)
            .order_by(col(BadgeAward.awarded_at), col(BadgeAward.id))
        )
    ).all()
    if employee is None and not parts and not badges:
        raise NotFound("employee not found")
    received = (
        await uow.session.exec(
            select(Kudos)
            .where(Kudos.org == principal.org, Kudos.to_employee_id == employee_id)
            .order_by(col(Kudos.created_at).desc(), col(Kudos.id))
            .limit(100)
        )
    ).all()
    given = (
        await uow.session.exec(
            select(func.count()).where(
                Kudos.org == principal.org, Kudos.from_employee_id == employee_id
            )
        )
    ).one()
    return employee, parts, list(badges), list(received), given


def totals(
    parts: list[tuple[ProgramView, ParticipantRole, Figures]], role: ParticipantRole
) -> Figures:
    total = Figures()
    for _, r, f in parts:
        if r is role:
            total = total + f
    return total
