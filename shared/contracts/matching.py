"""Events the matching service produces (topic binome.matching.events), keyed by match id."""

from __future__ import annotations

from enum import StrEnum

from shared.events import EventData


class EndReason(StrEnum):
    """Why a match ended (matching decides; reporting counts by it)."""

    completed = "completed"
    low_satisfaction = "low_satisfaction"
    participant_left = "participant_left"
    incompatible = "incompatible"
    other = "other"


class MatchFacts(EventData):
    match_id: str
    program_id: str
    mentor_participant_id: str
    mentee_participant_id: str
    mentor_employee_id: str
    mentee_employee_id: str


class MatchProposed(MatchFacts):
    TYPE = "binome.matching.match.proposed.v1"
    KEY = "match_id"
    score: float
    run_id: str | None
    # Set when this match replaces one that ended (a corrective re-match).
    replaces_match_id: str | None


class MatchActivated(MatchFacts):
    TYPE = "binome.matching.match.activated.v1"
    KEY = "match_id"


class MatchDeclined(MatchFacts):
    TYPE = "binome.matching.match.declined.v1"
    KEY = "match_id"
    reason: str


class MatchEnded(MatchFacts):
    TYPE = "binome.matching.match.ended.v1"
    KEY = "match_id"
    reason: str
