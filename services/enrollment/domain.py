"""Enrollment's rules, free of I/O: what an HRIS event does, who may enrol and how."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.contracts.enrollment import ParticipantRole
from shared.errors import Conflict, Invalid


class EmployeeStatus(StrEnum):
    active = "active"
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


def resolve_profile(
    *,
    role: ParticipantRole,
    employee_status: EmployeeStatus,
    employee_languages: list[str],
    employee_level: int | None,
    employee_department: str | None,
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
    langs = languages if languages is not None else employee_languages
    if not langs:
        raise Invalid("at least one language is needed to match", field="languages")
    return Profile(
        languages=langs,
        level=level if level is not None else employee_level,
        department=department if department is not None else employee_department,
        capacity=(capacity or DEFAULT_MENTOR_CAPACITY) if role is ParticipantRole.mentor else 1,
    )


@dataclass(frozen=True)
class DirectoryFacts:
    """What the directory said of an employee before an HRIS update, as profiles use it."""

    manager_id: str | None
    languages: list[str]
    level: int | None
    department: str | None


def follow_directory(current: T, was: T, now: T) -> T:
    """A profile value taken from the directory at enrolment follows the directory; one the
    participant gave themselves (it differs from what the directory said) stays theirs."""
    return now if current == was else current


def tz_offset_hours(timezone: str | None, *, at: datetime) -> int | None:
    """The employee's UTC offset in whole hours at `at` (None when unknown or invalid)."""
    if not timezone:
        return None
    try:
        offset = ZoneInfo(timezone).utcoffset(at)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return None if offset is None else round(offset.total_seconds() / 3600)


def ensure_can_withdraw(status: ParticipantStatus) -> None:
    if status is ParticipantStatus.withdrawn:
        raise Conflict("participant already withdrawn")


def ensure_can_update_employee(status: EmployeeStatus, *, event_type: str) -> None:
    """A terminated employee comes back only through a new `hired` event."""
    if status is EmployeeStatus.terminated and event_type == "updated":
        raise Conflict("employee is terminated; send a hired event to rehire")
