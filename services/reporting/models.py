"""Reporting's read models, fed only by events, and the report schema."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import JSON, BigInteger, Index, Integer
from sqlalchemy.orm import registry
from sqlmodel import Field

from shared.api import Request
from shared.messaging.tables import add_archive_table, messaging_tables
from shared.revocations import revocation_table
from shared.table_model import TableModel
from shared.timers import timer_table


class Base(TableModel, registry=registry()):
    """Reporting's own metadata: its migrations hold its tables only (see shared.db)."""


OUTBOX, INBOX = messaging_tables(Base.metadata)
TIMERS = timer_table(Base.metadata)
REVOKED = revocation_table(Base.metadata)  # employees whose tokens are refused
# The events applied, kept for `binome reporting rebuild` (and scrubbed by an erasure).
ARCHIVE = add_archive_table(Base.metadata)


class ProgramView(Base, table=True):
    __tablename__ = "program"
    id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    name: str = Field(max_length=200)
    format: str = Field(max_length=20)
    # The expected meeting cadence (its engagement policy), for "in cadence" relationships.
    cadence_s: float = 14 * 86400


class ParticipantView(Base, table=True):
    __tablename__ = "participant"
    __table_args__ = (Index("ix_participant_program_role", "program_id", "role", "status"),)
    id: str = Field(primary_key=True, max_length=36)
    program_id: str = Field(index=True, max_length=36)
    role: str = Field(max_length=10)
    active: bool = True
    employee_id: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=100)
    # pending (awaiting approval), active, withdrawn, rejected.
    status: str = Field(default="active", max_length=10)
    requested_at: datetime | None = None  # the enrolment awaiting approval
    enrolled_at: datetime | None = None  # enrolled (approved, when approval is required)
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = Field(default=None, max_length=30)
    waiting: bool = False  # a mentee on the waiting list (no mentor with room)


class MatchView(Base, table=True):
    __tablename__ = "match"
    id: str = Field(primary_key=True, max_length=36)
    program_id: str = Field(index=True, max_length=36)
    status: str = Field(max_length=20)
    end_reason: str | None = Field(default=None, max_length=200)
    replaces_match_id: str | None = Field(default=None, max_length=36)
    mentor_participant_id: str | None = Field(default=None, max_length=36, index=True)
    mentee_participant_id: str | None = Field(default=None, max_length=36, index=True)
    mentor_employee_id: str | None = Field(default=None, max_length=100)
    mentee_employee_id: str | None = Field(default=None, max_length=100)
    proposed_at: datetime | None = None
    activated_at: datetime | None = None
    declined_at: datetime | None = None
    ended_at: datetime | None = None


class SessionView(Base, table=True):
    __tablename__ = "session"
    id: str = Field(primary_key=True, max_length=36)
    program_id: str = Field(index=True, max_length=36)
    match_id: str | None = Field(default=None, max_length=36, index=True)
    status: str = Field(max_length=20)
    duration_minutes: int = 60
    scheduled_at: datetime | None = Field(default=None, index=True)


class SkillView(Base, table=True):
    """Skill assessments, from sessions' events: one per relationship, phase and side."""

    __tablename__ = "skill_assessment"
    match_id: str = Field(primary_key=True, max_length=36)
    phase: str = Field(primary_key=True, max_length=10)
    by: str = Field(primary_key=True, max_length=10)
    program_id: str = Field(index=True, max_length=36)
    ratings: dict[str, int] = Field(default_factory=dict, sa_type=JSON)


class RatingView(Base, table=True):
    __tablename__ = "rating"
    feedback_id: str = Field(primary_key=True, max_length=36)
    program_id: str = Field(index=True, max_length=36)
    match_id: str = Field(max_length=36, index=True)
    rating: int
    author_employee_id: str | None = Field(default=None, max_length=100)
    rated_at: datetime | None = None


class CaseView(Base, table=True):
    """Corrective cases, from feedback's events (opened, then closed with an outcome)."""

    __tablename__ = "corrective_case"
    case_id: str = Field(primary_key=True, max_length=36)
    match_id: str = Field(max_length=36)
    program_id: str = Field(index=True, max_length=36)
    cause: str | None = Field(default=None, max_length=20)
    outcome: str | None = Field(default=None, max_length=20)
    opened_at: datetime | None = None
    closed_at: datetime | None = None


class EmployeeView(Base, table=True):
    """The directory as the HRIS told it (retention: who left, participants or not)."""

    __tablename__ = "employee"
    org: str = Field(primary_key=True, max_length=100)
    employee_id: str = Field(primary_key=True, max_length=100)
    name: str | None = Field(default=None, max_length=200)  # for certificates
    department: str | None = Field(default=None, max_length=100)
    hired_at: datetime | None = None
    terminated_at: datetime | None = None


class HealthView(Base, table=True):
    """A relationship's current health, from feedback's health_changed."""

    __tablename__ = "health"
    match_id: str = Field(primary_key=True, max_length=36)
    program_id: str = Field(index=True, max_length=36)
    state: str = Field(max_length=20)
    score: int
    signals: list[str] = Field(default_factory=list, sa_type=JSON)
    changed_at: datetime | None = None


class SurveyView(Base, table=True):
    """A survey sent to one party: answered (its mean), expired, or open."""

    __tablename__ = "survey"
    survey_id: str = Field(primary_key=True, max_length=36)
    match_id: str = Field(max_length=36, index=True)
    program_id: str = Field(index=True, max_length=36)
    kind: str = Field(max_length=10)
    respondent_employee_id: str | None = Field(default=None, max_length=100)
    due_at: datetime | None = None
    answered_at: datetime | None = None
    expired_at: datetime | None = None
    mean: float | None = None
    recommend: int | None = None  # the would-recommend answer, 1-5


class GoalView(Base, table=True):
    """A goal of a signed agreement and its latest progress."""

    __tablename__ = "goal"
    match_id: str = Field(primary_key=True, max_length=36)
    goal_id: str = Field(primary_key=True, max_length=36)
    program_id: str = Field(index=True, max_length=36)
    progress: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    reached_at: datetime | None = None


class CommunityAttendanceView(Base, table=True):
    """Who had a seat at a community event that took place, and whether they came."""

    __tablename__ = "community_attendance"
    event_id: str = Field(primary_key=True, max_length=36)
    employee_id: str = Field(primary_key=True, max_length=100)
    org: str = Field(index=True, max_length=100)
    program_id: str | None = Field(default=None, max_length=36, index=True)
    kind: str = Field(max_length=20)
    attended: bool
    held_at: datetime | None = None


class RelationshipTally(Base, table=True):
    """What one relationship adds to its programme's tallies (`kpi_cell`, `kpi_person`), as
    last counted from its rows (services.reporting.tallies): the difference is applied when
    one of them changes. Its current state, for the figures that depend on the time asked."""

    __tablename__ = "relationship_tally"
    __table_args__ = (
        Index("ix_relationship_tally_activity", "program_id", "current", "last_activity_at"),
        Index("ix_relationship_tally_held", "program_id", "current", "last_held_at"),
        Index(
            "ix_relationship_tally_department_activity",
            "program_id", "department", "current", "last_activity_at",
        ),
        Index(
            "ix_relationship_tally_department_held",
            "program_id", "department", "current", "last_held_at",
        ),
        Index("ix_relationship_tally_latest", "program_id", "latest_at"),
    )  # fmt: skip
    match_id: str = Field(primary_key=True, max_length=36)
    program_id: str | None = Field(default=None, max_length=36)  # None: the match not heard yet
    department: str | None = Field(default=None, max_length=100)  # its mentee's
    current: bool = False  # activated and not ended
    last_held_at: datetime | None = None  # its latest completed session's time
    last_activity_at: datetime | None = None  # that, or its activation
    latest_at: datetime | None = None  # the later of its activation and its end
    # {"cells": [[name, key, n, total], ...], "people": [[measure, employee_id], ...]}
    added: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class ParticipantTally(Base, table=True):
    """What one participant adds to its programme's tallies (see RelationshipTally), and how
    long a mentee waited for a first proposed mentor (the percentiles read this index)."""

    __tablename__ = "participant_tally"
    __table_args__ = (
        Index("ix_participant_tally_waited", "program_id", "waited_s"),
        Index("ix_participant_tally_department_waited", "program_id", "department", "waited_s"),
    )
    participant_id: str = Field(primary_key=True, max_length=36)
    program_id: str | None = Field(default=None, max_length=36)
    department: str | None = Field(default=None, max_length=100)
    waited_s: float | None = None
    added: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class TallyPending(Base, table=True):
    """A relationship (its match) or a participant written since the tallies last counted it:
    counted by the next drain (services.reporting.tallies). Appended, never updated, so a
    drain deletes only the marks it read."""

    __tablename__ = "tally_pending"
    # (SQLite numbers an INTEGER PRIMARY KEY itself; a BIGINT one it would leave empty.)
    seq: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer, "sqlite")
    )
    kind: str = Field(max_length=12)  # match, participant
    entity_id: str = Field(max_length=36, index=True)
    program_id: str | None = Field(default=None, max_length=36, index=True)


class KpiCell(Base, table=True):
    """A programme's all-time tally, for one department or all: a count (and a sum) kept up to
    date as relationships change; the name `people` counts the distinct people of a
    measure."""

    __tablename__ = "kpi_cell"
    program_id: str = Field(primary_key=True, max_length=36)
    department: str = Field(primary_key=True, max_length=100)  # "*": every department
    name: str = Field(primary_key=True, max_length=40)
    key: str = Field(primary_key=True, max_length=80)
    n: int = Field(default=0, sa_type=BigInteger)
    total: float = 0.0


class KpiPerson(Base, table=True):
    """How many of a programme's relationships count a person in a measure (a person is
    counted once however many: the `people` cell moves when this leaves or reaches 0)."""

    __tablename__ = "kpi_person"
    program_id: str = Field(primary_key=True, max_length=36)
    department: str = Field(primary_key=True, max_length=100)
    measure: str = Field(primary_key=True, max_length=80)
    employee_id: str = Field(primary_key=True, max_length=100)
    n: int = 0


class ErasureView(Base, table=True):
    """An employee's erasure (known by its pseudonym only) and the services that confirmed
    it, with the records each erased."""

    __tablename__ = "erasure"
    erasure_id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    pseudonym: str | None = Field(default=None, max_length=50)
    requested_at: datetime | None = None
    confirmed: dict[str, int] = Field(default_factory=dict, sa_type=JSON)
    completed_at: datetime | None = None


class ErasureStatus(BaseModel):
    erasure_id: str
    pseudonym: str | None
    requested_at: datetime | None
    confirmed: dict[str, int]  # service -> records it erased
    pending: list[str]  # services yet to confirm
    completed_at: datetime | None


class ProgramReport(BaseModel):
    program_id: str
    name: str
    format: str
    participants_by_role: dict[str, int]
    matches_by_status: dict[str, int]
    matches_ended_by_reason: dict[str, int]
    rematches: int
    relationships_at_risk: int  # relationships that opened a corrective case at risk
    cases_open: int
    cases_by_outcome: dict[str, int]
    sessions_by_status: dict[str, int]
    sessions_completed: int
    # Hours of completed sessions, summed over relationships (a group meeting once per mentee).
    mentoring_hours: float
    # Per target skill: relationships measured (baseline and a later assessment, the mentee's
    # own) and their mean progress; skills measured in fewer than 5 are left out (privacy).
    skill_progress: dict[str, dict[str, float | int]]
    skills_suppressed: int
    ratings: int
    average_rating: float | None


class RelationshipReport(BaseModel):
    """One relationship's figures (admins): its hours and its skill progress."""

    match_id: str
    program_id: str | None
    sessions_completed: int
    mentoring_hours: float
    skills: dict[str, dict[str, dict[str, int | None]]]
    mean_progress: float | None


class KpiFilters(BaseModel):
    program_id: str | None  # None: every programme of the organisation
    start: datetime | None  # the period [start, end); None: since the beginning
    end: datetime | None  # exclusive; None: no end (what is planned ahead counts too)
    department: str | None = None
    role: str | None = None  # mentor or mentee, where a KPI has a role


class KpiPublic(BaseModel):
    name: str
    group: str
    unit: str
    definition: str
    # A number, a breakdown (a cell withheld is null), or null when the whole is withheld or
    # there is nothing to measure.
    value: float | int | dict[str, Any] | None
    population: int  # the people the figure describes
    suppressed: bool  # some or all of it withheld: fewer than 5 people (privacy)


class KpiReport(BaseModel):
    program_id: str | None
    start: datetime | None
    end: datetime | None
    department: str | None
    role: str | None
    kpis: list[KpiPublic]


class TrendPublic(BaseModel):
    name: str
    group: str
    unit: str
    definition: str
    # One value per week of `weeks` (null: withheld, fewer than 5 people, or nothing to say).
    values: list[float | int | None]
    suppressed: bool  # some week's value withheld (privacy)


class TrendReport(BaseModel):
    program_id: str | None
    department: str | None
    weeks: list[date]  # the Mondays (UTC) of the weeks of the series
    series: list[TrendPublic]


# Tables holding what callers made, not derived from events: a rebuild of the projection
# (`binome reporting rebuild`) leaves them as they are.
# Tables written by reactions (webhook deliveries, badge awards) are kept the same way: a
# rebuild replays the projections' handlers only.
MADE_BY_CALLERS = (
    "dashboard_link",
    "webhook_endpoint",
    "webhook_delivery",
    "webhook_attempt",
    "badge_rule",
    "badge_award",
    "kudos",
)


class DashboardLink(Base, table=True):
    """A short-lived link to a dashboard page, for a browser (no bearer token): its secret is
    in the URL, only its hash is kept."""

    __tablename__ = "dashboard_link"
    token_sha256: str = Field(primary_key=True, max_length=64)
    org: str = Field(max_length=100)
    program_id: str | None = Field(default=None, max_length=36)  # None: the organisation's
    created_at: datetime
    expires_at: datetime = Field(index=True)


class DashboardLinkIn(Request):
    program_id: str | None = PydanticField(
        default=None, max_length=36, description="None: the org's"
    )
    expires_in: timedelta = PydanticField(
        default=timedelta(minutes=15),
        gt=timedelta(0),
        le=timedelta(days=1),
        description="ISO 8601 duration, at most P1D",
    )


class DashboardLinkPublic(BaseModel):
    url: str
    expires_at: datetime
