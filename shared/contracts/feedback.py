"""Events the feedback service produces (topic binome.feedback.events), keyed by match id."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.events import EventData


class FeedbackSubmitted(EventData):
    TYPE = "binome.feedback.feedback.submitted.v1"
    KEY = "match_id"
    feedback_id: str
    session_id: str
    match_id: str
    program_id: str
    author_employee_id: str
    rating: int
    has_comment: bool


class RelationshipAtRisk(EventData):
    TYPE = "binome.feedback.relationship.at_risk.v1"
    KEY = "match_id"
    match_id: str
    program_id: str
    average_rating: float
    ratings: list[int]
    threshold: float


class HealthState(StrEnum):
    too_early = "too_early"  # younger than one cadence, nothing wrong yet
    on_track = "on_track"
    needs_attention = "needs_attention"
    at_risk = "at_risk"


class HealthReason(BaseModel):
    """One signal behind a relationship's health, and its share of the score lost."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    signal: str  # inactivity, low_ratings_mentor, low_ratings_mentee, unconfirmed, no_show
    share: float  # of the points lost, 0..1
    detail: str


class RelationshipHealthChanged(EventData):
    """A relationship's health state changed (recomputed on every signal)."""

    TYPE = "binome.feedback.relationship.health_changed.v1"
    KEY = "match_id"
    match_id: str
    program_id: str
    state: HealthState
    previous: HealthState | None
    score: int  # 0..100
    reasons: list[HealthReason]


class RelationshipNudged(EventData):
    """No session held or planned for the programme's `nudge_after` cadences: the pair is
    reminded (notifications pick this up)."""

    TYPE = "binome.feedback.relationship.nudged.v1"
    KEY = "match_id"
    match_id: str
    program_id: str
    mentor_employee_id: str
    mentee_employee_id: str
    idle_days: float


class SurveyKind(StrEnum):
    pulse = "pulse"  # during the relationship, on the programme's schedule
    closing = "closing"  # when it ends


class SurveyDue(EventData):
    """A survey was sent to one party (notifications pick this up)."""

    TYPE = "binome.feedback.survey.due.v1"
    KEY = "match_id"
    survey_id: str
    match_id: str
    program_id: str
    kind: SurveyKind
    respondent_employee_id: str
    expires_at: datetime


class SurveyAnswered(EventData):
    """A party answered (the answers stay with feedback: the event carries their mean)."""

    TYPE = "binome.feedback.survey.answered.v1"
    KEY = "match_id"
    survey_id: str
    match_id: str
    program_id: str
    kind: SurveyKind
    side: Literal["mentor", "mentee"]
    mean: float  # of the 1-5 answers
    has_comment: bool


class SurveyExpired(EventData):
    """A survey went unanswered: non-response is itself a signal."""

    TYPE = "binome.feedback.survey.expired.v1"
    KEY = "match_id"
    survey_id: str
    match_id: str
    program_id: str
    kind: SurveyKind
    side: Literal["mentor", "mentee"]
