"""Events the matching service produces (topic binome.matching.events), keyed by match id
(self-service requests by request id)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from shared.contracts.enrollment import ErasureConfirmed, erasure_confirmed
from shared.contracts.reasons import Reasoned
from shared.events import EventData


class EndReason(StrEnum):
    """Why a match ended (matching decides; reporting counts by it)."""

    completed = "completed"
    low_satisfaction = "low_satisfaction"
    participant_left = "participant_left"
    incompatible = "incompatible"
    disengaged = "disengaged"  # the pair stopped meeting (a corrective case ended it)
    programme_decision = "programme_decision"  # a corrective case's decision (an admin's)
    programme_closed = "programme_closed"  # the programme closed while the match was open
    other = "other"


class EndedBy(StrEnum):
    """Who ended a match."""

    party = "party"  # its mentor or mentee
    admin = "admin"  # an admin through the API
    system = "system"  # Binôme: a corrective case, a departure, the org chart


class DeclineReason(StrEnum):
    """Why a party (or an admin) declined a proposed match."""

    not_a_fit = "not_a_fit"  # goals, skills or personalities do not match
    no_time = "no_time"
    conflict_of_interest = "conflict_of_interest"
    other = "other"


class MatchStatus(StrEnum):
    """A match's state; each event below says which one it leads to (STATUS)."""

    proposed = "proposed"  # waiting for both sides to accept
    active = "active"
    declined = "declined"
    ended = "ended"


class MatchFacts(EventData):
    STATUS: ClassVar[MatchStatus]
    match_id: str
    program_id: str
    mentor_participant_id: str
    mentee_participant_id: str
    mentor_employee_id: str
    mentee_employee_id: str


class MatchProposed(MatchFacts):
    TYPE = "binome.matching.match.proposed.v1"
    KEY = "match_id"
    STATUS = MatchStatus.proposed
    score: float
    run_id: str | None
    # Set when this match replaces one that ended (a corrective re-match).
    replaces_match_id: str | None


class MatchActivated(MatchFacts):
    TYPE = "binome.matching.match.activated.v1"
    KEY = "match_id"
    STATUS = MatchStatus.active


class MatchDeclined(MatchFacts, Reasoned):
    TYPE = "binome.matching.match.declined.v1"
    KEY = "match_id"
    STATUS = MatchStatus.declined
    REASONS = DeclineReason
    reason: DeclineReason


class MatchEnded(MatchFacts, Reasoned):
    TYPE = "binome.matching.match.ended.v1"
    KEY = "match_id"
    STATUS = MatchStatus.ended
    REASONS = EndReason
    reason: EndReason
    by: EndedBy = EndedBy.system


class MenteeWaiting(EventData):
    """A mentee whose match ended (or was declined) found no mentor with room: they wait, and
    are proposed a mentor as soon as one has room (a mentor enrols or gains capacity, a
    match ends). Their next MatchProposed names the match it replaces."""

    TYPE = "binome.matching.mentee.waiting.v1"
    KEY = "participant_id"
    participant_id: str
    program_id: str
    employee_id: str
    ended_match_id: str | None


class RequestStatus(StrEnum):
    """A self-service request's state: open holds a place with the mentor until it is
    accepted (a match, active at once: both sides asked for it), declined, expired, or
    withdrawn."""

    open = "open"
    accepted = "accepted"
    declined = "declined"
    expired = "expired"
    withdrawn = "withdrawn"


class WithdrawnBecause(StrEnum):
    mentee = "mentee"  # the mentee took it back
    matched = "matched"  # the mentee got a mentor meanwhile (another request, a run)
    programme_closed = "programme_closed"
    participant_left = "participant_left"  # the mentee or the mentor left the programme


class RequestFacts(EventData):
    STATUS: ClassVar[RequestStatus]
    request_id: str
    program_id: str
    mentee_participant_id: str
    mentee_employee_id: str
    mentor_participant_id: str
    mentor_employee_id: str
    # The cascade it belongs to: the first request of a mentee's choices names it.
    chain_id: str


class MentorRequested(RequestFacts):
    """A mentee asked a mentor (first choice, or the next one by cascade)."""

    TYPE = "binome.matching.request.sent.v1"
    KEY = "request_id"
    STATUS = RequestStatus.open
    message: str | None = None
    expires_at: datetime
    cascaded_from: str | None = None  # the request declined or expired before this one


class MentorRequestAccepted(RequestFacts):
    TYPE = "binome.matching.request.accepted.v1"
    KEY = "request_id"
    STATUS = RequestStatus.accepted
    match_id: str


class MentorRequestDeclined(RequestFacts, Reasoned):
    TYPE = "binome.matching.request.declined.v1"
    KEY = "request_id"
    STATUS = RequestStatus.declined
    REASONS = DeclineReason
    reason: DeclineReason


class MentorRequestExpired(RequestFacts):
    TYPE = "binome.matching.request.expired.v1"
    KEY = "request_id"
    STATUS = RequestStatus.expired


class MentorRequestWithdrawn(RequestFacts):
    """The request is off: its mentor is told (their place is free again)."""

    TYPE = "binome.matching.request.withdrawn.v1"
    KEY = "request_id"
    STATUS = RequestStatus.withdrawn
    because: WithdrawnBecause


class MatchingErasureConfirmed(ErasureConfirmed):
    TYPE = erasure_confirmed("matching")
