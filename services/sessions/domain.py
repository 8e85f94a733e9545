"""Sessions' rules, free of I/O: when a session may be planned, held or cancelled."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from shared.errors import Conflict, Forbidden, Invalid


class SessionStatus(StrEnum):
    scheduled = "scheduled"
    completed = "completed"
    cancelled = "cancelled"


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


def group_mentor(*, is_admin: bool, caller: str | None, requested: str | None) -> str:
    """Whose mentees a group session gathers: admins say which mentor; a mentor, their own."""
    if is_admin:
        if requested is None:
            raise Invalid(
                "admins must say which mentor meets their mentees", field="mentor_employee_id"
            )
        return requested
    if requested is not None and requested != caller:
        raise Forbidden("employees plan group sessions for their own mentees only")
    assert caller is not None
    return caller


def planned(sessions: list[tuple[str, SessionStatus]], *, action: str) -> set[str]:
    """The group's sessions an action applies to: the ones still planned (409 if none)."""
    ids = {sid for sid, status in sessions if status is SessionStatus.scheduled}
    if not ids:
        raise Conflict(f"cannot {action} a group session with no planned session left")
    return ids
