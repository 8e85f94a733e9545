"""Sessions' rules, free of I/O: a session's life (planned, held, cancelled) and who may plan.

scheduled --complete (once started)--> completed
    |------reschedule (to a time to come; history kept, sequence + 1)--> scheduled
    |------cancel-----> cancelled   (a category and a note; `match_ended` when its match ends
    |                                before the session is due)
    |--(its end + the programme's unconfirmed_after, by timer)--> unconfirmed
    |                                     (then still completed, cancelled or a no-show)
    |--no_show (after its start, the other party or an admin)--> no_show
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from icalendar import Calendar, Event

from services.sessions.domain.community import CalendarEntry
from shared.contracts import sessions as ev
from shared.contracts.sessions import CancelReason, SessionKind, SessionStatus
from shared.domain import Transition
from shared.errors import Conflict, Forbidden, Invalid

Side = Literal["mentor", "mentee"]


@dataclass(frozen=True)
class SessionState:
    """A session as its rules see it (the row's fields of the same names)."""

    id: str
    match_id: str
    program_id: str
    mentor_employee_id: str
    mentee_employee_id: str
    scheduled_at: datetime
    status: SessionStatus
    notes: str | None
    cancel_reason: CancelReason | None
    cancel_note: str | None
    completed_at: datetime | None
    duration_minutes: int
    absent: Side | None
    kind: SessionKind = SessionKind.regular
    facilitator_employee_id: str | None = None
    agenda: tuple[str, ...] = ()
    reschedules: tuple[dict[str, Any], ...] = ()
    sequence: int = 0
    group_id: str | None = None  # a circle meeting: one session per mentee
    topic: str | None = None

    def __post_init__(self) -> None:
        # Read back from a database: a plain string, and SQLite's naive (UTC) datetimes.
        object.__setattr__(self, "status", SessionStatus(self.status))
        object.__setattr__(self, "kind", SessionKind(self.kind))
        if self.scheduled_at.tzinfo is None:
            object.__setattr__(self, "scheduled_at", self.scheduled_at.replace(tzinfo=UTC))
        object.__setattr__(self, "agenda", tuple(self.agenda))
        object.__setattr__(self, "reschedules", tuple(self.reschedules))


def _facts(s: SessionState) -> dict[str, Any]:
    return {
        "session_id": s.id,
        "match_id": s.match_id,
        "program_id": s.program_id,
        "mentor_employee_id": s.mentor_employee_id,
        "mentee_employee_id": s.mentee_employee_id,
        "scheduled_at": s.scheduled_at,
        "kind": s.kind,
        "facilitator_employee_id": s.facilitator_employee_id,
        "duration_minutes": s.duration_minutes,
    }


def ensure_can_schedule(*, match_active: bool) -> None:
    if not match_active:
        raise Conflict("sessions can only be scheduled for an active match")


def scheduled(s: SessionState) -> ev.SessionScheduled:
    """The event of a newly planned session."""
    return ev.SessionScheduled(**_facts(s))


OPEN = (SessionStatus.scheduled, SessionStatus.unconfirmed)  # not settled yet


def _ensure_planned(s: SessionState, action: str) -> None:
    if s.status not in OPEN:
        raise Conflict(f"cannot {action} a session that is {s.status.value}")


def confirmation_due(s: SessionState, *, unconfirmed_after: timedelta) -> datetime:
    """When a session still open becomes `unconfirmed`: its end plus the programme's delay."""
    return s.scheduled_at + timedelta(minutes=s.duration_minutes) + unconfirmed_after


def unconfirmed_timer(session_id: str) -> str:
    """The key of a session's confirmation deadline (a durable timer)."""
    return f"unconfirmed:{session_id}"


def unconfirm(s: SessionState) -> Transition[SessionState]:
    """The confirmation deadline passed: a session still planned becomes `unconfirmed`; one
    settled meanwhile stays as it is (no event)."""
    if s.status is not SessionStatus.scheduled:
        return Transition(s)
    new = replace(s, status=SessionStatus.unconfirmed)
    return Transition(new, [ev.SessionUnconfirmed(**_facts(new))])


def no_show(
    s: SessionState, *, absent: Side, is_admin: bool, reporter: str | None, at: datetime
) -> Transition[SessionState]:
    """One party did not come: reported after the session's start by the other party (the one
    who came) or an admin."""
    _ensure_planned(s, "report a no-show for")
    if at < s.scheduled_at:
        raise Conflict("a no-show can be reported once the session has started")
    came = s.mentee_employee_id if absent == "mentor" else s.mentor_employee_id
    if not is_admin and reporter != came:
        raise Forbidden("the party who came (or an admin) reports the other's no-show")
    new = replace(s, status=SessionStatus.no_show, absent=absent)
    return Transition(new, [ev.SessionNoShow(**_facts(new), absent=absent)])


def complete(s: SessionState, *, notes: str | None, at: datetime) -> Transition[SessionState]:
    """Held: only once it has started (a session dated next week cannot have been held)."""
    _ensure_planned(s, "complete")
    if at < s.scheduled_at:
        raise Conflict(
            f"a session can be completed once it has started ({s.scheduled_at.isoformat()})"
        )
    new = replace(s, status=SessionStatus.completed, notes=notes, completed_at=at)
    return Transition(new, [ev.SessionCompleted(**_facts(new))])


def reschedule(
    s: SessionState,
    *,
    to: datetime,
    duration_minutes: int | None,
    reason: ev.RescheduleReason,
    note: str | None,
    by: str | None,
    at: datetime,
) -> Transition[SessionState]:
    """A planned (or unconfirmed) session moves to a time to come; its moves are kept and
    counted (`sequence`, as calendars bump theirs)."""
    _ensure_planned(s, "reschedule")
    if to <= at:
        raise Invalid("a session moves to a time to come", field="scheduled_at")
    if to == s.scheduled_at and duration_minutes in (None, s.duration_minutes):
        raise Conflict("the session is already planned then")
    move = {
        "from": s.scheduled_at.isoformat(), "to": to.isoformat(), "reason": reason.value,
        "note": note, "at": at.isoformat(), "by": by,
    }  # fmt: skip
    new = replace(
        s,
        status=SessionStatus.scheduled,
        scheduled_at=to,
        duration_minutes=duration_minutes or s.duration_minutes,
        reschedules=(*s.reschedules, move),
        sequence=s.sequence + 1,
    )
    event = ev.SessionRescheduled(
        **_facts(new), reason=reason, note=note, previous_at=s.scheduled_at, sequence=new.sequence
    )
    return Transition(new, [event])


def edit_agenda(
    s: SessionState, items: list[str], *, is_admin: bool, editor: str | None
) -> Transition[SessionState]:
    """The pair (or an admin) edits a planned session's agenda."""
    if not is_admin and editor not in (s.mentor_employee_id, s.mentee_employee_id):
        raise Forbidden("only the pair (or an admin) edits a session's agenda")
    _ensure_planned(s, "edit the agenda of")
    return Transition(replace(s, agenda=tuple(items)))


def agenda_for(rank: int, templates: Sequence[Any]) -> list[str]:
    """The programme's agenda for a relationship's `rank`-th session (1-based), if any."""
    return next((list(t.topics) for t in templates if t.session == rank), [])


def ensure_party(s: SessionState, employee_id: str | None) -> str:
    """Private notes are the pair's: an admin who is not a party has none to write."""
    if employee_id not in (s.mentor_employee_id, s.mentee_employee_id):
        raise Forbidden("private notes are written by the session's mentor or mentee")
    assert employee_id is not None
    return employee_id


def cancel(
    s: SessionState, *, reason: CancelReason, note: str | None = None
) -> Transition[SessionState]:
    _ensure_planned(s, "cancel")
    new = replace(s, status=SessionStatus.cancelled, cancel_reason=reason, cancel_note=note)
    return Transition(new, [ev.SessionCancelled(**_facts(new), reason=reason, note=note)])


def after_match_end(
    sessions: Sequence[SessionState], *, ended_at: datetime
) -> dict[str, Transition[SessionState]]:
    """A match's end cancels its planned sessions not yet due (by session id)."""
    return {
        s.id: cancel(s, reason=CancelReason.match_ended)
        for s in sessions
        if s.status is SessionStatus.scheduled and s.scheduled_at >= ended_at
    }


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


@dataclass(frozen=True)
class Held:
    """The group met: its planned sessions are completed."""

    notes: str | None = None


@dataclass(frozen=True)
class CalledOff:
    """The group's meeting is off: its planned sessions are cancelled."""

    reason: CancelReason = CancelReason.other
    note: str | None = None


def settle_group(
    sessions: Sequence[SessionState],
    *,
    is_admin: bool,
    caller: str | None,
    outcome: Held | CalledOff,
    at: datetime,
) -> dict[str, Transition[SessionState]]:
    """Complete or cancel a group's planned sessions at once, by session id; those already
    settled (a mentee whose match ended meanwhile) stay as they are. Only the group's mentor
    or an admin settles it; 409 when nothing is left planned."""
    action = "complete" if isinstance(outcome, Held) else "cancel"
    if not is_admin and caller != sessions[0].mentor_employee_id:
        raise Forbidden("only the mentor or an admin settles a group session")
    planned = [s for s in sessions if s.status in OPEN]
    if not planned:
        raise Conflict(f"cannot {action} a group session with no planned session left")
    if isinstance(outcome, Held):
        return {s.id: complete(s, notes=outcome.notes, at=at) for s in planned}
    return {s.id: cancel(s, reason=outcome.reason, note=outcome.note) for s in planned}


def hours(held: Sequence[SessionState], employee_id: str | None) -> dict[str, Any]:
    """Completed sessions and their hours, by side: an employee's as mentor and as mentee, or
    (no employee) a relationship's. A group meeting is one meeting of its mentor's time,
    however many mentees it gathered (one session each)."""
    as_mentor = [s for s in held if employee_id in (None, s.mentor_employee_id)]
    as_mentee = [s for s in held if employee_id in (None, s.mentee_employee_id)]
    meetings = list({s.group_id or s.id: s for s in as_mentor}.values())

    def total(sessions: Sequence[SessionState]) -> float:
        return round(sum(s.duration_minutes for s in sessions) / 60, 2)

    everything = list({s.id: s for s in [*meetings, *as_mentee]}.values())
    return {
        "sessions": len(everything),
        "hours": total(everything),
        "sessions_as_mentor": len(meetings),
        "sessions_as_mentee": len(as_mentee),
        "hours_as_mentor": total(meetings),
        "hours_as_mentee": total(as_mentee),
    }


# --- calendars (RFC 5545) -------------------------------------------------------------------

CALENDAR_PAST = timedelta(days=180)  # how far back a feed lists sessions


def _summary(s: SessionState) -> str:
    if s.kind is SessionKind.mediation:
        return "Mentoring: mediation"
    what = "group session" if s.group_id else "session"
    return f"Mentoring {what}: {s.topic}" if s.topic else f"Mentoring {what}"


def calendar(
    sessions: Sequence[SessionState],
    *,
    who: str,
    now: datetime,
    community: Sequence[CalendarEntry] = (),
) -> bytes:
    """`who`'s sessions as an iCalendar feed: one VEVENT per session with a stable UID
    (`<session id>@binome`; a group meeting is one event of its mentor's, `<group id>@binome`),
    times in UTC, SEQUENCE its moves (one more once cancelled), STATUS CANCELLED for a
    cancelled one, its agenda as the description; then the community events they have a seat
    at (`community-<id>@binome`)."""
    cal = Calendar()
    cal.add("prodid", "-//Binome//Mentoring sessions//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "Mentoring (Binôme)")
    events: dict[str, list[SessionState]] = {}
    for s in sorted(sessions, key=lambda x: (x.scheduled_at, x.id)):
        grouped = s.group_id is not None and s.mentor_employee_id == who
        events.setdefault(s.group_id if grouped else s.id, []).append(s)  # type: ignore[arg-type]
    for uid, members in events.items():
        s = members[0]
        cancelled = all(m.status is SessionStatus.cancelled for m in members)
        event = Event()
        event.add("uid", f"{uid}@binome")
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", s.scheduled_at.astimezone(UTC))
        end = s.scheduled_at + timedelta(minutes=s.duration_minutes)
        event.add("dtend", end.astimezone(UTC))
        event.add("summary", _summary(s))
        if s.agenda:
            event.add("description", "Agenda:\n" + "\n".join(f"- {item}" for item in s.agenda))
        event.add("sequence", max(m.sequence for m in members) + (1 if cancelled else 0))
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        cal.add_component(event)
    for c in sorted(community, key=lambda x: (x.starts_at, x.id)):
        event = Event()
        event.add("uid", f"community-{c.id}@binome")
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", c.starts_at.astimezone(UTC))
        event.add("dtend", c.ends_at.astimezone(UTC))
        event.add("summary", f"{c.title} ({c.kind.replace('_', ' ')})")
        if c.location:
            event.add("location", c.location)
        if c.description:
            event.add("description", c.description)
        event.add("status", "CONFIRMED")
        cal.add_component(event)
    return cal.to_ical()
