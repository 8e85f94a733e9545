"""Sessions' tables (its view of matches, the sessions) and schemas."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, field_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field

from services.sessions.domain import Side
from services.sessions.domain.community import EventStatus
from services.sessions.domain.journey import Goal, Phase, check_goals
from shared.api import STRICT, Instant, Request, new_id, utcnow
from shared.contracts.enrollment import AgendaTemplate, EngagementPolicy, Objectives
from shared.contracts.reasons import NOTE_MAX
from shared.contracts.sessions import (
    CancelReason,
    CommunityKind,
    RegistrationStatus,
    RescheduleReason,
    SessionKind,
    SessionStatus,
)
from shared.db import PydanticJSON
from shared.messaging.tables import messaging_tables
from shared.revocations import revocation_table
from shared.table_model import TableModel
from shared.timers import timer_table


class Base(TableModel, registry=registry()):
    """Sessions's own metadata: its migrations hold its tables only (see shared.db)."""


OUTBOX, INBOX = messaging_tables(Base.metadata)
TIMERS = timer_table(Base.metadata)
REVOKED = revocation_table(Base.metadata)  # employees whose tokens are refused


class ProgramView(Base, table=True):
    """What sessions knows of a programme (its engagement policy), from enrollment's events."""

    __tablename__ = "program"
    id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    engagement: EngagementPolicy = Field(
        default_factory=EngagementPolicy, sa_type=PydanticJSON(EngagementPolicy)
    )
    agenda_templates: list[AgendaTemplate] = Field(
        default_factory=list, sa_type=PydanticJSON(list[AgendaTemplate])
    )
    # Its target skills: the vocabulary of agreements' goals and of assessments.
    objectives: Objectives = Field(default_factory=Objectives, sa_type=PydanticJSON(Objectives))


class MatchView(Base, table=True):
    """What sessions knows of a match, from matching's events."""

    __tablename__ = "match"
    id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    program_id: str = Field(max_length=36)
    mentor_employee_id: str = Field(max_length=100)
    mentee_employee_id: str = Field(max_length=100)
    active: bool = True


class SessionBase(Base):
    match_id: str = Field(max_length=36, index=True)
    duration_minutes: int = Field(default=60, ge=5, le=480)
    topic: str | None = Field(default=None, max_length=500)


class Session(SessionBase, table=True):
    __tablename__ = "mentoring_session"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    scheduled_at: datetime
    program_id: str = Field(max_length=36, index=True)
    mentor_employee_id: str = Field(max_length=100)
    mentee_employee_id: str = Field(max_length=100)
    status: SessionStatus = Field(default=SessionStatus.scheduled, sa_type=String(20))
    notes: str | None = Field(default=None, max_length=4000)
    cancel_reason: CancelReason | None = Field(default=None, sa_type=String(200))
    cancel_note: str | None = Field(default=None, max_length=NOTE_MAX)
    completed_at: datetime | None = None
    absent: Side | None = Field(default=None, sa_type=String(10))  # a no-show: who
    created_at: datetime = Field(default_factory=utcnow)
    # A group session: one session per mentee of the mentor, planned, held or cancelled
    # together (a circle meeting); each mentee still rates their own.
    group_id: str | None = Field(default=None, max_length=36, index=True)
    # A mediation: planned by a corrective case, with the programme manager.
    kind: SessionKind = Field(default=SessionKind.regular, sa_type=String(20))
    facilitator_employee_id: str | None = Field(default=None, max_length=100)
    agenda: list[str] = Field(default_factory=list, sa_type=JSON)
    # Its moves (from, to, reason, note, at, by), oldest first; `sequence` counts them.
    reschedules: list[dict] = Field(default_factory=list, sa_type=JSON)
    sequence: int = 0


class SessionNote(Base, table=True):
    """A party's private note on a session: read by its author only."""

    __tablename__ = "session_note"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    session_id: str = Field(max_length=36, index=True)
    author_employee_id: str = Field(max_length=100, index=True)
    text: str = Field(max_length=4000)
    created_at: datetime = Field(default_factory=utcnow)


class SessionCreate(SessionBase):
    model_config = STRICT
    scheduled_at: Instant


class SessionPublic(SessionBase):
    id: str
    scheduled_at: datetime
    program_id: str
    mentor_employee_id: str
    mentee_employee_id: str
    status: SessionStatus
    notes: str | None
    cancel_reason: CancelReason | None
    cancel_note: str | None
    completed_at: datetime | None
    absent: Side | None
    created_at: datetime
    group_id: str | None
    kind: SessionKind
    facilitator_employee_id: str | None
    agenda: list[str]
    reschedules: list[dict]
    sequence: int


class CalendarFeed(Base, table=True):
    """An employee's secret calendar feed: the URL holds a token only its SHA-256 is kept of;
    revoked, the URL answers 404."""

    __tablename__ = "calendar_feed"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    employee_id: str = Field(max_length=100, index=True)
    token_sha256: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class CalendarFeedCreate(Request):
    # Admins make one for an employee; employees for themselves (leave it out).
    employee_id: str | None = Field(default=None, min_length=1, max_length=100)


class CalendarFeedPublic(BaseModel):
    id: str
    employee_id: str
    created_at: datetime
    revoked_at: datetime | None
    # Only when made: the secret URL to give a calendar application (never shown again).
    url: str | None = None


class RescheduleRequest(Request):
    scheduled_at: Instant
    duration_minutes: int | None = Field(default=None, ge=5, le=480)
    reason: RescheduleReason = RescheduleReason.other
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class AgendaUpdate(Request):
    items: list[Annotated[str, PydanticField(min_length=1, max_length=200)]] = Field(max_length=30)


class NoteCreate(Request):
    text: str = Field(min_length=1, max_length=4000)


class NotePublic(BaseModel):
    id: str
    session_id: str
    author_employee_id: str
    text: str
    created_at: datetime


class HoursPublic(BaseModel):
    """Mentoring time held (completed sessions), per side."""

    employee_id: str | None = None
    match_id: str | None = None
    sessions: int
    hours: float
    sessions_as_mentor: int
    sessions_as_mentee: int
    hours_as_mentor: float
    hours_as_mentee: float


class GroupSessionCreate(Request):
    """A meeting of a mentor with all their active mentees in a programme (a circle)."""

    program_id: str = Field(max_length=36)
    # The mentor; employees plan their own group sessions and may leave it out.
    mentor_employee_id: str | None = Field(default=None, max_length=100)
    scheduled_at: Instant
    duration_minutes: int = Field(default=60, ge=5, le=480)
    topic: str | None = Field(default=None, max_length=500)


class GroupSessionPublic(BaseModel):
    group_id: str
    program_id: str
    mentor_employee_id: str
    scheduled_at: datetime
    sessions: list[SessionPublic]  # one per mentee (those the caller may see)


class CompleteRequest(Request):
    notes: str | None = Field(default=None, max_length=4000)


# The reasons a caller may give: `match_ended` is the system's (set when a match ends), and
# the schema says so by leaving it out.
CallerCancelReason = Literal[CancelReason.unavailable, CancelReason.rescheduled, CancelReason.other]


class CancelRequest(Request):
    reason: CallerCancelReason = Field(
        default=CancelReason.other,
        description="Why the session is off (`match_ended` is set by the system alone).",
    )
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class NoShowRequest(Request):
    absent: Side  # who did not come


# --- the relationship's journey -------------------------------------------------------------


class Agreement(Base, table=True):
    """A match's mentorship agreement (services.sessions.domain.journey)."""

    __tablename__ = "agreement"
    match_id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    program_id: str = Field(max_length=36, index=True)
    mentor_employee_id: str = Field(max_length=100)
    mentee_employee_id: str = Field(max_length=100)
    version: int = 1
    goals: list[Goal] = Field(default_factory=list, sa_type=PydanticJSON(list[Goal]))
    rhythm: timedelta | None = None
    mentor_confirmed: bool = False
    mentee_confirmed: bool = False
    signed_at: datetime | None = None
    history: list[dict] = Field(default_factory=list, sa_type=JSON)  # the signed versions
    updated_at: datetime = Field(default_factory=utcnow)


class AgreementIn(Request):
    goals: list[Goal] = Field(max_length=20)
    rhythm: timedelta | None = Field(default=None, description="ISO 8601, e.g. P14D")

    _unique = field_validator("goals")(check_goals)

    @field_validator("rhythm")
    @classmethod
    def _positive(cls, rhythm: timedelta | None) -> timedelta | None:
        if rhythm is not None and rhythm <= timedelta(0):
            raise ValueError("a meeting rhythm is a positive duration")
        return rhythm


class AgreementPublic(BaseModel):
    match_id: str
    program_id: str
    mentor_employee_id: str
    mentee_employee_id: str
    version: int
    goals: list[Goal]
    rhythm: timedelta | None
    mentor_confirmed: bool
    mentee_confirmed: bool
    signed_at: datetime | None
    history: list[dict]
    updated_at: datetime


class GoalProgressIn(Request):
    progress: int = Field(ge=0, le=100)
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class MilestoneReachedIn(Request):
    on: date | None = None  # default: today


class Assessment(Base, table=True):
    __tablename__ = "skill_assessment"
    __table_args__ = (UniqueConstraint("match_id", "phase", "by"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    match_id: str = Field(max_length=36, index=True)
    program_id: str = Field(max_length=36, index=True)
    phase: Phase = Field(sa_type=String(10))
    by: Side = Field(sa_type=String(10))
    employee_id: str = Field(max_length=100)
    ratings: dict[str, int] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow)


class AssessmentIn(Request):
    match_id: str = Field(max_length=36)
    phase: Phase
    ratings: dict[str, Annotated[int, PydanticField(ge=1, le=5)]] = Field(max_length=20)


class AssessmentPublic(BaseModel):
    id: str
    match_id: str
    program_id: str
    phase: Phase
    by: Side
    employee_id: str
    ratings: dict[str, int]
    created_at: datetime


class SkillProgressPublic(BaseModel):
    match_id: str
    # skill -> perspective (mentee, mentor) -> ratings by phase and `progress` (latest - baseline)
    skills: dict[str, dict[str, dict[str, int | None]]]
    mean_progress: float | None  # over the mentee's own assessments


# --- community events -------------------------------------------------------------------------


class CommunityEvent(Base, table=True):
    """A workshop, exchange group or training of the organisation (or of one programme)."""

    __tablename__ = "community_event"
    id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    program_id: str | None = Field(default=None, max_length=36, index=True)
    kind: CommunityKind = Field(sa_type=String(20))
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    location: str | None = Field(default=None, max_length=300)  # a room or a video link
    starts_at: datetime = Field(index=True)
    duration_minutes: int
    capacity: int
    status: EventStatus = Field(default=EventStatus.scheduled, sa_type=String(10))
    created_at: datetime

    @property
    def event_id(self) -> str:  # as the contracts name it
        return self.id


class CommunityRegistration(Base, table=True):
    """One employee's place at an event (or on its waiting list), then their attendance and
    feedback (the comment: its author's and admins' only)."""

    __tablename__ = "community_registration"
    event_id: str = Field(primary_key=True, max_length=36)
    employee_id: str = Field(primary_key=True, max_length=100)
    org: str = Field(max_length=100)
    status: RegistrationStatus = Field(sa_type=String(12))
    registered_at: datetime  # the waiting list's order
    rating: int | None = None
    comment: str | None = Field(default=None, max_length=2000)


class CommunityEventIn(Request):
    kind: CommunityKind
    title: str = PydanticField(min_length=1, max_length=200)
    description: str | None = PydanticField(default=None, max_length=2000)
    location: str | None = PydanticField(default=None, max_length=300)
    program_id: str | None = PydanticField(default=None, max_length=36)
    starts_at: Instant
    duration_minutes: int = PydanticField(default=60, ge=15, le=8 * 60)
    capacity: int = PydanticField(ge=1, le=10_000)


class CommunityEventPublic(BaseModel):
    id: str
    program_id: str | None
    kind: CommunityKind
    title: str
    description: str | None
    location: str | None
    starts_at: datetime
    duration_minutes: int
    capacity: int
    status: EventStatus
    registered: int
    waiting: int
    mine: RegistrationStatus | None  # the caller's registration, if any


class AttendanceIn(Request):
    attended: list[Annotated[str, PydanticField(min_length=1, max_length=100)]] = PydanticField(
        max_length=10_000
    )


class CommunityFeedbackIn(Request):
    rating: int = PydanticField(ge=1, le=5)
    comment: str | None = PydanticField(default=None, max_length=2000)


class RegistrationPublic(BaseModel):
    event_id: str
    employee_id: str
    status: RegistrationStatus
    registered_at: datetime
    position: int | None = None  # on the waiting list: 1 is next
    rating: int | None
    comment: str | None
