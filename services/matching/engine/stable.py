"""Stability: mentee-proposing deferred acceptance with capacities, and the blocking-pair audit.

Some programmes prefer a stable matching (no mentee and mentor who would both rather be
together than with whom they were given) over the maximum total. Preferences come from scores:
a mentee prefers higher-scoring mentors; a mentor prefers higher-scoring mentees (by default
the same scores; a programme may give mentors their own). Ties break by index, stably.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

from services.matching.engine.solver import ScoreSource

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


def deferred_acceptance(
    mentee_scores: F32,
    allowed: npt.NDArray[np.bool_],
    capacity: I64,
    mentor_scores: F32 | None = None,
) -> I64:
    """Mentee-optimal stable assignment (Gale-Shapley with capacities); returns mentor_of.

    Ties break by index, so preferences are strict and the mentee-optimal stable matching is
    unique: the order in which proposals are made does not change it, and the compiled loop
    makes them one at a time.
    """
    theirs = mentee_scores if mentor_scores is None else mentor_scores
    return _deferred_acceptance(  # type: ignore[no-any-return]
        np.ascontiguousarray(mentee_scores, dtype=np.float32),
        np.ascontiguousarray(allowed, dtype=np.bool_),
        np.asarray(capacity, dtype=np.int64),
        np.ascontiguousarray(theirs, dtype=np.float32),
    )


@njit(nogil=True, cache=True)
def _deferred_acceptance(scores, allowed, capacity, theirs):
    n, m = scores.shape
    # Each mentee's allowed mentors, best first (a stable sort: ties by mentor index).
    ptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        ptr[i + 1] = ptr[i] + allowed[i].sum()
    prefs = np.empty(ptr[n], dtype=np.int64)
    for i in range(n):
        idx = np.flatnonzero(allowed[i])
        order = np.argsort(-scores[i, idx], kind="mergesort")
        prefs[ptr[i] : ptr[i + 1]] = idx[order]
    width = max(1, capacity.max()) if m else 1
    held = np.full((m, width), -1, dtype=np.int64)
    count = np.zeros(m, dtype=np.int64)
    mentor_of = np.full(n, -1, dtype=np.int64)
    nxt = ptr[:-1].copy()
    free = np.empty(n, dtype=np.int64)
    size = 0
    for i in range(n - 1, -1, -1):
        free[size] = i
        size += 1
    while size > 0:
        size -= 1
        i = free[size]
        if nxt[i] == ptr[i + 1]:
            continue  # every allowed mentor turned them down: unmatched
        j = prefs[nxt[i]]
        nxt[i] += 1
        if count[j] < capacity[j]:
            held[j, count[j]] = i
            count[j] += 1
            mentor_of[i] = j
            continue
        # Full: the mentor keeps its preferred mentees (higher score, then lower index).
        worst = 0
        for s in range(1, count[j]):
            a, b = held[j, s], held[j, worst]
            if theirs[a, j] < theirs[b, j] or (theirs[a, j] == theirs[b, j] and a > b):
                worst = s
        w = held[j, worst]
        if count[j] > 0 and (
            theirs[i, j] > theirs[w, j] or (theirs[i, j] == theirs[w, j] and i < w)
        ):
            held[j, worst] = i
            mentor_of[i] = j
            mentor_of[w] = -1
            free[size] = w
        else:
            free[size] = i
        size += 1
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
