"""Feedback's tables (its view of programmes and sessions, ratings, risk flags) and schemas."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field

from shared.api import STRICT, Instant, Request, new_id, utcnow
from shared.contracts.enrollment import EngagementPolicy, TrainingItem
from shared.contracts.feedback import (
    CaseAction,
    CaseCause,
    CaseOutcome,
    CaseStatus,
    HealthReason,
    HealthState,
    SurveyKind,
)
from shared.db import PydanticJSON
from shared.messaging.tables import messaging_tables
from shared.revocations import revocation_table
from shared.table_model import TableModel
from shared.timers import timer_table


class Base(TableModel, registry=registry()):
    """Feedback's own metadata: its migrations hold its tables only (see shared.db)."""


OUTBOX, INBOX = messaging_tables(Base.metadata)
TIMERS = timer_table(Base.metadata)
REVOKED = revocation_table(Base.metadata)  # employees whose tokens are refused


class CommunityTraining(Base, table=True):
    """A programme's trainings among its community events (sessions'): the catalogue a case
    may assign from, beside the programme's listed items; attending one completes it."""

    __tablename__ = "community_training"
    id: str = Field(primary_key=True, max_length=36)  # the community event's id
    org: str = Field(max_length=100)
    program_id: str = Field(index=True, max_length=36)
    title: str = Field(max_length=200)
    starts_at: datetime
    cancelled: bool = False


class ProgramView(Base, table=True):
    """A programme's early-warning rules, from enrollment's events."""

    __tablename__ = "program"
    id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    engagement: EngagementPolicy = Field(
        default_factory=EngagementPolicy, sa_type=PydanticJSON(EngagementPolicy)
    )
    training: list[TrainingItem] = Field(
        default_factory=list, sa_type=PydanticJSON(list[TrainingItem])
    )


class Relationship(Base, table=True):
    """An active (or ended) match as follow-up sees it, with its health, from events."""

    __tablename__ = "relationship"
    match_id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    program_id: str = Field(index=True, max_length=36)
    mentor_employee_id: str = Field(max_length=100)
    mentee_employee_id: str = Field(max_length=100)
    active: bool = True
    activated_at: datetime
    last_activity_at: datetime  # the last session held or planned (or the activation)
    # Its signals summarised (see usecases._take_signals): each side's last ratings (at most
    # RATINGS_KEPT), the sessions held, and unconfirmed or missed since the last one held.
    mentor_ratings: list[int] = Field(default_factory=list, sa_type=JSON)
    mentee_ratings: list[int] = Field(default_factory=list, sa_type=JSON)
    held: int = 0
    unconfirmed: int = 0
    no_shows: int = 0
    nudges: int = 0
    last_nudge_at: datetime | None = None
    unanswered: int = 0  # surveys that expired
    low_pulse: bool = False  # the latest pulse answered by either side averages 2 or less
    state: HealthState = Field(default=HealthState.too_early, sa_type=String(20), index=True)
    score: int = 100
    reasons: list[dict] = Field(default_factory=list, sa_type=JSON)
    signals: str = Field(default="", max_length=300)  # ",inactivity,no_show,": to filter on
    # Why its clocks are stopped ("admin", "leave:<employee id>"), and since when.
    paused_for: list[str] = Field(default_factory=list, sa_type=JSON)
    paused_at: datetime | None = None
    # The meeting rhythm the pair agreed (their signed agreement): it replaces the
    # programme's cadence in judging their inactivity.
    cadence: timedelta | None = None


class Case(Base, table=True):
    """A corrective case: an at-risk (or incompatible) relationship, the recommended action,
    what was done (its history) and how it ended."""

    __tablename__ = "corrective_case"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    match_id: str = Field(index=True, max_length=36)
    program_id: str = Field(index=True, max_length=36)
    mentor_employee_id: str = Field(max_length=100)
    mentee_employee_id: str = Field(max_length=100)
    cause: CaseCause = Field(sa_type=String(20))
    status: CaseStatus = Field(default=CaseStatus.open, sa_type=String(20), index=True)
    recommendation: CaseAction = Field(sa_type=String(20))
    why: str = Field(max_length=500)
    reasons: list[dict] = Field(default_factory=list, sa_type=JSON)  # the health at opening
    score_at_open: int
    opened_at: datetime
    # training: the item assigned, to whom, and when it was completed
    training_item_id: str | None = Field(default=None, max_length=100)
    assignee_employee_id: str | None = Field(default=None, max_length=100)
    training_completed_at: datetime | None = None
    paused: bool = False  # this case paused the relationship
    history: list[dict] = Field(default_factory=list, sa_type=JSON)
    outcome: CaseOutcome | None = Field(default=None, sa_type=String(20))
    score_at_close: int | None = None
    closed_at: datetime | None = None


class CaseEntry(BaseModel):
    """One line of a case's history: an action, a health change, the close."""

    at: datetime
    what: str  # an action (repair, mediation...), "opened", "reopened", "closed"
    by: str | None = None  # an admin's employee id, "policy" or None (the system)
    note: str | None = None
    details: dict[str, object] = {}


class CasePublic(BaseModel):
    id: str
    match_id: str
    program_id: str
    mentor_employee_id: str
    mentee_employee_id: str
    cause: CaseCause
    status: CaseStatus
    recommendation: CaseAction
    why: str
    reasons: list[HealthReason]
    score_at_open: int
    opened_at: datetime
    training_item_id: str | None
    assignee_employee_id: str | None
    training_completed_at: datetime | None
    paused: bool
    history: list[CaseEntry]
    outcome: CaseOutcome | None
    recovered: bool | None  # closed: did the relationship's health come back?
    score_at_close: int | None
    closed_at: datetime | None


class TrainingPublic(BaseModel):
    """What the assignee of a training sees of its case."""

    id: str  # the case's
    training_item_id: str | None
    assignee_employee_id: str | None
    training_completed_at: datetime | None


Note = PydanticField(default=None, max_length=2000)


class SimpleActionIn(Request):
    """repair, conclude, dismiss, pause, resume: the action and a note for the history."""

    action: Literal[
        CaseAction.repair,
        CaseAction.conclude,
        CaseAction.dismiss,
        CaseAction.pause,
        CaseAction.resume,
    ]
    note: str | None = Note


class MediationIn(Request):
    """A meeting of the pair with the programme manager (the facilitator: you, unless named)."""

    action: Literal[CaseAction.mediation]
    scheduled_at: Instant
    duration_minutes: int = PydanticField(default=45, ge=15, le=240)
    facilitator_employee_id: str | None = PydanticField(default=None, min_length=1, max_length=100)
    note: str | None = Note


class TrainingIn(Request):
    """Assign an item of the programme's training catalogue (to the mentor unless said)."""

    action: Literal[CaseAction.training]
    training_item_id: str = PydanticField(min_length=1, max_length=100)
    assignee: Literal["mentor", "mentee"] = "mentor"
    note: str | None = Note


CaseActionData = SimpleActionIn | MediationIn | TrainingIn
CaseActionIn = Annotated[CaseActionData, PydanticField(discriminator="action")]


class Survey(Base, table=True):
    """A pulse or closing survey sent to one party of a relationship."""

    __tablename__ = "survey"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    match_id: str = Field(index=True, max_length=36)
    program_id: str = Field(max_length=36)
    kind: SurveyKind = Field(sa_type=String(10))
    respondent_employee_id: str = Field(index=True, max_length=100)
    side: str = Field(max_length=10)
    sent_at: datetime
    expires_at: datetime
    status: str = Field(default="open", max_length=10)  # open, answered, expired
    answered_at: datetime | None = None
    quality: int | None = None  # how the relationship is going
    progress: int | None = None  # progress toward the goals
    rhythm: int | None = None  # the meeting rhythm suits me
    recommend: int | None = None  # would recommend this mentoring
    comment: str | None = Field(default=None, max_length=4000)


Answer = Annotated[int, PydanticField(ge=1, le=5)]


class SurveyAnswers(Request):
    """Each 1 (disagree) to 5 (agree)."""

    quality: Answer
    progress: Answer
    rhythm: Answer
    recommend: Answer
    comment: str | None = PydanticField(default=None, max_length=4000)


class SurveyPublic(BaseModel):
    id: str
    match_id: str
    kind: SurveyKind
    respondent_employee_id: str
    sent_at: datetime
    expires_at: datetime
    status: str
    answered_at: datetime | None
    quality: int | None
    progress: int | None
    rhythm: int | None
    recommend: int | None
    comment: str | None


class HealthPublic(BaseModel):
    match_id: str
    program_id: str
    state: HealthState
    score: int | None  # admins only
    reasons: list[HealthReason]  # admins see every signal; a party, none naming a side
    nudges: int
    held: int  # sessions held
    last_activity_at: datetime
    paused: bool
    # The rhythm the pair agreed, judged instead of the programme's cadence (None: the
    # programme's).
    agreed_cadence: timedelta | None = None


class SessionView(Base, table=True):
    """What feedback knows of a session, from sessions' events."""

    __tablename__ = "session"
    id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    match_id: str = Field(max_length=36, index=True)
    program_id: str = Field(max_length=36)
    mentor_employee_id: str = Field(max_length=100)
    mentee_employee_id: str = Field(max_length=100)
    status: str = Field(max_length=20)
    scheduled_at: datetime | None = None


class FeedbackBase(Base):
    session_id: str = Field(max_length=36, index=True)
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=4000)


class Feedback(FeedbackBase, table=True):
    __table_args__ = (UniqueConstraint("session_id", "author_employee_id"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    match_id: str = Field(max_length=36, index=True)
    program_id: str = Field(max_length=36, index=True)
    author_employee_id: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)

    # As the contract (FeedbackSubmitted) names them: the event never carries the comment.
    @property
    def feedback_id(self) -> str:
        return self.id

    @property
    def has_comment(self) -> bool:
        return bool(self.comment)


class FeedbackCreate(FeedbackBase):
    model_config = STRICT


class FeedbackPublic(FeedbackBase):
    id: str
    match_id: str
    program_id: str
    author_employee_id: str
    created_at: datetime
