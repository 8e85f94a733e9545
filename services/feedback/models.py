"""Feedback's tables (its view of programmes and sessions, ratings, risk flags) and schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.api import STRICT, Request, new_id, utcnow
from shared.contracts.enrollment import EngagementPolicy
from shared.contracts.feedback import HealthReason, HealthState, SurveyKind
from shared.db import PydanticJSON
from shared.messaging.tables import messaging_tables
from shared.timers import timer_table


class Base(SQLModel, registry=registry()):
    """Feedback's own metadata: its migrations hold its tables only (see shared.db)."""


OUTBOX, INBOX = messaging_tables(Base.metadata)
TIMERS = timer_table(Base.metadata)


class ProgramView(Base, table=True):
    """A programme's early-warning rules, from enrollment's events."""

    __tablename__ = "program"
    id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    rematch_threshold: float
    rating_window: int
    engagement: EngagementPolicy = Field(
        default_factory=EngagementPolicy, sa_type=PydanticJSON(EngagementPolicy)
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
    unconfirmed: int = 0
    no_shows: int = 0
    nudges: int = 0
    last_nudge_at: datetime | None = None
    unanswered: int = 0  # surveys that expired
    low_pulse: bool = False  # the latest pulse answered by either side averages 2 or less
    state: HealthState = Field(default=HealthState.too_early, sa_type=String(20), index=True)
    score: int = 100
    reasons: list[dict] = Field(default_factory=list, sa_type=JSON)


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
    last_activity_at: datetime


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


class AtRiskFlag(Base, table=True):
    """A relationship already reported at risk: it is reported once."""

    __tablename__ = "at_risk"
    match_id: str = Field(primary_key=True, max_length=36)
    org: str = Field(max_length=100)
    average_rating: float
    created_at: datetime = Field(default_factory=utcnow)
