from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.engine import synthetic
from services.matching.engine.explain import (
    Explanation,
    Option,
    _best,
    explain,
    explain_all,
    replacements,
    suggestions,
)
from services.matching.engine.model import Constraints, Side, Weights
from services.matching.engine.scoring import Scorer
from services.matching.engine.solver import solve


@pytest.fixture(scope="module")
def cohort_solution():  # type: ignore[no-untyped-def]
    scorer = Scorer(synthetic.programme(600, 100, capacity=3, seed=21), Weights(), Constraints())
    return scorer, solve(scorer)


def test_explanations_add_up_and_say_why_not_the_favourite(cohort_solution) -> None:  # type: ignore[no-untyped-def]
    scorer, sol = cohort_solution
    scores, allowed = scorer.block(slice(0, scorer.n))
    seen_counterfactual = 0
    for i in range(0, scorer.n, 7):
        ex = explain(scorer, sol, i)
        if ex.chosen is not None:
            assert ex.chosen.mentor == sol.mentor_of[i]
            assert sum(ex.chosen.contributions.values()) == pytest.approx(ex.chosen.score, abs=1e-5)
        if ex.top_choice is not None:
            seen_counterfactual += 1
            j = ex.top_choice.mentor
            assert ex.top_choice.score == pytest.approx(float(scores[i][allowed[i]].max()))
            # Only a full mentor can be refused in an optimum, and its slot is worth the gain.
            assert (sol.mentor_of == j).sum() == scorer.capacity[j]
            gain = ex.top_choice.score - (ex.chosen.score if ex.chosen else 0.0)
            assert sol.slot_value[j] >= gain - 1e-6
            assert ex.why_not_top_choice and "that mentor is full" in ex.why_not_top_choice
        if ex.next_best is not None:
            assert ex.next_best.mentor != sol.mentor_of[i]
    assert seen_counterfactual > 0


def test_suggestions_respect_room_and_order(cohort_solution) -> None:  # type: ignore[no-untyped-def]
    scorer, sol = cohort_solution
    load = np.bincount(sol.mentor_of[sol.mentor_of >= 0], minlength=scorer.m)
    got = suggestions(scorer, 5, load=load, n=5)
    assert len(got) <= 5
    assert all(load[o.mentor] < scorer.capacity[o.mentor] for o in got)
    assert [o.score for o in got] == sorted((o.score for o in got), reverse=True)
    empty = suggestions(scorer, 5, load=scorer.capacity.copy(), n=5)
    assert empty == []  # everyone is full


def test_minimal_change_replacements_touch_nobody_else(cohort_solution) -> None:  # type: ignore[no-untyped-def]
    scorer, sol = cohort_solution
    leaving = int(sol.mentor_of[0])  # mentee 0's mentor leaves the programme
    orphans = np.flatnonzero(sol.mentor_of == leaving)
    load = np.bincount(sol.mentor_of[sol.mentor_of >= 0], minlength=scorer.m)
    load[leaving] = scorer.capacity[leaving]  # no room there any more
    new = replacements(scorer, orphans, load=load, excluded=[(int(i), leaving) for i in orphans])
    assert set(new) <= set(orphans.tolist())
    assert leaving not in new.values()
    after = load.copy()
    for j in new.values():
        after[j] += 1
    assert (
        after[np.arange(scorer.m) != leaving] <= scorer.capacity[np.arange(scorer.m) != leaving]
    ).all()


def test_one_mentee_answers_are_fast_at_10000_by_2000() -> None:
    """Not a timed assertion: prints the figure for the benchmark notes."""
    scorer = Scorer(synthetic.programme(10_000, 2_000, seed=3), Weights(), Constraints())
    load = np.zeros(scorer.m, dtype=np.int64)
    t = time.perf_counter()
    got = suggestions(scorer, 42, load=load, n=10)
    t_suggest = time.perf_counter() - t
    t = time.perf_counter()
    new = replacements(scorer, [42], load=load)
    t_replace = time.perf_counter() - t
    print(f"\nsuggestions {t_suggest * 1000:.1f} ms, one replacement {t_replace * 1000:.1f} ms")
    assert len(got) == 10 and 42 in new


def _rows(side: Side, rows: np.ndarray) -> Side:
    """These rows of a side, ids made distinct again."""
    picked = {
        f.name: getattr(side, f.name)[rows]
        for f in dataclasses.fields(side)
        if getattr(side, f.name) is not None
    }
    picked["ids"] = side.ids[0] + np.arange(len(rows), dtype=np.int64)
    return dataclasses.replace(side, **picked)


def _explained_one_by_one(scorer: Scorer, sol, i: int) -> Explanation:  # type: ignore[no-untyped-def]
    """The plain reading of an explanation, one mentee and one pair at a time."""
    scores, allowed = scorer.block(np.array([i]))
    scores, allowed = scores[0], allowed[0]

    def option(j: int) -> Option:
        return Option(j, float(scores[j]), scorer.contributions(i, j))

    ranked = [int(j) for j in _best(scores, allowed, 2)]
    mentor = int(sol.mentor_of[i])
    chosen = option(mentor) if mentor >= 0 else None
    top = option(ranked[0]) if ranked and ranked[0] != mentor else None
    why = None
    if top is not None:
        gain = top.score - (float(scores[mentor]) if mentor >= 0 else 0.0)
        if not len(sol.slot_value):
            why = "stable"
        elif sol.slot_value[top.mentor] > 1:
            why = "without any mentor"
        else:
            worth = sol.slot_value[top.mentor]
            why = f"adds {worth:.4f} to the cohort's total as matched, at least the {gain:.4f}"
    others = [j for j in ranked if j != mentor]
    return Explanation(i, chosen, top, why, option(others[0]) if others else None)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    mentees=st.integers(1, 80),
    mentors=st.integers(1, 12),
    capacity=st.integers(1, 3),
    stable=st.booleans(),
    twins=st.booleans(),
)
def test_explanations_of_a_whole_cohort_are_each_mentee_explained_alone(
    seed: int, mentees: int, mentors: int, capacity: int, stable: bool, twins: bool
) -> None:
    """explain_all ranks every row at once and scores every option's pair in one pass: the
    same explanations as the plain reading, mentee by mentee (ties between mentors' scores
    broken by index, the unmatched, a stable matching's reason)."""
    cohort = synthetic.programme(mentees, mentors, capacity=capacity, seed=seed)
    if twins:  # every mentor twice: each mentee's scores tie in pairs
        twice = np.repeat(np.arange(mentors), 2)
        cohort = dataclasses.replace(
            cohort,
            mentors=_rows(cohort.mentors, twice),
            capacity=cohort.capacity[twice],
            mentor_managers=cohort.mentor_managers[twice],
            excluded=np.empty((0, 2), dtype=np.int64),
        )
    scorer = Scorer(cohort, Weights(), Constraints())
    sol = solve(scorer)
    if stable:
        sol = dataclasses.replace(sol, slot_value=np.empty(0))
    everyone = np.arange(scorer.n, dtype=np.int64)
    plain_ones = [_explained_one_by_one(scorer, sol, i) for i in range(scorer.n)]
    for got, plain in zip(explain_all(scorer, sol, everyone), plain_ones, strict=True):
        assert (got.mentee, got.chosen, got.top_choice, got.next_best) == (
            plain.mentee, plain.chosen, plain.top_choice, plain.next_best
        )  # fmt: skip
        assert (got.why_not_top_choice is None) == (plain.why_not_top_choice is None)
        if plain.why_not_top_choice is not None:
            assert plain.why_not_top_choice in got.why_not_top_choice
        assert explain(scorer, sol, got.mentee) == got
