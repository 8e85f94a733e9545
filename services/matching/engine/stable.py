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


_BATCH = 8


@njit(inline="always", cache=True)
def _next_batch(row, ok, last_s, last_j, i, out):
    """The mentee's next _BATCH allowed mentors after (last_s[i], last_j[i]), best first, into
    `out` (-1 padded); moves the bookmark; True when the row has no more after them."""
    out[:] = -1
    top_s = np.full(_BATCH, -np.inf, dtype=np.float32)
    found = 0
    ls, lj = last_s[i], last_j[i]
    for j in range(row.shape[0]):
        if not ok[j]:
            continue
        sj = row[j]
        if sj > ls or (sj == ls and j <= lj):
            continue  # already proposed to (or before the bookmark)
        # insert (sj, j) into the sorted batch if it beats its last entry
        if found == _BATCH and (sj < top_s[_BATCH - 1] or (sj == top_s[_BATCH - 1])):
            continue  # equal scores: the earlier (lower) index, already in, comes first
        k = min(found, _BATCH - 1)
        while k > 0 and (top_s[k - 1] < sj):
            top_s[k] = top_s[k - 1]
            out[k] = out[k - 1]
            k -= 1
        top_s[k] = sj
        out[k] = j
        found = min(found + 1, _BATCH)
    if found:
        last_s[i], last_j[i] = top_s[found - 1], out[found - 1]
    return found < _BATCH


@njit(nogil=True, cache=True)
def _deferred_acceptance(scores, allowed, capacity, theirs):
    n, m = scores.shape
    # Preferences are read lazily, _BATCH at a time (most mentees propose a few times only):
    # a mentee's next mentors are the best allowed ones after the last it took, in the order
    # (higher score, then lower index) a stable sort would give.
    batch = np.full((n, _BATCH), -1, dtype=np.int64)
    pos = np.full(n, _BATCH, dtype=np.int64)  # next place in the batch; _BATCH: refill
    last_s = np.full(n, np.inf, dtype=np.float32)
    last_j = np.full(n, -1, dtype=np.int64)
    done = np.zeros(n, dtype=np.bool_)  # no allowed mentor left
    width = max(1, capacity.max()) if m else 1
    held = np.full((m, width), -1, dtype=np.int64)
    count = np.zeros(m, dtype=np.int64)
    mentor_of = np.full(n, -1, dtype=np.int64)
    free = np.empty(n, dtype=np.int64)
    size = 0
    for i in range(n - 1, -1, -1):
        free[size] = i
        size += 1
    while size > 0:
        size -= 1
        i = free[size]
        if pos[i] == _BATCH or batch[i, pos[i]] < 0:
            if done[i]:
                continue  # every allowed mentor turned them down: unmatched
            done[i] = _next_batch(scores[i], allowed[i], last_s, last_j, i, batch[i])
            pos[i] = 0
            if batch[i, 0] < 0:
                continue
        j = batch[i, pos[i]]
        pos[i] += 1
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
