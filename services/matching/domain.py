"""Matching's rules, free of I/O: pair scores, the cohort proposal, replacements, match states.

The score here is a transparent weighted sum over what enrolment collects today; the cohort is
then solved by the engine (services/matching/engine): the maximum number of mentees matched,
then the maximum total score, proven optimal by its certificate. Hard rules first: never the
same person, at least one shared language, never a pair that already ended or was declined,
never beyond a mentor's capacity.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from services.matching.engine.scoring import ArraySource
from services.matching.engine.solver import Policy, solve
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


def contributions(
    mentee: Person, mentor: Person, *, program_format: str
) -> dict[str, float] | None:
    """Each criterion's share of the pair's score (they add up to it), or None when a hard
    rule forbids the pair."""
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
    values = {
        "skills": skills,
        "seniority": seniority,
        "department": department,
        "language": 1.0,
        # Volunteers first, on both sides: when slots are scarce, volunteer mentees win them.
        "volunteer": (mentor.volunteer + mentee.volunteer) / 2,
    }
    return {name: round(WEIGHTS[name] * value, 6) for name, value in values.items()}


def score(mentee: Person, mentor: Person, *, program_format: str) -> float | None:
    """The pair's compatibility in [0, 1], or None when a hard rule forbids the pair."""
    parts = contributions(mentee, mentor, program_format=program_format)
    return None if parts is None else round(sum(parts.values()), 6)


@dataclass(frozen=True)
class Pair:
    mentee: Person
    mentor: Person
    score: float
    # Why this pair: each criterion's share of the score, the mentee's favourite mentor and
    # why not them, and the next best alternative (JSON-ready).
    explanation: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class CohortProposal:
    pairs: list[Pair]
    total_score: float
    certificate_holds: bool
    primal: int
    dual: int
    pairs_covered: int
    solve_ms: float
    inputs_digest: str


def _explain(
    i: int,
    j: int,
    mentees: list[Person],
    mentors: list[Person],
    scores: np.ndarray,
    allowed: np.ndarray,
    slot_value: np.ndarray,
    program_format: str,
) -> dict:
    """The pair's explanation, from the scores and the certificate's dual values."""
    options = np.flatnonzero(allowed[i])
    ranked = options[np.argsort(-scores[i, options], kind="stable")]
    top = int(ranked[0])
    explanation: dict = {
        "contributions": contributions(mentees[i], mentors[j], program_format=program_format),
        "top_choice": None,
        "why_not_top_choice": None,
        "next_best": None,
    }
    if top != j:
        gain = float(scores[i, top] - scores[i, j])
        worth = float(slot_value[top])
        explanation["top_choice"] = {
            "mentor_participant_id": mentors[top].participant_id,
            "score": round(float(scores[i, top]), 6),
        }
        # The dual value of a slot is what the cohort loses without it; above 1 (more than
        # any score) it means another mentee would be left without a mentor.
        explanation["why_not_top_choice"] = (
            "that mentor is full, and giving this mentee one of its slots would leave another "
            "mentee without any mentor"
            if worth > 1
            else f"that mentor is full: a slot there adds {worth:.4f} to the cohort's total as "
            f"matched, at least the {gain:.4f} this mentee would gain"
        )
    others = [int(k) for k in ranked if int(k) != j]
    if others:
        k = others[0]
        explanation["next_best"] = {
            "mentor_participant_id": mentors[k].participant_id,
            "score": round(float(scores[i, k]), 6),
        }
    return explanation


def inputs_digest(
    *,
    mentees: list[Person],
    mentors: list[Person],
    loads: Mapping[str, int],
    excluded: set[tuple[str, str]],
    program_format: str,
    policy: str,
) -> str:
    """A fingerprint of everything a run depends on: same digest, same proposal."""
    h = hashlib.sha256()
    h.update(json.dumps([program_format, policy, sorted(excluded), sorted(loads.items())]).encode())
    for person in sorted(mentees, key=lambda p: p.participant_id) + sorted(
        mentors, key=lambda p: p.participant_id
    ):
        h.update(
            json.dumps(
                [
                    person.participant_id,
                    person.employee_id,
                    sorted(person.skills_offered),
                    sorted(person.skills_sought),
                    sorted(person.languages),
                    person.level,
                    person.department,
                    person.capacity,
                    person.volunteer,
                ]
            ).encode()
        )
    return h.hexdigest()


def propose_cohort(
    *,
    mentees: Iterable[Person],
    mentors: Iterable[Person],
    loads: Mapping[str, int],
    excluded: set[tuple[str, str]],
    program_format: str,
) -> CohortProposal:
    """The optimal cohort: most mentees matched, then the best total score, certified.

    Ties are broken stably by participant ids (inputs are sorted), so the same inputs give the
    same proposal.
    """
    mentees = sorted(mentees, key=lambda p: p.participant_id)
    mentors = sorted(mentors, key=lambda p: p.participant_id)
    digest = inputs_digest(
        mentees=mentees,
        mentors=mentors,
        loads=loads,
        excluded=excluded,
        program_format=program_format,
        policy=Policy.max_matched.value,
    )
    scores = np.zeros((len(mentees), len(mentors)), dtype=np.float32)
    allowed = np.zeros_like(scores, dtype=bool)
    for i, mentee in enumerate(mentees):
        for j, mentor in enumerate(mentors):
            if (mentee.participant_id, mentor.participant_id) in excluded:
                continue
            s = score(mentee, mentor, program_format=program_format)
            if s is not None:
                scores[i, j], allowed[i, j] = s, True
    room = np.array(
        [max(t.capacity - loads.get(t.participant_id, 0), 0) for t in mentors], dtype=np.int64
    )
    t0 = time.perf_counter()
    solution = solve(ArraySource(scores, room, allowed), policy=Policy.max_matched)
    solve_ms = (time.perf_counter() - t0) * 1000
    pairs = [
        Pair(
            mentees[i],
            mentors[j],
            float(scores[i, j]),
            _explain(i, j, mentees, mentors, scores, allowed, solution.slot_value, program_format),
        )
        for i, j in enumerate(solution.mentor_of.tolist())
        if j >= 0
    ]
    c = solution.certificate
    return CohortProposal(
        pairs,
        round(solution.total_score, 6),
        c.holds,
        c.primal,
        c.dual,
        c.pairs_covered,
        round(solve_ms, 3),
        digest,
    )


def replacements(
    *,
    mentees: list[Person],
    mentors: list[Person],
    loads: Mapping[str, int],
    excluded: set[tuple[str, str]],
    program_format: str,
) -> list[Pair]:
    """Minimal change: new mentors for these mentees only, within the room mentors have left.

    Healthy pairs are not touched; among the mentees needing a mentor (one whose match failed,
    or all of a departed mentor's), the assignment is optimal and certified like a cohort's.
    """
    return propose_cohort(
        mentees=mentees,
        mentors=mentors,
        loads=loads,
        excluded=excluded,
        program_format=program_format,
    ).pairs


@dataclass(frozen=True)
class Suggestion:
    mentor: Person
    score: float
    contributions: dict[str, float]
    room: int


def suggestions(
    *,
    mentee: Person,
    mentors: list[Person],
    loads: Mapping[str, int],
    excluded_mentors: set[str],
    program_format: str,
    limit: int,
) -> list[Suggestion]:
    """Self-service: the mentee's best mentors that still have room, best first."""
    found = []
    for mentor in mentors:
        room = mentor.capacity - loads.get(mentor.participant_id, 0)
        if room <= 0 or mentor.participant_id in excluded_mentors:
            continue
        parts = contributions(mentee, mentor, program_format=program_format)
        if parts is not None:
            found.append(Suggestion(mentor, round(sum(parts.values()), 6), parts, room))
    found.sort(key=lambda s: (-s.score, s.mentor.participant_id))
    return found[:limit]


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
