"""Matching's tables (its own view of programmes and participants, runs, matches) and schemas."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import registry
from sqlmodel import Field

from services.matching.domain import NoSuggestion, RunStatus, Side
from shared.api import STRICT, Request, new_id, utcnow
from shared.contracts.enrollment import PROGRAM_DEFAULTS as RULES
from shared.contracts.enrollment import RequestPolicy
from shared.contracts.matching import (
    DeclineReason,
    EndReason,
    MatchStatus,
    RequestStatus,
    WithdrawnBecause,
)
from shared.contracts.reasons import NOTE_MAX
from shared.db import PydanticJSON
from shared.messaging.tables import messaging_tables
from shared.revocations import revocation_table
from shared.table_model import TableModel
from shared.timers import timer_table


class Base(TableModel, registry=registry()):
    """Matching's own metadata: its migrations hold its tables only (see shared.db)."""


OUTBOX, INBOX = messaging_tables(Base.metadata)
TIMERS = timer_table(Base.metadata)
REVOKED = revocation_table(Base.metadata)  # employees whose tokens are refused


class ProgramView(Base, table=True):
    """What matching knows of a programme, from enrollment's events."""

    __tablename__ = "program"
    id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    name: str = Field(max_length=200)
    # The programme's matching rules (defaults: shared.contracts.enrollment.ProgramRules).
    format: str = Field(max_length=20)
    auto_publish: bool = RULES.auto_publish
    weights: dict[str, int] = Field(default_factory=dict, sa_type=JSON)
    max_timezone_gap_h: int = RULES.max_timezone_gap_h
    min_score: float = RULES.min_score
    cross_department: bool = RULES.cross_department
    matching_policy: str = Field(default=RULES.matching_policy, max_length=20)
    seniority_rule: str = Field(default=RULES.seniority_rule, max_length=20)
    # Its lifecycle status: runs and re-matches happen while it is enrolling or running.
    status: str = Field(default="running", max_length=20)
    requests: RequestPolicy = Field(
        default_factory=RequestPolicy, sa_type=PydanticJSON(RequestPolicy)
    )
    # When its relationships reach their planned end (whichever comes first).
    relationship_duration: timedelta | None = None
    ends_on: date | None = None


class Roster(Base, table=True):
    """A programme's roster version: the id of the last event that changed one of its
    participants here (written behind, once per batch). What was read of the roster at a
    version is still true while the version is the same (see roster.py)."""

    program_id: str = Field(primary_key=True, max_length=36)
    version: str = Field(max_length=100)


class Loads(Base, table=True):
    """A programme's loads version: a new id at each commit that wrote one of its matches or
    mentor requests (the places its mentors have taken). What was counted of the loads at a
    version is still true while the version is the same (roster.py keeps it for suggestions).
    Not a projection: matching's own state, never rebuilt."""

    __tablename__ = "program_loads"
    program_id: str = Field(primary_key=True, max_length=36)
    version: str = Field(max_length=36)


class ParticipantView(Base, table=True):
    """A participant as matching sees it, from enrollment's events."""

    __tablename__ = "participant"
    id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    program_id: str = Field(index=True, max_length=36)
    employee_id: str = Field(max_length=100)
    role: str = Field(max_length=10)
    skills_offered: list[str] = Field(default_factory=list, sa_type=JSON)
    skills_sought: list[str] = Field(default_factory=list, sa_type=JSON)
    languages: list[str] = Field(default_factory=list, sa_type=JSON)
    level: int | None = None
    department: str | None = Field(default=None, max_length=200)
    capacity: int = 1
    volunteer: bool = True
    themes: list[str] = Field(default_factory=list, sa_type=JSON)
    answers: list[int] = Field(default_factory=list, sa_type=JSON)
    availability: list[int] = Field(default_factory=list, sa_type=JSON)
    tz_offset_h: int | None = None
    manager_chain: list[str] = Field(default_factory=list, sa_type=JSON)
    active: bool = True

    @property
    def participant_id(self) -> str:  # as the contracts and the domain name it
        return self.id


class Waiting(Base, table=True):
    """A mentee waiting for a mentor with room, since their match ended or was declined."""

    __tablename__ = "waiting"
    participant_id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    program_id: str = Field(index=True, max_length=36)
    employee_id: str = Field(max_length=100)
    ended_match_id: str | None = Field(default=None, max_length=36)
    since: datetime


class WaitingPublic(BaseModel):
    participant_id: str
    program_id: str
    employee_id: str
    ended_match_id: str | None
    since: datetime


class MatchingRunBase(Base):
    program_id: str = Field(max_length=36, index=True)


class MatchingRun(MatchingRunBase, table=True):
    """One run, kept for audit: what it saw (digest), how it solved, and the proof."""

    __tablename__ = "matching_run"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    status: RunStatus = Field(default=RunStatus.draft, sa_type=String(20))
    policy: str = Field(default="max_matched", max_length=50)
    mentees_considered: int = 0
    mentors_considered: int = 0
    matched: int = 0
    total_score: float = 0.0
    inputs_digest: str = Field(default="", max_length=64)
    certificate_holds: bool = False
    # The certificate: the assignment's value and the dual bound, equal when proven optimal.
    objective_primal: int = Field(default=0, sa_type=BigInteger)
    objective_dual: int = Field(default=0, sa_type=BigInteger)
    pairs_covered: int = Field(default=0, sa_type=BigInteger)
    solve_ms: float = 0.0
    # Stability audit: pairs (mentee, mentor) who would both rather be together.
    blocking_pairs: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None


class RunPair(Base, table=True):
    """A pair a run proposes; it becomes a match when the run is published."""

    __tablename__ = "run_pair"
    run_id: str = Field(primary_key=True, max_length=36)
    mentee_participant_id: str = Field(primary_key=True, max_length=36)
    mentor_participant_id: str = Field(max_length=36)
    mentee_employee_id: str = Field(max_length=100)
    mentor_employee_id: str = Field(max_length=100)
    score: float
    explanation: dict | None = Field(default=None, sa_type=JSON)


class MatchingRunCreate(MatchingRunBase):
    model_config = STRICT


class MatchBase(Base):
    program_id: str = Field(max_length=36, index=True)
    mentor_participant_id: str = Field(max_length=36, index=True)
    mentee_participant_id: str = Field(max_length=36, index=True)
    mentor_employee_id: str = Field(max_length=100)
    mentee_employee_id: str = Field(max_length=100)
    score: float
    status: MatchStatus = Field(default=MatchStatus.proposed, sa_type=String(20), index=True)
    mentor_accepted: bool = False
    mentee_accepted: bool = False
    mentor_completed: bool = False
    mentee_completed: bool = False
    end_reason: str | None = Field(default=None, max_length=200)  # EndReason / DeclineReason
    # What a person wrote beside the reason: admins only (see api.py).
    end_note: str | None = Field(default=None, max_length=NOTE_MAX)
    run_id: str | None = Field(default=None, max_length=36, index=True)
    replaces_match_id: str | None = Field(default=None, max_length=36)
    explanation: dict | None = Field(default=None, sa_type=JSON)


class Match(MatchBase, table=True):
    # Each mentor's places taken in a programme (suggestions, replacements, runs) read from
    # the index alone: no table rows, no sort for the GROUP BY (3.4 -> 1.5 ms on SQLite for
    # a programme of 5,500 matches).
    __table_args__ = (
        Index("ix_match_mentor_load", "program_id", "mentor_participant_id", "status"),
    )
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None


class MatchPublic(MatchBase):
    id: str
    created_at: datetime
    ended_at: datetime | None


class RunPairPublic(BaseModel):
    mentee_participant_id: str
    mentor_participant_id: str
    mentee_employee_id: str
    mentor_employee_id: str
    score: float
    explanation: dict | None


class CirclePublic(BaseModel):
    """A circle of a circles programme's run: a mentor and the mentees who meet with them."""

    mentor_participant_id: str
    mentor_employee_id: str
    mentee_participant_ids: list[str]
    departments: int  # how many departments the mentees come from
    shared_themes: float  # mean share of the mentees' themes the mentor shares


class MatchingRunPublic(MatchingRunBase):
    id: str
    status: RunStatus
    policy: str
    mentees_considered: int
    mentors_considered: int
    matched: int
    total_score: float
    inputs_digest: str
    certificate_holds: bool
    objective_primal: int
    objective_dual: int
    pairs_covered: int
    solve_ms: float
    blocking_pairs: int
    created_at: datetime
    published_at: datetime | None
    # Circles programmes: the pairs grouped by mentor. The pairs themselves are paged at
    # GET /v1/matching-runs/{id}/pairs, and a published run's matches at
    # GET /v1/matches?run_id= (a cohort's run is thousands of them).
    circles: list[CirclePublic] = []


class SuggestionPublic(BaseModel):
    mentor_participant_id: str
    mentor_employee_id: str
    score: float
    contributions: dict[str, float]  # each criterion's share; they add up to the score
    remaining_capacity: int


class SuggestionsPublic(BaseModel):
    participant_id: str
    suggestions: list[SuggestionPublic]
    # Why there is none: no mentor yet, every mentor full, or each one with room ruled out.
    none_because: NoSuggestion | None
    waiting: bool  # on the programme's waiting list: proposed a mentor as soon as one has room


class AcceptRequest(Request):
    # Admins accept on behalf of one side; employees accept for their own side.
    side: Side | None = None


class DeclineRequest(Request):
    reason: DeclineReason = DeclineReason.other
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class EndRequest(Request):
    reason: EndReason
    note: str | None = Field(default=None, max_length=NOTE_MAX)


# --- self-service requests ------------------------------------------------------------------


class MentorRequestBase(Base):
    program_id: str = Field(max_length=36, index=True)
    mentee_participant_id: str = Field(max_length=36, index=True)
    mentee_employee_id: str = Field(max_length=100)
    mentor_participant_id: str = Field(max_length=36, index=True)
    mentor_employee_id: str = Field(max_length=100)
    message: str | None = Field(default=None, max_length=2000)


class MentorRequest(MentorRequestBase, table=True):
    """A mentee's request to a mentor (services.matching.domain.requests)."""

    __tablename__ = "mentor_request"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    chain_id: str = Field(max_length=36, index=True)
    status: RequestStatus = Field(default=RequestStatus.open, sa_type=String(20), index=True)
    choices: list[str] = Field(default_factory=list, sa_type=JSON)  # next choices, in order
    score: float
    expires_at: datetime
    cascaded_from: str | None = Field(default=None, max_length=36)
    match_id: str | None = Field(default=None, max_length=36)
    decline_reason: DeclineReason | None = Field(default=None, sa_type=String(30))
    decline_note: str | None = Field(default=None, max_length=NOTE_MAX)
    withdrawn_because: WithdrawnBecause | None = Field(default=None, sa_type=String(30))
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None


class MentorRequestCreate(Request):
    mentee_participant_id: str = Field(min_length=1, max_length=36)
    mentor_participant_id: str = Field(min_length=1, max_length=36)
    # Who to ask next, in order, should this mentor decline or not answer in time.
    next_choices: list[Annotated[str, PydanticField(max_length=36)]] = Field(
        default_factory=list, max_length=5
    )
    message: str | None = Field(default=None, max_length=2000)


class MentorRequestPublic(MentorRequestBase):
    id: str
    chain_id: str
    status: RequestStatus
    choices: list[str]
    score: float
    expires_at: datetime
    cascaded_from: str | None
    match_id: str | None
    decline_reason: DeclineReason | None
    decline_note: str | None
    withdrawn_because: WithdrawnBecause | None
    created_at: datetime
    decided_at: datetime | None
