"""What one relationship adds to its programme's all-time KPIs, free of I/O.

A programme's all-time figures are sums over its relationships: counts and sums (cells), and
the distinct people of a measure (each relationship names the people it counts; a person is
counted once in the programme however many relationships name them). `added` says what one
relationship adds, from its match, its health and its rows counted by the database; the
tallies (services.reporting.tallies) apply the difference from what it added before whenever
one of them changes, so that a programme's KPIs read a few rows instead of scanning its
sessions and ratings. Each cell mirrors one of the KPI queries' conditions over all time
(services.reporting.kpis), which the tests hold them to.

The weekly trends (services.reporting.trends) read the same way: a relationship also adds to
the cells of the weeks (named `wk:<Monday>`) its proposal, sessions held, ratings, answered
surveys, activation and end fall in, and names its people in each week's measures.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.reporting.domain import monday

Cell = tuple[str, str]  # (name, key)
Person = tuple[str, str]  # (measure, employee id)
# Each contribution counts for its programme's every department (ALL) and for its own: a
# participant's department, a relationship's mentee's (as the KPIs' department filter).
ALL = "*"
Scoped = tuple[str, str, str]  # (department, name, key) or (department, measure, employee id)

ACTIVE, COMPLETED = "active", "completed"
FLAGGED = ("needs_attention", "at_risk")  # the health states whose reasons are shown
TOO_EARLY = "too_early"  # an active relationship feedback has not judged yet
WEEK = "wk:"  # the prefix of the weekly cells' names


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def week_of(at: datetime) -> str:
    """The week `at` falls in: its Monday (UTC), as the weekly cells name it."""
    return monday(_utc(at).date()).isoformat()


def week_ended_by(at: datetime) -> str:
    """The first week whose end (the next Monday, 00:00 UTC) is at or after `at`: from that
    week's end on, something that happened at `at` has happened."""
    return week_of(_utc(at) - timedelta(microseconds=1))


def weekly(week: str) -> str:
    """The name of a week's cells."""
    return f"{WEEK}{week}"


def weekly_measure(week: str, what: str) -> str:
    """A measure of one week's people (its `people` cell is the week's `people:<what>`)."""
    return f"{WEEK}{week}|{what}"


def people_cell(measure: str) -> Cell:
    """The cell counting a measure's distinct people."""
    if measure.startswith(WEEK):
        name, what = measure.split("|", 1)
        return name, f"people:{what}"
    return "people", measure


def pair_of(mentor: str, mentee: str) -> str:
    """A mentor and a mentee as one key (of at most 100 characters, as an employee id)."""
    return hashlib.blake2b(f"{mentor}\x00{mentee}".encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class SessionCount:
    status: str
    n: int
    minutes: int
    last_at: datetime | None  # the latest session's time (of this status, this week)
    week: str | None = None  # the week they were planned for


@dataclass(frozen=True)
class RatingCount:
    author: str | None
    rating: int
    n: int
    week: str | None = None  # the week they were given


@dataclass(frozen=True)
class SurveyCount:
    """One respondent's surveys of one kind in a relationship."""

    kind: str
    respondent: str | None
    due: int  # sent (a due time)
    due_answered: int  # sent and answered
    answered: int
    means: int  # answered with a mean (of the 1-5 answers)
    mean_sum: float
    recommended: int  # answered with a would-recommend answer
    recommended_high: int  # of which 4 or 5
    week: str | None = None  # the week they were answered (None: not answered)


@dataclass
class Added:
    cells: dict[Cell, tuple[int, float]] = field(default_factory=dict)
    people: set[Person] = field(default_factory=set)
    current: bool = False
    last_held_at: datetime | None = None
    last_activity_at: datetime | None = None
    department: str | None = None

    def count(self, name: str, key: str = "", n: int = 1, total: float = 0.0) -> None:
        if n:
            was_n, was_total = self.cells.get((name, key), (0, 0.0))
            self.cells[(name, key)] = (was_n + n, was_total + total)

    def name(self, measure: str, *employees: str | None) -> None:
        self.people.update((measure, e) for e in employees if e is not None)

    def stored(self) -> dict[str, Any]:
        """As kept in `relationship_tally.added` or `participant_tally.added` (JSON)."""
        return {
            "department": self.department,
            "cells": [[name, key, n, total] for (name, key), (n, total) in self.cells.items()],
            "people": [[measure, e] for measure, e in self.people],
        }


def _departments(department: str | None) -> tuple[str, ...]:
    return (ALL,) if department is None else (ALL, department)


def _scoped_cells(stored: Mapping[str, Any]) -> dict[Scoped, tuple[int, float]]:
    return {
        (d, name, key): (n, total)
        for d in _departments(stored.get("department"))
        for name, key, n, total in stored.get("cells", [])
    }


def _scoped_people(stored: Mapping[str, Any]) -> set[Scoped]:
    return {
        (d, measure, e)
        for d in _departments(stored.get("department"))
        for measure, e in stored.get("people", [])
    }


def added(
    match: Mapping[str, Any] | None,
    health: Mapping[str, Any] | None,
    sessions: Iterable[SessionCount] = (),
    ratings: Iterable[RatingCount] = (),
    surveys: Iterable[SurveyCount] = (),
    replaced: Mapping[str, Any] | None = None,
    department: str | None = None,
) -> Added:
    """What a relationship adds; nothing until its match is heard of (the KPIs join on it).
    `replaced`: the match it was proposed in place of, if heard of (a re-match, counted by
    that one's end reason); `department`: its mentee's."""
    out = Added(department=department)
    if match is None or match.get("program_id") is None:
        return out
    mentor, mentee = match.get("mentor_employee_id"), match.get("mentee_employee_id")

    def both(measure: str) -> None:
        out.name(f"{measure}:mentor", mentor)
        out.name(f"{measure}:mentee", mentee)

    # matching
    if match.get("proposed_at") is not None:
        out.count("proposed")
        out.count(weekly(week_of(match["proposed_at"])), "proposals")
        if match.get("replaces_match_id") is not None:
            out.count("rematched")
            if replaced is not None:
                out.count("rematch_causes", str(replaced.get("end_reason")))
    # (every pair distinct, as matching never proposes a mentor twice to a mentee: then 5
    # relationships at once name 5 people at least, and the trends need not name them)
    if mentor is not None and mentee is not None:
        out.count("paired")
        out.name("pairs", pair_of(mentor, mentee))
    else:
        out.count("unpaired")
    activated, ended = match.get("activated_at"), match.get("ended_at")
    if activated is not None:
        out.count("activated")
        both("activated")
        if ended is None or _utc(ended) >= _utc(activated):  # (active in between)
            out.count(weekly(week_ended_by(activated)), "activated")
            if ended is not None:
                out.count(weekly(week_ended_by(ended)), "ended")
    if match.get("declined_at") is not None:
        out.count("declined")
    if ended is not None:
        out.count("ended")
        if match.get("end_reason") == COMPLETED:
            out.count("ended_completed")
        both("ended")
    # engagement: sessions by status, and the latest held
    for s in sessions:
        out.count("sessions", s.status, s.n, s.minutes)
        if s.n:
            both(f"sessions:{s.status}")
        if s.status == COMPLETED and s.last_at is not None:
            out.last_held_at = max(s.last_at, out.last_held_at or s.last_at)
        if s.status == COMPLETED and s.n and s.week is not None:
            out.count(weekly(s.week), "held", s.n, s.minutes)
            out.name(weekly_measure(s.week, "held:mentor"), mentor)
            out.name(weekly_measure(s.week, "held:mentee"), mentee)
    if activated is not None and match.get("ended_at") is None:
        out.current = True
        out.count("current")
        both("current")
        out.last_activity_at = out.last_held_at or activated
    # satisfaction: ratings by side (an author other than the mentor counts on the mentee's)
    for r in ratings:
        side = "mentor" if mentor is not None and r.author == mentor else "mentee"
        out.count("ratings", f"{side}:{r.rating}", r.n)
        if r.n:
            out.name(f"rated:{side}", r.author)
        if r.n and r.week is not None:
            out.count(weekly(r.week), f"rating:{side}", r.n, r.rating * r.n)
            out.name(weekly_measure(r.week, f"rated:{side}"), r.author)
    for y in surveys:
        out.count("surveys_due", "", y.due)
        out.count("surveys_due_answered", "", y.due_answered)
        if y.due:
            out.name("surveyed", y.respondent)
        out.count("survey_scores", y.kind, y.means, y.mean_sum)
        if y.answered:
            out.name(f"answered:{y.kind}", y.respondent)
        if y.answered and y.week is not None:
            out.count(weekly(y.week), f"score:{y.kind}", y.means, y.mean_sum)
            out.name(weekly_measure(y.week, f"answered:{y.kind}"), y.respondent)
        out.count("recommended", "", y.recommended)
        out.count("recommended_high", "", y.recommended_high)
        if y.recommended:
            out.name("recommended", y.respondent)
    # health, now: of active relationships
    if match.get("status") == ACTIVE:
        state = (health or {}).get("state") or TOO_EARLY
        out.count("health", state)
        both(f"health:{state}")
        if state in FLAGGED:
            out.count("health_flagged")
            for signal in sorted(set((health or {}).get("signals") or [])):
                out.count("health_reason", signal)
                both(f"reason:{signal}")
    return out


def participant_added(
    participant: Mapping[str, Any], first_proposed_at: datetime | None, load: int
) -> tuple[Added, float | None]:
    """What a participant adds, and the seconds a mentee waited for a first proposed mentor
    (for the percentiles). `first_proposed_at`: of a mentee, the earliest of their matches'
    proposals; `load`: of a mentor, their active matches."""
    out = Added(department=participant.get("department"))
    role, status = participant["role"], participant["status"]
    if (participant.get("requested_at") or participant.get("enrolled_at")) is not None:
        out.count("participants", f"{role}:{status}")
    if role == "mentee" and status == ACTIVE and participant.get("waiting"):
        out.count("waiting")
    if participant.get("withdrawn_at") is not None:
        out.count("withdrawals", str(participant.get("withdrawn_reason")))
    waited = None
    enrolled = participant.get("enrolled_at")
    if enrolled is not None:
        out.count(weekly(week_of(enrolled)), "enrolments")
    if role == "mentee" and enrolled is not None:
        out.count("mentees_enrolled")
        if first_proposed_at is not None:
            out.count("mentees_matched")
            waited = (first_proposed_at - enrolled).total_seconds()
    if role == "mentor" and status == ACTIVE:
        out.count("mentor_load", str(load))
    return out, waited


def difference(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[Scoped, tuple[int, float]], dict[Scoped, int]]:
    """What the programme's cells and person counts move by, in each department, when a
    contribution goes from `before` to `after` (both as stored; its department may have
    changed: it leaves the old one's cells for the new one's)."""
    cells: dict[Scoped, tuple[int, float]] = {}
    old, new = _scoped_cells(before), _scoped_cells(after)
    for key in old.keys() | new.keys():
        n0, t0 = old.get(key, (0, 0.0))
        n1, t1 = new.get(key, (0, 0.0))
        if n1 != n0 or t1 != t0:
            cells[key] = (n1 - n0, t1 - t0)
    was, now = _scoped_people(before), _scoped_people(after)
    people = {p: 1 for p in now - was} | {p: -1 for p in was - now}
    return cells, people


def people_moved(
    counts: Iterable[tuple[str, str, str, int, int]],
) -> dict[tuple[str, Scoped], tuple[int, float]]:
    """The `people` cells' moves from persons' counts (programme, department, measure, count
    before, count after): a person enters a measure at their first relationship counting
    them, and leaves it at the last."""
    moved: dict[tuple[str, Scoped], tuple[int, float]] = {}
    for program, department, measure, before, after in counts:
        step = (after > 0) - (before > 0)
        if step:
            cell = (program, (department, *people_cell(measure)))
            moved[cell] = (moved.get(cell, (0, 0.0))[0] + step, 0.0)
    return moved
