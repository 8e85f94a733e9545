"""From participants as matching knows them to the engine's arrays (pure, no I/O).

Skills, themes and languages become bitmasks over the programme's own vocabulary (a programme
with more than 64 distinct items of one kind folds them into 64 bits by a stable hash, which
can only make two items look alike, never hide a shared one); availability slots are bits
already; questionnaire answers are padded with the neutral 3; unknown levels take the cohort's
median, unknown departments count as different from everyone's, unknown timezones as UTC.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from services.matching.engine.model import Cohort, Constraints, Format, Side, Weights
from services.matching.engine.scoring import Scorer
from shared.contracts.enrollment import ProgramRules, SeniorityRule


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
    themes: frozenset[str] = frozenset()
    answers: tuple[int, ...] = ()
    availability: frozenset[int] = frozenset()
    tz_offset_h: int | None = None
    manager_chain: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Read off a profile (lists, as the contract and the tables hold them): sets and
        # tuples, so a person is hashable and compares by content.
        for name in ("skills_offered", "skills_sought", "languages", "themes", "availability"):
            if not isinstance(value := getattr(self, name), frozenset):
                object.__setattr__(self, name, frozenset(value))
        for name in ("answers", "manager_chain"):
            if not isinstance(value := getattr(self, name), tuple):
                object.__setattr__(self, name, tuple(value))


@dataclass(frozen=True, kw_only=True)
class CohortInputs:
    """Everything a run (or a re-match, or a suggestion) depends on: the mentees to place, the
    mentors, how many open matches each mentor carries, the pairs never to propose again
    (mentee id, mentor id), and the programme's rules."""

    mentees: list[Person]
    mentors: list[Person]
    loads: Mapping[str, int] = field(default_factory=dict)
    excluded: set[tuple[str, str]] = field(default_factory=set)
    rules: ProgramRules = field(default_factory=ProgramRules)

    def in_order(self) -> CohortInputs:
        """Both sides sorted by participant id: the same inputs give the same proposal."""
        return replace(
            self,
            mentees=sorted(self.mentees, key=lambda p: p.participant_id),
            mentors=sorted(self.mentors, key=lambda p: p.participant_id),
        )


class _Vocabulary:
    def __init__(self, items: Iterable[str]) -> None:
        words = sorted(set(items))
        self.exact = len(words) <= 64
        self.bit = {w: i for i, w in enumerate(words)} if self.exact else {}

    def mask(self, items: Iterable[str]) -> np.uint64:
        out = 0
        for w in items:
            bit = self.bit[w] if self.exact else zlib.crc32(w.encode()) % 64
            out |= 1 << bit
        return np.uint64(out)


def _side(
    people: list[Person],
    *,
    sought: bool,
    ids: dict[str, int],
    skills: _Vocabulary,
    themes: _Vocabulary,
    langs: _Vocabulary,
    q: int,
    median_level: int,
    dept_codes: dict[str, int],
    unknown_from: int,
) -> Side:
    def dept(p: Person, k: int) -> int:
        # Unknown departments get codes of their own, unique across both sides: different
        # from everyone's.
        if p.department is None:
            return -(unknown_from + k + 1)
        return dept_codes[p.department]

    return Side(
        ids=np.array([ids[p.employee_id] for p in people], dtype=np.int64),
        skills=np.array(
            [skills.mask(p.skills_sought if sought else p.skills_offered) for p in people],
            dtype=np.uint64,
        ),
        themes=np.array([themes.mask(p.themes) for p in people], dtype=np.uint64),
        languages=np.array([langs.mask(p.languages) for p in people], dtype=np.uint64),
        availability=np.array(
            [sum(1 << s for s in p.availability) for p in people], dtype=np.uint64
        ),
        answers=np.array(
            [list(p.answers[:q]) + [3] * (q - len(p.answers[:q])) for p in people], dtype=np.int8
        ).reshape(len(people), q),
        level=np.array(
            [median_level if p.level is None else p.level for p in people], dtype=np.int8
        ),
        department=np.array([dept(p, k) for k, p in enumerate(people)], dtype=np.int32),
        tz_offset_h=np.array([p.tz_offset_h or 0 for p in people], dtype=np.int8),
        volunteer=np.array([p.volunteer for p in people], dtype=bool),
        level_known=np.array([p.level is not None for p in people], dtype=bool),
    )


def build_scorer(inputs: CohortInputs) -> Scorer:
    """The engine's scorer for these people; mentor capacity is the room they have left."""
    mentees, mentors, loads = inputs.mentees, inputs.mentors, inputs.loads
    excluded, rules = inputs.excluded, inputs.rules
    everyone = mentees + mentors
    ids: dict[str, int] = {}
    for p in everyone:
        ids.setdefault(p.employee_id, len(ids))
        for boss in p.manager_chain:
            ids.setdefault(boss, len(ids))
    skills = _Vocabulary(w for p in everyone for w in p.skills_sought | p.skills_offered)
    themes = _Vocabulary(w for p in everyone for w in p.themes)
    langs = _Vocabulary(w for p in everyone for w in p.languages)
    q = max((len(p.answers) for p in everyone), default=0)
    levels = [p.level for p in everyone if p.level is not None]
    median_level = int(np.median(levels)) if levels else 0
    dept_codes = {
        d: k
        for k, d in enumerate(sorted({p.department for p in everyone if p.department is not None}))
    }
    common = dict(
        ids=ids,
        skills=skills,
        themes=themes,
        langs=langs,
        q=q,
        median_level=median_level,
        dept_codes=dept_codes,
    )
    mentee_index = {p.participant_id: i for i, p in enumerate(mentees)}
    mentor_index = {p.participant_id: j for j, p in enumerate(mentors)}
    pairs = [
        (mentee_index[a], mentor_index[b])
        for a, b in excluded
        if a in mentee_index and b in mentor_index
    ]
    depth = max((len(p.manager_chain) for p in everyone), default=0)

    def chains(people: list[Person]) -> np.ndarray:
        rows = [
            [ids[b] for b in p.manager_chain] + [-1] * (depth - len(p.manager_chain))
            for p in people
        ]
        return np.array(rows, dtype=np.int64).reshape(len(people), depth)

    cohort = Cohort(
        mentees=_side(mentees, sought=True, unknown_from=0, **common),  # type: ignore[arg-type]
        mentors=_side(mentors, sought=False, unknown_from=len(mentees), **common),  # type: ignore[arg-type]
        capacity=np.array(
            [max(p.capacity - loads.get(p.participant_id, 0), 0) for p in mentors], dtype=np.int32
        ),
        mentee_managers=chains(mentees),
        mentor_managers=chains(mentors),
        excluded=np.array(pairs, dtype=np.int64).reshape(-1, 2),
    )
    weights = Weights(**rules.weights) if rules.weights else Weights()
    fmt = Format.reverse if rules.format == "reverse" else Format.classic
    constraints = Constraints(
        format=fmt,
        max_timezone_gap_h=rules.max_timezone_gap_h,
        cross_department=rules.cross_department,
        min_score=rules.min_score,
        seniority_required=rules.seniority_rule is SeniorityRule.required,
    )
    return Scorer(cohort, weights, constraints)
