"""Compiled scoring (numba): every pair's score, in one pass, straight into the solver's
integer weight.

Why compiled: the engine's cost is a handful of passes over every pair (20 M at 10,000 x
2,000, 500 M at 50,000 x 10,000). In numpy each criterion is its own pass over the block plus
temporaries; here a pair is scored in registers. Each kernel is plain scalar code with
`fastmath` off: a pair's score is the same whichever block or thread computed it, which the
certificate relies on.

The kernels release the GIL (`nogil`) and are single-threaded: callers spread blocks over a
thread pool, so no numba threading layer is involved and concurrent callers are safe.
`cache=True` keeps the machine code on disk: a new process loads it instead of compiling.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from services.matching.engine.solver_kernels import SCALE, _append, _select_row, _selection_buffers

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

    The plain statement of each criterion, for explanations (one pair at a time). The hot
    loop (`_row`) computes the same sums in a form the vectoriser accepts (per-person terms
    folded, no per-criterion values); tests/unit/test_matching_scoring.py keeps the two equal
    (contributions add up to the score). An attempt to make `_row` call one shared per-pair
    function lost the vectorisation (3 ns -> 11 ns per pair), hence the two forms.

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


@njit(nogil=True, cache=True)
def pair_criteria(e, t, i, j, rules):
    """The eight criterion values of one pair (for explanations)."""
    vals = np.empty(8, dtype=np.float32)
    _criteria(e, t, i, j, rules, vals)
    return vals


@njit(nogil=True, cache=True)
def pairs_criteria(e, t, mentees, mentors, rules):
    """pair_criteria for many pairs at once: row k holds pair (mentees[k], mentors[k])'s."""
    out = np.empty((len(mentees), 8), dtype=np.float32)
    for k in range(len(mentees)):
        _criteria(e, t, mentees[k], mentors[k], rules, out[k])
    return out


@njit(inline="always", cache=True)
def _row(e, t, tabs, i, score_out, ok_out, dot):
    """Score mentee i against every mentor: the hot loop.

    Written for the vectoriser: the questionnaire dot products first (one pass per question
    over a row buffer), then one loop without branches or calls (popcounts, selects,
    divisions), which LLVM turns into SIMD code (16 pairs per AVX-512 instruction). Every lane
    computes exactly what the scalar code would: a pair's score does not depend on where it
    falls in the loop.
    """
    (
        e_skills,
        e_themes,
        e_langs,
        e_avail,
        e_ans,
        e_level,
        e_tz,
        e_dept,
        e_thn,
        e_avn,
        e_const,
        e_skill_k,
        e_vol,
        e_sq,
        e_rule,
    ) = e
    (
        t_skills,
        t_themes,
        t_langs,
        t_avail,
        t_ans_t,
        t_level,
        t_tz,
        t_dept,
        t_thn,
        t_avn,
        t_const,
        t_vol,
        t_sq,
        t_open,
        t_rule,
    ) = t
    (
        norm,
        k_sim,
        sen_sign,
        dept_same,
        dept_other,
        hard,
        max_gap,
        min_score,
        max_d2,
        min_gap,
    ) = tabs
    m = t_skills.shape[0]
    dot[:] = 0
    for x in range(e_ans.shape[1]):
        a = e_ans[i, x]
        for j in range(m):
            dot[j] += a * t_ans_t[x, j]
    skills, themes, langs, avail = e_skills[i], e_themes[i], e_langs[i], e_avail[i]
    level, tz, dept, thn, avn = e_level[i], e_tz[i], e_dept[i], e_thn[i], e_avn[i]
    const, skill_k, vol, sq, rule = e_const[i], e_skill_k[i], e_vol[i], e_sq[i], e_rule[i]
    n_themes, n_sen, n_tz, n_avail = norm[1], norm[3], norm[5], norm[6]
    one, zero = np.float32(1.0), np.float32(0.0)
    h_skills, h_themes, h_sim, h_sen = hard[0], hard[1], hard[2], hard[3]
    h_dept, h_tz, h_avail, h_vol = hard[4], hard[5], hard[6], hard[7]
    for j in range(m):
        c_skills = np.float32(_popcount(skills & t_skills[j]))
        c_themes = np.float32(_popcount(themes & t_themes[j]))
        c_avail = np.float32(_popcount(avail & t_avail[j]))
        union = thn + t_thn[j] - c_themes
        themes_v = c_themes / max(union, one)  # no theme on either side: 0 / 1
        sen_v = min(max(sen_sign * (t_level[j] - level) / np.float32(3.0), zero), one)
        gap = abs(t_tz[j] - tz)
        tz_v = max(one - gap / np.float32(12.0), zero)
        avail_v = c_avail / max(min(avn, t_avn[j]), one)
        same = dept == t_dept[j]
        dept_v = dept_same if same else dept_other
        s = const + t_const[j]
        s += c_skills * skill_k
        s += themes_v * n_themes
        s += k_sim * dot[j]
        s += sen_v * n_sen
        s += dept_v
        s += tz_v * n_tz
        s += avail_v * n_avail
        # Bitwise & and |, not `and`/`or`: no short-circuit branches in the hot loop.
        ok = ((langs & t_langs[j]) != 0) & (gap <= max_gap) & t_open[j] & (s >= min_score)
        # A criterion weighted 10 is a hard filter: its value must be positive.
        ok &= (not h_skills) | (c_skills > 0)
        ok &= (not h_themes) | (c_themes > 0)
        ok &= (not h_sim) | (sq + t_sq[j] - np.float32(2.0) * dot[j] < max_d2)
        ok &= (not h_sen) | (sen_v > 0)
        ok &= (not h_dept) | (dept_v > 0)
        ok &= (not h_tz) | (tz_v > 0)
        ok &= (not h_avail) | (c_avail > 0)
        ok &= (not h_vol) | vol | t_vol[j]
        # The format's seniority rule (min_gap -inf when the programme relaxed it).
        ok &= sen_sign * (t_rule[j] - rule) >= min_gap
        score_out[j] = max(s, zero)  # the constant terms may round just below 0
        ok_out[j] = ok


@njit(nogil=True, cache=True)
def score_rows(e, t, tabs, rows, excl_ptr, excl_cols, out_score, out_ok):
    """Scores and the allowed mask of the given mentee rows against every mentor.

    A score is rounded to the millionth, the unit the solver optimises in, so the scores
    shown, the solver's weights and the audits agree to the last digit.
    """
    m = out_score.shape[1]
    scale = np.float32(SCALE)
    dot = np.empty(m, dtype=np.float32)
    for r in range(rows.shape[0]):
        i = rows[r]
        _row(e, t, tabs, i, out_score[r], out_ok[r], dot)
        for j in range(m):
            out_score[r, j] = np.rint(out_score[r, j] * scale) / scale
        for x in range(excl_ptr[i], excl_ptr[i + 1]):
            out_ok[r, excl_cols[x]] = False


@njit(inline="always", cache=True)
def _weigh_row(e, t, tabs, i, excl_ptr, excl_cols, out_row, scores, ok, dot):
    """Row i's integer weights (score in millionths, -1 where not allowed) into out_row."""
    _row(e, t, tabs, i, scores, ok, dot)
    scale = np.float32(SCALE)
    for j in range(out_row.shape[0]):
        out_row[j] = np.int32(np.rint(scores[j] * scale)) if ok[j] else np.int32(-1)
    for x in range(excl_ptr[i], excl_ptr[i + 1]):
        out_row[excl_cols[x]] = -1


@njit(nogil=True, cache=True)
def weight_rows(e, t, tabs, rows, excl_ptr, excl_cols, out):
    """Integer weights (score in millionths, -1 where not allowed) of the given rows."""
    m = out.shape[1]
    scores = np.empty(m, dtype=np.float32)
    ok = np.empty(m, dtype=np.bool_)
    dot = np.empty(m, dtype=np.float32)
    for r in range(rows.shape[0]):
        _weigh_row(e, t, tabs, rows[r], excl_ptr, excl_cols, out[r], scores, ok, dot)


@njit(nogil=True, cache=True)
def weigh_and_select(e, t, tabs, rows, excl_ptr, excl_cols, out, k, col_threshold):
    """weight_rows and select_candidates in one pass: each row is selected from while it is
    still in the core's cache. Returns what select_candidates does."""
    n_rows, m = out.shape
    scores = np.empty(m, dtype=np.float32)
    ok = np.empty(m, dtype=np.bool_)
    dot = np.empty(m, dtype=np.float32)
    top, cols, ri, cj, cw, left_out = _selection_buffers(n_rows, m, k)
    p = allowed = 0
    for r in range(n_rows):
        _weigh_row(e, t, tabs, rows[r], excl_ptr, excl_cols, out[r], scores, ok, dot)
        thr, count, row_allowed = _select_row(out[r], k, col_threshold, top, cols)
        left_out[r] = thr - 1 if thr > 0 else -1
        allowed += row_allowed
        ri, cj, cw, p = _append(ri, cj, cw, p, r, out[r], cols, count)
    return ri[:p], cj[:p], cw[:p], left_out, allowed
