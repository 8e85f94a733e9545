"""The engine's scoring: criteria, hard constraints, explanations, block independence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.engine import synthetic
from services.matching.engine.model import CRITERIA, Constraints, Format, Weights
from services.matching.engine.scoring import Scorer
from services.matching.engine.solver import solve


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    weights=st.tuples(*[st.integers(0, 10) for _ in CRITERIA]).filter(any),
    fmt=st.sampled_from(list(Format)),
)
def test_contributions_add_up_to_the_score(seed, weights, fmt) -> None:  # type: ignore[no-untyped-def]
    cohort = synthetic.programme(30, 12, seed=seed)
    scorer = Scorer(cohort, Weights(*weights), Constraints(format=fmt))
    scores, _ = scorer.block(slice(0, 30))
    assert ((scores >= 0) & (scores <= 1 + 1e-6)).all()
    rng = np.random.default_rng(seed)
    for i, j in zip(rng.integers(0, 30, 5), rng.integers(0, 12, 5), strict=True):
        parts = scorer.contributions(int(i), int(j))
        assert set(parts) == set(CRITERIA)
        assert sum(parts.values()) == pytest.approx(float(scores[i, j]), abs=1e-5)


def test_a_pair_scores_the_same_in_any_block() -> None:
    scorer = Scorer(synthetic.programme(200, 50, seed=3), Weights(), Constraints())
    whole, whole_ok = scorer.block(slice(0, 200))
    rows = np.array([150, 3, 77])
    part, part_ok = scorer.block(rows)
    assert (part == whole[rows]).all() and (part_ok == whole_ok[rows]).all()


def test_hard_constraints() -> None:
    cohort = synthetic.programme(300, 60, seed=5)
    # Make mentee 0 also a mentor (same person) and mentor 1 mentee 2's manager.
    cohort.mentors.ids[0] = cohort.mentees.ids[0]
    cohort.mentee_managers[2, 0] = cohort.mentors.ids[1]
    cohort.excluded = np.array([[4, 7]])
    cohort.capacity[9] = 0
    limits = Constraints(max_timezone_gap_h=3)
    scorer = Scorer(cohort, Weights(skills=10), limits)
    scores, allowed = scorer.block(slice(0, 300))
    assert not allowed[0, 0] and not allowed[2, 1] and not allowed[4, 7]
    assert not allowed[:, 9].any()  # no capacity
    e, t = cohort.mentees, cohort.mentors
    shared_lang = (e.languages[:, None] & t.languages[None, :]) != 0
    tz_gap = np.abs(e.tz_offset_h[:, None].astype(int) - t.tz_offset_h[None, :].astype(int))
    skills = (e.skills[:, None] & t.skills[None, :]) != 0  # weight 10: a hard filter
    assert not (allowed & ~shared_lang).any()
    assert not (allowed & (tz_gap > 3)).any()
    assert not (allowed & ~skills).any()
    assert allowed.any()


def test_min_score_and_seniority_direction() -> None:
    cohort = synthetic.programme(100, 30, seed=9)
    _, allowed = Scorer(cohort, Weights(), Constraints(min_score=0.6)).block(slice(0, 100))
    scores, _ = Scorer(cohort, Weights(), Constraints()).block(slice(0, 100))
    assert not (allowed & (scores < 0.6)).any()
    only_seniority = Weights(
        skills=0,
        themes=0,
        similarity=0,
        seniority=1,
        department=0,
        timezone=0,
        availability=0,
        volunteer=0,
    )
    classic, _ = Scorer(cohort, only_seniority, Constraints()).block(slice(0, 100))
    reverse, _ = Scorer(cohort, only_seniority, Constraints(format=Format.reverse)).block(
        slice(0, 100)
    )
    gap = cohort.mentors.level[None, :].astype(int) - cohort.mentees.level[:, None].astype(int)
    assert (classic[gap <= 0] == 0).all() and (classic[gap >= 3] == 1).all()
    assert (reverse[gap >= 0] == 0).all() and (reverse[gap <= -3] == 1).all()


def test_weights_are_checked() -> None:
    with pytest.raises(ValueError, match="skills"):
        Weights(skills=11)
    with pytest.raises(ValueError, match="at least one"):
        Weights(*([0] * len(CRITERIA)))


@pytest.mark.parametrize("cache", [3 * 2**30, 0])
def test_synthetic_programme_is_solved_and_certified_with_or_without_cache(cache: int) -> None:
    cohort = synthetic.programme(400, 80, capacity=5, seed=11)
    scorer = Scorer(cohort, Weights(), Constraints())
    sol = solve(scorer, cache_bytes=cache)
    assert sol.certificate.holds
    scores, allowed = scorer.block(slice(0, 400))
    idx = np.flatnonzero(sol.mentor_of >= 0)
    assert allowed[idx, sol.mentor_of[idx]].all()
    assert (np.bincount(sol.mentor_of[idx], minlength=80) <= 5).all()
    assert sol.total_score == pytest.approx(float(scores[idx, sol.mentor_of[idx]].sum()), abs=1e-3)


@given(st.integers(0, 10_000))
@settings(max_examples=40, deadline=None)
def test_the_pairs_never_made_are_found_as_a_loop_over_people_finds_them(seed: int) -> None:
    """The scorer's exclusions (sorted lookups) against the plain reading: a mentee who is
    also a mentor, a mentor in the mentee's manager chain, a mentee in the mentor's, and the
    pairs given; ids repeated on a side and chains of any length included."""
    rng = np.random.default_rng(seed)
    cohort = synthetic.programme(int(rng.integers(1, 40)), int(rng.integers(1, 12)), seed=seed)
    n, m = len(cohort.mentees), len(cohort.mentors)
    pool = np.concatenate([cohort.mentees.ids, cohort.mentors.ids])
    cohort.mentors.ids[:] = rng.choice(pool, m)  # some mentees mentor too, some ids twice
    cohort.mentee_managers = rng.choice(np.append(pool, -1), (n, int(rng.integers(0, 4))))
    cohort.mentor_managers = rng.choice(np.append(pool, -1), (m, int(rng.integers(0, 4))))
    scorer = Scorer(cohort, Weights(skills=1), Constraints())

    mentor_at = {int(e): j for j, e in enumerate(cohort.mentors.ids)}
    mentee_at = {int(e): i for i, e in enumerate(cohort.mentees.ids)}
    expected = {(int(i), int(j)) for i, j in cohort.excluded}
    for i, e in enumerate(cohort.mentees.ids.tolist()):
        expected |= {(i, mentor_at[e])} if e in mentor_at else set()
        expected |= {
            (i, mentor_at[a]) for a in cohort.mentee_managers[i].tolist() if a in mentor_at
        }
    for j, chain in enumerate(cohort.mentor_managers.tolist()):
        expected |= {(mentee_at[a], j) for a in chain if a in mentee_at}
    ptr, cols = scorer._excl_ptr, scorer._excl_cols
    found = [(i, int(j)) for i in range(n) for j in cols[ptr[i] : ptr[i + 1]]]
    assert found == sorted(expected)
