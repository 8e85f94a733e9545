"""Community events' rules, free of I/O: workshops, exchange groups and trainings an
organisation (or one programme) runs, with seats, a waiting list and attendance.

scheduled --cancel (before it starts)--> cancelled
    |--attendance (once started)--> held
A registration: registered (a seat) | waiting (full: in order) --withdraw--> cancelled;
a seat freed goes to the first waiting; after the event: attended | absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.contracts.sessions import RegistrationStatus
from shared.errors import Conflict, Invalid

ACTIVE = (RegistrationStatus.registered, RegistrationStatus.waiting)


class EventStatus(StrEnum):
    scheduled = "scheduled"
    cancelled = "cancelled"
    held = "held"  # attendance recorded


@dataclass(frozen=True)
class CommunityEventState:
    status: EventStatus
    starts_at: datetime
    duration_minutes: int
    capacity: int


def check_new(starts_at: datetime, *, now: datetime) -> None:
    if starts_at <= now:
        raise Invalid("a community event is planned in the future", field="starts_at")


def _open(event: CommunityEventState, now: datetime) -> None:
    if event.status is EventStatus.cancelled:
        raise Conflict("the event was cancelled")
    if event.status is EventStatus.held or now >= event.starts_at:
        raise Conflict("the event has started: registrations are closed")


def register(
    event: CommunityEventState,
    *,
    now: datetime,
    seats_taken: int,
    current: RegistrationStatus | None,
) -> RegistrationStatus:
    """A seat while there is one, else the waiting list."""
    _open(event, now)
    if current is RegistrationStatus.registered:
        raise Conflict("you are registered already")
    if current is RegistrationStatus.waiting:
        raise Conflict("you are on the waiting list already")
    return (
        RegistrationStatus.registered
        if seats_taken < event.capacity
        else RegistrationStatus.waiting
    )


def withdraw(
    event: CommunityEventState, *, now: datetime, current: RegistrationStatus | None
) -> bool:
    """Withdraw a registration; True if it freed a seat (the first waiting gets it)."""
    _open(event, now)
    if current not in ACTIVE:
        raise Conflict("you are not registered")
    return current is RegistrationStatus.registered


def cancel(event: CommunityEventState, *, now: datetime) -> EventStatus:
    _open(event, now)
    return EventStatus.cancelled


def record_attendance(
    event: CommunityEventState,
    *,
    now: datetime,
    registered: set[str],
    attended: set[str],
) -> tuple[list[str], list[str]]:
    """Once started: who came (of those with a seat) and who did not."""
    if event.status is EventStatus.cancelled:
        raise Conflict("the event was cancelled")
    if now < event.starts_at:
        raise Conflict("attendance is recorded once the event has started")
    strangers = sorted(attended - registered)
    if strangers:
        raise Invalid(f"not registered for the event: {', '.join(strangers)}", field="attended")
    return sorted(attended), sorted(registered - attended)


def check_feedback(current: RegistrationStatus | None, *, already: bool) -> None:
    if current is not RegistrationStatus.attended:
        raise Conflict("only those who attended give feedback")
    if already:
        raise Conflict("you gave your feedback already")


@dataclass(frozen=True)
class CalendarEntry:
    """A community event as an attendee's calendar shows it."""

    id: str
    kind: str
    title: str
    starts_at: datetime
    duration_minutes: int
    location: str | None
    description: str | None

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)
