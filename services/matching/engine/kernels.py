"""Compiled inner loops of the engine (numba): scoring, candidate selection, the dual check.

Why compiled: the engine's cost is a handful of passes over every pair (20 M at 10,000 x
2,000, 500 M at 50,000 x 10,000). In numpy each criterion is its own pass over the block plus
temporaries; here a pair is scored in registers, in one pass, straight into the integer
weight the solver uses. Each kernel is plain scalar code with `fastmath` off: a pair's score
is the same whichever block or thread computed it, which the certificate relies on.

The kernels release the GIL (`nogil`) and are single-threaded: callers spread blocks over a
thread pool, so no numba threading layer is involved and concurrent callers are safe.
`cache=True` keeps the machine code on disk: a new process loads it instead of compiling.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SCALE = 1_000_000  # scores are compared as integers in millionths

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@njit(inline="always", cache=True)
def _popcount(x: np.uint64) -> np.int64:
    # The classic bit-twiddling count; LLVM turns it into one popcnt instruction.
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return np.int64((x * _H01) >> np.uint64(56))


@njit(inline="always", cache=True)
def _ratio(num: np.int64, den: np.int64) -> np.float32:
    if den <= 0:
        return np.float32(0.0)
    return np.float32(num) / np.float32(den)


@njit(inline="always", cache=True)
def _clip01(x: np.float32) -> np.float32:
    if x < 0:
        return np.float32(0.0)
    if x > 1:
        return np.float32(1.0)
    return x


@njit(inline="always", cache=True)
def pair_values(e, t, i, j, out):
    """The eight criterion values of mentee i x mentor j, in CRITERIA order, into `out`.

    `e` and `t` are the two sides' features: (raw attributes, derived per-person values), see
    `scoring.Scorer._features`. Seniority is the raw level gap here, department 1 when equal.
    """
    (e_skills, e_themes, e_langs, e_avail, e_ans, e_level, e_dept, e_tz, e_vol) = e[0]
    (t_skills, t_themes, t_langs, t_avail, t_ans, t_level, t_dept, t_tz, t_vol) = t[0]
    e_skills_inv, e_themes_n, e_avail_n, e_sq = e[1]
    _, t_themes_n, t_avail_n, t_sq = t[1]
    out[0] = np.float32(_popcount(e_skills[i] & t_skills[j])) * e_skills_inv[i]
    common = _popcount(e_themes[i] & t_themes[j])
    out[1] = _ratio(common, e_themes_n[i] + t_themes_n[j] - common)
    dot = np.int64(0)
    for q in range(e_ans.shape[1]):
        dot += np.int64(e_ans[i, q]) * np.int64(t_ans[j, q])
    d2 = e_sq[i] + t_sq[j] - 2 * dot
    max_d2 = np.float32(16 * max(1, e_ans.shape[1]))
    out[2] = np.float32(1.0) - np.float32(d2) / max_d2
    gap = np.float32(t_level[j]) - np.float32(e_level[i])
    out[3] = gap  # direction and scale applied by the caller's `reverse` flag
    out[4] = np.float32(1.0) if e_dept[i] == t_dept[j] else np.float32(0.0)
    tz_gap = abs(np.int64(e_tz[i]) - np.int64(t_tz[j]))
    out[5] = _clip01(np.float32(1.0) - np.float32(tz_gap) / np.float32(12.0))
    common = _popcount(e_avail[i] & t_avail[j])
    out[6] = _ratio(common, min(e_avail_n[i], t_avail_n[j]))
    out[7] = (np.float32(0.5) if e_vol[i] else np.float32(0.0)) + (
        np.float32(0.5) if t_vol[j] else np.float32(0.0)
    )
    return e_langs[i] & t_langs[j], tz_gap


@njit(inline="always", cache=True)
def _criteria(e, t, i, j, rules, vals):
    """pair_values in the programme's direction: seniority by format, department by choice."""
    shared_lang, tz_gap = pair_values(e, t, i, j, vals)
    reverse, cross, max_gap, _ = rules
    gap = -vals[3] if reverse else vals[3]
    vals[3] = _clip01(gap / np.float32(3.0))
    if cross:
        vals[4] = np.float32(1.0) - vals[4]
    return shared_lang != 0 and tz_gap <= max_gap


@njit(cache=True)
def pair_criteria(e, t, i, j, rules):
    """The eight criterion values of one pair (for explanations)."""
    vals = np.empty(8, dtype=np.float32)
    _criteria(e, t, i, j, rules, vals)
    return vals


@njit(inline="always", cache=True)
def _row(e, t, tabs, i, j_end, score_out, ok_out):
    """Score mentee i against mentors [0, j_end): the hot loop.

    The per-mentee terms are read once, outside the loop, and the ratios and the seniority and
    timezone terms come from small tables (`Scorer._tables`), so a pair costs three popcounts,
    an 8-item dot product, four table reads and a few adds: no division, no branch to mispredict.
    """
    (
        e_skills,
        e_themes,
        e_langs,
        e_avail,
        e_ans,
        e_lvl,
        e_tz,
        e_dept,
        e_thn,
        e_avn,
        e_const,
        e_skill_k,
        e_vol,
        e_sq,
    ) = e
    (
        t_skills,
        t_themes,
        t_langs,
        t_avail,
        t_ans,
        t_lvl,
        t_tz,
        t_dept,
        t_thn,
        t_avn,
        t_const,
        t_vol,
        t_sq,
        t_open,
    ) = t
    (
        tab_themes,
        tab_avail,
        tab_sen,
        tab_tz,
        tz_ok,
        k_sim,
        dept_same,
        dept_other,
        hard,
        min_score,
        max_d2,
    ) = tabs
    skills, themes, langs, avail = e_skills[i], e_themes[i], e_langs[i], e_avail[i]
    lvl, tz, dept, thn, avn = e_lvl[i], e_tz[i], e_dept[i], e_thn[i], e_avn[i]
    const, skill_k, vol, sq = e_const[i], e_skill_k[i], e_vol[i], e_sq[i]
    q = e_ans.shape[1]
    ans = e_ans[i]
    h_skills, h_themes, h_sim, h_sen, h_dept, h_avail, h_vol = (
        hard[0],
        hard[1],
        hard[2],
        hard[3],
        hard[4],
        hard[6],
        hard[7],
    )
    for j in range(j_end):
        c_skills = _popcount(skills & t_skills[j])
        c_themes = _popcount(themes & t_themes[j])
        c_avail = _popcount(avail & t_avail[j])
        dot = np.int64(0)
        for x in range(q):
            dot += np.int64(ans[x]) * np.int64(t_ans[j, x])
        same = dept == t_dept[j]
        sen = tab_sen[lvl, t_lvl[j]]
        tzv = tab_tz[tz, t_tz[j]]
        s = const + t_const[j]
        s += np.float32(c_skills) * skill_k
        s += tab_themes[c_themes, thn + t_thn[j]]
        s += k_sim * np.float32(dot)
        s += sen
        s += dept_same if same else dept_other
        s += tzv
        s += tab_avail[c_avail, min(avn, t_avn[j])]
        # Bitwise & and |, not `and`/`or`: no short-circuit branches in the hot loop.
        ok = ((langs & t_langs[j]) != 0) & tz_ok[tz, t_tz[j]] & t_open[j] & (s >= min_score)
        # A criterion weighted 10 is a hard filter: its value must be positive.
        ok &= (not h_skills) | (c_skills > 0)
        ok &= (not h_themes) | (c_themes > 0)
        ok &= (not h_sim) | (sq + t_sq[j] - 2 * dot < max_d2)
        ok &= (not h_sen) | (sen > 0)
        ok &= (not h_avail) | (c_avail > 0)
        ok &= (not h_dept) | ((dept_same if same else dept_other) > 0)
        ok &= (not h_vol) | vol | t_vol[j]
        score_out[j] = max(s, np.float32(0.0))  # the constant terms may round just below 0
        ok_out[j] = ok


@njit(nogil=True, cache=True)
def score_rows(e, t, tabs, rows, excl_ptr, excl_cols, out_score, out_ok):
    """Scores and the allowed mask of the given mentee rows against every mentor.

    A score is rounded to the millionth, the unit the solver optimises in, so the scores
    shown, the solver's weights and the audits agree to the last digit.
    """
    m = out_score.shape[1]
    scale = np.float32(SCALE)
    for r in range(rows.shape[0]):
        i = rows[r]
        _row(e, t, tabs, i, m, out_score[r], out_ok[r])
        for j in range(m):
            out_score[r, j] = np.rint(out_score[r, j] * scale) / scale
        for x in range(excl_ptr[i], excl_ptr[i + 1]):
            out_ok[r, excl_cols[x]] = False


@njit(nogil=True, cache=True)
def weight_rows(e, t, tabs, rows, excl_ptr, excl_cols, out):
    """Integer weights (score in millionths, -1 where not allowed) of the given rows."""
    m = out.shape[1]
    scores = np.empty(m, dtype=np.float32)
    ok = np.empty(m, dtype=np.bool_)
    scale = np.float32(SCALE)
    for r in range(rows.shape[0]):
        i = rows[r]
        _row(e, t, tabs, i, m, scores, ok)
        for j in range(m):
            out[r, j] = np.int32(np.rint(scores[j] * scale)) if ok[j] else -1
        for x in range(excl_ptr[i], excl_ptr[i + 1]):
            out[r, excl_cols[x]] = -1


@njit(nogil=True, cache=True)
def select_candidates(w, sample_cols, q_row, col_threshold):
    """Candidate pairs of a block of integer weights, and each row's left-out bound.

    A pair is kept when it reaches its row's threshold (the q_row-th best of the row's sampled
    columns) or its column's threshold. Every pair left out of row r weighs less than the row
    threshold, so `threshold - 1` bounds them (-1: the row keeps every allowed pair).
    Returns (local rows, columns, weights, left_out per row).
    """
    n_rows, m = w.shape
    k = sample_cols.shape[0]
    q = max(1, min(q_row, k))
    top = np.empty(q, dtype=np.int64)  # the row's q best sampled weights, best first
    thr = np.empty(n_rows, dtype=np.int64)
    count = 0
    for r in range(n_rows):
        top[:] = -1
        for c in range(k):
            x = np.int64(w[r, sample_cols[c]])
            if x > top[q - 1]:
                pos = q - 1
                while pos > 0 and top[pos - 1] < x:
                    top[pos] = top[pos - 1]
                    pos -= 1
                top[pos] = x
        thr[r] = max(top[q - 1], 0)
        count += _count_row(w[r], thr[r], col_threshold)
    # Second pass: the rows are still in cache; counting first keeps the loop branch-light.
    ri = np.empty(count, dtype=np.int64)
    cj = np.empty(count, dtype=np.int64)
    cw = np.empty(count, dtype=np.int64)
    left_out = np.empty(n_rows, dtype=np.int64)
    p = 0
    for r in range(n_rows):
        left_out[r] = thr[r] - 1 if thr[r] > 0 else -1
        row = w[r]
        t = thr[r]
        for j in range(m):
            x = np.int64(row[j])
            if x >= 0 and (x >= t or x >= col_threshold[j]):
                ri[p] = r
                cj[p] = j
                cw[p] = x
                p += 1
    return ri, cj, cw, left_out


@njit(inline="always", cache=True)
def _count_row(row, t, col_threshold):
    count = 0
    for j in range(row.shape[0]):
        x = np.int64(row[j])
        count += (x >= 0) & ((x >= t) | (x >= col_threshold[j]))
    return count


@njit(nogil=True, cache=True)
def row_slack_min(w, v, shifted_u, out):
    """Per row: min over allowed pairs of u_i + v_j - w_ij (the most violated dual constraint).

    int64 throughout: no overflow whatever the bonus. Rows without an allowed pair get 1.
    """
    n_rows, m = w.shape
    for r in range(n_rows):
        best = np.int64(1)
        ur = shifted_u[r]
        for j in range(m):
            x = w[r, j]
            if x >= 0:
                s = ur + v[j] - np.int64(x)
                if s < best:
                    best = s
        out[r] = best


@njit(nogil=True, cache=True)
def violated_pairs(w, v, shifted_u, per_row):
    """The most violated pairs of each row (at most per_row): u_i + v_j < w_ij.

    Returns (local rows, columns, weights), most violated first within a row.
    """
    n_rows, m = w.shape
    cap = n_rows * per_row
    ri = np.empty(cap, dtype=np.int64)
    cj = np.empty(cap, dtype=np.int64)
    cw = np.empty(cap, dtype=np.int64)
    slack = np.empty(m, dtype=np.int64)
    cols = np.empty(m, dtype=np.int64)
    p = 0
    for r in range(n_rows):
        found = 0
        for j in range(m):
            x = w[r, j]
            if x >= 0:
                s = shifted_u[r] + v[j] - np.int64(x)
                if s < 0:
                    slack[found] = s
                    cols[found] = j
                    found += 1
        if found == 0:
            continue
        # Stable order: most violated first, ties by column (deterministic).
        order = np.argsort(slack[:found], kind="mergesort")
        for o in range(min(per_row, found)):
            j = cols[order[o]]
            ri[p] = r
            cj[p] = j
            cw[p] = w[r, j]
            p += 1
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
                updates[b] += 1
                if updates[b] > m + 1:
                    return False
                if not queued[b]:
                    queued[b] = True
                    queue[(head + size) % m] = b
                    size += 1
    return True
