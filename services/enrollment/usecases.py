"""Enrollment's use cases: one function per action, keyword-only, on a unit of work."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel
from sqlmodel import col, select

from services.enrollment import csv_files, domain
from services.enrollment.domain import EmployeeStatus, ParticipantStatus
from services.enrollment.models import (
    CsvEnrolmentRefused,
    CsvLineRefused,
    Employee,
    EmployeeImportResult,
    EnrolmentBatch,
    Erasure,
    HrisBatch,
    HrisBatchResult,
    HrisEventIn,
    HrisEventRecord,
    HrisEventResult,
    HrisProfileEvent,
    HrisStatusEvent,
    ImportedLine,
    LineRefused,
    Participant,
    ParticipantCreate,
    ParticipantPublic,
    Program,
    ProgramCreate,
    ProgramPublic,
)
from shared.access import get_visible, scoped
from shared.api import merge_patch, new_id, utcnow
from shared.auth import Principal
from shared.conditional import check_if_match
from shared.contracts import enrollment as ev
from shared.contracts.enrollment import ParticipantRole, ProgramFormat, ProgramStatus
from shared.db import one_of
from shared.domain import Transition, state_of, store
from shared.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    Refused,
    Unknown,
)
from shared.paging import PageParams, Window, page_of
from shared.uow import UnitOfWork

# --- HRIS -----------------------------------------------------------------------------------


class _Directory:
    """The organisation's employees as one unit of work sees them: fetched in bulk, plus those
    it creates, so that no lookup depends on a flush (an HRIS batch may hire a manager and
    their report together)."""

    def __init__(self, uow: UnitOfWork, org: str) -> None:
        self._uow, self._org = uow, org
        self._known: dict[str, Employee | None] = {}
        self._manager_of = _ManagerOf(self._known)

    async def prefetch(self, ids: set[str]) -> None:
        missing = sorted(ids - self._known.keys())
        if not missing:
            return
        rows = await self._uow.session.exec(
            select(Employee).where(Employee.org == self._org, one_of(Employee.id, missing))
        )
        found = {e.id: e for e in rows.all()}
        self._known.update({eid: found.get(eid) for eid in missing})

    async def prefetch_chains(self, ids: set[str]) -> None:
        """These employees and everyone above them, a query per level of the org chart."""
        level = set(ids)
        for _ in range(domain.MAX_CHAIN + 1):
            await self.prefetch(level)
            level = {
                e.manager_id for eid in level if (e := self._known[eid]) and e.manager_id
            } - self._known.keys()
            if not level:
                return

    async def get(self, employee_id: str) -> Employee | None:
        if employee_id not in self._known:
            await self.prefetch({employee_id})
        return self._known[employee_id]

    def add(self, employee: Employee) -> None:
        self._known[employee.id] = employee

    async def manager_chain(self, employee: Employee) -> list[str]:
        """The ids above this employee, nearest first (the domain's walk), fetching the
        managers it reaches as it goes."""
        while True:
            chain = domain.manager_chain(employee.manager_id, self._manager_of)
            if not chain or chain[-1] in self._known or len(chain) >= domain.MAX_CHAIN:
                return chain
            await self.prefetch({chain[-1]})


class _ManagerOf(Mapping[str, str | None]):
    """Each known employee's manager, read off the rows as they are now (an HRIS batch may
    change them as it goes)."""

    def __init__(self, known: dict[str, Employee | None]) -> None:
        self._known = known

    def __getitem__(self, employee_id: str) -> str | None:
        if (employee := self._known.get(employee_id)) is None:
            raise KeyError(employee_id)
        return employee.manager_id

    def __contains__(self, employee_id: object) -> bool:
        return self._known.get(employee_id) is not None  # type: ignore[call-overload]

    def __iter__(self) -> Iterator[str]:
        return (eid for eid, e in self._known.items() if e is not None)

    def __len__(self) -> int:
        return sum(1 for e in self._known.values() if e is not None)


IMPORT_CHUNK = 2_000  # lines applied between two progress reports


async def import_employees(
    *,
    uow: UnitOfWork,
    org: str,
    text: str,
    per_line: bool,
    progress: Callable[[int, int], Awaitable[None]] | None = None,
) -> EmployeeImportResult:
    """A CSV file of employees (services.enrollment.csv_files) applied as HRIS records:
    `hired` for an employee the directory does not know, `updated` otherwise, each with an
    event id drawn from its content, so that importing a file again changes nothing. A line
    refused refuses the file (422 naming each), or (per_line) is reported."""
    lines, errors = csv_files.read(text, csv_files.EMPLOYEES)
    first: dict[str, int] = {}
    for line in lines:
        if first.setdefault(line.record.id, line.number) != line.number:
            where = first[line.record.id]
            errors.append(csv_files.LineError(line.number, "id", f"already on line {where}"))
    taken = {e.number for e in errors}
    lines = [line for line in lines if line.number not in taken]
    if errors and (not per_line or any(e.number == 0 for e in errors)):
        raise Refused(f"{len(taken)} line(s) refused; nothing imported", _at_lines(errors))
    refused = [
        CsvLineRefused(line=e.number, field=e.column, detail=e.message)
        for e in sorted(errors, key=lambda e: e.number)
    ]
    if not lines:
        return EmployeeImportResult(imported=[], refused=refused)
    ids = [line.record.id for line in lines]
    known = set(
        (
            await uow.session.exec(
                select(Employee.id).where(Employee.org == org, one_of(Employee.id, ids))
            )
        ).all()
    )
    events = [
        HrisProfileEvent(
            event_id="csv-" + hashlib.sha256(line.record.model_dump_json().encode()).hexdigest(),
            type="updated" if line.record.id in known else "hired",
            employee=line.record,
        )
        for line in lines
    ]
    # In chunks, one transaction: `progress` (lines applied, lines to apply) after each.
    applied: list[HrisEventResult] = []
    for start in range(0, len(events), IMPORT_CHUNK):
        applied += await _apply_hris_events(
            uow=uow, org=org, events=events[start : start + IMPORT_CHUNK], offset=start
        )
        if progress is not None:
            await uow.session.flush()
            await uow.write_pending()
            await progress(len(applied), len(events))
    await uow.commit()
    return EmployeeImportResult(
        imported=[
            ImportedLine(line=line.number, employee_id=line.record.id, status=r.status)
            for line, r in zip(lines, applied, strict=True)
        ],
        refused=refused,
    )


async def apply_hris_batch(*, uow: UnitOfWork, org: str, batch: HrisBatch) -> HrisBatchResult:
    """Apply a batch all or nothing; events already applied (same id) are reported duplicate.

    In bulk: the known event ids and the employees concerned are read in one query each, and
    the rows are written together at commit (no flush per event)."""
    results = await _apply_hris_events(uow=uow, org=org, events=batch.events)
    await uow.commit()
    return HrisBatchResult(results=results)


async def _apply_hris_events(
    *, uow: UnitOfWork, org: str, events: Sequence[HrisEventIn], offset: int = 0
) -> list[HrisEventResult]:
    """`apply_hris_batch` without the commit: a part of a larger transaction (`offset`: the
    first event's index in the whole, for the errors' field paths)."""
    batch = SimpleNamespace(events=events)
    s = uow.session
    ids = sorted({item.event_id for item in batch.events})
    known: set[str] = set()
    rows = await s.exec(
        select(HrisEventRecord.event_id).where(
            HrisEventRecord.org == org, one_of(HrisEventRecord.event_id, ids)
        )
    )
    known.update(rows.all())
    directory = _Directory(uow, org)
    await directory.prefetch(
        {item.subject_id for item in batch.events}
        | {
            item.employee.manager_id
            for item in batch.events
            if isinstance(item, HrisProfileEvent) and item.employee.manager_id
        }
    )
    results: list[HrisEventResult] = []
    with s.no_autoflush:
        for index, item in enumerate(batch.events):
            if item.event_id in known:
                results.append(HrisEventResult(event_id=item.event_id, status="duplicate"))
                continue
            known.add(item.event_id)
            await _apply_hris_event(
                uow=uow, org=org, item=item, index=offset + index, directory=directory
            )
            uow.insert(
                HrisEventRecord,
                org=org, event_id=item.event_id, type=item.type, employee_id=item.subject_id,
            )  # fmt: skip
            results.append(HrisEventResult(event_id=item.event_id, status="applied"))
    return results


async def _apply_hris_event(
    *,
    uow: UnitOfWork,
    org: str,
    item: HrisEventIn,
    index: int,
    directory: _Directory,
    provisioned: bool = False,
) -> None:
    s = uow.session
    employee = await directory.get(item.subject_id)
    now = utcnow()
    if isinstance(item, HrisStatusEvent):
        if employee is None:
            raise Unknown("unknown employee", field=f"events.{index}.employee_id")
        transition = {
            "terminated": domain.terminate, "leave": domain.leave, "returned": domain.returned
        }[item.type]  # fmt: skip
        change = transition(state_of(domain.EmployeeState, employee), at=now)
        if not change.events:
            return
        _apply(uow, employee, change, org=org)
        if item.type == "terminated":
            await _withdraw_all(
                uow=uow, org=org, employee_id=employee.id, reason=ev.WithdrawalReason.left_company
            )
        return
    current = None if employee is None else state_of(domain.EmployeeState, employee)
    record = domain.take_record(
        current, employee_id=item.subject_id, event_type=item.type, at=now, provisioned=provisioned
    )
    fields = item.employee.model_dump(exclude={"id"})
    before: domain.DirectoryFacts | None = None
    if employee is None:
        employee = Employee(org=org, id=item.employee.id, **fields)
        directory.add(employee)
    else:
        before = state_of(domain.DirectoryFacts, employee)
        for name, value in fields.items():
            setattr(employee, name, value)
    employee.login_key = domain.login_key(employee.user_name, employee.email, employee.id)
    if item.type == "hired":
        employee.deprovisioned_at = None  # a rehire brings a user SCIM deleted back
    store(employee, record)
    s.add(employee)
    if before is not None:
        await _follow_directory(
            uow=uow, org=org, employee=employee, before=before, directory=directory
        )
    snapshot = domain.snapshot_event(item.type).model_validate(employee, from_attributes=True)
    uow.emit(snapshot, org=org)


async def apply_directory_event(*, uow: UnitOfWork, org: str, item: HrisEventIn) -> Employee:
    """One employee's change from provisioning (SCIM) rather than an HRIS push, applied as
    that HRIS event (domain.take_record's `provisioned`) and recorded under its id, without
    the commit: the row."""
    directory = _Directory(uow, org)
    manager = item.employee.manager_id if isinstance(item, HrisProfileEvent) else None
    await directory.prefetch({item.subject_id} | ({manager} if manager else set()))
    with uow.session.no_autoflush:
        await _apply_hris_event(
            uow=uow, org=org, item=item, index=0, directory=directory, provisioned=True
        )
    uow.insert(
        HrisEventRecord,
        org=org, event_id=item.event_id, type=item.type, employee_id=item.subject_id,
    )  # fmt: skip
    employee = await directory.get(item.subject_id)
    assert employee is not None  # applied above
    return employee


def _apply(uow: UnitOfWork, row: Any, change: Transition[Any], *, org: str) -> None:
    """Store a transition's new state on its row and emit its events, in this transaction."""
    store(row, change.state)
    uow.session.add(row)
    for event in change.events:
        uow.emit(event, org=org)


async def _follow_directory(
    *,
    uow: UnitOfWork,
    org: str,
    employee: Employee,
    before: domain.DirectoryFacts,
    directory: _Directory,
) -> None:
    """Participants' profiles follow an HRIS change: their own (timezone, and level,
    department, languages where they came from the directory) and, when the employee's
    manager changed, the reporting line of everyone below them. Matching hears of each
    profile that changed (ParticipantUpdated), so its hard rules use today's org chart."""
    own = await uow.session.exec(
        select(Participant).where(
            Participant.org == org,
            Participant.employee_id == employee.id,
            col(Participant.status).in_(domain.IN_PROGRAMME),
        )
    )
    affected = list(own.all())
    if employee.manager_id != before.manager_id:
        active = await uow.session.exec(
            select(Participant).where(
                Participant.org == org, col(Participant.status).in_(domain.IN_PROGRAMME)
            )
        )
        affected += [p for p in active.all() if employee.id in p.manager_chain]
    now = state_of(domain.DirectoryFacts, employee)
    for participant in affected:
        if participant.employee_id == employee.id:
            mine = state_of(domain.DirectoryProfile, participant)
            new = domain.followed(
                mine,
                was=before,
                now=now,
                tz_offset_h=domain.tz_offset_hours(employee.timezone, at=utcnow()),
            )
            changed = new != mine
            if changed:
                store(participant, new)
            person: Employee | None = employee
        else:
            changed = False
            person = await directory.get(participant.employee_id)
        if person is not None:
            chain = await directory.manager_chain(person)
            if chain != participant.manager_chain:
                participant.manager_chain, changed = chain, True
        if changed:
            uow.session.add(participant)
            if participant.status == ParticipantStatus.active:  # matching knows no pending one
                uow.emit(_profile(ev.ParticipantUpdated, participant), org=org)


def _profile(
    contract: type[ev.ParticipantEnrolled] | type[ev.ParticipantUpdated],
    p: Participant | SimpleNamespace,
) -> ev.ParticipantProfile:
    """The participant's profile as the contract carries it (the row's fields of those names),
    with what matching takes from the answers: the similarity answers and the themes chosen."""
    fields = {name: getattr(p, name) for name in contract.model_fields if hasattr(p, name)}
    themes = list(dict.fromkeys([*p.themes, *p.answer_themes]))
    return contract.model_validate(fields | {"answers": p.similarity, "themes": themes})


async def _withdraw_all(
    *, uow: UnitOfWork, org: str, employee_id: str, reason: ev.WithdrawalReason
) -> None:
    rows = await uow.session.exec(
        select(Participant).where(
            Participant.org == org,
            Participant.employee_id == employee_id,
            col(Participant.status).in_(domain.IN_PROGRAMME),
        )
    )
    for participant in rows.all():
        _withdraw(uow=uow, participant=participant, reason=reason)


def _withdraw(
    *,
    uow: UnitOfWork,
    participant: Participant,
    reason: ev.WithdrawalReason,
    note: str | None = None,
) -> None:
    state = state_of(domain.ParticipantState, participant)
    _apply(uow, participant, domain.withdraw(state, reason=reason, note=note), org=participant.org)


async def erase_employee(
    *, uow: UnitOfWork, org: str, employee_id: str, repeat_after: timedelta
) -> tuple[Erasure, bool]:
    """Erase an employee's personal data everywhere (GDPR article 17): terminated first if
    they still work here (their programmes end as on leaving), then `employee.erased`, which
    every service applies to what it holds (shared.privacy). A second request before
    enrollment has applied the first returns it (the flag: whether this one made it); after,
    the employee is unknown."""
    pending = await uow.session.exec(
        select(Erasure).where(Erasure.org == org, Erasure.employee_id == employee_id)
    )
    if (erasure := pending.first()) is not None:
        return erasure, False
    employee = await uow.session.get(Employee, (org, employee_id))
    if employee is None:
        raise NotFound("employee not found")
    if employee.active:
        item = HrisStatusEvent(
            event_id=f"erasure-{new_id()}", type="terminated", employee_id=employee_id
        )
        await apply_directory_event(uow=uow, org=org, item=item)
    erasure = Erasure(
        id=new_id(),
        org=org,
        employee_id=employee_id,
        pseudonym=f"erased-{uuid.uuid4().hex[:16]}",
        requested_at=uow.now(),
    )
    uow.session.add(erasure)
    uow.emit(
        ev.EmployeeErased(
            employee_id=employee_id,
            erasure_id=erasure.id,
            pseudonym=erasure.pseudonym,
            repeat_after=repeat_after,
        ),
        org=org,
    )
    await uow.commit()
    return erasure, True


async def get_employee(*, uow: UnitOfWork, principal: Principal, employee_id: str) -> Employee:
    if principal.role == "employee" and principal.employee_id != employee_id:
        raise NotFound("employee not found")
    employee = await uow.session.get(Employee, (principal.org, employee_id))
    if employee is None:
        raise NotFound("employee not found")
    return employee


async def list_employees(
    *, uow: UnitOfWork, org: str, page: PageParams, department: str | None, status: str | None
) -> Window[Employee]:
    q = select(Employee).where(Employee.org == org)
    if department:
        q = q.where(Employee.department == department)
    if status:
        q = q.where(Employee.status == status)
    return await page_of(uow.session, q, page, col(Employee.id))


# --- programmes -----------------------------------------------------------------------------


async def create_program(*, uow: UnitOfWork, org: str, data: ProgramCreate) -> Program:
    program = Program(org=org, **data.model_dump())
    uow.session.add(program)
    uow.emit(ev.ProgramCreated.model_validate(program, from_attributes=True), org=org)
    await uow.commit()
    return program


async def update_program(
    *, uow: UnitOfWork, org: str, program_id: str, data: BaseModel, if_match: str | None = None
) -> Program:
    """Change a programme's settings (those sent), if it is still the version `if_match` names
    (shared.conditional); other services hear of the new rules."""
    program = await get_program(uow=uow, org=org, program_id=program_id, for_update=True)
    check_if_match(
        if_match, lambda: ProgramPublic.model_validate(program, from_attributes=True), "programme"
    )
    domain.check_editable(ProgramStatus(program.status))
    merged = merge_patch(program, data, ProgramCreate)
    changed = [f for f in merged.model_fields_set if getattr(program, f) != getattr(merged, f)]
    if "questions" in changed:
        domain.check_questions_editable(ProgramStatus(program.status))
    if changed:
        for field in changed:
            setattr(program, field, getattr(merged, field))
        uow.session.add(program)
        rules = ev.ProgramCreated.model_validate(program, from_attributes=True)
        uow.emit(ev.ProgramUpdated(**rules.model_dump(), changed=sorted(changed)), org=org)
    await uow.commit()
    return program


async def change_program_status(
    *, uow: UnitOfWork, org: str, program_id: str, status: ProgramStatus, note: str | None
) -> Program:
    """A step of the lifecycle (ProgramStatusChanged); closing is matching's cue to end the
    programme's open matches."""
    program = await get_program(uow=uow, org=org, program_id=program_id, for_update=True)
    change = domain.move_program(state_of(domain.ProgramState, program), status, note=note)
    _apply(uow, program, change, org=org)
    await uow.commit()
    return program


async def get_program(
    *, uow: UnitOfWork, org: str, program_id: str, for_update: bool = False
) -> Program:
    program = await uow.session.get(Program, program_id, with_for_update=for_update)
    if program is None or program.org != org:
        raise NotFound("program not found")
    return program


async def list_programs(
    *, uow: UnitOfWork, org: str, page: PageParams, status: ProgramStatus | None = None
) -> Window[Program]:
    q = select(Program).where(Program.org == org)
    if status is not None:
        q = q.where(Program.status == status)
    return await page_of(uow.session, q, page, col(Program.created_at), col(Program.id))


# --- participants ---------------------------------------------------------------------------


async def enroll(
    *, uow: UnitOfWork, principal: Principal, data: ParticipantCreate
) -> SimpleNamespace:
    seen = await _Enrolling.prefetched(uow, principal.org, [data])
    participant = await _admit(uow=uow, principal=principal, data=data, seen=seen)
    await uow.commit()
    return participant


# What a line refused answers in a batch: the type of error its request alone would meet.
_KINDS = {403: "forbidden", 404: "not_found", 409: "conflict", 422: "value_error"}


async def enroll_batch(
    *, uow: UnitOfWork, principal: Principal, data: EnrolmentBatch
) -> tuple[list[SimpleNamespace], list[LineRefused]]:
    """Each line enrolled as alone (the same rules, in one transaction, its events with it);
    a line refused refuses the whole batch (all_or_nothing) or is reported (per_line)."""
    enrolled, failed = await _enrol_lines(uow, principal, data.participants)
    if failed and data.mode == "all_or_nothing":
        raise Refused(
            f"{len(failed)} of {len(data.participants)} lines refused; nothing enrolled",
            _refusals((f"participants.{i}", e.field, e.message, e.status_code) for i, e in failed),
        )
    await uow.commit()
    refused = [
        LineRefused(index=i, status=e.status_code, detail=e.message, field=e.field)
        for i, e in failed
    ]
    return enrolled, refused


async def import_participants(
    *, uow: UnitOfWork, principal: Principal, text: str, per_line: bool, program_id: str | None
) -> tuple[list[SimpleNamespace], list[CsvEnrolmentRefused]]:
    """A CSV file of enrolments (services.enrollment.csv_files; `program_id`: the programme
    of every line, or a column), each line enrolled as `POST /v1/participants` would enrol it
    alone, in one transaction. A line refused (a cell the request would refuse, or what the
    enrolment meets: unknown employee, already enrolled...) refuses the file, 422 naming each
    line and column (all or nothing), or (per_line) is reported with the status it met."""
    given = {"program_id": program_id} if program_id is not None else None
    lines, errors = csv_files.read(text, csv_files.PARTICIPANTS, given)
    if any(e.number == 0 for e in errors):  # the header: no line can be read
        raise Refused("the file's header is refused; nothing enrolled", _at_lines(errors))
    refused = [CsvEnrolmentRefused(line=e.number, field=e.column, detail=e.message, status=422)
               for e in errors]  # fmt: skip
    enrolled, failed = await _enrol_lines(uow, principal, [line.record for line in lines])
    refused += [
        CsvEnrolmentRefused(
            line=lines[i].number, field=e.field, detail=e.message, status=e.status_code
        )
        for i, e in failed
    ]
    refused.sort(key=lambda r: r.line)
    if refused and not per_line:
        raise Refused(
            f"{len({r.line for r in refused})} line(s) refused; nothing enrolled",
            _refusals((f"line {r.line}", r.field, r.detail, r.status) for r in refused),
        )
    await uow.commit()
    return enrolled, refused


def _at_lines(errors: list[csv_files.LineError]) -> list[tuple[str, str, str]]:
    """A file's errors (its header's or its lines' cells) as a 422's."""
    return _refusals(
        ("header" if e.number == 0 else f"line {e.number}", e.column, e.message, 422)
        for e in sorted(errors, key=lambda e: e.number)
    )


def _refusals(
    faults: Iterable[tuple[str, str | None, str, int]],
) -> list[tuple[str, str, str]]:
    """Refused lines (where, field at fault, detail, the status the line alone would have met)
    as a refusal's errors: (where.field, detail, the type of that status's error)."""
    return [
        (where + (f".{field}" if field else ""), detail, _KINDS.get(status, "value_error"))
        for where, field, detail, status in faults
    ]


async def _enrol_lines(
    uow: UnitOfWork, principal: Principal, lines: Sequence[ParticipantCreate]
) -> tuple[list[SimpleNamespace], list[tuple[int, DomainError]]]:
    """Each line admitted as alone (not committed): the enrolments made, and each refused
    line's index with its error. In bulk: the programmes, the employees with their reporting
    lines and the enrolments already made are read in a few queries for all the lines, and the
    rows are written together at commit (no flush per line)."""
    enrolled: list[SimpleNamespace] = []
    failed: list[tuple[int, DomainError]] = []
    if not lines:
        return enrolled, failed
    seen = await _Enrolling.prefetched(uow, principal.org, lines)
    with uow.session.no_autoflush:
        for index, line in enumerate(lines):
            try:
                enrolled.append(await _admit(uow=uow, principal=principal, data=line, seen=seen))
            except DomainError as exc:
                failed.append((index, exc))
    return enrolled, failed


@dataclass
class _Enrolling:
    """What enrolments in one unit of work look up, read in bulk before the first: the
    programmes, the directory (with everyone's reporting line) and the enrolments that exist
    (program id, employee id, role), to which each admitted line adds its own."""

    directory: _Directory
    programs: dict[str, Program]
    taken: set[tuple[str, str, str]] = field(default_factory=set)

    @classmethod
    async def prefetched(
        cls, uow: UnitOfWork, org: str, lines: Sequence[ParticipantCreate]
    ) -> _Enrolling:
        program_ids = sorted({line.program_id for line in lines})
        employee_ids = {line.employee_id for line in lines}
        rows = await uow.session.exec(select(Program).where(col(Program.id).in_(program_ids)))
        programs = {p.id: p for p in rows.all() if p.org == org}
        directory = _Directory(uow, org)
        await directory.prefetch_chains(employee_ids)
        taken: set[tuple[str, str, str]] = set()
        found = await uow.session.exec(
            select(Participant.program_id, Participant.employee_id, Participant.role).where(
                col(Participant.program_id).in_(program_ids),
                one_of(Participant.employee_id, sorted(employee_ids)),
            )
        )
        taken.update((p, e, str(r)) for p, e, r in found.all())
        return cls(directory=directory, programs=programs, taken=taken)


def _new_participant(**values: Any) -> SimpleNamespace:
    """A new participant's row, its defaults filled: written behind as a plain row (an ORM
    object per line cost a quarter of a bulk enrolment), read like one (the contracts' and
    the answer's fields)."""
    return SimpleNamespace(**Participant.filled(**values))


async def _admit(
    *, uow: UnitOfWork, principal: Principal, data: ParticipantCreate, seen: _Enrolling
) -> SimpleNamespace:
    """One enrolment decided, added and its event emitted (not committed)."""
    org = principal.org
    if not principal.is_admin and principal.employee_id != data.employee_id:
        raise Forbidden("employees enrol themselves only")
    program = seen.programs.get(data.program_id)
    if program is None:
        raise Unknown("unknown program", field="program_id")
    domain.check_enrolment_open(
        ProgramStatus(program.status),
        opens=program.enrolment_opens,
        closes=program.enrolment_closes,
        today=uow.now().date(),
    )
    employee = await seen.directory.get(data.employee_id)
    if employee is None:
        raise Unknown("unknown employee", field="employee_id")
    fields = _resolve(
        uow=uow,
        principal=principal,
        program=program,
        employee=employee,
        data=data,
        asks_override=data.override_note is not None,
        eligibility=True,
    )
    key = (data.program_id, data.employee_id, str(data.role))
    if key in seen.taken:
        raise Conflict(f"employee already enrolled as {data.role} in this program")
    seen.taken.add(key)
    # A self-enrolment in a programme that requires approval waits for an admin's; an
    # admin's enrolment is their approval.
    pending = program.requires_approval and not principal.is_admin
    participant = _new_participant(
        **fields,
        org=org,
        tz_offset_h=domain.tz_offset_hours(employee.timezone, at=utcnow()),
        manager_chain=await seen.directory.manager_chain(employee),
        status=ParticipantStatus.pending if pending else ParticipantStatus.active,
    )
    uow.insert(Participant, **vars(participant))
    participant.participant_id = participant.id  # as the contracts name it
    if pending:
        uow.emit(ev.ParticipantPending.model_validate(participant, from_attributes=True), org=org)
    else:
        uow.emit(_profile(ev.ParticipantEnrolled, participant), org=org)
    return participant


def _resolve(
    *,
    uow: UnitOfWork,
    principal: Principal,
    program: Program,
    employee: Employee,
    data: ParticipantCreate,
    asks_override: bool,
    eligibility: bool,
) -> dict[str, Any]:
    """A participant's fields from their enrolment (or its update, merged): what they said,
    with the profile resolved against the directory over it, their skills in the programme's
    vocabulary, their eligibility (on enrolment) and their answers checked against the
    questionnaire. `asks_override`: this request sets an override note (admins only)."""
    if asks_override and not principal.is_admin:
        raise Forbidden("only an admin may override the directory or the eligibility rules")
    override = data.override_note is not None
    profile = domain.resolve_profile(
        role=data.role,
        employee_status=EmployeeStatus(employee.status),
        directory=state_of(domain.DirectoryFacts, employee),
        languages=data.languages,
        level=data.level,
        department=data.department,
        capacity=data.capacity,
        override=override,
    )
    domain.check_vocabulary(
        program.objectives,
        fmt=ProgramFormat(program.format),
        role=data.role,
        offered=data.skills_offered,
        sought=data.skills_sought,
    )
    if eligibility and not override:
        rule = getattr(program.eligibility, data.role)
        facts = state_of(domain.EmployeeFacts, employee)
        why = domain.ineligibility(rule, facts, today=uow.now().date())
        if why:
            raise Invalid(
                f"not eligible as {data.role} here: {'; '.join(why)}", field="employee_id"
            )
    scored = domain.score_answers(program.questions, data.answers)
    return (
        data.model_dump()
        | vars(profile)  # its fields, flat: asdict copies deep, recursively, for each line
        | {"languages": list(profile.languages)}  # a list of its own, as asdict gave
        | {"similarity": scored.similarity, "answer_themes": scored.themes}
    )


FIXED = frozenset({"program_id", "employee_id", "role"})


async def update_participant(
    *,
    uow: UnitOfWork,
    principal: Principal,
    participant_id: str,
    data: BaseModel,
    if_match: str | None = None,
) -> Participant:
    """A participant changes their profile or answers (an admin may too), if it is still the
    version `if_match` names (shared.conditional): validated merged as an enrolment; matching
    hears of it (ParticipantUpdated), so an open draft run goes stale."""
    participant = await get_participant(
        uow=uow, principal=principal, participant_id=participant_id, for_update=True
    )
    check_if_match(
        if_match,
        lambda: ParticipantPublic.model_validate(participant, from_attributes=True),
        "participant",
    )
    if participant.status not in domain.IN_PROGRAMME:
        raise Conflict(f"a {participant.status} participant's profile no longer changes")
    program = await uow.session.get(Program, participant.program_id)
    employee = await uow.session.get(Employee, (participant.org, participant.employee_id))
    assert program is not None and employee is not None  # an enrolment refers to both
    domain.check_editable(ProgramStatus(program.status))
    merged = merge_patch(participant, data, ParticipantCreate)
    fields = _resolve(
        uow=uow,
        principal=principal,
        program=program,
        employee=employee,
        data=merged,
        asks_override=getattr(data, "override_note", None) is not None,
        eligibility=False,
    )
    changed = False
    for name, value in fields.items():
        if name not in FIXED and getattr(participant, name) != value:
            setattr(participant, name, value)
            changed = True
    if changed:
        uow.session.add(participant)
        if participant.status == ParticipantStatus.active:
            uow.emit(_profile(ev.ParticipantUpdated, participant), org=participant.org)
    await uow.commit()
    return participant


async def decide(
    *,
    uow: UnitOfWork,
    principal: Principal,
    participant_id: str,
    approve: bool,
    reason: ev.RejectionReason | None = None,
    note: str | None = None,
) -> Participant:
    """An admin approves a pending enrolment (matching then hears of the participant) or
    rejects it with a reason category and a note."""
    participant = await get_participant(
        uow=uow, principal=principal, participant_id=participant_id, for_update=True
    )
    state = state_of(domain.ParticipantState, participant)
    if approve:
        change = domain.approve(state, note=note)
    else:
        assert reason is not None
        change = domain.reject(state, reason=reason, note=note)
    _apply(uow, participant, change, org=participant.org)
    if approve:
        uow.emit(_profile(ev.ParticipantEnrolled, participant), org=participant.org)
    await uow.commit()
    return participant


async def get_participant(
    *, uow: UnitOfWork, principal: Principal, participant_id: str, for_update: bool = False
) -> Participant:
    return await get_visible(
        uow.session,
        Participant,
        participant_id,
        principal,
        owners=lambda p: [p.employee_id],
        what="participant",
        for_update=for_update,
    )


async def list_participants(
    *,
    uow: UnitOfWork,
    principal: Principal,
    page: PageParams,
    program_id: str | None,
    role: ParticipantRole | None,
    status: ParticipantStatus | None,
) -> Window[Participant]:
    q = scoped(select(Participant), Participant, principal, Participant.employee_id)
    if program_id:
        q = q.where(Participant.program_id == program_id)
    if role:
        q = q.where(Participant.role == role)
    if status:
        q = q.where(Participant.status == status)
    return await page_of(uow.session, q, page, col(Participant.created_at), col(Participant.id))


async def withdraw(
    *,
    uow: UnitOfWork,
    principal: Principal,
    participant_id: str,
    reason: ev.WithdrawalReason,
    note: str | None,
) -> Participant:
    participant = await get_participant(
        uow=uow, principal=principal, participant_id=participant_id, for_update=True
    )
    _withdraw(uow=uow, participant=participant, reason=reason, note=note)
    await uow.commit()
    return participant
