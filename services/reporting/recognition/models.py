"""Badge rules, awards and kudos (reporting's tables), and the recognition bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlmodel import Field

from services.reporting.models import Base
from shared.api import Request
from shared.contracts.enrollment import ParticipantRole
from shared.contracts.reporting import BadgeMetric


class BadgeRule(Base, table=True):
    """A programme's badge: earned by an employee in a role once a figure reaches a threshold."""

    __tablename__ = "badge_rule"
    __table_args__ = (UniqueConstraint("program_id", "name", name="uq_badge_rule_name"),)
    id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    program_id: str = Field(index=True, max_length=36)
    name: str = Field(max_length=80)
    description: str | None = Field(default=None, max_length=300)
    role: ParticipantRole = Field(sa_type=String(10))
    metric: BadgeMetric = Field(sa_type=String(30))
    threshold: float
    created_at: datetime


class BadgeAward(Base, table=True):
    """A badge earned, once per rule and employee, with the figures that earned it."""

    __tablename__ = "badge_award"
    __table_args__ = (Index("ix_badge_award_employee", "org", "employee_id"),)
    id: str = Field(primary_key=True, max_length=36)
    org: str = Field(max_length=100)
    rule_id: str = Field(max_length=36)
    program_id: str = Field(max_length=36)
    employee_id: str = Field(max_length=100)
    badge: str = Field(max_length=80)
    role: str = Field(max_length=10)
    metric: str = Field(max_length=30)
    value: float
    threshold: float
    evidence: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    awarded_at: datetime

    @property
    def award_id(self) -> str:  # as the contracts name it
        return self.id


class Kudos(Base, table=True):
    """Thanks from one party of a relationship to the other."""

    __tablename__ = "kudos"
    __table_args__ = (Index("ix_kudos_to", "org", "to_employee_id"),)
    id: str = Field(primary_key=True, max_length=36)
    org: str = Field(max_length=100)
    match_id: str = Field(max_length=36)
    program_id: str = Field(max_length=36)
    from_employee_id: str = Field(max_length=100)
    to_employee_id: str = Field(max_length=100)
    message: str = Field(max_length=500)
    created_at: datetime

    @property
    def kudos_id(self) -> str:  # as the contracts name it
        return self.id


# --- bodies -----------------------------------------------------------------------------------


class BadgeRuleIn(Request):
    program_id: str = PydanticField(max_length=36)
    name: str = PydanticField(min_length=1, max_length=80)
    description: str | None = PydanticField(default=None, max_length=300)
    role: ParticipantRole
    metric: BadgeMetric
    threshold: float = PydanticField(gt=0, le=100_000)


class BadgeRulePublic(BaseModel):
    id: str
    program_id: str
    name: str
    description: str | None
    role: ParticipantRole
    metric: BadgeMetric
    threshold: float
    created_at: datetime
    awarded: int  # employees who earned it so far


class KudosIn(Request):
    match_id: str = PydanticField(max_length=36)
    message: str = PydanticField(min_length=1, max_length=500)


class KudosPublic(BaseModel):
    id: str
    match_id: str
    program_id: str
    from_employee_id: str
    to_employee_id: str
    message: str
    created_at: datetime


class BadgePublic(BaseModel):
    rule_id: str
    program_id: str
    badge: str
    role: str
    metric: str
    value: float
    threshold: float
    evidence: dict[str, Any]
    awarded_at: datetime


class FiguresPublic(BaseModel):
    sessions_held: int
    hours: float
    partners: int
    relationships: int
    relationships_completed: int
    survey_score: float | None
    survey_respondents: int


class Contribution(BaseModel):
    """One programme, one role."""

    program_id: str
    program: str
    role: ParticipantRole
    figures: FiguresPublic


class RecognitionPage(BaseModel):
    employee_id: str
    name: str | None
    as_mentor: FiguresPublic  # every programme together (survey scores per programme only)
    as_mentee: FiguresPublic
    contributions: list[Contribution]
    badges: list[BadgePublic]
    kudos_received: list[KudosPublic]
    kudos_given: int
