"""Events the feedback service produces (topic binome.feedback.events), keyed by match id."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.contracts.enrollment import ErasureConfirmed, erasure_confirmed
from shared.contracts.matching import EndReason
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


class HealthState(StrEnum):
    too_early = "too_early"  # younger than one cadence, nothing wrong yet
    on_track = "on_track"
    needs_attention = "needs_attention"
    at_risk = "at_risk"


class HealthSignal(StrEnum):
    """The signals a relationship's health is computed from (its reasons)."""

    inactivity = "inactivity"  # no session held or planned for a while
    low_ratings_mentor = "low_ratings_mentor"  # the mentor's own ratings are low
    low_ratings_mentee = "low_ratings_mentee"
    unconfirmed = "unconfirmed"  # sessions neither held nor cancelled
    no_show = "no_show"
    low_pulse = "low_pulse"  # the latest pulse survey answers are low
    unanswered_survey = "unanswered_survey"


class HealthReason(BaseModel):
    """One signal behind a relationship's health, and its share of the score lost."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    signal: HealthSignal
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
    # Would the respondent recommend the programme (1-5): the one answer reporting counts on
    # its own. None in events written before it was carried.
    recommend: int | None = None


class SurveyExpired(EventData):
    """A survey went unanswered: non-response is itself a signal."""

    TYPE = "binome.feedback.survey.expired.v1"
    KEY = "match_id"
    survey_id: str
    match_id: str
    program_id: str
    kind: SurveyKind
    side: Literal["mentor", "mentee"]


class RelationshipPaused(EventData):
    """The relationship's follow-up stopped its clocks (an admin's pause, a party on leave):
    no nudges, pulses or inactivity while paused."""

    TYPE = "binome.feedback.relationship.paused.v1"
    KEY = "match_id"
    match_id: str
    program_id: str
    cause: str  # "admin", or "leave:<employee id>"


class RelationshipResumed(EventData):
    TYPE = "binome.feedback.relationship.resumed.v1"
    KEY = "match_id"
    match_id: str
    program_id: str


# --- corrective cases ------------------------------------------------------------------------


class CaseCause(StrEnum):
    at_risk = "at_risk"  # the relationship's health became at risk
    incompatible = "incompatible"  # a party ended the match as incompatible


class CaseAction(StrEnum):
    """What an admin (or the programme's policy) does about a case."""

    repair = "repair"  # end the match and propose the mentee a new mentor (minimal change)
    mediation = "mediation"  # a meeting of the pair with the programme manager
    training = "training"  # assign an item of the programme's training catalogue
    pause = "pause"  # stop the relationship's clocks (and its nudges) for now
    resume = "resume"  # restart them
    conclude = "conclude"  # end the relationship
    dismiss = "dismiss"  # nothing to do


class CaseStatus(StrEnum):
    open = "open"  # waiting for an action
    monitoring = "monitoring"  # acted on (mediation, training, pause): watching the health
    closed = "closed"


class CaseOutcome(StrEnum):
    recovered = "recovered"  # the health came back (on track) while the case was open
    repaired = "repaired"  # the mentee was re-paired
    concluded = "concluded"
    dismissed = "dismissed"
    ended = "ended"  # the match ended otherwise meanwhile


class CaseOpened(EventData):
    """A relationship needs correcting: the case, why, and what the rules recommend."""

    TYPE = "binome.feedback.case.opened.v1"
    KEY = "match_id"
    case_id: str
    match_id: str
    program_id: str
    cause: CaseCause
    recommendation: CaseAction
    why: str
    reasons: list[HealthReason]


class CaseActionTaken(EventData):
    """An action on a case: matching re-pairs or ends the match, sessions plans the mediation,
    notifications tell the assignee of a training."""

    TYPE = "binome.feedback.case.action_taken.v1"
    KEY = "match_id"
    action_id: str
    case_id: str
    match_id: str
    program_id: str
    action: CaseAction
    by: str  # the admin's employee id, or "policy" when the programme's policy acted
    note: str | None = None
    end_reason: EndReason | None = None  # repair and conclude: why the match ends
    mentor_employee_id: str
    mentee_employee_id: str
    # mediation: the meeting with the facilitator (the programme manager)
    facilitator_employee_id: str | None = None
    scheduled_at: datetime | None = None
    duration_minutes: int | None = None
    # training: the catalogue item and who follows it
    training_item_id: str | None = None
    assignee_employee_id: str | None = None


class TrainingCompleted(EventData):
    TYPE = "binome.feedback.case.training_completed.v1"
    KEY = "match_id"
    case_id: str
    match_id: str
    program_id: str
    training_item_id: str
    assignee_employee_id: str


class CaseClosed(EventData):
    TYPE = "binome.feedback.case.closed.v1"
    KEY = "match_id"
    case_id: str
    match_id: str
    program_id: str
    outcome: CaseOutcome
    score: int  # the relationship's health score when the case closed


class FeedbackErasureConfirmed(ErasureConfirmed):
    TYPE = erasure_confirmed("feedback")
