"""Compiled loops of the solver (numba): candidate selection, the certificate's check, least
mentor prices, column thresholds. Same rules as scoring_kernels: scalar code, `nogil`,
single-threaded, cached on disk.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SCALE = 1_000_000  # scores are compared as integers in millionths


# --- candidate selection -------------------------------------------------------------------
# A pair is a candidate when it is among its row's k best (ties included) or reaches its
# column's threshold. Every pair left out of row r weighs less than the row's k-th best, so
# that minus one bounds them (-1: the row keeps every allowed pair); the solver's check relies
# on that bound when it does not keep the weights.


@njit(inline="always", cache=True)
def _select_row(row, k, col_threshold, top, cols):
    """(threshold, count, allowed): the row's candidate columns into cols[:count], and how
    many of its pairs are allowed."""
    top[:] = -1  # the row's k best so far, best first
    last = top.shape[0] - 1
    allowed = np.int64(0)
    for j in range(row.shape[0]):
        x = np.int64(row[j])
        allowed += x >= 0
        if x > top[last]:  # rare after the first few columns: one compare per pair
            pos = last
            while pos > 0 and top[pos - 1] < x:
                top[pos] = top[pos - 1]
                pos -= 1
            top[pos] = x
    thr = max(top[last], 0)
    count = 0
    for j in range(row.shape[0]):
        x = np.int64(row[j])
        cols[count] = j  # written always, kept when the pair qualifies: no branch
        count += (x >= 0) & ((x >= thr) | (x >= col_threshold[j]))
    return thr, count, allowed


@njit(inline="always", cache=True)
def _selection_buffers(n_rows, m, k):
    """(top, cols, rows, columns, weights, left_out) for selecting from n_rows rows; the
    output arrays start at a guess (a few candidates per row) and grow in _append."""
    size = max(64, n_rows * 4 * max(1, k))
    return (
        np.empty(max(1, k), dtype=np.int64),
        np.empty(m, dtype=np.int64),
        np.empty(size, dtype=np.int64),
        np.empty(size, dtype=np.int64),
        np.empty(size, dtype=np.int64),
        np.empty(n_rows, dtype=np.int64),
    )


@njit(inline="always", cache=True)
def _append(ri, cj, cw, p, r, row, cols, count):
    if p + count > ri.shape[0]:  # grow: the thresholds only estimate the count
        size = max(2 * ri.shape[0], p + count)
        ri2 = np.empty(size, dtype=np.int64)
        cj2 = np.empty(size, dtype=np.int64)
        cw2 = np.empty(size, dtype=np.int64)
        ri2[:p], cj2[:p], cw2[:p] = ri[:p], cj[:p], cw[:p]
        ri, cj, cw = ri2, cj2, cw2
    for c in range(count):
        ri[p + c] = r
        cj[p + c] = cols[c]
        cw[p + c] = row[cols[c]]
    return ri, cj, cw, p + count


@njit(nogil=True, cache=True)
def select_candidates(w, k, col_threshold):
    """The candidates of a block of integer weights: (local rows, columns, weights, left_out
    per row, number of allowed pairs)."""
    n_rows, m = w.shape
    top, cols, ri, cj, cw, left_out = _selection_buffers(n_rows, m, k)
    p = allowed = 0
    for r in range(n_rows):
        thr, count, row_allowed = _select_row(w[r], k, col_threshold, top, cols)
        left_out[r] = thr - 1 if thr > 0 else -1
        allowed += row_allowed
        ri, cj, cw, p = _append(ri, cj, cw, p, r, w[r], cols, count)
    return ri[:p], cj[:p], cw[:p], left_out, allowed


# --- the certificate's check -----------------------------------------------------------------


@njit(nogil=True, cache=True)
def violated_pairs(w, v, shifted_u, per_row):
    """The most violated pairs of each row (at most per_row): u_i + v_j < w_ij.

    A first pass per row takes max_j (w_ij - v_j) over allowed pairs, branch-free so that it
    vectorises; only a row where that exceeds u_i is searched pair by pair. int64 throughout:
    no overflow whatever the bonus. Returns (local rows, columns, weights), most violated
    first within a row, ties by column.
    """
    n_rows, m = w.shape
    floor = np.int64(-(2**62))
    slack = np.empty(m, dtype=np.int64)
    cols = np.empty(m, dtype=np.int64)
    kept = np.empty(m, dtype=np.int64)
    ri = np.empty(0, dtype=np.int64)
    cj = np.empty(0, dtype=np.int64)
    cw = np.empty(0, dtype=np.int64)
    p = 0
    for r in range(n_rows):
        row = w[r]
        best = floor
        for j in range(m):
            x = np.int64(row[j])
            best = max(best, x - v[j] if x >= 0 else floor)
        if best <= shifted_u[r]:
            continue
        found = 0
        for j in range(m):
            x = np.int64(row[j])
            if x >= 0:
                s = shifted_u[r] + v[j] - x
                if s < 0:
                    slack[found] = s
                    cols[found] = j
                    found += 1
        order = np.argsort(slack[:found], kind="mergesort")
        keep = min(per_row, found)
        for o in range(keep):
            kept[o] = cols[order[o]]
        ri, cj, cw, p = _append(ri, cj, cw, p, r, row, kept, keep)
    return ri[:p], cj[:p], cw[:p]


@njit(nogil=True, cache=True)
def least_prices(ptr, adj_b, adj_d, v):
    """Least mentor prices v (in place, from the given lower bounds) with v_b >= v_a + d for
    every arc a -> b of the CSR (ptr, adj_b, adj_d): label-correcting, queue-based
    Bellman-Ford. Returns False when the prices keep rising (a positive cycle: the flow the
    arcs came from is not optimal)."""
    m = v.shape[0]
    queue = np.empty(m, dtype=np.int64)  # circular; a mentor is in it at most once
    queued = np.ones(m, dtype=np.bool_)
    for j in range(m):
        queue[j] = j
    head, size = 0, m
    updates = np.zeros(m, dtype=np.int64)
    while size > 0:
        a = queue[head]
        head = (head + 1) % m
        size -= 1
        queued[a] = False
        for e in range(ptr[a], ptr[a + 1]):
            b = adj_b[e]
            cand = v[a] + adj_d[e]
            if cand > v[b]:
                v[b] = cand
                # Counted when b joins the queue (a pass of its own), not per raise: parallel
                # arcs a -> b (one per mentee of a) may raise v[b] several times in one scan,
                # which once read as a positive cycle on an optimal flow.
                if not queued[b]:
                    updates[b] += 1
                    if updates[b] > m + 1:
                        return False
                    queued[b] = True
                    queue[(head + size) % m] = b
                    size += 1
    return True


@njit(nogil=True, cache=True)
def column_tops(w, q):
    """Per column j of the integer weights, its q[j] largest, best first, -1 padded: an array
    of max(q) rows. One pass in row order, each column keeping its best so far."""
    n_rows, m = w.shape
    depth = max(1, q.max())
    tops = np.full((depth, m), -1, dtype=np.int64)
    for r in range(n_rows):
        for j in range(m):
            x = np.int64(w[r, j])
            last = max(1, q[j]) - 1
            if x > tops[last, j]:  # rare after the first rows
                pos = last
                while pos > 0 and tops[pos - 1, j] < x:
                    tops[pos, j] = tops[pos - 1, j]
                    pos -= 1
                tops[pos, j] = x
    return tops
