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


class Scorer:
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
        self._t_skills_n = np.bitwise_count(t.skills)
        self._e_skills_n = np.bitwise_count(e.skills)
        self._t_avail_n = np.bitwise_count(t.availability)
        self._e_avail_n = np.bitwise_count(e.availability)
        self._t_answers = t.answers.astype(np.float32)
        self._e_answers = e.answers.astype(np.float32)
        self._t_sq = (self._t_answers**2).sum(axis=1)
        self._e_sq = (self._e_answers**2).sum(axis=1)
        q = max(1, e.answers.shape[1])
        self._max_d2 = np.float32(16 * q)  # answers 1..5: at most 4 apart per item
        self._excl_ptr, self._excl_cols = self._exclusions()

    @property
    def block_rows(self) -> int:
        return max(1, _MAX_PAIRS_PER_BLOCK // max(1, self.m))

    def blocks(self) -> Iterator[slice]:
        step = self.block_rows
        for start in range(0, self.n, step):
            yield slice(start, min(self.n, start + step))

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
        e, t, k = self.cohort.mentees, self.cohort.mentors, self.constraints
        es, ts = e.skills[rows][:, None], t.skills[None, :]
        skills = _ratio(np.bitwise_count(es & ts), self._e_skills_n[rows][:, None])
        et, tt = e.themes[rows][:, None], t.themes[None, :]
        themes = _ratio(np.bitwise_count(et & tt), np.bitwise_count(et | tt))
        dot = self._e_answers[rows] @ self._t_answers.T
        d2 = self._e_sq[rows][:, None] + self._t_sq[None, :] - 2 * dot
        similarity = (1 - d2 / self._max_d2).astype(np.float32)
        gap = t.level[None, :].astype(np.float32) - e.level[rows][:, None].astype(np.float32)
        if k.format is Format.reverse:
            gap = -gap
        seniority = np.clip(gap / 3, 0, 1).astype(np.float32)
        same_dept = e.department[rows][:, None] == t.department[None, :]
        department = (~same_dept if k.cross_department else same_dept).astype(np.float32)
        tz_gap = np.abs(
            e.tz_offset_h[rows][:, None].astype(np.int16) - t.tz_offset_h[None, :].astype(np.int16)
        )
        timezone = np.clip(1 - tz_gap / np.float32(12), 0, 1).astype(np.float32)
        ea, ta = e.availability[rows][:, None], t.availability[None, :]
        avail_den = np.minimum(self._e_avail_n[rows][:, None], self._t_avail_n[None, :])
        availability = np.minimum(_ratio(np.bitwise_count(ea & ta), avail_den), 1)
        volunteer = (
            e.volunteer[rows][:, None].astype(np.float32) + t.volunteer[None, :].astype(np.float32)
        ) / 2
        values = [
            skills,
            themes,
            similarity,
            seniority,
            department,
            timezone,
            availability,
            volunteer,
        ]
        allowed = (e.languages[rows][:, None] & t.languages[None, :]) != 0
        allowed &= tz_gap <= k.max_timezone_gap_h
        allowed &= (self.capacity > 0)[None, :]
        for name, value in zip(CRITERIA, values, strict=True):
            if getattr(self.weights, name) == HARD:
                allowed &= value > 0
        self._apply_exclusions(rows, allowed)
        return values, allowed

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
        values, allowed = self.criteria(rows)
        score = np.zeros_like(values[0])
        for weight, value in zip(self._w, values, strict=True):
            if weight:
                score += weight * value
        score /= self._w_total
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


class ArraySource:
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

    @property
    def block_rows(self) -> int:
        return max(1, _MAX_PAIRS_PER_BLOCK // max(1, self.m))

    def blocks(self) -> Iterator[slice]:
        step = self.block_rows
        for start in range(0, self.n, step):
            yield slice(start, min(self.n, start + step))

    def block(self, rows: Rows) -> tuple[F32, npt.NDArray[np.bool_]]:
        return self.scores[rows], self.allowed[rows]
