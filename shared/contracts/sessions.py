"""Events the sessions service produces (topic binome.sessions.events), keyed by session id."""

from __future__ import annotations

from datetime import datetime

from shared.events import EventData


class SessionFacts(EventData):
    session_id: str
    match_id: str
    program_id: str
    mentor_employee_id: str
    mentee_employee_id: str
    scheduled_at: datetime


class SessionScheduled(SessionFacts):
    TYPE = "binome.sessions.session.scheduled.v1"
    KEY = "session_id"


class SessionCompleted(SessionFacts):
    TYPE = "binome.sessions.session.completed.v1"
    KEY = "session_id"


class SessionCancelled(SessionFacts):
    TYPE = "binome.sessions.session.cancelled.v1"
    KEY = "session_id"
    reason: str
