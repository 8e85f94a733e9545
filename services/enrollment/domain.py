"""Enrollment's rules, free of I/O: what an HRIS event does, who may enrol and how."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.contracts import enrollment as ev
from shared.contracts.enrollment import ParticipantRole
from shared.domain import Transition
from shared.errors import Conflict, Invalid


class EmployeeStatus(StrEnum):
    active = "active"
    on_leave = "on_leave"  # a leave of absence: their relationships pause, not end
    terminated = "terminated"


class ParticipantStatus(StrEnum):
    active = "active"
    withdrawn = "withdrawn"


DEFAULT_MENTOR_CAPACITY = 1
T = TypeVar("T")


@dataclass(frozen=True)
class Profile:
    languages: list[str]
    level: int | None
    department: str | None
    capacity: int


@dataclass(frozen=True)
class DirectoryFacts:
    """What the directory says of an employee, as profiles use it (the row's fields)."""

    manager_id: str | None
    languages: list[str]
    level: int | None
    department: str | None

    def __post_init__(self) -> None:  # a copy: never the row's own list, shared by reference
        object.__setattr__(self, "languages", list(self.languages))


def resolve_profile(
    *,
    role: ParticipantRole,
    employee_status: EmployeeStatus,
    directory: DirectoryFacts,
    languages: list[str] | None,
    level: int | None,
    department: str | None,
    capacity: int | None,
) -> Profile:
    """A participant's matching profile: what they said, else what the directory knows."""
    if employee_status is not EmployeeStatus.active:
        raise Invalid("employee is not active", field="employee_id")
    if role is ParticipantRole.mentee and capacity not in (None, 1):
        raise Invalid("only mentors have a capacity", field="capacity")
    langs = languages if languages is not None else directory.languages
    if not langs:
        raise Invalid("at least one language is needed to match", field="languages")
    return Profile(
        languages=langs,
        level=level if level is not None else directory.level,
        department=department if department is not None else directory.department,
        capacity=(capacity or DEFAULT_MENTOR_CAPACITY) if role is ParticipantRole.mentor else 1,
    )


def follow_directory(current: T, was: T, now: T) -> T:
    """A profile value taken from the directory at enrolment follows the directory; one the
    participant gave themselves (it differs from what the directory said) stays theirs."""
    return now if current == was else current


@dataclass(frozen=True)
class DirectoryProfile:
    """The part of a participant's profile that comes from the directory (the row's fields)."""

    languages: list[str]
    level: int | None
    department: str | None
    tz_offset_h: int | None


def followed(
    current: DirectoryProfile, *, was: DirectoryFacts, now: DirectoryFacts, tz_offset_h: int | None
) -> DirectoryProfile:
    """A participant's own profile after an HRIS change to their employee record: the timezone
    always follows; level, department and languages follow where they came from the directory."""
    return DirectoryProfile(
        languages=follow_directory(current.languages, was.languages, now.languages),
        level=follow_directory(current.level, was.level, now.level),
        department=follow_directory(current.department, was.department, now.department),
        tz_offset_h=tz_offset_h,
    )


MAX_CHAIN = 20


def manager_chain(manager_id: str | None, manager_of: Mapping[str, str | None]) -> list[str]:
    """Employee ids above someone in the reporting line, nearest first, from their manager's id
    up: it stops at the top, at an employee the directory does not know (`manager_of` lacks
    them), at a loop, or 20 levels up. Matching never pairs someone with their chain."""
    chain: list[str] = []
    current = manager_id
    while current and current not in chain and len(chain) < MAX_CHAIN:
        chain.append(current)
        if current not in manager_of:
            break
        current = manager_of[current]
    return chain


def tz_offset_hours(timezone: str | None, *, at: datetime) -> int | None:
    """The employee's UTC offset in whole hours at `at` (None when unknown or invalid)."""
    if not timezone:
        return None
    try:
        offset = ZoneInfo(timezone).utcoffset(at)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return None if offset is None else round(offset.total_seconds() / 3600)


@dataclass(frozen=True)
class ParticipantState:
    """A participant's place in a programme as its rules see it (the row's fields)."""

    id: str
    program_id: str
    employee_id: str
    role: ParticipantRole
    status: ParticipantStatus
    withdrawn_reason: ev.WithdrawalReason | None
    withdrawn_note: str | None

    def __post_init__(self) -> None:  # a row read back from the database holds plain strings
        object.__setattr__(self, "role", ParticipantRole(self.role))
        object.__setattr__(self, "status", ParticipantStatus(self.status))


def withdraw(
    p: ParticipantState, *, reason: ev.WithdrawalReason, note: str | None = None
) -> Transition[ParticipantState]:
    """active --withdraw--> withdrawn (by themselves, an admin, or their leaving the company)."""
    if p.status is ParticipantStatus.withdrawn:
        raise Conflict("participant already withdrawn")
    new = replace(
        p, status=ParticipantStatus.withdrawn, withdrawn_reason=reason, withdrawn_note=note
    )
    event = ev.ParticipantWithdrawn(
        participant_id=p.id,
        program_id=p.program_id,
        employee_id=p.employee_id,
        role=p.role,
        reason=reason,
        note=note,
    )
    return Transition(new, [event])


# --- an employee's record, as the HRIS drives it ---------------------------------------------
#
# (none) --hired--> active --updated--> active --terminated--> terminated --hired--> active
#                    active --leave--> on_leave --returned--> active  (updated keeps on_leave)


@dataclass(frozen=True)
class EmployeeState:
    id: str
    status: EmployeeStatus
    updated_at: datetime

    def __post_init__(self) -> None:  # a row read back from the database holds a plain str
        object.__setattr__(self, "status", EmployeeStatus(self.status))


HrisEventType = Literal["hired", "updated", "terminated", "leave", "returned"]


def terminate(e: EmployeeState, *, at: datetime) -> Transition[EmployeeState]:
    """The employee left the company (a second termination changes nothing). The use case
    then withdraws them from every programme (`left_company`)."""
    if e.status is EmployeeStatus.terminated:
        return Transition(e)
    new = replace(e, status=EmployeeStatus.terminated, updated_at=at)
    return Transition(new, [ev.EmployeeTerminated(employee_id=e.id)])


def take_record(
    e: EmployeeState | None, *, employee_id: str, event_type: HrisEventType, at: datetime
) -> EmployeeState:
    """Hired or updated: the directory's record is taken as sent and the employee is active.
    A terminated employee comes back only through a new `hired` event."""
    if e is not None and e.status is EmployeeStatus.terminated and event_type == "updated":
        raise Conflict("employee is terminated; send a hired event to rehire")
    keep = e is not None and e.status is EmployeeStatus.on_leave and event_type == "updated"
    status = EmployeeStatus.on_leave if keep else EmployeeStatus.active
    return EmployeeState(id=employee_id, status=status, updated_at=at)


def leave(e: EmployeeState, *, at: datetime) -> Transition[EmployeeState]:
    """A leave of absence starts (a second one changes nothing): their relationships pause."""
    if e.status is EmployeeStatus.terminated:
        raise Conflict("employee is terminated; a leave needs an active employee")
    if e.status is EmployeeStatus.on_leave:
        return Transition(e)
    new = replace(e, status=EmployeeStatus.on_leave, updated_at=at)
    return Transition(new, [ev.EmployeeOnLeave(employee_id=e.id)])


def returned(e: EmployeeState, *, at: datetime) -> Transition[EmployeeState]:
    """Back from leave (changes nothing for an employee not on leave): relationships resume."""
    if e.status is EmployeeStatus.terminated:
        raise Conflict("employee is terminated; send a hired event to rehire")
    if e.status is not EmployeeStatus.on_leave:
        return Transition(e)
    new = replace(e, status=EmployeeStatus.active, updated_at=at)
    return Transition(new, [ev.EmployeeReturned(employee_id=e.id)])


def snapshot_event(event_type: HrisEventType) -> type[ev.EmployeeSnapshot]:
    """The event that publishes the record after a hired or updated event."""
    if event_type not in ("hired", "updated"):
        raise ValueError(f"a {event_type} event publishes its own event (see terminate, leave)")
    return ev.EmployeeHired if event_type == "hired" else ev.EmployeeUpdated
