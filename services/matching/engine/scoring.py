"""Vectorised compatibility scores, computed block by block (a block = some mentee rows).

Every criterion yields a value in [0, 1] per pair; the score is their weighted mean, so it is
in [0, 1] too and each criterion's contribution is `weight * value / sum(weights)`. The
arithmetic runs in compiled kernels (scoring_kernels.py), one pair at a time in a fixed order,
so a pair's score does not depend on which block computed it (the solver's certificate relies
on that). The solver reads integer weights (millionths) straight from `weight_block`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from services.matching.engine import scoring_kernels as kernels
from services.matching.engine import solver_kernels
from services.matching.engine.model import (
    CRITERIA,
    HARD,
    Cohort,
    Constraints,
    Format,
    Side,
    Weights,
)

Rows = slice | npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]
_MAX_PAIRS_PER_BLOCK = 2_000_000


class _Blocked:
    """Row blocks of a score source, sized so one block stays a few megabytes."""

    n: int
    m: int

    @property
    def block_rows(self) -> int:
        return max(1, _MAX_PAIRS_PER_BLOCK // max(1, self.m))

    def blocks(self) -> Iterator[slice]:
        step = self.block_rows
        for start in range(0, self.n, step):
            yield slice(start, min(self.n, start + step))


Positions = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]


def _positions(ids: npt.NDArray[np.int64]) -> Positions:
    """Each id's position on its side (the last, should an id appear twice), as its sorted
    ids and their positions: what `_look_up` searches."""
    unique, first_from_end = np.unique(ids[::-1], return_index=True)
    return unique.astype(np.int64), (len(ids) - 1 - first_from_end).astype(np.int64)


def _look_up(
    side: Positions, values: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """For each of `values` (any shape): whether the side has that id, and its position."""
    keys, positions = side
    if len(keys) == 0:
        return np.zeros(values.shape, dtype=bool), np.zeros(values.shape, dtype=np.int64)
    at = np.minimum(np.searchsorted(keys, values), len(keys) - 1)
    return keys[at] == values, positions[at]


class Scorer(_Blocked):
    """Scores a cohort under a programme's weights and constraints (a score source)."""

    def __init__(self, cohort: Cohort, weights: Weights, constraints: Constraints) -> None:
        self.cohort = cohort
        self.weights = weights
        self.constraints = constraints
        self.n = len(cohort.mentees)
        self.m = len(cohort.mentors)
        self.capacity = cohort.capacity.astype(np.int64)
        w = weights.vector()
        # Each criterion's share of the score, as the kernels multiply it (float32).
        self._norm = (w / np.float32(w.sum())).astype(np.float32)
        self._hard = w == HARD
        self._rules = (
            constraints.format is Format.reverse,
            bool(constraints.cross_department),
            np.int64(constraints.max_timezone_gap_h),
            np.float32(constraints.min_score),
        )
        self._e, self._t = self._features()
        self._fast_e, self._fast_t, self._tabs = self._tables()
        self._excl_ptr, self._excl_cols = self._exclusions()

    # --- exclusions: same person, reporting line, pairs that already ended ------------------

    def _exclusions(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The pairs never to make, as CSR rows per mentee: the excluded pairs given, a
        mentee who is also a mentor, and any pair inside a reporting line (either side in the
        other's manager chain). Found with sorted lookups, never a loop over people: a
        mentee's suggestions build a scorer at every request."""
        c = self.cohort
        mentors, mentees = _positions(c.mentors.ids), _positions(c.mentees.ids)
        rows, cols = [c.excluded[:, 0]], [c.excluded[:, 1]]
        hit, j = _look_up(mentors, c.mentees.ids)  # the same person on both sides
        rows.append(np.flatnonzero(hit))
        cols.append(j[hit])
        hit, j = _look_up(mentors, c.mentee_managers)  # a mentor above the mentee
        rows.append(np.nonzero(hit)[0])
        cols.append(j[hit])
        hit, i = _look_up(mentees, c.mentor_managers)  # a mentee above the mentor
        rows.append(i[hit])
        cols.append(np.nonzero(hit)[0])
        pairs = np.stack([np.concatenate(rows), np.concatenate(cols)], axis=1).astype(np.int64)
        arr = np.unique(pairs, axis=0).reshape(-1, 2)  # sorted by mentee, then mentor
        ptr = np.searchsorted(arr[:, 0], np.arange(self.n + 1)).astype(np.int64)
        return ptr, arr[:, 1].copy()

    # --- scoring (compiled: see scoring_kernels.py) ------------------------------------------

    def _features(self) -> tuple[tuple, tuple]:
        def side(x: Side) -> tuple:
            raw = (
                x.skills.astype(np.uint64),
                x.themes.astype(np.uint64),
                x.languages.astype(np.uint64),
                x.availability.astype(np.uint64),
                np.ascontiguousarray(x.answers, dtype=np.int8),
                x.level.astype(np.int8),
                x.department.astype(np.int32),
                x.tz_offset_h.astype(np.int8),
                x.volunteer.astype(np.bool_),
            )
            sought = np.bitwise_count(x.skills).astype(np.float32)
            derived = (
                np.divide(1, sought, out=np.zeros_like(sought), where=sought > 0),
                np.bitwise_count(x.themes).astype(np.int64),
                np.bitwise_count(x.availability).astype(np.int64),
                (x.answers.astype(np.int64) ** 2).sum(axis=1),
            )
            return raw, derived

        return side(self.cohort.mentees), side(self.cohort.mentors)

    def _tables(self) -> tuple[tuple, tuple, tuple]:
        """The hot loop's inputs (see `scoring_kernels._row`): per-person values in float32,
        with the per-person parts of the weighted sum folded in (similarity's squares,
        volunteering)."""
        e, t, norm, f32 = self.cohort.mentees, self.cohort.mentors, self._norm, np.float32
        (e_raw, e_der), (t_raw, t_der) = self._e, self._t
        max_d2 = f32(16 * max(1, e.answers.shape[1]))
        # similarity = 1 - (|a|^2 + |b|^2 - 2 a.b) / max_d2, split into its three parts.
        e_const = norm[2] * (f32(1) - e_der[3].astype(f32) / max_d2) + norm[7] * np.where(
            e.volunteer, f32(0.5), f32(0)
        )
        t_const = -norm[2] * (t_der[3].astype(f32) / max_d2) + norm[7] * np.where(
            t.volunteer, f32(0.5), f32(0)
        )
        cross = self.constraints.cross_department
        min_score = self.constraints.min_score
        # The seniority rule's levels: an unknown one is infinitely far in the direction that
        # lets every pair through (no NaN: the two infinities never meet with opposite signs).
        sign = f32(-1) if self.constraints.format is Format.reverse else f32(1)

        def rule_levels(x: Side, unknown: np.float32) -> F32:
            known = np.ones(len(x), dtype=bool) if x.level_known is None else x.level_known
            return np.where(known, x.level.astype(f32), unknown).astype(f32)

        e_rule = rule_levels(e, -sign * f32(np.inf))
        t_rule = rule_levels(t, sign * f32(np.inf))
        min_gap = f32(1) if self.constraints.seniority_required else f32(-np.inf)
        tabs = (
            norm,
            f32(2) * norm[2] / max_d2,
            f32(-1) if self.constraints.format is Format.reverse else f32(1),
            f32(0) if cross else norm[4],
            norm[4] if cross else f32(0),
            self._hard.copy(),
            f32(self.constraints.max_timezone_gap_h),
            f32(min_score) if min_score > 0 else f32(-np.inf),
            max_d2,
            min_gap,
        )

        def common(raw: tuple, der: tuple) -> tuple:
            return (
                raw[5].astype(f32),  # level
                raw[7].astype(f32),  # timezone offset
                raw[6],  # department
                der[1].astype(f32),  # number of themes
                der[2].astype(f32),  # number of available slots
            )

        fast_e = (
            *e_raw[:4],
            np.ascontiguousarray(e.answers, dtype=f32),
            *common(e_raw, e_der),
            e_const.astype(f32),
            (norm[0] * e_der[0]).astype(f32),
            e_raw[8],
            e_der[3].astype(f32),
            e_rule,
        )
        fast_t = (
            *t_raw[:4],
            np.ascontiguousarray(t.answers.T, dtype=f32),
            *common(t_raw, t_der),
            t_const.astype(f32),
            t_raw[8],
            t_der[3].astype(f32),
            self.capacity > 0,
            t_rule,
        )
        return fast_e, fast_t, tabs

    def _rows(self, rows: Rows) -> npt.NDArray[np.int64]:
        return np.ascontiguousarray(np.arange(self.n, dtype=np.int64)[rows])

    def block(self, rows: Rows) -> tuple[F32, npt.NDArray[np.bool_]]:
        """(scores, allowed) for the given mentee rows against every mentor."""
        idx = self._rows(rows)
        scores = np.empty((len(idx), self.m), dtype=np.float32)
        allowed = np.empty((len(idx), self.m), dtype=np.bool_)
        kernels.score_rows(*self._args(idx), scores, allowed)
        return scores, allowed

    def weight_block(
        self, rows: Rows, out: npt.NDArray[np.int32] | None = None
    ) -> npt.NDArray[np.int32]:
        """Integer weights of the given rows: the score in millionths, -1 where not allowed."""
        idx = self._rows(rows)
        if out is None:
            out = np.empty((len(idx), self.m), dtype=np.int32)
        kernels.weight_rows(*self._args(idx), out)
        return out

    def weigh_and_select(
        self,
        rows: Rows,
        out: npt.NDArray[np.int32] | None,
        k: int,
        col_threshold: npt.NDArray[np.int64],
    ) -> tuple:
        """weight_block and the solver's candidate selection in one pass (see scoring_kernels)."""
        idx = self._rows(rows)
        if out is None:
            out = np.empty((len(idx), self.m), dtype=np.int32)
        return kernels.weigh_and_select(*self._args(idx), out, k, col_threshold)  # type: ignore[no-any-return]

    def _args(self, idx: npt.NDArray[np.int64]) -> tuple:
        return (self._fast_e, self._fast_t, self._tabs, idx, self._excl_ptr, self._excl_cols)

    def contributions(self, mentee: int, mentor: int) -> dict[str, float]:
        """Each criterion's share of the pair's score; they add up to the score."""
        values = kernels.pair_criteria(self._e, self._t, mentee, mentor, self._rules)
        return {name: float(values[c] * self._norm[c]) for c, name in enumerate(CRITERIA)}

    def contributions_of_pairs(
        self, mentees: npt.NDArray[np.int64], mentors: npt.NDArray[np.int64]
    ) -> list[dict[str, float]]:
        """contributions() of many pairs, (mentees[k], mentors[k]), in one compiled pass."""
        values = kernels.pairs_criteria(self._e, self._t, mentees, mentors, self._rules)
        return [dict(zip(CRITERIA, row, strict=True)) for row in (values * self._norm).tolist()]


class ArraySource(_Blocked):
    """A score source over given arrays (an outside instance, or tests)."""

    def __init__(
        self, scores: npt.NDArray, capacity: npt.NDArray, allowed: npt.NDArray | None = None
    ) -> None:
        self.scores = np.asarray(scores, dtype=np.float32)
        self.n, self.m = self.scores.shape
        self.capacity = np.asarray(capacity, dtype=np.int64)
        if self.capacity.shape != (self.m,):
            raise ValueError(f"capacity must have {self.m} entries, one per mentor")
        self.allowed = (
            np.ones(self.scores.shape, dtype=bool) if allowed is None else np.asarray(allowed, bool)
        )
        if self.allowed.shape != self.scores.shape:
            raise ValueError("allowed must have the shape of scores")
        self.allowed = self.allowed & (self.capacity > 0)[None, :]

    def block(self, rows: Rows) -> tuple[F32, npt.NDArray[np.bool_]]:
        return self.scores[rows], self.allowed[rows]

    def weight_block(
        self, rows: Rows, out: npt.NDArray[np.int32] | None = None
    ) -> npt.NDArray[np.int32]:
        w = np.rint(self.scores[rows] * np.float32(solver_kernels.SCALE)).astype(np.int32)
        w[~self.allowed[rows]] = -1
        if out is None:
            return w
        out[...] = w
        return out

    def weigh_and_select(
        self,
        rows: Rows,
        out: npt.NDArray[np.int32] | None,
        k: int,
        col_threshold: npt.NDArray[np.int64],
    ) -> tuple:
        """Integer weights of the rows (into `out` when given) and the solver's candidates
        among them: (local rows, columns, weights, left-out bound per row, allowed pairs)."""
        w = self.weight_block(rows, out)
        return solver_kernels.select_candidates(w, k, col_threshold)  # type: ignore[no-any-return]
