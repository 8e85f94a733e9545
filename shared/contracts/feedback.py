"""Events the feedback service produces (topic binome.feedback.events), keyed by match id."""

from __future__ import annotations

from enum import StrEnum

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
