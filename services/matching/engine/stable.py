"""Stability: mentee-proposing deferred acceptance with capacities, and the blocking-pair audit.

Some programmes prefer a stable matching (no mentee and mentor who would both rather be
together than with whom they were given) over the maximum total. Preferences come from scores:
a mentee prefers higher-scoring mentors; a mentor prefers higher-scoring mentees (by default
the same scores; a programme may give mentors their own). Ties break by index, stably.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from services.matching.engine.solver import ScoreSource

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


def deferred_acceptance(
    mentee_scores: F32,
    allowed: npt.NDArray[np.bool_],
    capacity: I64,
    mentor_scores: F32 | None = None,
) -> I64:
    """Mentee-optimal stable assignment (Gale-Shapley with capacities); returns mentor_of."""
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


def blocking_pairs(
    mentee_scores: F32,
    allowed: npt.NDArray[np.bool_],
    capacity: I64,
    mentor_of: I64,
    mentor_scores: F32 | None = None,
) -> int:
    """How many allowed pairs would both rather be together than with their assignment."""
    n, m = mentee_scores.shape
    theirs = mentee_scores if mentor_scores is None else mentor_scores
    matched = mentor_of >= 0
    rows = np.arange(n)
    own = np.full(n, -np.inf)
    own[matched] = mentee_scores[rows[matched], mentor_of[matched]]
    load = np.bincount(mentor_of[matched], minlength=m)
    # A mentor with room accepts anyone; a full one only someone it likes more than its worst.
    worst = np.full(m, np.inf)
    np.minimum.at(worst, mentor_of[matched], theirs[rows[matched], mentor_of[matched]])
    threshold = np.where(load < capacity, -np.inf, worst)
    wants = allowed & (mentee_scores > own[:, None]) & (theirs > threshold[None, :])
    wants[rows[matched], mentor_of[matched]] = False
    return int(wants.sum())


def blocking_pairs_streamed(
    source: ScoreSource, mentor_of: I64, own: npt.NDArray[np.float64]
) -> int:
    """The same audit block by block, for symmetric scores (both sides rank by the pair's
    score): no dense matrix, so it runs at any programme size."""
    m = source.m
    matched = mentor_of >= 0
    own_score = np.where(matched, own, -np.inf)
    load = np.bincount(mentor_of[matched], minlength=m)
    worst = np.full(m, np.inf)
    np.minimum.at(worst, mentor_of[matched], own_score[matched])
    threshold = np.where(load < source.capacity, -np.inf, worst)
    total = 0
    for rows in source.blocks():
        scores, allowed = source.block(rows)
        wants = allowed & (scores > own_score[rows][:, None]) & (scores > threshold[None, :])
        total += int(wants.sum())  # a pair is never better than itself: no self-exclusion
    return total
