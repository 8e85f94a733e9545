"""A programme's mentors encoded once (`MentorPool`) score a mentee exactly as the cohort's own
encoding does (`build_scorer`, what a run uses): the same scores and allowed pairs, whatever
the mentee brings that the mentors do not have (new words, past 64 of them, an unknown level
or department, a longer questionnaire, a deeper manager chain, a manager among the mentors),
with loads and ended pairs."""

from __future__ import annotations

import random

import numpy as np
import pytest

from services.matching.cohort import CohortInputs, MentorPool, Person, build_scorer
from shared.contracts.enrollment import ProgramFormat, ProgramRules, SeniorityRule


def _person(rnd: random.Random, i: int, role: str, words: list[str]) -> Person:
    def some(k: int) -> frozenset[str]:
        return frozenset(rnd.sample(words, rnd.randint(0, k)))

    return Person(
        participant_id=f"{role}-{i}",
        employee_id=f"emp-{role}-{i}",
        skills_offered=some(4),
        skills_sought=some(4),
        languages=frozenset(rnd.sample(["fr", "en", "de", "es"], rnd.randint(1, 2))),
        level=rnd.choice([None, 1, 2, 3, 4, 5, 6]),
        department=rnd.choice([None, "Eng", "Ops", "HR", "Sales"]),
        capacity=rnd.randint(1, 4),
        volunteer=rnd.random() < 0.5,
        themes=some(3),
        answers=tuple(rnd.randint(1, 5) for _ in range(rnd.randint(0, 6))),
        availability=frozenset(rnd.sample(range(42), rnd.randint(0, 6))),
        tz_offset_h=rnd.choice([None, -3, 0, 1, 2, 5]),
        manager_chain=tuple(f"boss-{rnd.randint(0, 30)}" for _ in range(rnd.randint(0, 3))),
    )


CASES = [
    # (seed, mentors, words the mentors use, what the mentee adds)
    (1, 60, 30, "nothing"),
    (2, 60, 30, "new words"),
    (3, 200, 63, "new words past 64"),  # the mentors fit 64 bits, with the mentee they do not
    (4, 200, 90, "nothing"),  # folded by hash from the start
    (5, 60, 30, "unknowns"),
    (6, 60, 30, "longer"),
    (7, 60, 30, "a mentor's report"),
]


@pytest.mark.parametrize(("seed", "n", "vocabulary", "adds"), CASES)
@pytest.mark.parametrize(
    "rules",
    [
        ProgramRules(),
        ProgramRules(
            format=ProgramFormat.reverse,
            cross_department=True,
            seniority_rule=SeniorityRule.required,
            max_timezone_gap_h=3,
            min_score=0.2,
        ),
    ],
)
def test_a_pool_scores_as_the_cohort_encoding_does(
    seed: int, n: int, vocabulary: int, adds: str, rules: ProgramRules
) -> None:
    rnd = random.Random(seed)
    words = [f"w{k}" for k in range(vocabulary)]
    mentors = [_person(rnd, j, "mentor", words) for j in range(n)]
    rnd.shuffle(mentors)
    mentee = _person(rnd, 0, "mentee", words)
    if adds in ("new words", "new words past 64"):
        mentee = Person(**{**vars(mentee), "skills_sought": mentee.skills_sought | {"rust", "go"},
                           "themes": mentee.themes | {"new-theme"}})  # fmt: skip
    elif adds == "unknowns":
        mentee = Person(**{**vars(mentee), "level": None, "department": "Legal"})
    elif adds == "longer":
        mentee = Person(**{**vars(mentee), "answers": (5,) * 9,
                           "manager_chain": tuple(f"boss-{k}" for k in range(6))})  # fmt: skip
    elif adds == "a mentor's report":
        mentee = Person(**{**vars(mentee), "manager_chain": (mentors[0].employee_id,)})
    loads = {m.participant_id: rnd.randint(0, 3) for m in mentors[::3]}
    ended = {m.participant_id for m in mentors[1::7]}

    pool = MentorPool(mentors)
    mine = pool.scorer(mentee, loads=loads, excluded_mentors=ended, rules=rules)
    theirs = build_scorer(
        CohortInputs(
            mentees=[mentee],
            mentors=sorted(mentors, key=lambda p: p.participant_id),
            loads=loads,
            excluded={(mentee.participant_id, m) for m in ended},
            rules=rules,
        )
    )
    (got, got_ok), (want, want_ok) = mine.block(slice(0, 1)), theirs.block(slice(0, 1))
    assert np.array_equal(got, want) and np.array_equal(got_ok, want_ok)
    assert np.array_equal(mine.capacity, theirs.capacity)
    assert want_ok.any() and not want_ok.all()  # the case decides something
