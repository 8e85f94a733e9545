"""Events the sessions service produces (topic binome.sessions.events), keyed by session id."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Literal

from shared.contracts.enrollment import ErasureConfirmed, erasure_confirmed
from shared.contracts.reasons import Reasoned
from shared.events import EventData


class SessionStatus(StrEnum):
    """A session's state; each event below says which one it leads to (STATUS)."""

    scheduled = "scheduled"
    completed = "completed"
    cancelled = "cancelled"
    # Past its end by the programme's `unconfirmed_after` and neither held nor cancelled.
    unconfirmed = "unconfirmed"
    no_show = "no_show"  # one party did not come (`absent`)


class SessionKind(StrEnum):
    regular = "regular"  # the pair's own meeting
    mediation = "mediation"  # the pair with the programme manager (a corrective case's)


class SessionFacts(EventData):
    STATUS: ClassVar[SessionStatus]
    session_id: str
    match_id: str
    program_id: str
    mentor_employee_id: str
    mentee_employee_id: str
    scheduled_at: datetime
    kind: SessionKind = SessionKind.regular
    facilitator_employee_id: str | None = None  # a mediation's programme manager
    duration_minutes: int = 60  # planned; a completed session's count as mentoring time


class SessionScheduled(SessionFacts):
    TYPE = "binome.sessions.session.scheduled.v1"
    KEY = "session_id"
    STATUS = SessionStatus.scheduled


class SessionCompleted(SessionFacts):
    TYPE = "binome.sessions.session.completed.v1"
    KEY = "session_id"
    STATUS = SessionStatus.completed


class RescheduleReason(StrEnum):
    """Why a planned session moved."""

    unavailable = "unavailable"  # a party cannot make it then
    work_conflict = "work_conflict"  # something at work took the slot
    other = "other"


class SessionRescheduled(SessionFacts, Reasoned):
    """A planned session moved (`scheduled_at` is the new time); `sequence` counts its moves,
    as calendars do."""

    TYPE = "binome.sessions.session.rescheduled.v1"
    KEY = "session_id"
    STATUS = SessionStatus.scheduled
    REASONS = RescheduleReason
    reason: RescheduleReason
    previous_at: datetime
    sequence: int


class CancelReason(StrEnum):
    """Why a planned session was cancelled."""

    match_ended = "match_ended"  # set by the system when the match ends before the session
    unavailable = "unavailable"  # a party cannot make it
    rescheduled = "rescheduled"  # another session replaces it
    other = "other"


class SessionCancelled(SessionFacts, Reasoned):
    TYPE = "binome.sessions.session.cancelled.v1"
    KEY = "session_id"
    STATUS = SessionStatus.cancelled
    REASONS = CancelReason
    reason: CancelReason


class SessionUnconfirmed(SessionFacts):
    """A session past its end by the programme's `unconfirmed_after`, neither held nor
    cancelled: a sign the pair may have stopped meeting (it can still be confirmed held)."""

    TYPE = "binome.sessions.session.unconfirmed.v1"
    KEY = "session_id"
    STATUS = SessionStatus.unconfirmed


class SessionNoShow(SessionFacts):
    """One party did not come, as the other (or an admin) reported."""

    TYPE = "binome.sessions.session.no_show.v1"
    KEY = "session_id"
    STATUS = SessionStatus.no_show
    absent: Literal["mentor", "mentee"]


# --- the relationship's journey (keyed by match id) -----------------------------------------


class JourneyFacts(EventData):
    match_id: str
    program_id: str
    mentor_employee_id: str
    mentee_employee_id: str
    version: int  # of the agreement


class AgreementSigned(JourneyFacts):
    """Both parties confirmed a version of their mentorship agreement."""

    TYPE = "binome.sessions.agreement.signed.v1"
    KEY = "match_id"
    goals: list[dict[str, Any]]  # id, title, skills
    skills: list[str]  # the target skills, the assessments' vocabulary
    rhythm: timedelta | None = None  # the meeting rhythm the pair agreed


class GoalProgressed(JourneyFacts):
    TYPE = "binome.sessions.goal.progressed.v1"
    KEY = "match_id"
    goal_id: str
    progress: int  # percent
    previous: int
    note: str | None = None


class MilestoneReached(JourneyFacts):
    TYPE = "binome.sessions.milestone.reached.v1"
    KEY = "match_id"
    goal_id: str
    milestone_id: str
    due_on: date
    on: date


class MilestoneOverdue(JourneyFacts):
    """A milestone's due day ended before the pair reached it (a durable timer)."""

    TYPE = "binome.sessions.milestone.overdue.v1"
    KEY = "match_id"
    goal_id: str
    milestone_id: str
    due_on: date


class SkillAssessed(EventData):
    """A skill assessment of the relationship: the mentee's own or the mentor's view, at the
    baseline, the midpoint or the end, 1 to 5 per target skill."""

    TYPE = "binome.sessions.skill.assessed.v1"
    KEY = "match_id"
    match_id: str
    program_id: str
    phase: Literal["baseline", "midpoint", "final"]
    by: Literal["mentor", "mentee"]
    ratings: dict[str, int]


# --- community events: workshops, exchange groups, trainings ---------------------------------


class CommunityKind(StrEnum):
    workshop = "workshop"
    exchange_group = "exchange_group"  # peers sharing practice (mentors' circle, intervision)
    training = "training"  # a training, which a corrective case may assign


class RegistrationStatus(StrEnum):
    registered = "registered"  # a seat
    waiting = "waiting"  # full: on the waiting list, in order
    cancelled = "cancelled"  # withdrew (or the event was cancelled)
    attended = "attended"
    absent = "absent"


class CommunityEventFacts(EventData):
    KEY = "event_id"
    event_id: str
    program_id: str | None  # None: the organisation's, open to every employee
    kind: CommunityKind
    title: str
    starts_at: datetime
    duration_minutes: int
    capacity: int


class CommunityEventScheduled(CommunityEventFacts):
    TYPE = "binome.sessions.community_event.scheduled.v1"


class CommunityEventCancelled(CommunityEventFacts):
    TYPE = "binome.sessions.community_event.cancelled.v1"


class CommunityRegistrationChanged(EventData):
    """Someone registered, got a seat from the waiting list, withdrew, or was told the event
    was cancelled: their registration's new status."""

    TYPE = "binome.sessions.community_registration.changed.v1"
    KEY = "event_id"
    event_id: str
    program_id: str | None
    employee_id: str
    status: RegistrationStatus
    promoted: bool = False  # a seat freed up for them from the waiting list


class CommunityAttendanceRecorded(EventData):
    """After the event: who came (engagement counts them)."""

    TYPE = "binome.sessions.community_event.attended.v1"
    KEY = "event_id"
    event_id: str
    program_id: str | None
    kind: CommunityKind
    attended: list[str]  # employee ids
    absent: list[str]


class SessionsErasureConfirmed(ErasureConfirmed):
    TYPE = erasure_confirmed("sessions")
