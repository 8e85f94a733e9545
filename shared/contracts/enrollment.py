"""Events the enrollment service produces (topic binome.enrollment.events)."""

from __future__ import annotations

from typing import Literal

from shared.events import EventData

ProgramFormat = Literal["classic", "reverse", "circles"]
Role = Literal["mentor", "mentee"]


class EmployeeSnapshot(EventData):
    employee_id: str
    name: str
    department: str | None
    level: int | None
    manager_id: str | None
    languages: list[str]
    timezone: str | None


class EmployeeHired(EmployeeSnapshot):
    TYPE = "binome.enrollment.employee.hired.v1"
    KEY = "employee_id"


class EmployeeUpdated(EmployeeSnapshot):
    TYPE = "binome.enrollment.employee.updated.v1"
    KEY = "employee_id"


class EmployeeTerminated(EventData):
    TYPE = "binome.enrollment.employee.terminated.v1"
    KEY = "employee_id"
    employee_id: str


class ProgramCreated(EventData):
    TYPE = "binome.enrollment.program.created.v1"
    KEY = "program_id"
    program_id: str
    name: str
    format: ProgramFormat
    rematch_threshold: float
    rating_window: int
    auto_publish: bool = False


class ParticipantEnrolled(EventData):
    TYPE = "binome.enrollment.participant.enrolled.v1"
    KEY = "participant_id"
    participant_id: str
    program_id: str
    employee_id: str
    role: Role
    skills_offered: list[str]
    skills_sought: list[str]
    languages: list[str]
    level: int | None
    department: str | None
    capacity: int
    volunteer: bool


class ParticipantWithdrawn(EventData):
    TYPE = "binome.enrollment.participant.withdrawn.v1"
    KEY = "participant_id"
    participant_id: str
    program_id: str
    employee_id: str
    role: Role
    reason: str
