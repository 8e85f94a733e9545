"""Community events' rules (services/sessions/domain/community.py): seats then the waiting
list, withdrawing frees a seat, nothing after the start, attendance of those seated only,
feedback from those who came, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.sessions.domain import community as c
from services.sessions.domain.community import CommunityEventState, EventStatus
from shared.contracts.sessions import RegistrationStatus as R
from shared.errors import Conflict, Invalid

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
SOON = CommunityEventState(EventStatus.scheduled, NOW + timedelta(days=1), 60, 2)


def test_seats_then_the_waiting_list() -> None:
    assert c.register(SOON, now=NOW, seats_taken=1, current=None) is R.registered
    assert c.register(SOON, now=NOW, seats_taken=2, current=None) is R.waiting
    assert c.register(SOON, now=NOW, seats_taken=2, current=R.cancelled) is R.waiting
    for current in (R.registered, R.waiting):
        with pytest.raises(Conflict, match="already"):
            c.register(SOON, now=NOW, seats_taken=0, current=current)


def test_withdrawing_frees_a_seat_only_when_one_was_held() -> None:
    assert c.withdraw(SOON, now=NOW, current=R.registered) is True
    assert c.withdraw(SOON, now=NOW, current=R.waiting) is False
    with pytest.raises(Conflict, match="not registered"):
        c.withdraw(SOON, now=NOW, current=None)


def test_nothing_changes_once_started_or_cancelled() -> None:
    started = NOW + timedelta(days=1, minutes=5)
    for act in (
        lambda: c.register(SOON, now=started, seats_taken=0, current=None),
        lambda: c.withdraw(SOON, now=started, current=R.registered),
        lambda: c.cancel(SOON, now=started),
    ):
        with pytest.raises(Conflict, match="started"):
            act()
    cancelled = CommunityEventState(EventStatus.cancelled, SOON.starts_at, 60, 2)
    with pytest.raises(Conflict, match="cancelled"):
        c.register(cancelled, now=NOW, seats_taken=0, current=None)
    with pytest.raises(Invalid, match="future"):
        c.check_new(NOW, now=NOW)


def test_attendance_of_those_seated_once_started() -> None:
    started = SOON.starts_at + timedelta(minutes=1)
    with pytest.raises(Conflict, match="once the event has started"):
        c.record_attendance(SOON, now=NOW, registered={"a"}, attended=set())
    assert c.record_attendance(SOON, now=started, registered={"a", "b"}, attended={"b"}) == (
        ["b"],
        ["a"],
    )
    with pytest.raises(Invalid, match="not registered for the event: z") as caught:
        c.record_attendance(SOON, now=started, registered={"a"}, attended={"a", "z"})
    assert caught.value.field == "attended"


def test_feedback_from_attendees_once() -> None:
    c.check_feedback(R.attended, already=False)
    with pytest.raises(Conflict, match="only those who attended"):
        c.check_feedback(R.absent, already=False)
    with pytest.raises(Conflict, match="already"):
        c.check_feedback(R.attended, already=True)
