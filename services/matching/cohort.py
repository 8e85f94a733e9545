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
from dataclasses import dataclass, field, fields, replace
from functools import cached_property

import numpy as np
import numpy.typing as npt
import orjson

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

    @cached_property
    def facts_json(self) -> bytes:
        """Its fields as JSON, keys and sets sorted: what a run's inputs digest hashes of it.
        Made once per person (a roster's people are kept from a run to its publication)."""
        facts = {name: getattr(self, name) for name in _PERSON_FIELDS}
        return orjson.dumps(facts, default=sorted, option=orjson.OPT_SORT_KEYS)


_PERSON_FIELDS = tuple(f.name for f in fields(Person))


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


def _mask(bits: Mapping[str, int], items: Iterable[str]) -> int:
    """Items as bits, one per word (the vocabulary's)."""
    out = 0
    for w in items:
        out |= 1 << bits[w]
    return out


def _hashed(items: Iterable[str]) -> int:
    """Items folded into 64 bits by a stable hash (a vocabulary past 64 words)."""
    out = 0
    for w in items:
        out |= 1 << (zlib.crc32(w.encode()) % 64)
    return out


class _Vocabulary:
    def __init__(self, items: Iterable[str]) -> None:
        words = sorted(set(items))
        self.exact = len(words) <= 64
        self.bit = {w: i for i, w in enumerate(words)} if self.exact else {}

    def mask(self, items: Iterable[str]) -> np.uint64:
        return np.uint64(_mask(self.bit, items) if self.exact else _hashed(items))


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
    return Scorer(cohort, *_settings(rules))


def _settings(rules: ProgramRules) -> tuple[Weights, Constraints]:
    """The engine's weights and constraints for a programme's rules."""
    weights = Weights(**rules.weights) if rules.weights else Weights()
    fmt = Format.reverse if rules.format == "reverse" else Format.classic
    constraints = Constraints(
        format=fmt,
        max_timezone_gap_h=rules.max_timezone_gap_h,
        cross_department=rules.cross_department,
        min_score=rules.min_score,
        seniority_required=rules.seniority_rule is SeniorityRule.required,
    )
    return weights, constraints


class _Kind:
    """One bitmask feature (skills, themes or languages) of a pool's mentors, both ways the
    scorer may encode it: exactly (a bit per word, the words sorted) and folded by hash."""

    def __init__(self, words: Iterable[str], offered: list[frozenset[str]]) -> None:
        self.words = sorted(set(words))
        self.bit = {w: i for i, w in enumerate(self.words)}
        self.exact = (  # none past 64 words: the mentee can only add to them
            np.array([_mask(self.bit, o) for o in offered], dtype=np.uint64)
            if len(self.words) <= 64
            else None
        )
        self.folded = np.array([_hashed(o) for o in offered], dtype=np.uint64)

    def encode(
        self, words: frozenset[str], items: frozenset[str]
    ) -> tuple[npt.NDArray[np.uint64], np.uint64]:
        """The mentors' masks and the mentee's (`items`; `words`: all the mentee brings to
        the vocabulary), in one encoding: exact while every word fits in 64 bits (the
        mentee's new words on bits of their own), else folded, as `build_scorer` decides.
        Overlaps count the same however the bits are numbered."""
        new = sorted(words - self.bit.keys())
        if self.exact is None or len(self.words) + len(new) > 64:
            return self.folded, np.uint64(_hashed(items))
        bits = {**self.bit, **{w: len(self.words) + k for k, w in enumerate(new)}}
        return self.exact, np.uint64(_mask(bits, items))


class MentorPool:
    """A programme's mentors encoded once for scoring one mentee at a time (suggestions):
    `scorer(...)` gives exactly what `build_scorer` gives for that mentee and these mentors
    (the same scores and allowed pairs; tests/unit/test_mentor_pool.py), without encoding
    the mentors again: the vocabularies, codes, ids and arrays that only depend on them are
    made here, and what the mentee changes (its new words, the median level, the longest
    questionnaire or manager chain) is added per call."""

    def __init__(self, mentors: Iterable[Person]) -> None:
        people = sorted(mentors, key=lambda p: p.participant_id)
        self.mentors = people
        self.index = {p.participant_id: j for j, p in enumerate(people)}
        self.ids: dict[str, int] = {}
        for p in people:
            self.ids.setdefault(p.employee_id, len(self.ids))
            for boss in p.manager_chain:
                self.ids.setdefault(boss, len(self.ids))
        every = [p.skills_sought | p.skills_offered for p in people]
        self.skills = _Kind(
            (w for words in every for w in words), [p.skills_offered for p in people]
        )
        self.themes = _Kind((w for p in people for w in p.themes), [p.themes for p in people])
        self.langs = _Kind((w for p in people for w in p.languages), [p.languages for p in people])
        self.q = max((len(p.answers) for p in people), default=0)
        self.answers = np.array(
            [list(p.answers) + [3] * (self.q - len(p.answers)) for p in people], dtype=np.int8
        ).reshape(len(people), self.q)
        self.levels = np.array([p.level or 0 for p in people], dtype=np.int8)
        self.level_known = np.array([p.level is not None for p in people], dtype=bool)
        self.known_levels = [p.level for p in people if p.level is not None]
        self.dept_codes = {
            d: k
            for k, d in enumerate(
                sorted({p.department for p in people if p.department is not None})
            )
        }
        # Unknown departments: codes of their own (the one mentee's is -1).
        self.departments = np.array(
            [
                -(k + 2) if p.department is None else self.dept_codes[p.department]
                for k, p in enumerate(people)
            ],
            dtype=np.int32,
        )
        self.depth = max((len(p.manager_chain) for p in people), default=0)
        self.managers = np.array(
            [
                [self.ids[b] for b in p.manager_chain] + [-1] * (self.depth - len(p.manager_chain))
                for p in people
            ],
            dtype=np.int64,
        ).reshape(len(people), self.depth)
        self.employee_ids = np.array([self.ids[p.employee_id] for p in people], dtype=np.int64)
        self.availability = np.array(
            [sum(1 << s for s in p.availability) for p in people], dtype=np.uint64
        )
        self.tz = np.array([p.tz_offset_h or 0 for p in people], dtype=np.int8)
        self.volunteer = np.array([p.volunteer for p in people], dtype=bool)
        self.capacity = np.array([p.capacity for p in people], dtype=np.int32)

    def scorer(
        self,
        mentee: Person,
        *,
        loads: Mapping[str, int],
        excluded_mentors: Iterable[str],
        rules: ProgramRules,
    ) -> Scorer:
        """The scorer of this one mentee against the pool (capacity: the room left)."""
        ids = dict(self.ids)
        for who in (mentee.employee_id, *mentee.manager_chain):
            ids.setdefault(who, len(ids))
        t_skills, e_skills = self.skills.encode(
            mentee.skills_sought | mentee.skills_offered, mentee.skills_sought
        )
        t_themes, e_themes = self.themes.encode(mentee.themes, mentee.themes)
        t_langs, e_langs = self.langs.encode(mentee.languages, mentee.languages)
        q = max(self.q, len(mentee.answers))
        answers = self.answers
        if q > self.q:
            answers = np.pad(answers, ((0, 0), (0, q - self.q)), constant_values=3)
        levels = self.known_levels + ([] if mentee.level is None else [mentee.level])
        median = int(np.median(levels)) if levels else 0
        depth = max(self.depth, len(mentee.manager_chain))
        managers = self.managers
        if depth > self.depth:
            managers = np.pad(managers, ((0, 0), (0, depth - self.depth)), constant_values=-1)
        if mentee.department is None:
            department = -1
        else:
            department = self.dept_codes.get(mentee.department, len(self.dept_codes))
        mentors = Side(
            ids=self.employee_ids,
            skills=t_skills,
            themes=t_themes,
            languages=t_langs,
            availability=self.availability,
            answers=answers,
            level=np.where(self.level_known, self.levels, median).astype(np.int8),
            department=self.departments,
            tz_offset_h=self.tz,
            volunteer=self.volunteer,
            level_known=self.level_known,
        )
        one = Side(
            ids=np.array([ids[mentee.employee_id]], dtype=np.int64),
            skills=np.array([e_skills], dtype=np.uint64),
            themes=np.array([e_themes], dtype=np.uint64),
            languages=np.array([e_langs], dtype=np.uint64),
            availability=np.array([sum(1 << s for s in mentee.availability)], dtype=np.uint64),
            answers=np.array(
                [list(mentee.answers) + [3] * (q - len(mentee.answers))], dtype=np.int8
            ).reshape(1, q),
            level=np.array([median if mentee.level is None else mentee.level], dtype=np.int8),
            department=np.array([department], dtype=np.int32),
            tz_offset_h=np.array([mentee.tz_offset_h or 0], dtype=np.int8),
            volunteer=np.array([mentee.volunteer], dtype=bool),
            level_known=np.array([mentee.level is not None], dtype=bool),
        )
        held = np.array([loads.get(p.participant_id, 0) for p in self.mentors], dtype=np.int32)
        chain = [ids[b] for b in mentee.manager_chain]
        excluded = sorted(self.index[m] for m in set(excluded_mentors) if m in self.index)
        cohort = Cohort(
            mentees=one,
            mentors=mentors,
            capacity=np.maximum(self.capacity - held, 0).astype(np.int32),
            mentee_managers=np.array([chain + [-1] * (depth - len(chain))], dtype=np.int64).reshape(
                1, depth
            ),
            mentor_managers=managers,
            excluded=np.array([(0, j) for j in excluded], dtype=np.int64).reshape(-1, 2),
        )
        return Scorer(cohort, *_settings(rules))
