"""Events the feedback service produces (topic binome.feedback.events), keyed by match id."""

from __future__ import annotations

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
