"""Events the reporting service produces (topic binome.reporting.events): recognition."""

from __future__ import annotations

from enum import StrEnum

from shared.contracts.enrollment import ErasureConfirmed, erasure_confirmed
from shared.events import EventData


class BadgeMetric(StrEnum):
    """What a badge rule counts, for one employee in one programme, in one role."""

    sessions_held = "sessions_held"  # sessions completed
    hours = "hours"  # mentoring hours of those sessions
    partners = "partners"  # people accompanied: mentees for a mentor, mentors for a mentee
    relationships_completed = "relationships_completed"  # matches brought to completion
    survey_score = "survey_score"  # the other parties' survey answers, their mean (1-5)


class BadgeAwarded(EventData):
    TYPE = "binome.reporting.badge.awarded.v1"
    KEY = "employee_id"
    award_id: str
    rule_id: str
    program_id: str
    employee_id: str
    badge: str  # the rule's name
    metric: BadgeMetric
    value: float  # the figure that earned it
    threshold: float


class KudosGiven(EventData):
    TYPE = "binome.reporting.kudos.given.v1"
    KEY = "to_employee_id"
    kudos_id: str
    match_id: str
    program_id: str
    from_employee_id: str
    to_employee_id: str


class ReportingErasureConfirmed(ErasureConfirmed):
    TYPE = erasure_confirmed("reporting")
