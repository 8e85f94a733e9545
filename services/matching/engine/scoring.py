"""Vectorised compatibility scores, computed block by block (a block = some mentee rows).

Every criterion yields a value in [0, 1] per pair; the score is their weighted mean, so it is
in [0, 1] too and each criterion's contribution is `weight * value / sum(weights)`. All the
arithmetic is elementwise or an exact small-integer product, so a pair's score does not depend
on which block computed it (the solver's certificate relies on that).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from services.matching.engine.model import CRITERIA, HARD, Cohort, Constraints, Format, Weights

Rows = slice | npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]
_MAX_PAIRS_PER_BLOCK = 2_000_000


def _ratio(num: npt.NDArray, den: npt.NDArray) -> F32:
    out = np.zeros(np.broadcast_shapes(num.shape, den.shape), dtype=np.float32)
    np.divide(num, den, out=out, where=den > 0, casting="unsafe")
    return out


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


class Scorer(_Blocked):
    """Scores a cohort under a programme's weights and constraints (a score source)."""

    def __init__(self, cohort: Cohort, weights: Weights, constraints: Constraints) -> None:
        self.cohort = cohort
        self.weights = weights
        self.constraints = constraints
        self.n = len(cohort.mentees)
        self.m = len(cohort.mentors)
        self.capacity = cohort.capacity.astype(np.int64)
        self._w = weights.vector()
        self._w_total = np.float32(self._w.sum())
        t, e = cohort.mentors, cohort.mentees
        self._t_avail_n = np.bitwise_count(t.availability)
        self._e_avail_n = np.bitwise_count(e.availability)
        self._t_answers = t.answers.astype(np.float32)
        self._e_answers = e.answers.astype(np.float32)
        self._t_sq = (self._t_answers**2).sum(axis=1)
        self._e_sq = (self._e_answers**2).sum(axis=1)
        q = max(1, e.answers.shape[1])
        self._max_d2 = np.float32(16 * q)  # answers 1..5: at most 4 apart per item
        self._excl_ptr, self._excl_cols = self._exclusions()
        sought = np.bitwise_count(e.skills).astype(np.float32)
        self._e_skills_inv = np.divide(1, sought, out=np.zeros_like(sought), where=sought > 0)
        self._e_themes_n = np.bitwise_count(e.themes)
        self._t_themes_n = np.bitwise_count(t.themes)
        self._e_level = e.level.astype(np.float32)
        self._t_level = t.level.astype(np.float32)
        self._e_tz = e.tz_offset_h.astype(np.int16)
        self._t_tz = t.tz_offset_h.astype(np.int16)
        self._e_vol_half = e.volunteer.astype(np.float32) * np.float32(0.5)
        self._t_vol_half = t.volunteer.astype(np.float32) * np.float32(0.5)
        self._criteria = [
            self._skills,
            self._themes,
            self._similarity,
            self._seniority,
            self._department,
            self._timezone,
            self._availability,
            self._volunteer,
        ]
        assert len(self._criteria) == len(CRITERIA)

    # --- exclusions: same person, reporting line, pairs that already ended ------------------

    def _exclusions(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        c = self.cohort
        mentor_index = {int(emp): j for j, emp in enumerate(c.mentors.ids)}
        mentee_index = {int(emp): i for i, emp in enumerate(c.mentees.ids)}
        pairs: list[tuple[int, int]] = [tuple(p) for p in c.excluded.tolist()]  # type: ignore[misc]
        for i, emp in enumerate(c.mentees.ids.tolist()):
            if emp in mentor_index:
                pairs.append((i, mentor_index[emp]))
        for i, chain in enumerate(c.mentee_managers.tolist()):
            pairs.extend((i, mentor_index[a]) for a in chain if a in mentor_index)
        for j, chain in enumerate(c.mentor_managers.tolist()):
            pairs.extend((mentee_index[a], j) for a in chain if a in mentee_index)
        arr = np.array(sorted(set(pairs)), dtype=np.int64).reshape(-1, 2)
        ptr = np.searchsorted(arr[:, 0], np.arange(self.n + 1)).astype(np.int64)
        return ptr, arr[:, 1].copy()

    # --- criteria ---------------------------------------------------------------------------

    def criteria(self, rows: Rows) -> tuple[list[F32], npt.NDArray[np.bool_]]:
        """Each criterion's value per pair (in CRITERIA order) and the hard-constraint mask."""
        values = [fn(rows) for fn in self._criteria]
        allowed = self._allowed(rows)
        for name, value in zip(CRITERIA, values, strict=True):
            if getattr(self.weights, name) == HARD:
                allowed &= value > 0
        return values, allowed

    def _allowed(self, rows: Rows) -> npt.NDArray[np.bool_]:
        e, t = self.cohort.mentees, self.cohort.mentors
        allowed = (e.languages[rows][:, None] & t.languages[None, :]) != 0
        tz_gap = np.abs(self._e_tz[rows][:, None] - self._t_tz[None, :])
        allowed &= tz_gap <= self.constraints.max_timezone_gap_h
        allowed &= (self.capacity > 0)[None, :]
        self._apply_exclusions(rows, allowed)
        return allowed

    # One method per criterion, each a float32 (rows x mentors) array in [0, 1]. They work in
    # place on their own temporaries: scoring is the engine's hot path.

    def _skills(self, rows: Rows) -> F32:
        common = np.bitwise_count(
            self.cohort.mentees.skills[rows][:, None] & self.cohort.mentors.skills[None, :]
        )
        return common * self._e_skills_inv[rows][:, None]

    def _themes(self, rows: Rows) -> F32:
        et, tt = self.cohort.mentees.themes[rows], self.cohort.mentors.themes
        common = np.bitwise_count(et[:, None] & tt[None, :])
        union = self._e_themes_n[rows][:, None] + self._t_themes_n[None, :] - common
        return _ratio(common, union)

    def _similarity(self, rows: Rows) -> F32:
        d2 = self._e_answers[rows] @ self._t_answers.T
        d2 *= -2
        d2 += self._e_sq[rows][:, None]
        d2 += self._t_sq[None, :]
        d2 *= -1 / self._max_d2
        d2 += 1
        return d2

    def _seniority(self, rows: Rows) -> F32:
        gap = self._t_level[None, :] - self._e_level[rows][:, None]
        if self.constraints.format is Format.reverse:
            np.negative(gap, out=gap)
        gap *= np.float32(1 / 3)
        return np.clip(gap, 0, 1, out=gap)

    def _department(self, rows: Rows) -> F32:
        same = (
            self.cohort.mentees.department[rows][:, None] == self.cohort.mentors.department[None, :]
        )
        if self.constraints.cross_department:
            np.logical_not(same, out=same)
        return same.astype(np.float32)

    def _timezone(self, rows: Rows) -> F32:
        gap = np.abs(self._e_tz[rows][:, None] - self._t_tz[None, :]).astype(np.float32)
        gap *= np.float32(-1 / 12)
        gap += 1
        return np.clip(gap, 0, 1, out=gap)

    def _availability(self, rows: Rows) -> F32:
        ea, ta = self.cohort.mentees.availability[rows], self.cohort.mentors.availability
        common = np.bitwise_count(ea[:, None] & ta[None, :])
        smaller = np.minimum(self._e_avail_n[rows][:, None], self._t_avail_n[None, :])
        return _ratio(common, smaller)

    def _volunteer(self, rows: Rows) -> F32:
        return self._e_vol_half[rows][:, None] + self._t_vol_half[None, :]

    def _apply_exclusions(self, rows: Rows, allowed: npt.NDArray[np.bool_]) -> None:
        row_ids = np.arange(self.n)[rows]
        starts = self._excl_ptr[row_ids]
        counts = self._excl_ptr[row_ids + 1] - starts
        nz = counts > 0
        if not nz.any():
            return
        c, s, local = counts[nz], starts[nz], np.flatnonzero(nz)
        flat = np.arange(c.sum()) - np.repeat(np.cumsum(c) - c, c) + np.repeat(s, c)
        allowed[np.repeat(local, c), self._excl_cols[flat]] = False

    def block(self, rows: Rows) -> tuple[F32, npt.NDArray[np.bool_]]:
        """(scores, allowed) for the given mentee rows against every mentor."""
        allowed = self._allowed(rows)
        score: F32 | None = None
        for weight, fn in zip(self._w, self._criteria, strict=True):
            if not weight:
                continue  # neither counted nor a filter: not even computed
            value = fn(rows)
            if weight == HARD:
                allowed &= value > 0
            value *= weight / self._w_total
            if score is None:
                score = value
            else:
                score += value
        assert score is not None  # Weights guarantees one weighted criterion
        if self.constraints.min_score > 0:
            allowed &= score >= np.float32(self.constraints.min_score)
        return score, allowed

    def contributions(self, mentee: int, mentor: int) -> dict[str, float]:
        """Each criterion's share of the pair's score; they add up to the score."""
        values, _ = self.criteria(np.array([mentee]))
        return {
            name: float(weight * value[0, mentor] / self._w_total)
            for name, weight, value in zip(CRITERIA, self._w, values, strict=True)
        }


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
