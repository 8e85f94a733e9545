from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.engine.scoring import ArraySource
from services.matching.engine.solver import solve
from services.matching.engine.stable import blocking_pairs, deferred_acceptance


@st.composite
def markets(draw):  # type: ignore[no-untyped-def]
    n, m = draw(st.integers(0, 10)), draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mentee = rng.random((n, m)).astype(np.float32)  # no ties: the stable matching is exact
    mentor = rng.random((n, m)).astype(np.float32) if draw(st.booleans()) else None
    allowed = rng.random((n, m)) < 0.8
    cap = rng.integers(0, 3, size=m)
    return mentee, mentor, allowed, cap


def _reference_da(  # type: ignore[no-untyped-def]
    mentee_scores,
    allowed,
    capacity,
    mentor_scores=None,
):
    """The round-by-round Gale-Shapley this engine first shipped (pure Python): the kernel
    must find the same mentee-optimal matching, ties included."""
    n, m = mentee_scores.shape
    theirs = mentee_scores if mentor_scores is None else mentor_scores
    # Each mentee's allowed mentors, best first (stable sort: ties by mentor index).
    prefs = np.argsort(-np.where(allowed, mentee_scores, -np.inf), axis=1, kind="stable")
    n_allowed = allowed.sum(axis=1)
    nxt = np.zeros(n, dtype=np.int64)  # next position in each mentee's list
    mentor_of = np.full(n, -1, dtype=np.int64)
    held: list[list[int]] = [[] for _ in range(m)]
    free = [i for i in range(n) if n_allowed[i] > 0]
    while free:
        proposals: dict[int, list[int]] = {}
        for i in free:
            j = int(prefs[i, nxt[i]])
            nxt[i] += 1
            proposals.setdefault(j, []).append(i)
        rejected: list[int] = []
        for j, suitors in proposals.items():
            pool = held[j] + suitors
            # The mentor keeps its best `capacity` mentees (ties: lower index first).
            column = theirs[:, j]
            pool.sort(key=lambda i: (-float(column[i]), i))
            keep, drop = pool[: capacity[j]], pool[capacity[j] :]
            held[j] = keep
            for i in keep:
                mentor_of[i] = j
            for i in drop:
                mentor_of[i] = -1
                rejected.append(i)
        free = [i for i in rejected if nxt[i] < n_allowed[i]]
    return mentor_of


@settings(max_examples=80, deadline=None)
@given(market=markets(), tied=st.booleans())
def test_compiled_deferred_acceptance_equals_the_reference(market, tied) -> None:  # type: ignore[no-untyped-def]
    mentee, mentor, allowed, cap = market
    if tied:  # few distinct values: ties break by index on both sides
        mentee = np.round(mentee * 3) / 3
        mentor = None if mentor is None else np.round(mentor * 3) / 3
    got = deferred_acceptance(mentee, allowed, cap, mentor)
    assert got.tolist() == _reference_da(mentee, allowed, cap, mentor).tolist()


@settings(max_examples=120, deadline=None)
@given(market=markets())
def test_deferred_acceptance_is_feasible_and_stable(market) -> None:  # type: ignore[no-untyped-def]
    mentee, mentor, allowed, cap = market
    mentor_of = deferred_acceptance(mentee, allowed, cap, mentor)
    idx = np.flatnonzero(mentor_of >= 0)
    assert allowed[idx, mentor_of[idx]].all()
    assert (np.bincount(mentor_of[idx], minlength=len(cap)) <= cap).all()
    assert blocking_pairs(mentee, allowed, cap, mentor_of, mentor) == 0


def test_audit_counts_blocking_pairs_of_an_optimal_matching() -> None:
    # The optimum (0.8 + 0.7 + 0.8) leaves mentee 0 and mentor 0 both wanting each other.
    scores = np.array([[0.9, 0.8, 0.1], [0.85, 0.2, 0.7], [0.8, 0.6, 0.5]], dtype=np.float32)
    cap = np.array([1, 1, 1])
    allowed = np.ones_like(scores, dtype=bool)
    optimal = solve(ArraySource(scores, cap)).mentor_of
    assert blocking_pairs(scores, allowed, cap, optimal) > 0
    stable = deferred_acceptance(scores, allowed, cap)
    assert blocking_pairs(scores, allowed, cap, stable) == 0
    assert stable.tolist() == [0, 2, 1]  # 0.9 + 0.7 + 0.6: stable, but 0.1 below the optimum
    assert optimal.tolist() == [1, 2, 0]


@settings(max_examples=60, deadline=None)
@given(market=markets())
def test_streamed_audit_equals_the_dense_one(market) -> None:  # type: ignore[no-untyped-def]
    from services.matching.engine.stable import blocking_pairs_streamed

    scores, _, allowed, cap = market  # symmetric preferences: the pair's score on both sides
    source = ArraySource(scores, cap, allowed)
    for mentor_of in (solve(source).mentor_of, deferred_acceptance(scores, allowed, cap)):
        own = np.full(len(mentor_of), np.nan)
        idx = np.flatnonzero(mentor_of >= 0)
        own[idx] = scores[idx, mentor_of[idx]]
        dense = blocking_pairs(scores, allowed & (cap > 0)[None, :], cap, mentor_of)
        assert blocking_pairs_streamed(source, mentor_of, own) == dense


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), tied=st.booleans())
def test_compiled_deferred_acceptance_equals_the_reference_on_long_lists(seed, tied) -> None:  # type: ignore[no-untyped-def]
    """Many mentors, one seat each: mentees go far down their lists (preferences are read
    eight at a time, so this crosses several batches)."""
    rng = np.random.default_rng(seed)
    n, m = 60, 30
    mentee = rng.random((n, m)).astype(np.float32)
    if tied:
        mentee = (np.round(mentee * 4) / 4).astype(np.float32)
    allowed = rng.random((n, m)) < 0.9
    cap = np.ones(m, dtype=np.int64)
    got = deferred_acceptance(mentee, allowed, cap)
    assert got.tolist() == _reference_da(mentee, allowed, cap).tolist()
    assert blocking_pairs(mentee, allowed, cap, got) == 0
