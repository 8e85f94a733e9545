"""Sessions' rules, free of I/O: when a session may be planned, held or cancelled."""

from __future__ import annotations

from datetime import datetime

from services.sessions.models import SessionStatus
from shared.errors import Conflict


def ensure_can_schedule(*, match_active: bool) -> None:
    if not match_active:
        raise Conflict("sessions can only be scheduled for an active match")


def ensure_scheduled(status: SessionStatus, action: str) -> None:
    if status is not SessionStatus.scheduled:
        raise Conflict(f"cannot {action} a session that is {status.value}")


def cancelled_by_match_end(
    sessions: list[tuple[str, SessionStatus, datetime]], *, ended_at: datetime
) -> list[str]:
    """Ids of the sessions a match's end cancels: the planned ones not yet due."""
    return [
        sid for sid, status, at in sessions if status is SessionStatus.scheduled and at >= ended_at
    ]
