"""Matching's rules, free of I/O: the cohort proposal, replacements, suggestions, match states.

Scores come from the engine's scorer (services/matching/engine) under the programme's weights
and constraints; the cohort is solved by its certified solver: the most mentees matched, then
the best total score, proven optimal. Hard rules: never the same person, never in the mentee's
reporting line, a shared language, within the programme's timezone gap, never a pair that
already ended or was declined, never beyond a mentor's capacity.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from enum import StrEnum
from typing import Literal

import numpy as np
import orjson

from services.matching.cohort import (
    CohortInputs,
    MentorPool,
    Person,
    ProgramRules,
    build_scorer,
)
from services.matching.engine import explain as engine_explain
from services.matching.engine import flow as engine_flow
from services.matching.engine.circles import form_circles
from services.matching.engine.scoring import Scorer
from services.matching.engine.solver import Certificate, Policy, Solution, solve
from services.matching.engine.stable import blocking_pairs_streamed, deferred_acceptance
from shared.contracts import matching as ev
from shared.contracts.enrollment import ProgramFormat, ProgramStatus
from shared.contracts.matching import MatchStatus
from shared.domain import Transition
from shared.errors import Conflict, Forbidden, Invalid

__all__ = ["CohortInputs", "Person", "ProgramRules"]

Side = Literal["mentor", "mentee"]


class RunStatus(StrEnum):
    draft = "draft"  # proposed pairs for an admin to review
    published = "published"  # the pairs became matches


@dataclass(frozen=True, kw_only=True)
class Pair:
    mentee: Person
    mentor: Person
    score: float
    # Why this pair: each criterion's share of the score, the mentee's favourite mentor and
    # why not them, and the next best alternative (JSON-ready).
    explanation: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True, kw_only=True)
class CohortProposal:
    pairs: list[Pair]
    total_score: float
    certificate_holds: bool
    primal: int
    dual: int
    pairs_covered: int
    solve_ms: float
    inputs_digest: str
    policy: str = "max_matched"
    blocking_pairs: int = 0


def _explanation(ex: engine_explain.Explanation, mentors: list[Person]) -> dict:
    """The pair's explanation (from the scores and the certificate's dual values), as JSON."""
    assert ex.chosen is not None

    def option(o: engine_explain.Option | None) -> dict | None:
        if o is None:
            return None
        return {
            "mentor_participant_id": mentors[o.mentor].participant_id,
            "score": round(o.score, 6),
        }

    return {
        "contributions": {k: round(v, 6) for k, v in ex.chosen.contributions.items()},
        "top_choice": option(ex.top_choice),
        "why_not_top_choice": ex.why_not_top_choice,
        "next_best": option(ex.next_best),
    }


def inputs_digest(inputs: CohortInputs, policy: str) -> str:
    """A fingerprint of everything a run depends on: same digest, same proposal."""
    h = hashlib.sha256()
    loads, excluded = sorted(inputs.loads.items()), sorted(inputs.excluded)
    h.update(
        orjson.dumps(
            [inputs.rules.model_dump(mode="json"), policy, excluded, loads],
            option=orjson.OPT_SORT_KEYS,
        )
    )
    ordered = inputs.in_order()
    for person in ordered.mentees + ordered.mentors:
        h.update(person.facts_json)
    return h.hexdigest()


def _prepare(inputs: CohortInputs, policy: str | None = None) -> tuple[CohortInputs, str, Scorer]:
    """What every run starts from: both sides sorted by participant id (the same inputs give
    the same proposal), the inputs' digest, and the engine's scorer."""
    ordered = inputs.in_order()
    digest = inputs_digest(ordered, policy or inputs.rules.matching_policy)
    return ordered, digest, build_scorer(ordered)


def propose_cohort(inputs: CohortInputs) -> CohortProposal:
    """The cohort under the programme's policy, with its proof or its stability audit.

    max_matched / max_score: the optimum, certified. stable: mentee-proposing deferred
    acceptance. Every proposal counts its blocking pairs. Inputs are sorted by participant id,
    so the same inputs give the same proposal.
    """
    ordered, digest, scorer = _prepare(inputs)
    mentees, mentors, rules = ordered.mentees, ordered.mentors, ordered.rules
    t0 = time.perf_counter()
    if rules.matching_policy == "stable":
        # Deferred acceptance ranks every mentor for every mentee: dense, fine at programme
        # sizes (tens of millions of pairs); the optimal policies stream.
        scores, allowed = scorer.block(slice(0, scorer.n))
        mentor_of = deferred_acceptance(scores, allowed, scorer.capacity)
        matched = np.flatnonzero(mentor_of >= 0)
        score = np.full(scorer.n, np.nan)
        score[matched] = scores[matched, mentor_of[matched]]
        solution = Solution(
            mentor_of=mentor_of,
            score=score,
            matched=len(matched),
            total_score=float(np.nansum(score)),
            certificate=Certificate.trivial(holds=False),
        )
    else:
        solution = solve(scorer, policy=Policy(rules.matching_policy))
    solve_ms = (time.perf_counter() - t0) * 1000
    matched = np.flatnonzero(solution.mentor_of >= 0)
    pairs = [
        Pair(
            mentee=mentees[ex.mentee],
            mentor=mentors[int(solution.mentor_of[ex.mentee])],
            score=round(float(solution.score[ex.mentee]), 6),
            explanation=_explanation(ex, mentors),
        )
        for ex in engine_explain.explain_all(scorer, solution, matched)
    ]
    c = solution.certificate
    blocking = blocking_pairs_streamed(scorer, solution.mentor_of, solution.score)
    return CohortProposal(
        pairs=pairs,
        total_score=round(solution.total_score, 6),
        certificate_holds=c.holds,
        primal=c.primal,
        dual=c.dual,
        pairs_covered=c.pairs_covered,
        solve_ms=round(solve_ms, 3),
        inputs_digest=digest,
        policy=rules.matching_policy,
        blocking_pairs=blocking,
    )


def propose_circles(inputs: CohortInputs) -> CohortProposal:
    """Group mentoring: each mentor leads a circle of as many mentees as their room allows.

    Every rule of a pair holds between a mentee and their circle's mentor (language,
    reporting line, timezone, history, the programme's hard filters and minimum score); at
    most half a circle (rounded up) comes from one department; as many mentees as possible
    are placed, then the themes they share with their mentor are maximised, then their
    compatibility. An exact min-cost flow (OR-Tools), without the pair solver's separate
    certificate; the result is a set of pairs (mentee, circle mentor) like any run's.
    """
    ordered, digest, scorer = _prepare(inputs, policy="circles")
    mentees, mentors = ordered.mentees, ordered.mentors
    t0 = time.perf_counter()
    scores, allowed = scorer.block(slice(0, scorer.n))
    cohort = scorer.cohort
    formed = form_circles(
        cohort.mentees.themes,
        cohort.mentees.department.astype(np.int64),
        cohort.mentors.themes,
        size=scorer.capacity,
        allowed=allowed,
        tie_break=scores,
    )
    solve_ms = (time.perf_counter() - t0) * 1000
    pairs = []
    for circle in formed.circles:
        mentor = mentors[circle.anchor]
        departments = len({mentees[i].department for i in circle.members})
        for i in circle.members:
            shared = len(mentees[i].themes & mentor.themes) / max(1, len(mentees[i].themes))
            why = {
                "contributions": {
                    k: round(v, 6) for k, v in scorer.contributions(i, circle.anchor).items()
                },
                "circle": {
                    "mentor_participant_id": mentor.participant_id,
                    "members": len(circle.members),
                    "departments": departments,
                    "shared_themes": round(shared, 6),
                },
            }
            score = round(float(scores[i, circle.anchor]), 6)
            pairs.append(Pair(mentee=mentees[i], mentor=mentor, score=score, explanation=why))
    pairs.sort(key=lambda p: p.mentee.participant_id)
    total = round(sum(p.score for p in pairs), 6)
    return CohortProposal(
        pairs=pairs,
        total_score=total,
        certificate_holds=False,  # exact, but not separately certified
        primal=0,
        dual=0,
        pairs_covered=int(allowed.sum()),
        solve_ms=round(solve_ms, 3),
        inputs_digest=digest,
        policy="circles",
        blocking_pairs=0,
    )


def replacements(inputs: CohortInputs) -> list[Pair]:
    """Minimal change: new mentors for these mentees only, within the room mentors have left.

    Healthy pairs are not touched; among the mentees needing a mentor (one whose match failed,
    or all of a departed mentor's), the assignment is optimal and certified like a cohort's.
    Only the mentors with a place left are scored (a full one could not be chosen): none, and
    nobody is placed without scoring anyone (a departing mentor's mentees are placed jointly
    with the whole waiting list, thousands at times).
    """
    room = set(with_room(((m.participant_id, m.capacity) for m in inputs.mentors), inputs.loads))
    if not room:
        return []
    mentors = [m for m in inputs.mentors if m.participant_id in room]
    return propose_cohort(replace(inputs, mentors=mentors)).pairs


def with_room(capacities: Iterable[tuple[str, int]], loads: Mapping[str, int]) -> Iterator[str]:
    """The mentors (participant id, capacity) with a place left under these loads, lazily
    (asking whether there is one stops at the first)."""
    return (mentor for mentor, places in capacities if places > loads.get(mentor, 0))


@dataclass(frozen=True, kw_only=True)
class Suggestion:
    mentor: Person
    score: float
    contributions: dict[str, float]
    room: int


class NoSuggestion(StrEnum):
    """Why a mentee's suggestions are empty."""

    no_mentor = "no_mentor"  # no active mentor in the programme yet
    every_mentor_full = "every_mentor_full"  # every place taken (or held by an open request)
    none_allowed = "none_allowed"  # mentors with room, each ruled out for this mentee


def why_none(mentors: list[Person], loads: Mapping[str, int]) -> NoSuggestion:
    """What an empty list of suggestions means: nobody to suggest, nobody with room, or the
    programme's rules (language, seniority, reporting line, a pair that ended...) rule out
    everyone with room."""
    if not mentors:
        return NoSuggestion.no_mentor
    if next(with_room(((m.participant_id, m.capacity) for m in mentors), loads), None) is None:
        return NoSuggestion.every_mentor_full
    return NoSuggestion.none_allowed


def suggestions(
    *,
    mentee: Person,
    pool: MentorPool,
    loads: Mapping[str, int],
    excluded_mentors: set[str],
    rules: ProgramRules,
    limit: int,
) -> list[Suggestion]:
    """Self-service: the mentee's best mentors that still have room, best first."""
    mentors = pool.mentors
    scorer = pool.scorer(mentee, loads=loads, excluded_mentors=excluded_mentors, rules=rules)
    found = engine_explain.suggestions(scorer, 0, load=np.zeros(len(mentors), np.int64), n=limit)
    return [
        Suggestion(
            mentor=mentors[o.mentor],
            score=round(o.score, 6),
            contributions={k: round(v, 6) for k, v in o.contributions.items()},
            room=int(scorer.capacity[o.mentor]),
        )
        for o in found
    ]


# --- a run's life: draft --publish--> published ------------------------------------------------


@dataclass(frozen=True)
class RunState:
    """A matching run as its rules see it (the row's fields of the same names)."""

    status: RunStatus
    inputs_digest: str
    published_at: datetime | None

    def __post_init__(self) -> None:  # a row read back from the database holds a plain str
        object.__setattr__(self, "status", RunStatus(self.status))


def ensure_draft(run: RunState) -> None:
    if run.status is not RunStatus.draft:
        raise Conflict(f"run is {run.status.value}, only a draft can be published")


def publish(run: RunState, *, inputs_now: str, at: datetime) -> RunState:
    """A draft's pairs become proposed matches (each with its MatchProposed, see `proposed`),
    only if nothing the run was based on has changed: `inputs_now` is the digest of the
    programme's inputs today (the run's own when published as it is made)."""
    ensure_draft(run)
    if inputs_now != run.inputs_digest:
        raise Conflict("participants or matches changed since this draft; run the matching again")
    return replace(run, status=RunStatus.published, published_at=at)


# --- a match's life -------------------------------------------------------------------------
#
# proposed --accept (both sides)--> active --end--> ended
#     |--decline--> declined             proposed --end--> ended

OPEN = (MatchStatus.proposed, MatchStatus.active)


@dataclass(frozen=True)
class MatchState:
    """A match as its rules see it (the row's fields of the same names)."""

    id: str
    program_id: str
    mentor_participant_id: str
    mentee_participant_id: str
    mentor_employee_id: str
    mentee_employee_id: str
    status: MatchStatus
    mentor_accepted: bool
    mentee_accepted: bool
    end_reason: str | None  # an EndReason, or a DeclineReason once declined
    end_note: str | None
    ended_at: datetime | None
    # Natural completion: each side says the relationship reached its end (both: completed).
    mentor_completed: bool = False
    mentee_completed: bool = False

    def __post_init__(self) -> None:  # a row read back from the database holds a plain str
        object.__setattr__(self, "status", MatchStatus(self.status))


@dataclass(frozen=True)
class Actor:
    """Who acts on a match: an admin of its organisation, or an employee."""

    is_admin: bool
    employee_id: str | None


def _facts(m: MatchState) -> dict[str, str]:
    return {
        "match_id": m.id,
        "program_id": m.program_id,
        "mentor_participant_id": m.mentor_participant_id,
        "mentee_participant_id": m.mentee_participant_id,
        "mentor_employee_id": m.mentor_employee_id,
        "mentee_employee_id": m.mentee_employee_id,
    }


def proposed(
    m: MatchState, *, score: float, run_id: str | None, replaces_match_id: str | None
) -> ev.MatchProposed:
    """The event of a newly proposed match (from a run's pair or a replacement)."""
    return ev.MatchProposed(
        **_facts(m), score=score, run_id=run_id, replaces_match_id=replaces_match_id
    )


def side_of(m: MatchState, actor: Actor, requested: Side | None) -> Side:
    """The side an actor acts for: admins say which; a party acts for their own side only."""
    if actor.is_admin:
        if requested is None:
            raise Invalid("admins must say which side they accept for", field="side")
        return requested
    if actor.employee_id == m.mentor_employee_id:
        side: Side = "mentor"
    elif actor.employee_id == m.mentee_employee_id:
        side = "mentee"
    else:
        raise Forbidden("not a participant of this match")
    if requested is not None and requested != side:
        raise Forbidden(f"you are the {side} of this match")
    return side


def ensure_party_or_admin(m: MatchState, actor: Actor) -> None:
    if not actor.is_admin:
        side_of(m, actor, None)


def accept(m: MatchState, *, side: Side) -> Transition[MatchState]:
    """One side accepts; the match becomes active once both have."""
    if m.status is not MatchStatus.proposed:
        raise Conflict(f"cannot accept a match that is {m.status.value}")
    mentor_ok = m.mentor_accepted or side == "mentor"
    mentee_ok = m.mentee_accepted or side == "mentee"
    if not (mentor_ok and mentee_ok):
        return Transition(replace(m, mentor_accepted=mentor_ok, mentee_accepted=mentee_ok))
    new = replace(m, mentor_accepted=True, mentee_accepted=True, status=MatchStatus.active)
    return Transition(new, [ev.MatchActivated(**_facts(new))])


def decline(
    m: MatchState, *, reason: ev.DeclineReason, note: str | None = None, at: datetime
) -> Transition[MatchState]:
    if m.status is not MatchStatus.proposed:
        raise Conflict(f"cannot decline a match that is {m.status.value}")
    new = replace(m, status=MatchStatus.declined, end_reason=reason, end_note=note, ended_at=at)
    return Transition(new, [ev.MatchDeclined(**_facts(new), reason=reason, note=note)])


def end(
    m: MatchState,
    *,
    reason: ev.EndReason,
    note: str | None = None,
    at: datetime,
    by: ev.EndedBy = ev.EndedBy.system,
) -> Transition[MatchState]:
    if m.status not in OPEN:
        raise Conflict(f"cannot end a match that is {m.status.value}")
    new = replace(m, status=MatchStatus.ended, end_reason=reason, end_note=note, ended_at=at)
    return Transition(new, [ev.MatchEnded(**_facts(new), reason=reason, note=note, by=by)])


MATCHABLE = (ProgramStatus.enrolling, ProgramStatus.running)


def complete(m: MatchState, *, side: Side, at: datetime) -> Transition[MatchState]:
    """One side says the relationship reached its natural end; with both, it ends as
    `completed` (distinct from ending for a problem)."""
    if m.status is not MatchStatus.active:
        raise Conflict(f"only an active match is completed; this one is {m.status.value}")
    new = replace(
        m,
        mentor_completed=m.mentor_completed or side == "mentor",
        mentee_completed=m.mentee_completed or side == "mentee",
    )
    if not (new.mentor_completed and new.mentee_completed):
        return Transition(new)
    ended = end(new, reason=ev.EndReason.completed, at=at, by=ev.EndedBy.party)
    return Transition(ended.state, ended.events)


def planned_end(
    activated_at: datetime, *, duration: timedelta | None, ends_on: date | None
) -> datetime | None:
    """When a relationship reaches its planned end: its programme's `relationship_duration`
    after activation, or the end of the programme's `ends_on` day, whichever comes first."""
    ends = [activated_at + duration] if duration else []
    if ends_on is not None:
        ends.append(datetime.combine(ends_on + timedelta(days=1), clock_time(0), tzinfo=UTC))
    return min(ends) if ends else None


def reach_planned_end(m: MatchState, *, at: datetime) -> Transition[MatchState]:
    """The planned end (a timer): an active relationship ends `completed`; any other is left."""
    if m.status is not MatchStatus.active:
        return Transition(m)
    return end(m, reason=ev.EndReason.completed, at=at, by=ev.EndedBy.system)


def planned_end_timer(match_id: str) -> str:
    return f"planned-end:{match_id}"


def check_matchable(status: str) -> None:
    """Runs and their publication happen while the programme is enrolling or running."""
    if status not in MATCHABLE:
        raise Conflict(f"the programme is {status}: matching runs while enrolling or running")


def ended_by(m: MatchState, actor: Actor) -> ev.EndedBy:
    """A party ending their own match, or an admin ending someone else's."""
    if actor.employee_id in (m.mentor_employee_id, m.mentee_employee_id):
        return ev.EndedBy.party
    return ev.EndedBy.admin


ENDED_BY_PROGRAMME = "ended_by_programme"


def end_reason_for_party(reason: str | None) -> str | None:
    """What a party of a match is told of why it ended: an end the programme decided from
    the ratings or surveys (`low_satisfaction`, `programme_decision`) would reveal the other
    side's answers, so the parties read `ended_by_programme`; admins see the reason itself."""
    hidden = (ev.EndReason.low_satisfaction, ev.EndReason.programme_decision)
    return ENDED_BY_PROGRAMME if reason in hidden else reason


def mentor_loads(matches: Iterable[MatchState]) -> dict[str, int]:
    """How many open matches (proposed or active) each mentor carries: their capacity's use."""
    return dict(Counter(m.mentor_participant_id for m in matches if m.status in OPEN))


@dataclass(frozen=True)
class Requests:
    """A programme's open self-service requests: the places they hold with each mentor and
    the mentees who made them."""

    held: Mapping[str, int] = field(default_factory=dict)  # mentor participant id -> places
    mentees: frozenset[str] = frozenset()

    def loads(self, matches: Iterable[MatchState]) -> dict[str, int]:
        """Each mentor's places taken: open matches and open requests."""
        return dict(Counter(mentor_loads(matches)) + Counter(self.held))


def cohort_inputs(
    *,
    matches: list[MatchState],
    mentees: list[Person],
    mentors: list[Person],
    rules: ProgramRules,
    requests: Requests | None = None,
) -> CohortInputs:
    """A run's inputs: the mentees without an open match or open request (they are choosing
    for themselves), the mentors with the room their open matches and requests leave, and the
    pairs that already ended or were declined (never proposed again)."""
    requests = requests or Requests()
    taken = {m.mentee_participant_id for m in matches if m.status in OPEN} | requests.mentees
    return CohortInputs(
        mentees=[p for p in mentees if p.participant_id not in taken],
        mentors=mentors,
        loads=requests.loads(matches),
        excluded={
            (m.mentee_participant_id, m.mentor_participant_id)
            for m in matches
            if m.status in (MatchStatus.ended, MatchStatus.declined)
        },
        rules=rules,
    )


def prepare_to_propose() -> None:
    """A cohort is about to be read for `propose`: a large one's flows are solved in the
    engine's child process, started now if it is not running (engine/flow.py), so that its
    start overlaps the reading."""
    engine_flow.prepare()


def propose(inputs: CohortInputs) -> CohortProposal:
    """The programme's proposal: circles for a circles programme, else pairs by its policy."""
    run = propose_circles if inputs.rules.format == ProgramFormat.circles else propose_cohort
    return run(inputs)


def mentor_history(matches: Iterable[MatchState], mentee_id: str) -> set[str]:
    """Mentors this mentee already had (active, ended or declined): never proposed again."""
    return {
        m.mentor_participant_id
        for m in matches
        if m.mentee_participant_id == mentee_id and m.status is not MatchStatus.proposed
    }


def in_reporting_line(mentee: Person, mentor: Person) -> bool:
    """Either one manages the other, directly or higher up: a pair the rules never allow."""
    return mentor.employee_id in mentee.manager_chain or mentee.employee_id in mentor.manager_chain
