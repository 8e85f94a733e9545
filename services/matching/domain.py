"""Matching's rules, free of I/O: pair scores, the cohort proposal, replacements, match states.

The score here is a transparent weighted sum (the full optimisation engine is its own piece of
work). Hard rules first: never the same person, at least one shared language, never a pair that
already ended or was declined, never beyond a mentor's capacity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.matching.models import MatchStatus
from shared.errors import Conflict

WEIGHTS = {"skills": 0.5, "seniority": 0.2, "department": 0.1, "language": 0.1, "volunteer": 0.1}


@dataclass(frozen=True)
class Person:
    participant_id: str
    employee_id: str
    skills_offered: frozenset[str]
    skills_sought: frozenset[str]
    languages: frozenset[str]
    level: int | None
    department: str | None
    capacity: int
    volunteer: bool


def score(mentee: Person, mentor: Person, *, program_format: str) -> float | None:
    """The pair's compatibility in [0, 1], or None when a hard rule forbids the pair."""
    if mentee.employee_id == mentor.employee_id or not (mentee.languages & mentor.languages):
        return None
    sought = mentee.skills_sought
    skills = len(sought & mentor.skills_offered) / len(sought) if sought else 0.5
    if mentee.level is None or mentor.level is None:
        seniority = 0.5
    elif program_format == "reverse":  # the mentor is the junior, strong in what is sought
        seniority = 1.0 if mentor.level < mentee.level else 0.0
    else:
        seniority = 1.0 if mentor.level > mentee.level else 0.0
    if mentee.department is None or mentor.department is None:
        department = 0.5
    else:
        department = 1.0 if mentee.department != mentor.department else 0.0
    total = (
        WEIGHTS["skills"] * skills
        + WEIGHTS["seniority"] * seniority
        + WEIGHTS["department"] * department
        + WEIGHTS["language"] * 1.0
        + WEIGHTS["volunteer"] * (1.0 if mentor.volunteer else 0.0)
    )
    return round(total, 6)


@dataclass(frozen=True)
class Pair:
    mentee: Person
    mentor: Person
    score: float


def propose_cohort(
    *,
    mentees: Iterable[Person],
    mentors: Iterable[Person],
    loads: Mapping[str, int],
    excluded: set[tuple[str, str]],
    program_format: str,
) -> list[Pair]:
    """Greedy on the best remaining pair, volunteer mentees first; ties broken by ids."""
    mentors = list(mentors)
    room = {m.participant_id: m.capacity - loads.get(m.participant_id, 0) for m in mentors}
    pairs: list[Pair] = []
    for mentee in mentees:
        for mentor in mentors:
            if (mentee.participant_id, mentor.participant_id) in excluded:
                continue
            s = score(mentee, mentor, program_format=program_format)
            if s is not None:
                pairs.append(Pair(mentee, mentor, s))
    pairs.sort(
        key=lambda p: (
            not p.mentee.volunteer,
            -p.score,
            p.mentee.participant_id,
            p.mentor.participant_id,
        )
    )
    chosen: list[Pair] = []
    matched: set[str] = set()
    for pair in pairs:
        if pair.mentee.participant_id in matched or room[pair.mentor.participant_id] <= 0:
            continue
        chosen.append(pair)
        matched.add(pair.mentee.participant_id)
        room[pair.mentor.participant_id] -= 1
    return chosen


def best_replacement(
    *,
    mentee: Person,
    mentors: Iterable[Person],
    loads: Mapping[str, int],
    excluded_mentors: set[str],
    program_format: str,
) -> Pair | None:
    """The best mentor with room left for one mentee, leaving every other pair untouched."""
    best: Pair | None = None
    for mentor in sorted(mentors, key=lambda m: m.participant_id):
        if mentor.participant_id in excluded_mentors:
            continue
        if mentor.capacity - loads.get(mentor.participant_id, 0) <= 0:
            continue
        s = score(mentee, mentor, program_format=program_format)
        if s is not None and (best is None or s > best.score):
            best = Pair(mentee, mentor, s)
    return best


OPEN = (MatchStatus.proposed, MatchStatus.active)


def accept(
    status: MatchStatus, *, mentor_accepted: bool, mentee_accepted: bool, side: str
) -> tuple[bool, bool, bool]:
    """Returns (mentor_accepted, mentee_accepted, now_active)."""
    if status is not MatchStatus.proposed:
        raise Conflict(f"cannot accept a match that is {status.value}")
    if side == "mentor":
        mentor_accepted = True
    else:
        mentee_accepted = True
    return mentor_accepted, mentee_accepted, mentor_accepted and mentee_accepted


def ensure_can_decline(status: MatchStatus) -> None:
    if status is not MatchStatus.proposed:
        raise Conflict(f"cannot decline a match that is {status.value}")


def ensure_can_end(status: MatchStatus) -> None:
    if status not in OPEN:
        raise Conflict(f"cannot end a match that is {status.value}")
