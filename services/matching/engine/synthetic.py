"""Seeded synthetic programmes, for the benchmark and tests (the same seed, the same cohort)."""

from __future__ import annotations

import numpy as np

from services.matching.engine.model import Cohort, Side

N_SKILLS, N_THEMES, N_LANGS, N_SLOTS, N_ANSWERS, N_DEPTS = 64, 32, 6, 42, 8, 12


def _bits(
    rng: np.random.Generator, n: int, universe: int, per_person: int, skew: float = 1.2
) -> np.ndarray:
    """Each person gets `per_person` distinct items, popular items more often (Zipf-like)."""
    p = 1 / np.arange(1, universe + 1) ** skew
    p /= p.sum()
    out = np.zeros(n, dtype=np.uint64)
    for _ in range(per_person):
        out |= np.left_shift(np.uint64(1), rng.choice(universe, size=n, p=p).astype(np.uint64))
    return out


def _side(rng: np.random.Generator, n: int, first_id: int, *, senior: bool) -> Side:
    level = rng.integers(4, 12, size=n) if senior else rng.integers(1, 7, size=n)
    langs = _bits(rng, n, N_LANGS, 1, skew=1.5) | _bits(rng, n, N_LANGS, 1, skew=0.5)
    return Side(
        ids=np.arange(first_id, first_id + n, dtype=np.int64),
        skills=_bits(rng, n, N_SKILLS, 4 if senior else 2),
        themes=_bits(rng, n, N_THEMES, 3),
        languages=langs,
        availability=_bits(rng, n, N_SLOTS, 10, skew=0.3),
        answers=rng.integers(1, 6, size=(n, N_ANSWERS)).astype(np.int8),
        level=level.astype(np.int8),
        department=rng.integers(0, N_DEPTS, size=n).astype(np.int32),
        tz_offset_h=rng.choice(
            [-5, 0, 1, 2, 5, 8], size=n, p=[0.15, 0.3, 0.3, 0.1, 0.1, 0.05]
        ).astype(np.int8),
        volunteer=rng.random(n) < 0.7,
    )


def programme(n_mentees: int, n_mentors: int, *, capacity: int = 5, seed: int = 0) -> Cohort:
    rng = np.random.default_rng(seed)
    mentees = _side(rng, n_mentees, 0, senior=False)
    mentors = _side(rng, n_mentors, 10_000_000, senior=True)
    # Some mentees report to some mentors (the reporting line must be avoided).
    managers = np.full((n_mentees, 2), -1, dtype=np.int64)
    bosses = rng.random(n_mentees) < 0.3
    managers[bosses, 0] = mentors.ids[rng.integers(0, n_mentors, size=int(bosses.sum()))]
    # A few pairs already ended.
    ended = np.stack(
        [
            rng.integers(0, n_mentees, size=n_mentees // 50),
            rng.integers(0, n_mentors, size=n_mentees // 50),
        ],
        axis=1,
    )
    return Cohort(
        mentees=mentees,
        mentors=mentors,
        capacity=np.full(n_mentors, capacity, dtype=np.int32),
        mentee_managers=managers,
        mentor_managers=np.full((n_mentors, 1), -1, dtype=np.int64),
        excluded=ended.astype(np.int64),
    )
